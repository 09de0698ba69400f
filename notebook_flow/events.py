"""Public data: the values that flow through a workflow and the typed records of a run.

Nothing here runs anything; the engine creates these objects and subscribers read them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

__all__ = [
    "ReturnBehavior",
    "EventInput",
    "WorkflowEvent",
    "RunRecord",
    "RunStarted",
    "StepPending",
    "StepStarted",
    "StepProgress",
    "StepRetried",
    "StepPlaced",
    "StepFinished",
    "StepFailed",
    "StepCancelled",
    "StepAborted",
    "StepGoto",
    "RunFinished",
    "RunFailed",
    "RunCancelled",
    "STEP_END_KINDS",
    "RUN_END_KINDS",
]


class ReturnBehavior(Enum):
    """How an event was started (``EventInput.behavior``) or what a special return asks for."""

    DISPATCH = "dispatch"
    GOTO = "goto"
    ABORT = "abort"
    INPUT = "input"


_task_ids = itertools.count(1)


def _next_task_id() -> str:
    # A counter, not a uuid4: unique within the process and ten times cheaper per event.
    return f"task-{next(_task_ids)}"


@dataclass(slots=True)
class EventInput:
    """What a listening event receives: the results of the group that fired it.

    ``results`` maps each member's id to its latest result, in the order the group lists them.
    """

    group_name: str | None
    results: dict[str, Any]
    behavior: ReturnBehavior = ReturnBehavior.DISPATCH
    task_id: str = field(default_factory=_next_task_id)

    @classmethod
    def from_input(cls, input_data: dict[str, Any]) -> EventInput:
        """Wrap user data as the input of a root event (``group_name="user_input"``)."""
        return cls(group_name="user_input", results=input_data, behavior=ReturnBehavior.INPUT)


@dataclass
class WorkflowEvent:
    """A named event of a microflow-style workflow (also used for progress in any step)."""

    name: str
    data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def progress(
        cls,
        step_name: str,
        description: str,
        metadata: dict[str, Any] | None = None,
        *,
        fraction: float | None = None,
    ) -> WorkflowEvent:
        """A progress event: reported to the feed, the log and the view, never dispatched."""
        data: dict[str, Any] = {"step": step_name, "description": description}
        if fraction is not None:
            data["fraction"] = fraction
        return cls(name="progress", data=data, metadata=metadata)


# --------------------------------------------------------------------------------------------
# Run records: the one feed every subscriber (trace, view, debugger, user) reads.
# ``time`` is ``time.perf_counter()`` seconds; ``RunStarted.wall_time`` anchors it to the clock.


@dataclass(slots=True)
class RunRecord:
    """Base of every record a run publishes."""

    kind: ClassVar[str] = "record"
    run_id: int
    time: float


@dataclass(slots=True)
class RunStarted(RunRecord):
    kind: ClassVar[str] = "run_started"
    flow_name: str
    root: str
    wall_time: float


@dataclass(slots=True)
class StepPending(RunRecord):
    """An event was queued to run (it may wait for a concurrency slot or the debugger)."""

    kind: ClassVar[str] = "step_pending"
    step_id: int
    event_id: str
    input: Any


@dataclass(slots=True)
class StepStarted(RunRecord):
    kind: ClassVar[str] = "step_started"
    step_id: int
    event_id: str
    input: Any


@dataclass(slots=True)
class StepProgress(RunRecord):
    kind: ClassVar[str] = "step_progress"
    step_id: int
    event_id: str
    step: str
    description: str
    fraction: float | None


@dataclass(slots=True)
class StepRetried(RunRecord):
    """An attempt of a started step failed and the step will run again after ``delay`` seconds.

    The step stays open: a retry is not a new step, and the step still ends with exactly one
    end record (finished, failed, ...) after its last attempt.
    """

    kind: ClassVar[str] = "step_retried"
    step_id: int
    event_id: str
    attempt: int  # the attempt that failed, 1 for the first
    error: BaseException
    delay: float


@dataclass(slots=True)
class StepPlaced(RunRecord):
    """An attempt of a started step runs on a worker of an executor in another process.

    Published when the worker starts it (or, at the latest, with its result). Steps on the event
    loop or the engine's thread pool have none. ``worker`` is the worker's address,
    ``worker_name`` its short name (Dask's ``Worker.name``), ``dashboard`` a link to the
    executor's own dashboard ("" if it has none).
    """

    kind: ClassVar[str] = "step_placed"
    step_id: int
    event_id: str
    executor: str
    worker: str
    worker_name: str = ""
    dashboard: str = ""


@dataclass(slots=True)
class StepFinished(RunRecord):
    kind: ClassVar[str] = "step_finished"
    step_id: int
    event_id: str
    result: Any
    duration: float


@dataclass(slots=True)
class StepFailed(RunRecord):
    """A step ended with an exception (a ``StepTimeout`` when it ran out of time)."""

    kind: ClassVar[str] = "step_failed"
    step_id: int
    event_id: str
    error: BaseException
    duration: float


@dataclass(slots=True)
class StepCancelled(RunRecord):
    kind: ClassVar[str] = "step_cancelled"
    step_id: int
    event_id: str
    duration: float


@dataclass(slots=True)
class StepAborted(RunRecord):
    kind: ClassVar[str] = "step_aborted"
    step_id: int
    event_id: str
    duration: float


@dataclass(slots=True)
class StepGoto(RunRecord):
    kind: ClassVar[str] = "step_goto"
    step_id: int
    event_id: str
    targets: tuple[str, ...]
    payload: Any
    duration: float


@dataclass(slots=True)
class RunFinished(RunRecord):
    kind: ClassVar[str] = "run_finished"
    steps: int
    duration: float


@dataclass(slots=True)
class RunFailed(RunRecord):
    kind: ClassVar[str] = "run_failed"
    error: BaseException
    steps: int
    duration: float


@dataclass(slots=True)
class RunCancelled(RunRecord):
    """The run was stopped before it ended on its own; ``reason`` says by what.

    e.g. "RunHandle.cancel()", a message given to ``cancel(msg)`` (the Stop button passes one),
    "KeyboardInterrupt", "timeout after 5 s" (``on_timeout="return"``), or "cancelled" when the
    task awaiting the run was cancelled (a notebook kernel interrupt does that).
    """

    kind: ClassVar[str] = "run_cancelled"
    steps: int
    duration: float
    reason: str = "cancelled"


#: Record kinds that close a started step: every started step gets exactly one of them.
STEP_END_KINDS = frozenset(
    k.kind for k in (StepFinished, StepFailed, StepCancelled, StepAborted, StepGoto)
)
#: Record kinds that close a run.
RUN_END_KINDS = frozenset(k.kind for k in (RunFinished, RunFailed, RunCancelled))
