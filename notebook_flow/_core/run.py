"""RunHandle: one run of a flow, awaitable for its results and iterable for its records."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from ..errors import FailedStep, FlowRunError, RunTimeout
from ..records import RUN_END_KINDS, RunRecord
from .feed import RunFeed, Subscriber
from .interrupts import keep_awake_for_signals
from .runner import Runner
from .trace import Trace

# After the runner's own grace (it stops its parallel steps within it), how long the handle
# waits more before it gives up on a run whose inline step refuses to stop.
_MARGIN = 0.25

#: The values of ``on_timeout``: fail with RunTimeout, or move on with the results so far.
ON_TIMEOUT = ("raise", "return")

# Runs under way. The event loop keeps only weak references to tasks, so a run whose handle the
# caller dropped would otherwise be garbage-collected mid-run; each run is here until it ends.
_under_way: set[RunHandle] = set()


class RunHandle:
    """A run of a flow (or of a WorkflowManager).

    ``await handle`` starts it (if needed) and returns its results; ``async for record in
    handle`` yields every record of the run as it happens; ``handle.start()`` runs it in the
    background on the current event loop; ``handle.cancel()`` cancels every step of it.

    Attributes:
        status: "created", "running", "finished", "failed" or "cancelled".
        result: the results once finished (the partial results after ``on_timeout="return"``).
        error: the exception the run failed with (or the KeyboardInterrupt that stopped it).
        timed_out: True when the run's ``timeout`` ran out.
    """

    def __init__(
        self,
        feed: RunFeed,
        runner: Runner,
        root_id: str,
        root_input: Any,
        *,
        timeout: float | None = None,
        on_timeout: str = "raise",
    ) -> None:
        self.feed = feed
        self._runner = runner
        self._root = (root_id, root_input)
        self._timeout = timeout
        self._on_timeout = on_timeout
        self._task: asyncio.Task[Any] | None = None
        self._outcome: asyncio.Future[Any] | None = None
        self._cancel_reason: str | None = None
        self._give_up: asyncio.TimerHandle | None = None  # after a cancel: abandon if stuck
        self._waiters: list[_Waiter] = []  # each `await handle` under way
        self.status = "created"
        self.result: Any = None
        self.error: BaseException | None = None
        self.timed_out = False

    def __repr__(self) -> str:
        return f"<RunHandle run={self.run_id} flow={self.flow_name!r} status={self.status}>"

    @property
    def run_id(self) -> int:
        return self.feed.run_id

    @property
    def flow_name(self) -> str:
        return self.feed.flow_name

    @property
    def trace(self) -> Trace | None:
        return self.feed.trace

    @property
    def failures(self) -> list[FailedStep]:
        """The failed steps so far, with ``on_error="continue"`` (the first StepFailures.MAX_KEPT)."""
        return list(self._runner.failures())

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(record)`` for each record from now on; returns an unsubscribe."""
        return self.feed.subscribe(subscriber)

    def start(self) -> RunHandle:
        """Start the run as a task on the running event loop (no-op if already started)."""
        if self._outcome is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise FlowRunError(
                    "a run needs a running asyncio event loop: `await` it inside an async "
                    "function (or at the top level of a notebook cell), or use asyncio.run(...)"
                ) from None
            self._outcome = loop.create_future()
            if self.status == "cancelled":  # cancelled before it started: it never runs
                self._outcome.cancel(self._cancel_reason)
                return self
            self._task = loop.create_task(self._main(), name=f"notebook_flow run {self.run_id}")
            _under_way.add(self)
            self._task.add_done_callback(self._ended)
        return self

    def _ended(self, task: asyncio.Task[Any]) -> None:
        _under_way.discard(self)
        if self._give_up is not None:
            self._give_up.cancel()
            self._give_up = None
        self._settle(task)

    def _settle(self, task: asyncio.Future[Any]) -> None:
        """Pass the task's end to the handle's outcome (once; an abandoned run settled first)."""
        outcome = self._outcome
        if outcome is None or outcome.done():
            if not task.cancelled():
                task.exception()  # retrieved: the handle already reported how the run ended
            return
        if task.cancelled():
            outcome.cancel(self._cancel_reason)
        elif task.exception() is not None:
            outcome.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            outcome.set_result(task.result())
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        """The outcome is settled: wake every ``await handle`` now (not a loop turn later)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _main(self) -> Any:
        # The outcome is settled in the run's own last step, so an awaiting caller resumes on
        # the next turn of the loop, as if it awaited the run's task itself (a caller that was
        # cancelled, say a debug session replaced by a new one, has ended one turn after its
        # run: what the notebook's next cell sees). ``_ended`` settles it if this could not.
        try:
            result = await self._run_to_end()
        except asyncio.CancelledError:
            self._settle_early(cancelled=True)
            raise
        except BaseException as error:
            self._settle_early(error=error)
            raise
        self._settle_early(result=result)
        return result

    def _settle_early(
        self, *, result: Any = None, error: BaseException | None = None, cancelled: bool = False
    ) -> None:
        outcome = self._outcome
        if outcome is None or outcome.done():
            return
        if cancelled:
            outcome.cancel(self._cancel_reason)
        elif error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)
        self._wake_waiters()

    async def _run_to_end(self) -> Any:
        self.status = "running"
        self.feed.run_started()
        leave = keep_awake_for_signals()
        root_id, root_input = self._root
        try:
            if self._timeout is None:
                result = await self._runner.run(root_id, root_input)
            else:
                result = await self._with_deadline()
        except asyncio.CancelledError as error:
            self._end_cancelled(self._cancel_reason or _reason_of(error))
            raise
        except Exception as error:
            if self.status == "running":
                self.status = "failed"
                self.error = error
                self.feed.run_failed(error)
                self.feed.close()
            raise
        except BaseException as error:  # KeyboardInterrupt, SystemExit: stopped, not failed
            self.error = error
            self._close_open_steps()
            self._end_cancelled(type(error).__name__)
            raise
        finally:
            leave()
        self.result = result
        if self.timed_out:  # on_timeout="return": the run was cut short, the caller moves on
            self._end_cancelled(f"timeout after {self._timeout:g} s")
        elif self.status == "running":
            self.status = "finished"
            self.feed.run_finished()
            self.feed.close()
        return result

    def _end_cancelled(self, reason: str) -> None:
        if self.status != "running":
            return  # abandoned: the run's end was already published
        self.status = "cancelled"
        self.feed.run_cancelled(reason)
        self.feed.close()

    def _close_open_steps(self) -> None:
        """End, as cancelled, any step the trace saw start and not end.

        A KeyboardInterrupt can land in any line, even between a step's start record and the
        handler that would close it; this keeps the trace's promise of one end per started step.
        """
        trace = self.feed.trace
        if trace is None:
            return
        for step_id, event_id in list(trace.open_steps.items()):
            self.feed.step_cancelled(step_id, event_id, self.feed.started_at)

    async def _with_deadline(self) -> Any:
        scope = asyncio.timeout(self._timeout)
        root_id, root_input = self._root
        try:
            async with scope:
                return await self._runner.run(root_id, root_input)
        except TimeoutError as error:
            if not scope.expired():
                raise  # a step's own TimeoutError
            self.timed_out = True
            results = self._runner.partial()
            if self._on_timeout == "return":
                return results
            running = self._runner.cancelled_events()
            raise RunTimeout(
                f"run {self.run_id} of flow {self.flow_name!r} timed out after "
                f"{self._timeout:g} s, which cancelled every step still running then: "
                f"{', '.join(running) or 'nothing'}. Its results so far are in .results; pass "
                f"a larger timeout=..., or on_timeout=\"return\" to get them instead of this error",
                timeout=self._timeout or 0.0,
                running=running,
                results=results,
            ) from error

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        outcome = self.start()._outcome
        assert outcome is not None
        if not outcome.done():
            waiter = _Waiter(self)
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError as error:
                if not outcome.done():  # the caller was cancelled (a kernel interrupt): so is the run
                    self._request_cancel(_reason_of(error), None)
                    await asyncio.wait([outcome])
                raise
            finally:
                self._waiters.remove(waiter)
        return outcome.result()

    def done(self) -> bool:
        """Whether the run has ended (finished, failed, cancelled or abandoned)."""
        return self._outcome is not None and self._outcome.done()

    def cancel(self, msg: str | None = None) -> bool:
        """Cancel the run: every running step is cancelled and the trace closes each of them.

        ``msg`` becomes the ``reason`` of the run's ``RunCancelled`` record (the Stop button
        passes one). A run cancelled before it started never runs. A step that refuses to stop
        (it swallows the cancellation and goes on) is abandoned after the run's grace period:
        the run ends as cancelled anyway. Returns False if the run had already ended.
        """
        reason = msg or "RunHandle.cancel()"
        if self._outcome is None:
            if self.status != "created":
                return False
            self.status = "cancelled"
            self._cancel_reason = reason
            self.feed.run_cancelled(reason)
            self.feed.close()
            return True
        return self._request_cancel(reason, msg)

    def _request_cancel(self, reason: str, msg: str | None) -> bool:
        if self._outcome is None or self._outcome.done() or self._task is None:
            return False
        if self._cancel_reason is None:
            self._cancel_reason = reason
        self._task.cancel(msg)
        if self._give_up is None:
            grace = self._runner.grace
            self._give_up = self._task.get_loop().call_later(grace + _MARGIN, self._abandon_if_stuck)
        return True

    def _abandon_if_stuck(self) -> None:
        """The run did not end within its grace period after a cancel: end it without it."""
        task = self._task
        if task is None or task.done() or self.status != "running":
            return
        for step_id, event_id in self._runner.abandon_all():
            self.feed.step_abandoned(step_id, event_id, self._runner.grace)
            self.feed.step_cancelled(step_id, event_id, self.feed.started_at)
        self._close_open_steps()
        self._end_cancelled(self._cancel_reason or "cancelled")
        _under_way.discard(self)
        if self._outcome is not None and not self._outcome.done():
            self._outcome.cancel(self._cancel_reason)
        self._wake_waiters()

    def __aiter__(self) -> AsyncGenerator[RunRecord, None]:
        return self._iterate()

    async def _iterate(self) -> AsyncGenerator[RunRecord, None]:
        buffer: deque[RunRecord] = deque()
        waiter: list[asyncio.Future[None] | None] = [None]
        stop_waking: list[Callable[[], None] | None] = [None]

        def wake(*_: Any) -> None:
            fut = waiter[0]
            if fut is not None and not fut.done():
                fut.set_result(None)
            stop = stop_waking[0]
            if stop is not None:  # one record is enough to wake us: stop listening at once
                stop_waking[0] = None
                stop()

        if self.status != "created" and self.trace is not None:
            buffer.extend(self.trace.records)  # already under way: replay what the trace holds
        # Records go straight into the buffer (a C method: no Python call per record); ``wake``
        # listens only while this iterator waits for the next record.
        unsubscribe = self.feed.subscribe(buffer.append)
        outcome = self.start()._outcome
        assert outcome is not None
        outcome.add_done_callback(wake)
        loop = asyncio.get_running_loop()
        why = "the consumer stopped iterating the run"
        try:
            while True:
                while not buffer and not outcome.done():
                    waiting = waiter[0] = loop.create_future()
                    stop_waking[0] = self.feed.subscribe(wake)
                    try:
                        await waiting
                    finally:
                        stop = stop_waking[0]
                        if stop is not None:
                            stop_waking[0] = None
                            stop()
                        waiter[0] = None
                if not buffer:
                    break  # the run ended and its end record was published before we listened
                record = buffer.popleft()
                yield record
                if record.kind in RUN_END_KINDS:
                    break
        except asyncio.CancelledError as error:
            why = _reason_of(error)  # the consumer's task was cancelled (a Stop button)
            raise
        finally:
            unsubscribe()
            outcome.remove_done_callback(wake)
            if not outcome.done():
                # The consumer left early (a break, an error in its loop): nobody owns the run
                # any more, so it ends here; its own error, if it had one, is raised here.
                self.cancel(why)
                await asyncio.wait([outcome])
        if outcome.cancelled():
            return
        failure = outcome.exception()
        if failure is not None:
            raise failure


class _Waiter(asyncio.Future[None]):
    """What an ``await handle`` waits on; it is set once the run's outcome is.

    Cancelling it (the awaiting task is cancelled: a kernel interrupt, a Stop, a replaced debug
    session) cancels the run at once, in the same call, and is refused: the task then gets its
    CancelledError when the run has ended, never before.
    """

    def __init__(self, handle: RunHandle) -> None:
        super().__init__()
        self._handle = handle

    def cancel(self, msg: Any = None) -> bool:
        if not self.done():
            reason = msg if isinstance(msg, str) and msg else "cancelled"
            if self._handle._request_cancel(reason, None):
                return False  # the task's cancellation is delivered when this is set
        return super().cancel(msg)


def _reason_of(error: BaseException) -> str:
    if error.args and isinstance(error.args[0], str) and error.args[0]:
        return error.args[0]
    return "cancelled"
