"""RunHandle: one run of a flow, awaitable for its results and iterable for its records."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any

from ..errors import FailedStep, FlowRunError, RunTimeout
from ..records import RUN_END_KINDS, RunRecord
from .feed import RunFeed, Subscriber
from .gc_tuning import freeze_for_run, thaw_after_run
from .interrupts import keep_awake_for_signals
from .trace import Trace

RunBody = Callable[[], Coroutine[Any, Any, Any]]

#: The values of ``on_timeout``: fail with RunTimeout, or move on with the results so far.
ON_TIMEOUT = ("raise", "return")


class RunHandle:
    """A run of a flow.

    ``await handle`` starts it (if needed) and returns its results; ``async for record in
    handle`` yields every record of the run as it happens; ``handle.start()`` runs it in the
    background on the current event loop; ``handle.cancel()`` cancels every step of it.

    Attributes:
        status: "created", "running", "finished", "failed" or "cancelled".
        result: the results once finished (the partial results after ``on_timeout="return"``).
        error: the exception the run failed with (or the KeyboardInterrupt that stopped it).
        timed_out: True when the run's ``timeout`` ran out.
        failures: the failed steps so far, with ``on_error="continue"``.
    """

    def __init__(
        self,
        feed: RunFeed,
        body: RunBody,
        *,
        timeout: float | None = None,
        on_timeout: str = "raise",
        state: Any = None,
    ) -> None:
        self.feed = feed
        self._body = body
        self._timeout = timeout
        self._on_timeout = on_timeout
        self._state = state  # the scheduler: its results so far, its failures
        self._task: asyncio.Future[Any] | None = None
        self._cancel_reason: str | None = None
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
        return list(getattr(self._state, "failures", ()))

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(record)`` for each record from now on; returns an unsubscribe."""
        return self.feed.subscribe(subscriber)

    def start(self) -> RunHandle:
        """Start the run as a task on the running event loop (no-op if already started)."""
        if self._task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise FlowRunError(
                    "a run needs a running asyncio event loop: `await` it inside an async "
                    "function (or at the top level of a notebook cell), or use asyncio.run(...)"
                ) from None
            if self.status == "cancelled":  # cancelled before it started: it never runs
                self._task = loop.create_future()
                self._task.cancel(self._cancel_reason)
            else:
                self._task = loop.create_task(self._main(), name=f"notebook_flow run {self.run_id}")
        return self

    async def _main(self) -> Any:
        self.status = "running"
        self.feed.run_started()
        leave = keep_awake_for_signals()
        try:
            freeze_for_run()
            result = await (self._body() if self._timeout is None else self._with_deadline())
        except asyncio.CancelledError as error:
            self.status = "cancelled"
            self.feed.run_cancelled(self._cancel_reason or _reason_of(error))
            raise
        except Exception as error:
            self.status = "failed"
            self.error = error
            self.feed.run_failed(error)
            raise
        except BaseException as error:  # KeyboardInterrupt, SystemExit: stopped, not failed
            self.status = "cancelled"
            self.error = error
            self._close_open_steps()
            self.feed.run_cancelled(type(error).__name__)
            raise
        finally:
            leave()
            thaw_after_run()
        self.result = result
        if self.timed_out:  # on_timeout="return": the run was cut short, the caller moves on
            self.status = "cancelled"
            self.feed.run_cancelled(f"timeout after {self._timeout:g} s")
        else:
            self.status = "finished"
            self.feed.run_finished()
        return result

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
        try:
            async with scope:
                return await self._body()
        except TimeoutError as error:
            if not scope.expired():
                raise  # a step's own TimeoutError
            self.timed_out = True
            results = dict(getattr(self._state, "store", {}))
            if self._on_timeout == "return":
                return results
            running = list(dict.fromkeys(getattr(self._state, "cancelled_events", ())))
            raise RunTimeout(
                f"run {self.run_id} of flow {self.flow_name!r} timed out after "
                f"{self._timeout:g} s; still running then: {', '.join(running) or 'nothing'}. "
                f"Its results so far are in .results; pass a larger timeout=..., or "
                f"on_timeout=\"return\" to get them instead of this error",
                timeout=self._timeout or 0.0,
                running=running,
                results=results,
            ) from error

    def __await__(self) -> Generator[Any, None, Any]:
        return self.start()._task.__await__()  # type: ignore[union-attr]

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def cancel(self, msg: str | None = None) -> bool:
        """Cancel the run: every running step is cancelled and the trace closes each of them.

        ``msg`` becomes the ``reason`` of the run's ``RunCancelled`` record (the Stop button
        passes one). A run cancelled before it started never runs. Returns False if the run
        had already ended.
        """
        reason = msg or "RunHandle.cancel()"
        if self._task is None:
            if self.status != "created":
                return False
            self.status = "cancelled"
            self._cancel_reason = reason
            self.feed.run_cancelled(reason)
            return True
        if self._task.done():
            return False
        if self._cancel_reason is None:
            self._cancel_reason = reason
        return self._task.cancel(msg)

    def __aiter__(self) -> AsyncIterator[RunRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RunRecord]:
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
        task = self.start()._task
        assert task is not None
        task.add_done_callback(wake)
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not buffer and not task.done():
                    waiter[0] = loop.create_future()
                    stop_waking[0] = self.feed.subscribe(wake)
                    try:
                        await waiter[0]
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
        finally:
            unsubscribe()
            task.remove_done_callback(wake)
        if not task.done():
            await asyncio.wait([task])
        if task.cancelled():
            return
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _reason_of(error: BaseException) -> str:
    if error.args and isinstance(error.args[0], str) and error.args[0]:
        return error.args[0]
    return "cancelled"
