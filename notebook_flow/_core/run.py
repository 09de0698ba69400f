"""RunHandle: one run of a flow, awaitable for its results and iterable for its records."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, AsyncIterator, Callable, Coroutine, Generator, Optional

from ..errors import FlowRunError
from ..events import RUN_END_KINDS, RunRecord
from .feed import RunFeed, Subscriber
from .trace import Trace

RunBody = Callable[[], Coroutine[Any, Any, Any]]


class RunHandle:
    """A run of a flow.

    ``await handle`` starts it (if needed) and returns its results; ``async for record in
    handle`` yields every record of the run as it happens; ``handle.start()`` runs it in the
    background on the current event loop; ``handle.cancel()`` cancels every step of it.
    """

    def __init__(self, feed: RunFeed, body: RunBody) -> None:
        self.feed = feed
        self._body = body
        self._task: Optional[asyncio.Task[Any]] = None
        self.status = "created"
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def __repr__(self) -> str:
        return f"<RunHandle run={self.run_id} flow={self.flow_name!r} status={self.status}>"

    @property
    def run_id(self) -> int:
        return self.feed.run_id

    @property
    def flow_name(self) -> str:
        return self.feed.flow_name

    @property
    def trace(self) -> Optional[Trace]:
        return self.feed.trace

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(record)`` for each record from now on; returns an unsubscribe."""
        return self.feed.subscribe(subscriber)

    def start(self) -> "RunHandle":
        """Start the run as a task on the running event loop (no-op if already started)."""
        if self._task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise FlowRunError(
                    "a run needs a running asyncio event loop: `await` it inside an async "
                    "function (or at the top level of a notebook cell), or use asyncio.run(...)"
                ) from None
            self._task = loop.create_task(self._main(), name=f"notebook_flow run {self.run_id}")
        return self

    async def _main(self) -> Any:
        self.status = "running"
        self.feed.run_started()
        try:
            result = await self._body()
        except asyncio.CancelledError:
            self.status = "cancelled"
            self.feed.run_cancelled()
            raise
        except BaseException as error:
            self.status = "failed"
            self.error = error
            self.feed.run_failed(error)
            raise
        self.status = "finished"
        self.result = result
        self.feed.run_finished()
        return result

    def __await__(self) -> Generator[Any, None, Any]:
        return self.start()._task.__await__()  # type: ignore[union-attr]

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def cancel(self, msg: Optional[str] = None) -> bool:
        """Cancel the run: every running step is cancelled and the trace closes each of them."""
        if self._task is None:
            self.status = "cancelled"
            return False
        return self._task.cancel(msg)

    def __aiter__(self) -> AsyncIterator[RunRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RunRecord]:
        buffer: deque[RunRecord] = deque()
        waiter: list[Optional[asyncio.Future[None]]] = [None]

        def push(record: RunRecord) -> None:
            buffer.append(record)
            fut = waiter[0]
            if fut is not None and not fut.done():
                fut.set_result(None)

        if self._task is not None and self.trace is not None:
            buffer.extend(self.trace.records)  # already running: replay what the trace holds
        unsubscribe = self.feed.subscribe(push)
        self.start()
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not buffer:
                    waiter[0] = loop.create_future()
                    await waiter[0]
                    waiter[0] = None
                record = buffer.popleft()
                yield record
                if record.kind in RUN_END_KINDS:
                    break
        finally:
            unsubscribe()
        task = self._task
        assert task is not None
        if not task.done():
            await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
