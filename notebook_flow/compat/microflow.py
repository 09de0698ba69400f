"""microflow's WorkflowManager on notebook_flow's run feed.

A handler pass is a step of the run: it gets the same records, trace and progress reporting as a
drive-flow event. The consumer pulls the events lazily, exactly as in microflow; what microflow
did that no user wants (endless re-runs of a silent pass, unbounded same-name loops, handler type
errors discovered late, stale duplicates after a notebook cell re-run) is fixed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

from .._core.callables import StepCallable, check_step_callable
from .._core.feed import RunFeed
from .._core.flow import DEFAULT_MAX_STEPS
from .._core.interrupts import keep_awake_for_signals
from .._core.policy import Retry, StepPolicy, make_policy, within_budget
from .._core.progress import current_step, progress_from_event
from ..errors import EventTypeError, FlowDefinitionError, MaxStepsExceeded
from ..events import WorkflowEvent

EventHandler = Callable[[WorkflowEvent, Any], AsyncIterator[WorkflowEvent]]
_ARGS = "(event, ctx)"


class WorkflowManager:
    """Routes events by name through registered handlers (microflow's manager).

    Args:
        ctx: one object handed to every handler.
        max_steps: cap on handler passes per ``process`` call (a guard against endless loops);
            None disables it.
        name: shown in traces and views.
    """

    def __init__(
        self, ctx: Any = None, *, max_steps: int | None = DEFAULT_MAX_STEPS, name: str = "workflow"
    ) -> None:
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise FlowDefinitionError(
                f"max_steps must be a positive int, or None to disable the guard; got {max_steps!r}"
            )
        self.ctx = ctx
        self.max_steps = max_steps
        self.name = name
        self.handlers: dict[str, list[Any]] = {}
        self._checked: dict[str, list[StepCallable]] = {}
        self._policies: dict[str, list[StepPolicy | None]] = {}
        self.logger = logging.getLogger("WorkflowManager")
        self.last_run: RunFeed | None = None

    def register(
        self,
        event_name: str,
        handler: EventHandler,
        *,
        retry: Retry | None = None,
        timeout: float | None = None,
    ) -> WorkflowManager:
        """Add ``handler`` for ``event_name`` (handlers of one name run in sequence); chainable.

        A new function with the module-qualified name of a handler already registered for this
        event (a re-run notebook cell) replaces it in place.

        Args:
            retry: run the handler again when it raises, as long as it has not yielded an event
                yet (the consumer has already seen what it yielded, so it is not taken back).
            timeout: seconds the handler itself may take per attempt (the time your ``async
                for`` loop spends between events does not count); then it fails with
                ``StepTimeout`` and the workflow ends with an error event.
        """
        if not isinstance(event_name, str) or not event_name:
            raise EventTypeError(
                f"an event name must be a non-empty str, got {type(event_name).__name__} "
                f"{event_name!r}; write register(\"start\", handler)"
            )
        if event_name == "progress":
            raise FlowDefinitionError(
                "a handler for 'progress' would never run: progress events report progress and "
                "are never dispatched. Give the event another name, or read progress from the "
                "events process() yields"
            )
        policy = make_policy(retry, timeout, "register(...)")
        step = check_step_callable(handler, role="handler", arg_names=_ARGS)
        handlers = self.handlers.setdefault(event_name, [])
        checked = self._checked.setdefault(event_name, [])
        policies = self._policies.setdefault(event_name, [])
        for i, old in enumerate(checked):
            if (
                old.func is not step.func
                and old.key == step.key
                and not (old.code is not None and old.code is step.code)
            ):
                handlers[i] = handler
                checked[i] = step
                policies[i] = policy
                return self
        handlers.append(handler)
        checked.append(step)
        policies.append(policy)
        return self

    def _step_of(
        self, event_name: str, index: int, handler: Any
    ) -> tuple[StepCallable, StepPolicy | None]:
        checked = self._checked.get(event_name, [])
        if index < len(checked) and checked[index].func is handler:
            return checked[index], self._policies[event_name][index]
        # Someone edited .handlers by hand: check the handler now.
        return check_step_callable(handler, role="handler", arg_names=_ARGS), None

    def process(self, initial_event: WorkflowEvent) -> AsyncGenerator[WorkflowEvent, None]:
        """Run the workflow from ``initial_event``, yielding every event as it happens.

        Lazy, as in microflow: nothing runs until the first event is read. A wrong argument is
        refused here, at the call, not at the first read.
        """
        if not isinstance(initial_event, WorkflowEvent):
            raise EventTypeError(
                f"process() takes a WorkflowEvent, got {type(initial_event).__name__} "
                f"{initial_event!r}; write WorkflowEvent(name=..., data=...)"
            )
        return self._process(initial_event)

    async def _process(self, initial_event: WorkflowEvent) -> AsyncGenerator[WorkflowEvent, None]:
        feed = RunFeed(self, self.name, initial_event.name)
        feed.progress_sink = []  # type: ignore[attr-defined]
        self.last_run = feed
        feed.run_started()
        leave = keep_awake_for_signals()  # so a kernel interrupt reaches a waiting handler
        current = initial_event
        passes = 0
        outcome: BaseException | None = None
        try:
            yield initial_event
            while True:
                pass_name = current.name  # the name this pass's handlers are registered for
                handlers = self.handlers.get(pass_name)
                if not handlers:
                    self.logger.debug("No handlers for event: %s", current.name)
                    break
                passes += 1
                if self.max_steps is not None and passes > self.max_steps:
                    error = MaxStepsExceeded(
                        f"workflow {self.name!r} stopped after max_steps={self.max_steps} handler "
                        f"passes; event {current.name!r} keeps coming back, most likely an "
                        f"endless loop. Pass a larger max_steps to WorkflowManager(...) if the "
                        f"loop is intended (None disables the guard).",
                        limit=self.max_steps,
                        event_id=current.name,
                    )
                    outcome = error
                    yield WorkflowEvent(name="error", error=str(error), metadata=current.metadata)
                    return
                produced = False
                index = 0
                while index < len(handlers):  # the live list: handlers added mid-pass run too
                    handler = handlers[index]
                    step, policy = self._step_of(pass_name, index, handler)
                    index += 1
                    # Each handler is one step of the run.
                    async with aclosing(self._run_handler(feed, step, policy, current, pass_name)) as items:
                        async for item in items:
                            if isinstance(item, _Failure):
                                outcome = item.error
                                yield item.event
                                return
                            yield item
                            if item.name != "progress":
                                current = item
                                produced = True
                if not produced:
                    break  # a silent pass ends the workflow instead of re-running forever
        except GeneratorExit:
            outcome = asyncio.CancelledError("the consumer stopped reading the workflow")
            raise
        except BaseException as error:
            outcome = error
            raise
        finally:
            leave()
            if outcome is None:
                feed.run_finished()
            elif isinstance(outcome, asyncio.CancelledError):
                feed.run_cancelled(str(outcome) or "cancelled")
            elif not isinstance(outcome, Exception):  # KeyboardInterrupt, SystemExit
                feed.run_cancelled(type(outcome).__name__)
            else:
                feed.run_failed(outcome)

    async def _run_handler(
        self, feed: RunFeed, step: StepCallable, policy: StepPolicy | None,
        current: WorkflowEvent, event_name: str,
    ) -> AsyncGenerator[Any, None]:
        """One handler of ``event_name`` on ``current``: yields its events (and a _Failure)."""
        step_id = feed.new_step_id()
        feed.step_pending(step_id, event_name, current)
        if feed.gate is not None:  # the debugger: may pause here, or edit the event
            current = await feed.gate.admit(step_id, event_name, current)
        t0 = feed.step_started(step_id, event_name, current)
        sink: list[Any] = feed.progress_sink  # type: ignore[attr-defined]
        last: WorkflowEvent | None = None
        ended = False
        items: Any = None
        token = None
        attempt = 1
        try:
            while True:  # one turn per attempt; only a policy with retry makes a second one
                misuse: Exception | None = None
                try:
                    token = current_step.set((feed, step_id, event_name))
                    items = await self._open(step, policy, current, event_name, attempt)
                    async for item in items:
                        current_step.reset(token)
                        token = None
                        while sink:
                            yield _progress_event(sink.pop(0), current)
                        if not isinstance(item, WorkflowEvent):
                            misuse = EventTypeError(
                                f"handler {step.qualname} for event {event_name!r} yielded "
                                f"{type(item).__name__} {item!r}; handlers must yield "
                                f"WorkflowEvent objects"
                            )
                            raise misuse
                        if item.name == "progress":
                            progress_from_event(feed, step_id, event_name, item.data)
                        else:
                            last = item
                        yield item
                        token = current_step.set((feed, step_id, event_name))
                        if item.name != "progress" and item.error:
                            break  # an error event stops this handler; the pipeline goes on
                    break
                except Exception as error:
                    retry = policy.retry if policy is not None else None
                    if (
                        retry is None
                        or error is misuse
                        or last is not None  # the consumer already has its events
                        or not retry.retries(error, attempt)
                    ):
                        raise
                    delay = retry.delay(attempt)
                    feed.step_retried(step_id, event_name, attempt, error, delay)
                finally:
                    if token is not None:
                        current_step.reset(token)
                        token = None
                    if items is not None:
                        await items.aclose()
                        items = None
                if delay > 0:
                    await asyncio.sleep(delay)
                attempt += 1
            while sink:
                yield _progress_event(sink.pop(0), current)
            ended = True
            feed.step_finished(step_id, event_name, last, t0)
        except Exception as error:
            ended = True
            feed.step_failed(step_id, event_name, error, t0)
            failed_on = last if last is not None else current
            self.logger.exception("Error processing event %s", failed_on.name)
            yield _Failure(
                error, WorkflowEvent(name="error", error=str(error), metadata=failed_on.metadata)
            )
        finally:
            if not ended:
                feed.step_cancelled(step_id, event_name, t0)
            sink.clear()

    async def _open(
        self, step: StepCallable, policy: StepPolicy | None, current: WorkflowEvent,
        event_name: str, attempt: int,
    ) -> AsyncGenerator[Any, None]:
        """The items of one attempt of a handler, within its time budget if it has one."""
        timeout = policy.timeout if policy is not None else None
        if timeout is None:
            if step.is_generator:
                return step.func(current, self.ctx)
            return _single(await step.func(current, self.ctx))
        source = step.func(current, self.ctx) if step.is_generator else _call(step, current, self.ctx)
        return within_budget(
            source, timeout, event_name, attempt, f"handler for event {event_name!r}"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The workflow's graph as SVG when a notebook displays it (plus a text outline); never raises."""
        try:
            from ..viz import mimebundle  # lazy: `import notebook_flow` loads no display code

            return mimebundle(self, include, exclude)
        except Exception as error:
            return {"text/plain": f"{self!r} (could not draw its graph: {error})"}


class _Failure:
    """Marks the end of a workflow by an exception in a handler."""

    __slots__ = ("error", "event")

    def __init__(self, error: BaseException, event: WorkflowEvent) -> None:
        self.error = error
        self.event = event


def _progress_event(item: tuple[str, str, Any], current: WorkflowEvent) -> WorkflowEvent:
    step, description, fraction = item
    return WorkflowEvent.progress(step, description, current.metadata, fraction=fraction)


async def _single(value: Any) -> AsyncGenerator[Any, None]:
    if value is not None:
        yield value


async def _call(step: StepCallable, current: WorkflowEvent, ctx: Any) -> AsyncGenerator[Any, None]:
    """A coroutine handler as an async generator, so its call runs inside the time budget."""
    value = await step.func(current, ctx)
    if value is not None:
        yield value
