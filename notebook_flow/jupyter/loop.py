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
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .. import RunFeed, RunHandle, observe_runs
from ..errors import FlowRunError
from ..records import RUN_END_KINDS, RunRecord

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


class _RunsStarted:
    """The runs started while ``run_sync`` runs, each with a count of its cancelled steps."""

    def __init__(self) -> None:
        self.feeds: list[RunFeed] = []
        self.ends: dict[int, RunRecord] = {}
        self.cancelled_steps: dict[int, int] = {}
        self.handles: dict[int, RunHandle] = {}

    def add_handle(self, handle: RunHandle) -> None:
        self.handles[handle.run_id] = handle
        self.add(handle.feed)

    def add(self, feed: RunFeed) -> None:
        self.feeds.append(feed)
        self.cancelled_steps[feed.run_id] = 0
        feed.subscribe(self._tally(feed.run_id))

    def _tally(self, run_id: int) -> Callable[[RunRecord], None]:
        def count(record: RunRecord) -> None:
            kind = record.kind
            if kind == "step_cancelled":
                self.cancelled_steps[run_id] += 1
            elif kind in RUN_END_KINDS:
                self.ends[run_id] = record

        return count

    def live(self) -> list[RunFeed]:
        return [feed for feed in self.feeds if feed.run_id not in self.ends]


def _stop_after_interrupt(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], runs: _RunsStarted
) -> list[tuple[int, str, int, str]]:
    """Cancel what ``run_sync`` runs and drive the loop until it ended; returns the runs stopped.

    Those are the runs still going at the interrupt, and the ones that ended cancelled just
    before it reached here (an ``asyncio.run`` inside the cell cancels its own main task, and so
    its runs, before it re-raises the interrupt).
    """
    now = time.perf_counter()
    live = runs.live()
    just_cancelled = [
        feed for feed in runs.feeds
        if feed.run_id in runs.ends and runs.ends[feed.run_id].kind == "run_cancelled"
        and now - runs.ends[feed.run_id].time < STOP_GRACE
    ]
    for feed in live:
        handle = runs.handles.get(feed.run_id)
        if handle is not None:
            handle.cancel(INTERRUPT_REASON)
    task.cancel(INTERRUPT_REASON)
    deadline = time.monotonic() + STOP_GRACE
    while not task.done() or any(f.run_id not in runs.ends for f in live):
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
    stopped = []
    for feed in sorted(just_cancelled + live, key=lambda f: f.run_id):
        end = runs.ends.get(feed.run_id)
        if end is None:
            reason = f"still running after {STOP_GRACE:g} s"
        elif end.kind == "run_cancelled":
            reason = str(getattr(end, "reason", "") or "cancelled")
        else:
            reason = end.kind.removeprefix("run_")
        stopped.append((feed.run_id, feed.flow_name, runs.cancelled_steps[feed.run_id], reason))
    return stopped


def _interrupt_line(stopped: list[tuple[int, str, int, str]]) -> str:
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
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
