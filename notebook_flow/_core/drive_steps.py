"""How one step of a drive-flow style flow runs: its function, its policy, its outcome."""

from __future__ import annotations

from contextlib import aclosing
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..errors import EventTypeError, FlowRunError, UnknownEventError
from ..events import ReturnBehavior, WorkflowEvent
from .event import Event, SpecialReturn
from .machines import Abort, Goto, Outcome, Ready, Result
from .placed_run import RunPlacement
from .policy import run_with_policy
from .progress import current_step, progress_from_event

if TYPE_CHECKING:
    from .feed import RunFeed
    from .flow import Flow

__all__ = ["DriveSteps"]

_GOTO = ReturnBehavior.GOTO
_ABORT = ReturnBehavior.ABORT
_DISPATCH = ReturnBehavior.DISPATCH
_ABORTED = Abort()


class DriveSteps:
    """The step body of a drive-flow run (see ``runner.StepBody``).

    Args:
        flow: the registry the run's event ids are looked up in (a redefined event's new
            function is the one that runs).
        feed: the run's feed (progress, retries).
        ctx: the ``global_ctx`` handed to every event.
        placement: where steps without an executor of their own run (a run's ``executor=``).
    """

    def __init__(
        self, flow: Flow, feed: RunFeed, ctx: Any, placement: RunPlacement | None = None
    ) -> None:
        self.flow = flow
        self.feed = feed
        self.ctx = ctx
        self.placement = placement

    async def __call__(self, ready: Ready) -> Outcome:
        event = self._event(ready.event_id)
        feed, event_input, step_id = self.feed, ready.input, ready.step_id
        token = current_step.set((feed, step_id, ready.event_id))
        try:
            if event.policy is not None:
                attempt = partial(self._attempt, event, event_input, step_id)
                result = await run_with_policy(event.policy, attempt, feed, step_id, event.id)
            elif event.is_generator:
                result = await self._drain(event, event_input, step_id)
            else:
                result = await event.func_inst(event_input, self.ctx)
        finally:
            current_step.reset(token)
        return self._outcome(event, result)

    def _event(self, event_id: str) -> Any:
        event = self.flow.get_event_from_id(event_id)
        if event is None:
            raise UnknownEventError(
                f"event {event_id!r} left flow {self.flow.name!r} while a run needed it (was "
                f"flow.reset() called mid-run?); define it again and start a new run"
            )
        if self.placement is not None:
            return self.placement.place(event)
        return event

    def _attempt(self, event: Any, event_input: Any, step_id: int) -> Any:
        """One attempt of a step with a policy: an awaitable of its result."""
        if event.is_generator:
            return self._drain(event, event_input, step_id)
        return event.func_inst(event_input, self.ctx)

    async def _drain(self, event: Any, event_input: Any, step_id: int) -> Any:
        """Run a streaming event: progress goes to the feed, the last other value is the result."""
        result = None
        feed, event_id = self.feed, event.id
        # aclosing: a step that fails or is cancelled mid-stream is closed here, not by a task the
        # event loop would start when the generator is collected
        async with aclosing(event.func_inst(event_input, self.ctx)) as items:
            async for item in items:
                if type(item) is WorkflowEvent and item.name == "progress":
                    progress_from_event(feed, step_id, event_id, item.data)
                else:
                    result = item
        return result

    def _outcome(self, event: Any, result: Any) -> Outcome:
        kind = type(result)
        if kind is SpecialReturn:
            behavior = result.behavior
            if behavior is _GOTO:
                targets, payload = result.returns
                self._check_goto(event, targets)
                return Goto(tuple(t.id for t in targets), payload)
            if behavior is _ABORT:
                return _ABORTED
            if behavior is not _DISPATCH:
                raise FlowRunError(
                    f"event {event.repr_name} returned a special return with behavior "
                    f"{behavior}, which only describes how a root event was started; return a "
                    f"plain value, goto_events(...) or abort_this()"
                )
            return Result(result.returns)
        if kind is CoroutineType:
            result.close()  # no "never awaited" warning on top of this error
            raise EventTypeError(
                f"event {event.repr_name} returned a coroutine object instead of a value: an "
                f"`await` is missing in `return {result.cr_code.co_name}(...)`; write "
                f"`return await {result.cr_code.co_name}(...)`"
            )
        return Result(result)

    def _check_goto(self, event: Any, targets: list[Event]) -> None:
        flow = self.flow
        for target in targets:
            if flow.get_event_from_id(target.id) is not target:
                raise UnknownEventError(
                    f"event {event.repr_name} returned goto_events to {target.repr_name}, which "
                    f"is not registered in flow {flow.name!r}; goto only events of this "
                    f"flow, or register it with {flow.name}.make_event(...)"
                )
