"""The typed records of a run: the one feed every subscriber (trace, view, debugger, user) reads.

``time`` is ``time.perf_counter()`` seconds; ``RunStarted.wall_time`` anchors it to the clock.
Nothing here runs anything; the engine creates these records and subscribers read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
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
    "StepHeld",
    "StepReleased",
    "StepAbandoned",
    "StepEmitted",
    "RunFinished",
    "RunFailed",
    "RunCancelled",
    "STEP_END_KINDS",
    "RUN_END_KINDS",
]



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
class StepHeld(RunRecord):
    """The debugger's gate holds a pending step before it starts (the run is paused)."""

    kind: ClassVar[str] = "step_held"
    step_id: int
    event_id: str
    reason: str


@dataclass(slots=True)
class StepReleased(RunRecord):
    """The gate let a held step go; ``input`` is what it will receive (maybe edited)."""

    kind: ClassVar[str] = "step_released"
    step_id: int
    event_id: str
    input: Any


@dataclass(slots=True)
class StepAbandoned(RunRecord):
    """A cancelled step did not stop within ``grace`` seconds; the run ended without it.

    Its task is left to end on its own; whatever it does later reaches no one. The step's end
    record (``StepCancelled``) follows this one.
    """

    kind: ClassVar[str] = "step_abandoned"
    step_id: int
    event_id: str
    grace: float


@dataclass(slots=True)
class StepEmitted(RunRecord):
    """A handler of a microflow-style workflow yielded ``event`` (progress events included)."""

    kind: ClassVar[str] = "step_emitted"
    step_id: int
    event_id: str
    event: Any


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
