"""Running flows from a notebook cell: synchronously, or in the background.

Top-level ``await flow.invoke_event(...)`` is the normal path in a cell. ``run_sync`` is for code
that cannot await (a sync function, a magic, a script): it works with or without a running loop,
and patches the kernel's loop with nest-asyncio2 only when it is first called, never at import.
Background runs are tasks on the kernel's loop: the cell returns at once, and a failure is shown
in the starting cell (and the run's view) instead of vanishing with the task.

A kernel interrupt (the notebook's Stop button) during ``run_sync`` cancels what it runs: in a
cell that does not await, ipykernel raises ``KeyboardInterrupt`` wherever Python is, and the
kernel's loop would otherwise carry on with the run after the cell ends, its steps still running
and its trace saying ``running``. ``run_sync`` cancels the run, drives the loop until it has
ended (a bounded time), and raises :class:`RunInterrupted`, which a notebook shows as one line.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .. import RunFeed, RunHandle, observe_runs
from ..errors import FlowRunError
from ..records import RUN_END_KINDS, RunCancelled, RunRecord
from .tracebacks import user_traceback

__all__ = ["run_sync", "allow_nested_runs", "start_background", "RunInterrupted", "STOP_GRACE"]

T = TypeVar("T")
_patched: set[int] = set()  # ids of loops nest-asyncio2 has made re-entrant

#: Seconds ``run_sync`` waits, after a kernel interrupt, for the runs it cancelled to end.
STOP_GRACE: Final = 5.0
#: The reason an interrupted run's ``RunCancelled`` record gives.
INTERRUPT_REASON: Final = "kernel interrupt"
#: Reasons that say no more than "cancelled by the interrupt" (the one line leaves them out).
_INTERRUPTED: Final = (INTERRUPT_REASON, "KeyboardInterrupt", "cancelled")


class RunInterrupted(KeyboardInterrupt):
    """A kernel interrupt stopped ``run_sync`` (or ``%flow run``, or a ``%%flow`` cell).

    It is a ``KeyboardInterrupt``, so the interrupt still stops the cell (and a "Run All"), but
    a notebook shows it as the one line of its message, which says what was cancelled.

    Attributes:
        runs: ``(run_id, flow_name, steps_stopped, reason)`` of each run that was cancelled.
    """

    def __init__(self, message: str, runs: list[tuple[int, str, int, str]]) -> None:
        super().__init__(message)
        self.runs = runs

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [str(self)]


def allow_nested_runs(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop`` (default: the running one) re-entrant, so ``asyncio.run`` works inside it."""
    loop = loop or asyncio.get_running_loop()
    if id(loop) in _patched:
        return
    import nest_asyncio2

    try:
        nest_asyncio2.apply(loop)
    except ValueError as error:  # uvloop and other C loops cannot be patched
        raise FlowRunError(
            f"cannot run a flow synchronously inside a {type(loop).__name__}: {error}. Use "
            "`await flow.invoke_event(...)` (or `await handle`) in the cell instead."
        ) from None
    _patched.add(id(loop))


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to its end from sync code and return its result.

    Outside an event loop this is ``asyncio.run``; inside one (a notebook cell, a widget
    callback) the running loop is made re-entrant with nest-asyncio2 and runs it nested.

    A kernel interrupt cancels every run started meanwhile that has not ended, waits up to
    :data:`STOP_GRACE` seconds for them to end (their traces close with ``RunCancelled``,
    reason "kernel interrupt"), and raises :class:`RunInterrupted` saying what was stopped.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    allow_nested_runs(loop)
    runs = _RunsStarted()
    if isinstance(awaitable, RunHandle) and not awaitable.done():
        runs.add_handle(awaitable)  # made before this call, so not seen by the observer
    stop_observing = observe_runs(runs.add)
    task = loop.create_task(_await(awaitable), name="notebook_flow run_sync")
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, RunInterrupted):
            raise  # a nested run_sync has already stopped its runs and said so
        stopped = _stop_after_interrupt(loop, task, runs)
        if not stopped:
            raise  # the interrupt stopped plain code: its own traceback says where
        raise RunInterrupted(_interrupt_line(stopped), stopped) from None
    finally:
        stop_observing()
        runs.forget()


#: ``(run_id, flow_name, steps_cancelled, reason)``: how a run ended, in the interrupt's words.
Ended = tuple[int, str, int, str]


class _RunsStarted:
    """The runs of one ``run_sync`` call: those still going, and those that ended cancelled lately.

    Bounded: a run that ends leaves it (a cell may start thousands of runs); only the last
    ``_RECENT`` cancelled ones are remembered, as plain tuples, not their traces.
    """

    _RECENT: Final = 64

    def __init__(self) -> None:
        self.live: dict[int, tuple[RunFeed, Callable[[], None]]] = {}
        self.handles: dict[int, RunHandle] = {}
        self.cancelled_steps: dict[int, int] = {}
        self.recently_cancelled: deque[tuple[float, Ended]] = deque(maxlen=self._RECENT)
        self.watched: set[int] = set()  # after an interrupt: the runs it is waiting for
        self.ended: dict[int, Ended] = {}  # how each watched run ended

    def add_handle(self, handle: RunHandle) -> None:
        self.handles[handle.run_id] = handle
        self.add(handle.feed)

    def add(self, feed: RunFeed) -> None:
        self.cancelled_steps[feed.run_id] = 0
        self.live[feed.run_id] = (feed, feed.subscribe(self._tally(feed)))

    def _tally(self, feed: RunFeed) -> Callable[[RunRecord], None]:
        run_id = feed.run_id

        def count(record: RunRecord) -> None:
            kind = record.kind
            if kind == "step_cancelled":
                self.cancelled_steps[run_id] += 1
            elif kind in RUN_END_KINDS:
                self._end(feed, record)

        return count

    def _end(self, feed: RunFeed, record: RunRecord) -> None:
        run_id = feed.run_id
        entry = self.live.pop(run_id, None)
        if entry is not None:
            entry[1]()  # unsubscribe
        self.handles.pop(run_id, None)
        if isinstance(record, RunCancelled):
            reason = record.reason or "cancelled"
        else:
            reason = record.kind.removeprefix("run_")
        ended = (run_id, feed.flow_name, self.cancelled_steps.pop(run_id, 0), reason)
        if isinstance(record, RunCancelled):
            self.recently_cancelled.append((record.time, ended))
        if run_id in self.watched:
            self.ended[run_id] = ended

    def forget(self) -> None:
        """Stop listening to the runs still going (background runs the cell started)."""
        for _, unsubscribe in self.live.values():
            unsubscribe()
        self.live.clear()
        self.handles.clear()


def _stop_after_interrupt(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], runs: _RunsStarted
) -> list[Ended]:
    """Cancel what ``run_sync`` runs and drive the loop until it ended; returns the runs stopped.

    Those are the runs still going at the interrupt, and the ones that ended cancelled just
    before it reached here (an ``asyncio.run`` inside the cell cancels its own main task, and so
    its runs, before it re-raises the interrupt).
    """
    now = time.perf_counter()
    stopped = [ended for at, ended in runs.recently_cancelled if now - at < STOP_GRACE]
    live = {run_id: entry[0] for run_id, entry in runs.live.items()}
    runs.watched = set(live)
    for handle in list(runs.handles.values()):
        handle.cancel(INTERRUPT_REASON)
    task.cancel(INTERRUPT_REASON)
    deadline = time.monotonic() + STOP_GRACE
    while not task.done() or not runs.watched <= set(runs.ended):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            loop.run_until_complete(asyncio.sleep(min(left, 0.02)))
        except KeyboardInterrupt:
            # A step (or the run) that the interrupt landed in re-raises it as it ends; the
            # cleanup goes on, bounded by STOP_GRACE.
            continue
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: its failure is the interrupt's, said below
    for run_id, feed in live.items():
        stopped.append(runs.ended.get(run_id) or (
            run_id, feed.flow_name, runs.cancelled_steps.get(run_id, 0),
            f"still running after {STOP_GRACE:g} s",
        ))
    return sorted(stopped)


def _interrupt_line(stopped: list[Ended]) -> str:
    parts = []
    for run_id, flow_name, count, reason in stopped:
        how = "" if reason in _INTERRUPTED else f"; {reason}"
        plural = "step" if count == 1 else "steps"
        parts.append((f"run {run_id} of {flow_name!r}", f"({count} {plural} stopped{how})"))
    if len(parts) == 1:
        ((run, steps),) = parts
        return f"notebook_flow: {run} cancelled by a kernel interrupt {steps}"
    runs = ", ".join(f"{run} {steps}" for run, steps in parts)
    return f"notebook_flow: a kernel interrupt cancelled {runs}"


def start_background(handle: Any) -> Any:
    """Start a ``RunHandle`` as a task on the running loop and return the handle at once.

    If the run fails, its traceback is printed in the cell that started it (the run's live view,
    if any, shows it too); the exception is also kept on ``handle.error``.
    """
    handle.start()
    # The reporter awaits the run, so it ends with it; created here, it prints in this cell.
    reporter = asyncio.get_running_loop().create_task(
        _report_failure(handle), name=f"notebook_flow report of run {handle.run_id}"
    )
    _reporters.add(reporter)
    reporter.add_done_callback(_reporters.discard)
    return handle


_reporters: set[asyncio.Task[None]] = set()  # strong references until each run has ended


async def _report_failure(handle: Any) -> None:
    try:
        await handle
    except asyncio.CancelledError:
        return  # a stopped run is not a failure; its trace and view say it was cancelled
    except Exception as error:  # awaiting it here also silences "exception was never retrieved"
        print(
            f"notebook_flow: background run failed: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        print(user_traceback(error), file=sys.stderr)  # the user's frames, cells named as IPython does
