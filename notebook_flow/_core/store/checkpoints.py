"""``DurableRun``: the runner's one handle on a durable run's checkpoints.

The runner makes one per durable run and calls, in this order:

* :meth:`DurableRun.start` when a new run starts (its ``key`` is the run's ``run_key``), or
  :meth:`DurableRun.resume` to continue a saved run (it also returns the :class:`SavedRun`:
  the last machine state and the saved results);
* :meth:`DurableRun.save_step` after each finished step and before any listener of it starts:
  the step's result, the machine's state and the records since the last save, in ONE
  transaction;
* :meth:`DurableRun.save_answer` / :meth:`DurableRun.saved_answer` for questions (``ask``);
* :meth:`DurableRun.end` when the run ends.

Nothing here raises into a run because of the store: what cannot be saved is said once with a
:class:`~.errors.StoreWarning` and the run goes on.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any, Final

from notebook_flow.errors import FlowRunError
from notebook_flow.records import RunRecord

from .errors import RunInUseError, StoreWarning
from .keys import new_run_key
from .owner import owner_alive, this_owner
from .protocol import RunStore
from .rows import NotSaved, RunInfo, RunStatus, SavedRun, SavedStep, StateBlob, StepBlob
from .values import dumps_records, dumps_value, loads_records, loads_value, type_name

__all__ = ["DurableRun", "load_saved_run", "find_resumable"]

_KEY_ATTEMPTS: Final = 5
_HOW_TO_SAVE: Final = "return plain data (numbers, strings, lists, dicts, dataclasses) to make it durable"


class DurableRun:
    """The checkpoints of one durable run. Make one with :meth:`start` or :meth:`resume`.

    Attributes:
        key: the run's key in its store.
        store: where it is saved.
        saving: False when the store could not take the run (its writes then do nothing).
    """

    __slots__ = ("key", "store", "saving", "_answers", "_said_state")

    def __init__(
        self,
        store: RunStore,
        key: str,
        *,
        saving: bool,
        answers: dict[tuple[int, int], Any] | None = None,
    ) -> None:
        self.key = key
        self.store = store
        self.saving = saving
        self._answers = dict(answers or {})
        self._said_state = False

    def __repr__(self) -> str:
        return f"<DurableRun {self.key} in {self.store.location}{'' if self.saving else ' (not saving)'}>"

    @classmethod
    def start(
        cls,
        store: RunStore,
        *,
        flow_name: str,
        root_event: str,
        input: Any,
        parent_key: str | None = None,
    ) -> DurableRun:
        """Save a new run (status "running") and return its checkpoints."""
        input_blob = dumps_value(input)
        if input_blob is None:
            warnings.warn(
                f"the input of a durable run of {flow_name!r} (a {type_name(input)}) cannot be "
                f"pickled, so it is not saved: the run can be resumed from its state, but not "
                f"re-run from its start; {_HOW_TO_SAVE}",
                StoreWarning,
                stacklevel=2,
            )
        for attempt in range(_KEY_ATTEMPTS):
            key = new_run_key()
            info = RunInfo(
                key, flow_name, "running", time.time(), None, parent_key, root_event,
                owner=this_owner(),
            )
            try:
                saving = store.create_run(info, input_blob)
            except KeyError:
                if attempt == _KEY_ATTEMPTS - 1:
                    raise
                continue
            return cls(store, key, saving=saving)
        raise AssertionError("unreachable")  # the loop returns or raises

    @classmethod
    def resume(
        cls, store: RunStore, run_key: str, *, force: bool = False
    ) -> tuple[DurableRun, SavedRun]:
        """Continue a saved run: mark it running again; return its checkpoints and what was saved.

        Raises:
            UnknownRunError: no run with this key is in the store.
            RunInUseError: another live process on this host is running it (``force=True``
                takes it over anyway).
        """
        saved = load_saved_run(store, run_key)
        owner = saved.info.owner
        me = this_owner()
        if (
            not force
            and saved.info.status == "running"
            and owner != me
            and owner_alive(owner) is True
        ):
            raise RunInUseError(run_key, owner)
        saving = store.reopen_run(run_key, me)
        return cls(store, run_key, saving=saving, answers=saved.answers), saved

    def save_step(
        self,
        *,
        step_id: int,
        event_id: str,
        result: Any,
        duration: float,
        state: Any,
        records: Sequence[RunRecord] = (),
    ) -> bool:
        """Save a finished step, the machine's state after it and the records since the last save.

        One transaction: after a crash the store holds all of it or none of it. ``state`` is
        bytes (saved as they are) or any picklable object; None keeps the last saved state. A
        result that cannot be pickled is saved as "not saved" (a resumed run runs the step
        again) and said in one warning. Returns True when it was saved.
        """
        if not self.saving:
            return False
        blob = dumps_value(result)
        if blob is None:
            warnings.warn(
                f"step {event_id!r} (step {step_id}) of run {self.key}: its result, a "
                f"{type_name(result)}, cannot be pickled{_cloudpickle_hint()}, so it is not "
                f"saved and a resumed run runs this step again; {_HOW_TO_SAVE}",
                StoreWarning,
                stacklevel=2,
            )
        step = StepBlob(step_id, event_id, blob, type_name(result), duration, time.time())
        record_blob = dumps_records(records) if records else None
        return self.store.save_step(self.key, step, self._state_blob(state), record_blob)

    def end(self, status: RunStatus, records: Sequence[RunRecord] = ()) -> bool:
        """Mark the run ended ("finished", "failed" or "cancelled") with its last records."""
        if not self.saving:
            return False
        record_blob = dumps_records(records) if records else None
        return self.store.end_run(self.key, status, time.time(), record_blob)

    def save_answer(self, step_id: int, question: int, answer: Any) -> bool:
        """Keep the answer to question number ``question`` (0, 1, ...) that step ``step_id`` asked."""
        self._answers[(step_id, question)] = answer
        if not self.saving:
            return False
        blob = dumps_value(answer)
        if blob is None:
            warnings.warn(
                f"run {self.key}: the answer to question {question} of step {step_id}, a "
                f"{type_name(answer)}, cannot be pickled, so it is not saved: after a resume "
                "the question is asked again",
                StoreWarning,
                stacklevel=2,
            )
            return False
        return self.store.save_answer(self.key, step_id, question, blob)

    def saved_answer(self, step_id: int, question: int) -> tuple[bool, Any]:
        """``(True, answer)`` when this question was answered before (in this run or before a
        resume), else ``(False, None)``: then it must be asked."""
        if (step_id, question) in self._answers:
            return True, self._answers[(step_id, question)]
        return False, None

    def _state_blob(self, state: Any) -> StateBlob | None:
        if state is None:
            return None
        if isinstance(state, bytes):
            return StateBlob(state, raw=True)
        data = dumps_value(state)
        if data is None:
            if not self._said_state:
                self._said_state = True
                warnings.warn(
                    f"run {self.key}: the machine's state (a {type_name(state)}) cannot be "
                    "pickled, so the last state that could be is kept: a resume runs again the "
                    "steps that finished after it",
                    StoreWarning,
                    stacklevel=3,
                )
            return None
        return StateBlob(data, raw=False)


def find_resumable(store: RunStore, flow_name: str, *, look_at: int = 50) -> RunInfo | None:
    """The newest run of ``flow_name`` that did not end and whose process is gone, or None.

    What ``%flow resume`` without a key continues: a run still marked "running" whose kernel
    died or restarted. Runs that a live process (this one included) is running are passed over,
    as are runs of another host (it cannot be told from here whether they still run).
    """
    for info in store.list_runs(flow_name, look_at, status="running"):
        if owner_alive(info.owner) is False or not info.owner:
            return info
    return None


def load_saved_run(store: RunStore, run_key: str) -> SavedRun:
    """Everything saved about a run, values loaded, for a resume, a re-run or the view.

    A saved result that no longer loads (its class was renamed, or defined in a cell not run
    again) counts as not saved: its step runs again, and a warning says so.

    Raises:
        UnknownRunError: no run with this key is in the store.
        FlowRunError: the saved machine state does not load.
    """
    blobs = store.load_run(run_key)
    steps = tuple(_load_step(run_key, s) for s in blobs.steps)
    records: list[RunRecord] = []
    for blob in blobs.records:
        records.extend(loads_records(blob))
    answers: dict[tuple[int, int], Any] = {}
    for where, blob in blobs.answers.items():
        ok, value = loads_value(blob)
        if ok:
            answers[where] = value
    return SavedRun(
        info=blobs.info,
        input=_load_input(blobs.input),
        state=_load_state(run_key, store.location, blobs.state),
        steps=steps,
        records=tuple(records),
        answers=answers,
        since_state=tuple(_load_step(run_key, s, warn=False) for s in blobs.since_state),
    )


def _load_step(run_key: str, step: StepBlob, *, warn: bool = True) -> SavedStep:
    if step.result is None:
        return SavedStep(step.step_id, step.event_id, False, NotSaved(step.value_type),
                         step.value_type, step.duration, step.finished_at)
    ok, value = loads_value(step.result)
    if not ok and warn:
        warnings.warn(
            f"run {run_key}: the saved result of step {step.event_id!r} (step {step.step_id}, a "
            f"{step.value_type}) no longer loads ({type(value).__name__}: {value}); the step "
            "runs again if the run is resumed. Define its class again to load it",
            StoreWarning,
            stacklevel=3,
        )
    if not ok:
        value = NotSaved(step.value_type, str(value))
    return SavedStep(step.step_id, step.event_id, ok, value, step.value_type, step.duration,
                     step.finished_at)


def _load_input(blob: bytes | None) -> Any:
    if blob is None:
        return NotSaved("the input could not be pickled")
    ok, value = loads_value(blob)
    return value if ok else NotSaved("the input no longer loads", str(value))


def _load_state(run_key: str, location: str, state: StateBlob | None) -> Any:
    if state is None or state.raw:
        return None if state is None else state.data
    ok, value = loads_value(state.data)
    if not ok:
        raise FlowRunError(
            f"the saved state of run {run_key} in {location} does not load "
            f"({type(value).__name__}: {value}): it was saved by another version of "
            "notebook_flow or of the flow; start a new run, or re-run it from a step"
        ) from value
    return value


def _cloudpickle_hint() -> str:
    try:
        import cloudpickle  # noqa: F401  (only asked whether it is there)
    except ImportError:
        return " (install cloudpickle to save closures and lambdas)"
    return " (by pickle or cloudpickle)"
