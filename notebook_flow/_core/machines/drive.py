"""drive-flow's rules as a pure machine: groups all/any, goto, abort, max_steps, on_error.

The machine knows the flow only through ``listeners_of(event_id)`` (each listener, the group it
listens with, and a key for that pair). Everything it remembers about a run is in
:class:`DriveState`: results, the progress of each multi-member group, the queue of steps ready
to start, the steps running, counters and the failures kept with ``on_error="continue"``.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...errors import FailedStep, MaxStepsExceeded, StepFailures
from ...events import EventInput, ReturnBehavior
from ..safe_text import safe_str
from .outcomes import Abort, Failure, Goto, Outcome, Ready, Result

__all__ = ["DriveMachine", "DriveState", "GroupProgress", "Topology"]


class _Group(Protocol):
    name: str
    retrigger_type: str

    @property
    def events(self) -> dict[str, Any]: ...


class _Listener(Protocol):
    id: str


class Topology(Protocol):
    """What a drive machine needs of a flow: who listens to an event, with which group."""

    name: str

    def listeners_of(self, event_id: str) -> Sequence[tuple[Any, Any, tuple[str, str]]]: ...


@dataclass(slots=True)
class GroupProgress:
    """One (listener, group) pair with several members, in one run."""

    missing: int  # members with no result yet in this run
    stale: set[str] = field(default_factory=set)  # "all": members whose result was already sent
    fired: bool = False  # "first": the group has fired in this run


@dataclass(slots=True)
class DriveState:
    """Everything a drive machine knows about its run; plain data (copy, pickle, restore)."""

    results: dict[str, Any] = field(default_factory=dict)  # event id -> latest result
    groups: dict[tuple[str, str], GroupProgress] = field(default_factory=dict)
    queue: deque[Ready] = field(default_factory=deque)  # ready, not started, in start order
    running: dict[int, Ready] = field(default_factory=dict)  # started, not finished
    counts: dict[str, int] = field(default_factory=dict)  # executions per event id
    executed: int = 0
    last_step_id: int = 0
    failure_count: int = 0
    failures: list[FailedStep] = field(default_factory=list)  # the first StepFailures.MAX_KEPT


class DriveMachine:
    """The run of a drive-flow style flow, as rules over :class:`DriveState`.

    Args:
        topology: the flow (its ``listeners_of`` and ``name``).
        max_steps: executions allowed in the run (None: no limit).
        keep_going: ``on_error="continue"``: a failure is recorded and its branch ends.
        state: resume from this state instead of starting empty.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        max_steps: int | None = None,
        keep_going: bool = False,
        state: DriveState | None = None,
    ) -> None:
        self.topology = topology
        self.max_steps = max_steps
        self.keep_going = keep_going
        self._s = state if state is not None else DriveState()

    # -- state ------------------------------------------------------------------------------
    def state(self) -> DriveState:
        """A deep copy of the run's state (the machine goes on with its own)."""
        return copy.deepcopy(self._s)

    @classmethod
    def from_state(
        cls, topology: Topology, state: DriveState, *, max_steps: int | None = None,
        keep_going: bool = False,
    ) -> DriveMachine:
        return cls(topology, max_steps=max_steps, keep_going=keep_going, state=copy.deepcopy(state))

    @property
    def results(self) -> dict[str, Any]:
        """The latest result of each event that produced one (the machine's own dict)."""
        return self._s.results

    @property
    def failures(self) -> list[FailedStep]:
        return self._s.failures

    @property
    def failure_count(self) -> int:
        return self._s.failure_count

    @property
    def running(self) -> dict[int, Ready]:
        return self._s.running

    def has_ready(self) -> bool:
        return bool(self._s.queue)

    def next_ready(self) -> Ready | None:
        queue = self._s.queue
        return queue[0] if queue else None

    # -- the rules --------------------------------------------------------------------------
    def start(self, root_id: str, root_input: Any) -> list[Ready]:
        """Queue the root event with its input as is."""
        return [self._queue(root_id, root_input)]

    def begin(self) -> Ready:
        """Take the head of the queue: it starts now. Raises MaxStepsExceeded past the limit."""
        s = self._s
        ready = s.queue.popleft()
        s.executed += 1
        counts = s.counts
        counts[ready.event_id] = counts.get(ready.event_id, 0) + 1
        if self.max_steps is not None and s.executed > self.max_steps:
            raise self._too_many()
        s.running[ready.step_id] = ready
        return ready

    def finish(self, step_id: int, outcome: Outcome) -> list[Ready]:
        """Record how a started step ended; return the steps it made ready (queued in order)."""
        s = self._s
        ready = s.running.pop(step_id)
        if isinstance(outcome, Result):
            event_id = ready.event_id
            first = event_id not in s.results
            s.results[event_id] = outcome.value
            return self._dispatch(event_id, first)
        if isinstance(outcome, Goto):
            goer = {ready.event_id: outcome.payload}
            return [
                self._queue(target, EventInput("$goto", dict(goer), _GOTO))
                for target in outcome.targets
            ]
        if isinstance(outcome, Failure):
            s.failure_count += 1
            if len(s.failures) < StepFailures.MAX_KEPT:
                s.failures.append(FailedStep(ready.event_id, step_id, outcome.error, ready.input))
            return []
        assert isinstance(outcome, Abort), f"unknown outcome {outcome!r}"
        return []

    def cancel(self, step_id: int) -> None:
        """A started step was cancelled: it ends with no outcome."""
        self._s.running.pop(step_id, None)

    def result(self) -> dict[str, Any]:
        """The run's results: ``{event id: latest result}``; raises StepFailures if any failed."""
        error = self.failures_error()
        if error is not None:
            raise error
        return self._s.results

    def partial(self) -> dict[str, Any]:
        """The results so far (a copy), for a run cut short."""
        return dict(self._s.results)

    def failures_error(self) -> StepFailures | None:
        """With ``on_error="continue"``: the error that reports every failure, or None."""
        s = self._s
        if not s.failure_count:
            return None
        count, kept = s.failure_count, s.failures
        listed = "; ".join(
            f"{f.event_id}: {type(f.error).__name__}: {safe_str(f.error)}" for f in kept[:3]
        )
        more = f"; and {count - 3} more" if count > 3 else ""
        return StepFailures(
            f"{count} step{'s' if count != 1 else ''} of flow {self.topology.name!r} failed "
            f"({listed}{more}); the independent branches finished: their results are in "
            f".results, each failure in .failures",
            kept, s.results, count,
        )

    # -- inside -----------------------------------------------------------------------------
    def _queue(self, event_id: str, event_input: Any) -> Ready:
        s = self._s
        s.last_step_id += 1
        ready = Ready(s.last_step_id, event_id, event_input)
        s.queue.append(ready)
        return ready

    def _dispatch(self, event_id: str, first: bool) -> list[Ready]:
        listeners = self.topology.listeners_of(event_id)
        if not listeners:
            return []
        made: list[Ready] = []
        results, groups = self._s.results, self._s.groups
        for listener, group, key in listeners:
            members = group.events
            if group.retrigger_type == "first":
                # Fires once, on the first result of any member; later results reach no one.
                progress = groups.get(key)
                if progress is None:
                    progress = groups[key] = GroupProgress(0)
                if not progress.fired:
                    progress.fired = True
                    first_input = EventInput(group.name, {event_id: results[event_id]})
                    made.append(self._queue(listener.id, first_input))
                continue
            if len(members) == 1:
                # One member: the group fires on each of its results, "all" or "any" alike.
                made.append(self._queue(listener.id, EventInput(group.name, {event_id: results[event_id]})))
                continue
            progress = groups.get(key)
            if progress is None:
                missing = sum(1 for member in members if member not in results)
                progress = groups[key] = GroupProgress(missing)
            elif first:
                progress.missing -= 1
            if progress.missing:
                continue
            if group.retrigger_type == "all":
                stale = progress.stale
                if stale:
                    stale.discard(event_id)
                    if stale:
                        continue  # not every member has a new result yet
                progress.stale = set(members)
            fired = {member: results[member] for member in members}
            made.append(self._queue(listener.id, EventInput(group.name, fired)))
        return made

    def _too_many(self) -> MaxStepsExceeded:
        counts = self._s.counts
        busiest = max(counts, key=counts.__getitem__)
        return MaxStepsExceeded(
            f"flow {self.topology.name!r} stopped after max_steps={self.max_steps} event runs: "
            f"event {busiest!r} ran {counts[busiest]} times, most likely an endless "
            f"loop. If the loop is intended, pass a larger max_steps to invoke_event(...) or "
            f"the engine (None disables the guard).",
            limit=self.max_steps or 0,
            event_id=busiest,
        )


_GOTO = ReturnBehavior.GOTO
