"""How one step of a microflow style workflow runs: one handler on one event.

Every event the handler yields goes out at once as a ``StepEmitted`` record (the consumer of
``process()`` reads them), a progress event also as a ``StepProgress``; ``progress()`` calls
inside the handler become progress events too. The step's result is the last non-progress event
it yielded (None if it yielded none); a yielded event with a truthy ``error`` stops the handler.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import EventTypeError
from ..events import WorkflowEvent
from .callables import StepCallable
from .machines import Outcome, Ready, Result
from .policy import StepPolicy, run_with_policy
from .progress import current_step, progress_from_event

if TYPE_CHECKING:
    from .feed import RunFeed

__all__ = ["HandlerSource", "PipelineSteps", "ReadWindow"]


class HandlerSource(Protocol):
    """What the step body needs of a manager: the handler at a position, checked, with options."""

    ctx: Any
    logger: logging.Logger

    def handler_at(self, name: str, position: int) -> tuple[StepCallable, StepPolicy | None]: ...


class _Attempt:
    """What one run of a handler has shown the consumer so far (no retry once it has)."""

    __slots__ = ("emitted", "last", "misuse")

    def __init__(self) -> None:
        self.emitted = False
        self.last: WorkflowEvent | None = None  # the last non-progress event it yielded
        self.misuse: Exception | None = None


class _Reporter:
    """``progress()`` inside a handler: a progress record and a progress event for the consumer."""

    __slots__ = ("feed", "metadata", "window")

    def __init__(self, feed: RunFeed, metadata: Any, window: ReadWindow | None) -> None:
        self.feed = feed
        self.metadata = metadata
        self.window = window

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None:
        self.feed.step_progress(step_id, event_id, step, description, fraction)
        event = WorkflowEvent.progress(step, description, self.metadata, fraction=fraction)
        if self.window is not None:
            self.window.sent()
        self.feed.step_emitted(step_id, event_id, event)


class ReadWindow:
    """How far handlers may run ahead of a consumer that reads their events (``process()``).

    A handler that has ``limit`` events the consumer has not read yet waits before its next
    one, so a slow consumer never makes the run buffer without bound.
    """

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self.unread = 0
        self._room: asyncio.Event | None = None

    def sent(self) -> None:
        self.unread += 1

    def read(self) -> None:
        self.unread -= 1
        if self._room is not None and self.unread < self.limit:
            self._room.set()

    async def wait_for_room(self) -> None:
        while self.unread >= self.limit:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()


class PipelineSteps:
    """The step body of a pipeline run (see ``runner.StepBody``).

    ``window``: the consumer's read window, if a consumer reads the events as they come.
    """

    def __init__(
        self, source: HandlerSource, feed: RunFeed, window: ReadWindow | None = None
    ) -> None:
        self.source = source
        self.feed = feed
        self.window = window

    async def __call__(self, ready: Ready) -> Outcome:
        step, policy = self.source.handler_at(ready.event_id, ready.position)
        current: WorkflowEvent = ready.input
        reporter = _Reporter(self.feed, current.metadata, self.window)
        token = current_step.set((reporter, ready.step_id, ready.event_id))
        attempt = _Attempt()
        run = partial(self._attempt, step, current, ready, attempt)
        try:
            if policy is None:
                last = await run()
            else:
                last = await run_with_policy(
                    policy, run, self.feed, ready.step_id, ready.event_id,
                    retryable=lambda error: not attempt.emitted and error is not attempt.misuse,
                    what=f"handler for event {ready.event_id!r}",
                )
        except Exception:
            failed_on = attempt.last if attempt.last is not None else current
            self.source.logger.exception("Error processing event %s", failed_on.name)
            raise
        finally:
            current_step.reset(token)
        return Result(last)

    async def _attempt(
        self, step: StepCallable, current: WorkflowEvent, ready: Ready, attempt: _Attempt
    ) -> WorkflowEvent | None:
        ctx = self.source.ctx
        if not step.is_generator:
            value = await step.func(current, ctx)
            return None if value is None else self._emit(step, value, ready, attempt)
        last: WorkflowEvent | None = None
        window = self.window
        async with aclosing(step.func(current, ctx)) as items:
            async for item in items:
                if window is not None and window.unread >= window.limit:
                    await window.wait_for_room()
                emitted = self._emit(step, item, ready, attempt)
                if emitted is not None:
                    last = emitted
                    if emitted.error:
                        break  # an error event stops this handler; the pipeline goes on
        return last

    def _emit(
        self, step: StepCallable, item: Any, ready: Ready, attempt: _Attempt
    ) -> WorkflowEvent | None:
        """Send one yielded item to the consumer; returns it unless it is progress."""
        if not isinstance(item, WorkflowEvent):
            attempt.misuse = EventTypeError(
                f"handler {step.qualname} for event {ready.event_id!r} yielded "
                f"{type(item).__name__} {item!r}; handlers must yield WorkflowEvent objects"
            )
            raise attempt.misuse
        attempt.emitted = True
        feed = self.feed
        if self.window is not None:
            self.window.sent()
        feed.step_emitted(ready.step_id, ready.event_id, item)
        if item.name == "progress":
            progress_from_event(feed, ready.step_id, ready.event_id, item.data)
            return None
        attempt.last = item
        return item
