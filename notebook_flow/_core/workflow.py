"""microflow's WorkflowManager: handlers on event names, run by the one engine.

A handler is a step of the run (a ``PipelineMachine`` says which runs next, the runner runs it),
so a workflow gets the same records, trace, progress, debugger gate, timeouts and cancellation
as a drive-flow flow. ``run(event)`` returns a ``RunHandle``; ``process(event)`` is microflow's
lazy async generator of events on top of it. What microflow did that no user wants (endless
re-runs of a silent pass, unbounded same-name loops, handler type errors discovered late, stale
duplicates after a notebook cell re-run) is fixed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Literal

from ..errors import EventTypeError, FlowDefinitionError
from ..events import WorkflowEvent
from . import display_hook
from .callables import StepCallable, check_step_callable
from .feed import RunFeed
from .machines import PipelineMachine
from .pipeline_steps import PipelineSteps, ReadWindow
from .policy import Retry, StepPolicy, check_timeout, make_policy
from .run import RunHandle
from .run_options import DEFAULT_MAX_STEPS, check_grace, check_max_steps
from .runner import GRACE, Runner
from .safe_text import safe_str

__all__ = ["EventHandler", "NeverRunsWarning", "WorkflowManager"]

EventHandler = Callable[[WorkflowEvent, Any], AsyncIterator[WorkflowEvent]]
_ARGS = "(event, ctx)"


class NeverRunsWarning(UserWarning):
    """Something was registered that will never run (a handler for "progress")."""


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
        check_max_steps(max_steps)
        self.ctx = ctx
        self.max_steps = max_steps
        self.name = name
        self.handlers: dict[str, list[Any]] = {}
        self._checked: dict[str, list[StepCallable]] = {}
        self._policies: dict[str, list[StepPolicy | None]] = {}
        self.logger = logging.getLogger("WorkflowManager")
        self.last_run: RunFeed | None = None  # the feed of the latest run

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
            # microflow accepts it (and never runs it): code written for microflow must not
            # break, so it is registered, with a warning that says it will never run.
            warnings.warn(
                "a handler for 'progress' never runs: progress events report progress and are "
                "never dispatched. Give the event another name, or read progress from the "
                "events process() yields",
                NeverRunsWarning,
                stacklevel=2,
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

    def handler_at(self, name: str, position: int) -> tuple[StepCallable, StepPolicy | None]:
        """The handler at ``position`` among those of ``name``, checked, with its options."""
        handler = self.handlers[name][position]
        checked = self._checked.get(name, [])
        if position < len(checked) and checked[position].func is handler:
            return checked[position], self._policies[name][position]
        # Someone edited .handlers by hand: check the handler now.
        return check_step_callable(handler, role="handler", arg_names=_ARGS), None

    def run(
        self,
        initial_event: WorkflowEvent,
        *,
        trace: bool | int = True,
        timeout: float | None = None,
        on_timeout: Literal["raise", "return"] = "raise",
        on_error: Literal["raise", "continue"] = "raise",
        gate: Any = None,
        grace: float = GRACE,
    ) -> RunHandle:
        """Prepare a run from ``initial_event``: await it, iterate its records, or ``start()`` it.

        Awaiting it returns the last event of the workflow; an exception in a handler is raised
        (``process()`` turns it into microflow's final error event instead).

        Args:
            trace: keep a trace and a log (True, or the trace's window); False for neither.
            timeout: seconds the whole run may take (None: no limit); see ``Flow.run``.
            on_timeout: "raise" (``RunTimeout``) or "return" (the last event so far).
            on_error: "raise" (default): a failing handler ends the workflow and its exception
                is raised. "continue": it counts as a handler that yielded nothing, the
                pipeline goes on, and ``StepFailures`` reports every failure at the end.
            gate: the debugger's gate, asked before each handler starts.
            grace: seconds a cancelled handler may take to stop.
        """
        if not isinstance(initial_event, WorkflowEvent):
            raise EventTypeError(
                f"a workflow starts from a WorkflowEvent, got {type(initial_event).__name__} "
                f"{initial_event!r}; write WorkflowEvent(name=..., data=...)"
            )
        seconds = check_timeout(timeout, "the run's")
        if on_timeout not in ("raise", "return"):
            raise FlowDefinitionError(f"on_timeout must be 'raise' or 'return', got {on_timeout!r}")
        if on_error not in ("raise", "continue"):
            raise FlowDefinitionError(f"on_error must be 'raise' or 'continue', got {on_error!r}")
        check_grace(grace)
        return self._prepare(
            initial_event, trace=trace, timeout=seconds, on_timeout=on_timeout,
            on_error=on_error, gate=gate, grace=grace, window=None,
        )

    def _prepare(
        self, initial_event: WorkflowEvent, *, trace: bool | int, timeout: float | None,
        on_timeout: str, on_error: str, gate: Any, grace: float, window: ReadWindow | None,
    ) -> RunHandle:
        feed = RunFeed(self, self.name, initial_event.name, trace=trace, gate=gate)
        self.last_run = feed
        keep_going = on_error == "continue"
        machine = PipelineMachine(
            self.handlers, max_steps=self.max_steps, name=self.name, keep_going=keep_going
        )
        runner = Runner(
            machine, feed, PipelineSteps(self, feed, window), keep_going=keep_going, grace=grace
        )
        return RunHandle(
            feed, runner, initial_event.name, initial_event, timeout=timeout,
            on_timeout=on_timeout,
        )

    def process(self, initial_event: WorkflowEvent) -> AsyncGenerator[WorkflowEvent, None]:
        """Run the workflow from ``initial_event``, yielding every event as it happens.

        Lazy, as in microflow: nothing runs until the first event after the initial one is
        read. A wrong argument is refused here, at the call, not at the first read. Leaving the
        loop early (``break``) cancels the run.
        """
        if not isinstance(initial_event, WorkflowEvent):
            raise EventTypeError(
                f"process() takes a WorkflowEvent, got {type(initial_event).__name__} "
                f"{initial_event!r}; write WorkflowEvent(name=..., data=...)"
            )
        return self._process(initial_event)

    async def _process(self, initial_event: WorkflowEvent) -> AsyncGenerator[WorkflowEvent, None]:
        yield initial_event
        window = ReadWindow()  # handlers run at most this far ahead of this consumer
        handle = self._prepare(
            initial_event, trace=True, timeout=None, on_timeout="raise", on_error="raise",
            gate=None, grace=GRACE, window=window,
        )
        last = initial_event  # the latest non-progress event: its metadata goes on an error
        step_last: dict[int, WorkflowEvent] = {}  # per running step, cleared when it ends
        failed = False
        try:
            async with aclosing(handle.__aiter__()) as records:
                async for record in records:
                    kind = record.kind
                    if kind == "step_emitted":
                        event = record.event  # type: ignore[attr-defined]
                        if event.name != "progress":
                            last = step_last[record.step_id] = event  # type: ignore[attr-defined]
                        yield event
                        window.read()
                    elif kind == "step_started":
                        step_last[record.step_id] = record.input  # type: ignore[attr-defined]
                    elif kind == "step_failed":
                        failed = True
                        on = step_last.pop(record.step_id, last)  # type: ignore[attr-defined]
                        yield _error_event(record.error, on)  # type: ignore[attr-defined]
                    elif kind == "run_failed" and not failed:
                        failed = True  # the run itself stopped it (max_steps)
                        yield _error_event(record.error, last)  # type: ignore[attr-defined]
                    elif kind in ("step_finished", "step_cancelled"):
                        step_last.pop(record.step_id, None)  # type: ignore[attr-defined]
        except Exception:
            if not failed:
                raise
            # the failure ended the workflow with its error event, as in microflow

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The workflow's graph as SVG when a notebook displays it (plus a text outline); never raises."""
        return display_hook.draw(self, include, exclude)


def _error_event(error: BaseException, on: WorkflowEvent) -> WorkflowEvent:
    return WorkflowEvent(name="error", error=safe_str(error), metadata=on.metadata)
