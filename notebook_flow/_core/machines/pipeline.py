"""microflow's rules as a pure machine: handlers of a name in sequence, then dispatch by name.

A pass runs the handlers registered for one event name, one after the other; each receives the
last non-progress event the previous ones yielded (the pass's event if none did). After the
pass that event is dispatched by its name. A pass that yields nothing new, an event nobody
handles, or a failure ends the run; ``max_steps`` bounds the number of passes.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import FailedStep, MaxStepsExceeded, StepFailures
from ..safe_text import safe_str
from .outcomes import Failure, Outcome, Ready, Result

__all__ = ["PipelineMachine", "PipelineState"]


@dataclass(slots=True)
class PipelineState:
    """Everything a pipeline machine knows about its run; plain data (copy, pickle, restore)."""

    current: Any = None  # the event the next handler receives
    pass_name: str = ""  # the name this pass's handlers are registered for
    produced: bool = False  # a handler of this pass yielded a non-progress event
    passes: int = 0
    last_step_id: int = 0
    queue: deque[Ready] = field(default_factory=deque)
    running: dict[int, Ready] = field(default_factory=dict)
    ended: str = ""  # "", or why the run ended: "unhandled", "silent", "failed"
    failure_count: int = 0
    failures: list[FailedStep] = field(default_factory=list)  # on_error="continue": the first MAX_KEPT


class PipelineMachine:
    """The run of a microflow style workflow, as rules over :class:`PipelineState`.

    Args:
        handlers: the handlers by event name (read live: handlers added mid-run take part).
        max_steps: passes allowed in the run (None: no limit).
        name: the workflow's name, for messages.
        keep_going: ``on_error="continue"``: a failing handler counts as one that yielded
            nothing, and the pipeline goes on; the failures are reported at the end.
    """

    def __init__(
        self,
        handlers: Mapping[str, Sequence[object]],
        *,
        max_steps: int | None = None,
        name: str = "workflow",
        keep_going: bool = False,
        state: PipelineState | None = None,
    ) -> None:
        self.handlers = handlers
        self.max_steps = max_steps
        self.name = name
        self.keep_going = keep_going
        self._s = state if state is not None else PipelineState()

    def state(self) -> PipelineState:
        """A deep copy of the run's state (the machine goes on with its own)."""
        return copy.deepcopy(self._s)

    @classmethod
    def from_state(
        cls, handlers: Mapping[str, Sequence[object]], state: PipelineState, *,
        max_steps: int | None = None, name: str = "workflow", keep_going: bool = False,
    ) -> PipelineMachine:
        return cls(
            handlers, max_steps=max_steps, name=name, keep_going=keep_going,
            state=copy.deepcopy(state),
        )

    @property
    def current(self) -> Any:
        return self._s.current

    @property
    def ended(self) -> str:
        return self._s.ended

    @property
    def running(self) -> dict[int, Ready]:
        return self._s.running

    @property
    def failures(self) -> list[FailedStep]:
        return self._s.failures

    def has_ready(self) -> bool:
        return bool(self._s.queue)

    def next_ready(self) -> Ready | None:
        queue = self._s.queue
        return queue[0] if queue else None

    # -- the rules --------------------------------------------------------------------------
    def start(self, root_id: str, root_input: Any) -> list[Ready]:
        """Start with the event ``root_input`` (named ``root_id``): its handlers' first pass."""
        self._s.current = root_input
        return self._next_pass(root_id)

    def begin(self) -> Ready:
        s = self._s
        ready = s.queue.popleft()
        s.running[ready.step_id] = ready
        return ready

    def finish(self, step_id: int, outcome: Outcome) -> list[Ready]:
        """Record how a handler ended; return the next handler to run (or nothing: the end)."""
        s = self._s
        ready = s.running.pop(step_id)
        if not isinstance(outcome, Result):
            assert isinstance(outcome, Failure), f"a pipeline step ends with a result, got {outcome!r}"
            if not self.keep_going:
                s.ended = "failed"  # a failure ends the workflow
                return []
            s.failure_count += 1
            if len(s.failures) < StepFailures.MAX_KEPT:
                s.failures.append(FailedStep(ready.event_id, step_id, outcome.error, ready.input))
            outcome = Result(None)  # the pipeline goes on as if the handler yielded nothing
        if outcome.value is not None:
            s.current = outcome.value
            s.produced = True
        position = ready.position + 1
        if position < len(self.handlers.get(s.pass_name, ())):
            return [self._queue(s.pass_name, position)]
        if not s.produced:
            s.ended = "silent"  # a pass that yields nothing new ends instead of looping
            return []
        return self._next_pass(s.current.name)

    def cancel(self, step_id: int) -> None:
        self._s.running.pop(step_id, None)

    def result(self) -> Any:
        """The last event of the run (the one nobody handled, or the last one produced).

        Raises StepFailures if handlers failed with ``keep_going``.
        """
        s = self._s
        if s.failure_count:
            count = s.failure_count
            listed = "; ".join(
                f"{f.event_id}: {type(f.error).__name__}: {safe_str(f.error)}"
                for f in s.failures[:3]
            )
            raise StepFailures(
                f"{count} handler{'s' if count != 1 else ''} of workflow {self.name!r} failed "
                f"({listed}); the workflow went on: its last event is in .results['last_event']",
                s.failures, {"last_event": s.current}, count,
            )
        return s.current

    def partial(self) -> Any:
        return self._s.current

    # -- inside -----------------------------------------------------------------------------
    def _next_pass(self, name: str) -> list[Ready]:
        s = self._s
        if not self.handlers.get(name):
            s.ended = "unhandled"
            return []
        s.passes += 1
        if self.max_steps is not None and s.passes > self.max_steps:
            s.ended = "failed"
            raise MaxStepsExceeded(
                f"workflow {self.name!r} stopped after max_steps={self.max_steps} handler "
                f"passes; event {name!r} keeps coming back, most likely an endless loop. "
                f"Pass a larger max_steps to WorkflowManager(...) if the loop is intended "
                f"(None disables the guard).",
                limit=self.max_steps,
                event_id=name,
            )
        s.pass_name = name
        s.produced = False
        return [self._queue(name, 0)]

    def _queue(self, name: str, position: int) -> Ready:
        s = self._s
        s.last_step_id += 1
        ready = Ready(s.last_step_id, name, s.current, position)
        s.queue.append(ready)
        return ready
