"""The one feed of a run: typed records, published to any number of subscribers.

The trace, the live view, the debugger and the user's ``async for`` are all subscribers. A
subscriber is a plain callable taking one record; it runs synchronously on the event loop, so it
must be quick (the live view coalesces on its own). One that raises is dropped from this run with
a warning, so a broken subscriber never kills or stalls the run.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..records import (
    RunCancelled,
    RunFailed,
    RunFinished,
    RunRecord,
    RunStarted,
    StepAbandoned,
    StepAborted,
    StepCancelled,
    StepEmitted,
    StepFailed,
    StepFinished,
    StepGoto,
    StepHeld,
    StepPending,
    StepProgress,
    StepReleased,
    StepRetried,
    StepStarted,
)
from .runlog import RunLog
from .trace import Trace

logger = logging.getLogger("notebook_flow")

Subscriber = Callable[[RunRecord], Any]
_run_ids = itertools.count(1)
_clock = time.perf_counter

# Callables told about every new run (the notebook layer attaches live views through this).
_run_observers: list[Callable[[RunFeed], Any]] = []


def observe_runs(callback: Callable[[RunFeed], Any]) -> Callable[[], None]:
    """Call ``callback(feed)`` for every run created from now on, before it starts.

    Returns a function that stops the observation.
    """
    _run_observers.append(callback)

    def remove() -> None:
        if callback in _run_observers:
            _run_observers.remove(callback)

    return remove


class RunFeed:
    """The record stream of one run, plus its identity, its trace and its log.

    ``trace=True`` keeps a :class:`Trace` and a :class:`RunLog` (an int sets the trace's window);
    ``trace=False`` keeps neither, for the fastest runs. Every record goes out through
    :meth:`publish`; the helpers below build a record only when someone listens.
    """

    def __init__(
        self, source: Any, flow_name: str, root: str, *, trace: bool | int = True,
        gate: Any = None,
    ) -> None:
        self.run_id = next(_run_ids)
        self.source = source
        self.flow_name = flow_name
        self.root = root
        self.trace: Trace | None = None
        self.log: RunLog | None = None
        self._subs: list[Subscriber] = []
        self.started_at = 0.0
        self.steps = 0  # steps started
        self._gate: Any = None
        if trace:
            self.trace = Trace(maxlen=Trace.DEFAULT_MAXLEN if trace is True else trace)
            self.log = RunLog()
            self._subs.append(self.trace.add)  # a bound method: a cheaper call
            self._subs.append(self.log.add)
        if gate is not None:
            self.hold_with(gate)
        for observer in list(_run_observers):
            try:
                observer(self)
            except Exception:  # an observer must not stop a run from being made
                logger.warning("run observer %r failed", observer, exc_info=True)

    @property
    def gate(self) -> Any:
        """The debugger's gate the run asks before each step starts (None: no debugger)."""
        return self._gate

    def hold_with(self, gate: Any) -> None:
        """Put the run under ``gate`` (a run option; a run observer may call it too).

        Only before the run starts: a run that already started keeps the gate it had.
        """
        if self.started_at:
            raise RuntimeError(
                f"run {self.run_id} already started; a gate is given before it starts "
                f"(gate=... on the run, or from a run observer)"
            )
        self._gate = gate
        self.subscribe(gate)

    # -- subscribers ------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns a function that removes it."""
        self._subs = [*self._subs, subscriber]  # a new list: see unsubscribe

        def unsubscribe() -> None:
            if subscriber in self._subs:
                # A new list: a publish going on (this may be called from a subscriber) carries
                # on over the old one without skipping anyone.
                subs = list(self._subs)
                subs.remove(subscriber)
                self._subs = subs

        return unsubscribe

    def close(self) -> None:
        """The run has ended: no record goes out any more (an abandoned step's late ones)."""
        self._subs = []

    @property
    def listened(self) -> bool:
        """Whether anyone receives records (else the helpers build none)."""
        return bool(self._subs)

    def publish(self, record: RunRecord) -> None:
        """Hand ``record`` to every subscriber; one that raises is dropped from this run."""
        for sub in self._subs:
            try:
                sub(record)
            except Exception:
                self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        logger.warning(
            "run %s: subscriber %r raised and was removed from this run", self.run_id, sub,
            exc_info=True,
        )
        self._subs = [s for s in self._subs if s is not sub]

    # -- record helpers (build a record only when someone listens) --------------------------
    def run_started(self) -> None:
        self.started_at = _clock()
        if self._subs:
            self.publish(
                RunStarted(self.run_id, self.started_at, self.flow_name, self.root, time.time())
            )

    def step_pending(self, step_id: int, event_id: str, inp: Any) -> None:
        if self._subs:
            self.publish(StepPending(self.run_id, _clock(), step_id, event_id, inp))

    def step_started(self, step_id: int, event_id: str, inp: Any) -> float:
        self.steps += 1
        now = _clock()
        if self._subs:
            self.publish(StepStarted(self.run_id, now, step_id, event_id, inp))
        return now

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None:
        if self._subs:
            self.publish(
                StepProgress(self.run_id, _clock(), step_id, event_id, step, description, fraction)
            )

    def step_retried(
        self, step_id: int, event_id: str, attempt: int, error: BaseException, delay: float
    ) -> None:
        if self._subs:
            self.publish(StepRetried(self.run_id, _clock(), step_id, event_id, attempt, error, delay))

    def step_finished(self, step_id: int, event_id: str, result: Any, t0: float) -> None:
        if self._subs:
            now = _clock()
            self.publish(StepFinished(self.run_id, now, step_id, event_id, result, now - t0))

    def step_failed(self, step_id: int, event_id: str, error: BaseException, t0: float) -> None:
        if self._subs:
            now = _clock()
            self.publish(StepFailed(self.run_id, now, step_id, event_id, error, now - t0))

    def step_cancelled(self, step_id: int, event_id: str, t0: float) -> None:
        if self._subs:
            now = _clock()
            self.publish(StepCancelled(self.run_id, now, step_id, event_id, now - t0))

    def step_aborted(self, step_id: int, event_id: str, t0: float) -> None:
        if self._subs:
            now = _clock()
            self.publish(StepAborted(self.run_id, now, step_id, event_id, now - t0))

    def step_goto(
        self, step_id: int, event_id: str, targets: tuple[str, ...], payload: Any, t0: float
    ) -> None:
        if self._subs:
            now = _clock()
            self.publish(StepGoto(self.run_id, now, step_id, event_id, targets, payload, now - t0))

    def step_held(self, step_id: int, event_id: str, reason: str) -> None:
        if self._subs:
            self.publish(StepHeld(self.run_id, _clock(), step_id, event_id, reason))

    def step_released(self, step_id: int, event_id: str, inp: Any) -> None:
        if self._subs:
            self.publish(StepReleased(self.run_id, _clock(), step_id, event_id, inp))

    def step_abandoned(self, step_id: int, event_id: str, grace: float) -> None:
        if self._subs:
            self.publish(StepAbandoned(self.run_id, _clock(), step_id, event_id, grace))

    def step_emitted(self, step_id: int, event_id: str, event: Any) -> None:
        if self._subs:
            self.publish(StepEmitted(self.run_id, _clock(), step_id, event_id, event))

    def run_finished(self) -> None:
        if self._subs:
            now = _clock()
            self.publish(RunFinished(self.run_id, now, self.steps, now - self.started_at))

    def run_failed(self, error: BaseException) -> None:
        if self._subs:
            now = _clock()
            self.publish(RunFailed(self.run_id, now, error, self.steps, now - self.started_at))

    def run_cancelled(self, reason: str = "cancelled") -> None:
        if self._subs:
            now = _clock()
            self.publish(RunCancelled(self.run_id, now, self.steps, now - self.started_at, reason))
