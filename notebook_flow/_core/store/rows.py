"""What a run store holds, as plain frozen data: one row per run, per finished step, per answer.

Two layers: the ``*Blob`` rows are what a :class:`~.protocol.RunStore` backend keeps (values as
bytes, so a backend never pickles); :class:`SavedRun` and :class:`SavedStep` are the same rows
with their values loaded, as the runner and the view read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from notebook_flow.records import RunRecord

__all__ = [
    "RunStatus",
    "RUN_STATUSES",
    "RunInfo",
    "StepBlob",
    "StateBlob",
    "RunBlobs",
    "SavedStep",
    "SavedRun",
    "NotSaved",
]

RunStatus = Literal["running", "finished", "failed", "cancelled"]
RUN_STATUSES: Final = ("running", "finished", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run in the history.

    Attributes:
        key: the run's key (``handle.run_key``), unique in its store.
        flow_name: the name of the flow that ran.
        status: "running" until the run ends (also when its process died: then it can be
            resumed), else how it ended.
        started: when it started, ``time.time()`` seconds.
        ended: when it ended, or None while it runs (or if its process died).
        parent_key: the run it was re-run or forked from, or None.
        root_event: the event it started from.
        steps: how many finished steps are saved.
        owner: the process that runs (or last ran) it, ``host:pid:start``.
    """

    key: str
    flow_name: str
    status: RunStatus
    started: float
    ended: float | None
    parent_key: str | None
    root_event: str
    steps: int = 0
    owner: str = ""

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while the run has not ended."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True, slots=True)
class NotSaved:
    """Stands for a value that could not be saved: ``type_name`` says what it was.

    ``text`` keeps what can be shown of it (an error's message), else "".
    """

    type_name: str
    text: str = ""

    def __repr__(self) -> str:
        detail = f": {self.text}" if self.text else ""
        return f"<not saved: {self.type_name}{detail}>"


class StepBlob(NamedTuple):
    """A finished step as a backend keeps it; ``result`` is None when it could not be pickled.

    A named tuple, not a dataclass: one is made per checkpoint, and this is cheaper to build.
    """

    step_id: int
    event_id: str
    result: bytes | None
    value_type: str
    duration: float
    finished_at: float


class StateBlob(NamedTuple):
    """The machine's state as saved: ``data`` is the runner's own bytes when ``raw``, else a pickle."""

    data: bytes
    raw: bool


@dataclass(frozen=True, slots=True)
class RunBlobs:
    """Everything a backend holds about one run, values still as bytes."""

    info: RunInfo
    input: bytes | None
    state: StateBlob | None
    steps: tuple[StepBlob, ...]
    records: tuple[bytes, ...]
    answers: dict[tuple[int, int], bytes] = field(default_factory=dict)
    #: the steps saved after the last saved state (with ``state=None``), in the order saved
    since_state: tuple[StepBlob, ...] = ()


@dataclass(frozen=True, slots=True)
class SavedStep:
    """A finished step of a saved run.

    ``saved`` is False when its result could not be pickled: ``result`` is then a
    :class:`NotSaved` and a resumed run runs the step again.
    """

    step_id: int
    event_id: str
    saved: bool
    result: Any
    value_type: str
    duration: float
    finished_at: float


@dataclass(frozen=True, slots=True)
class SavedRun:
    """A run loaded from a store: what a resume, a re-run or the view starts from.

    Attributes:
        info: the run's history row.
        input: the root event's input (a :class:`NotSaved` if it could not be pickled).
        state: the machine's state as saved after the last finished step (bytes if the runner
            saved bytes), or None when no step was saved.
        steps: the finished steps, in the order they were saved; a step run again on resume
            appears once, with its last result.
        records: the run's records, in the order they were published.
        answers: saved answers to questions, by ``(step_id, question_number)``.
        since_state: the steps saved after ``state`` (with ``state=None``), in the order they
            were saved: a runner that saves its state only now and then replays these
            outcomes into the restored machine. Empty when every step saved its state.
    """

    info: RunInfo
    input: Any
    state: Any
    steps: tuple[SavedStep, ...]
    records: tuple[RunRecord, ...]
    answers: dict[tuple[int, int], Any]
    since_state: tuple[SavedStep, ...] = ()

    @property
    def key(self) -> str:
        return self.info.key

    def results_by_step(self) -> dict[int, Any]:
        """``{step_id: result}`` of the steps whose result was saved (the rest run again)."""
        return {s.step_id: s.result for s in self.steps if s.saved}

    def results_by_event(self) -> dict[str, Any]:
        """``{event_id: result}``, the last saved result of each event (what a re-run takes)."""
        return {s.event_id: s.result for s in self.steps if s.saved}
