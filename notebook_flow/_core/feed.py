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
    StepAborted,
    StepCancelled,
    StepFailed,
    StepFinished,
    StepGoto,
    StepPending,
    StepProgress,
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
    ``trace=False`` keeps neither, for the fastest runs.
    """

    def __init__(
        self, source: Any, flow_name: str, root: str, *, trace: bool | int = True
    ) -> None:
        self.run_id = next(_run_ids)
        self.source = source
        self.flow_name = flow_name
        self.root = root
        self.trace: Trace | None = None
        self.log: RunLog | None = None
        self._subs: list[Subscriber] = []
        # The hot kinds (pending, started, finished, goto: three or four records per step) go to
        # ``_hot``, the subscribers other than the run log, which ignores them. When the trace is
        # the only one left, ``_direct`` is its window and a record is appended to it with no
        # Python call at all (the default run: a trace and a log, nobody else listening).
        self._rest: list[Subscriber] = []
        self._hot: list[Subscriber] = []
        self._direct: Any = None
        self._only_trace: Any = None
        self._trim_at = 0
        self._step_ids = itertools.count(1)
        self.started_at = 0.0
        self.steps = 0  # steps started
        # The debugger's gate: an object with ``async admit(step_id, event_id, input) -> input``
        # awaited before each step starts; None (no debugger) costs one attribute check.
        self.gate: Any = None
        if trace:
            self.trace = Trace(maxlen=Trace.DEFAULT_MAXLEN if trace is True else trace)
            self.log = RunLog()
            self._subs.append(self.trace.add)  # a bound method: a cheaper call
            self._subs.append(self.log.add)
        self._routes()
        for observer in list(_run_observers):
            try:
                observer(self)
            except Exception:  # an observer must not stop a run from being made
                logger.warning("run observer %r failed", observer, exc_info=True)

    # -- subscribers ------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns a function that removes it."""
        self._subs.append(subscriber)
        self._routes()

        def unsubscribe() -> None:
            if subscriber in self._subs:
                # A new list: a publish going on (this may be called from a subscriber) carries
                # on over the old one without skipping anyone.
                subs = list(self._subs)
                subs.remove(subscriber)
                self._subs = subs
                self._routes()

        return unsubscribe

    def _routes(self) -> None:
        """Work out who receives what: the trace's window directly, then the other subscribers."""
        trace, log = self.trace, self.log
        subs = self._subs
        direct = None
        if trace is not None and trace.add in subs:
            direct = trace._records
            self._trim_at = trace._limit
            subs = [s for s in subs if s != trace.add]
        self._direct = direct
        self._rest = subs  # every subscriber but the trace
        # the hot kinds skip the log too: it has no line for them (RunLog.IGNORED_KINDS)
        self._hot = [s for s in subs if log is None or s != log.add]
        # nobody but the trace takes the hot kinds: the helpers append to its window inline
        self._only_trace = direct if not self._hot else None

    def _deliver(self, record: RunRecord, subs: list[Subscriber]) -> None:
        direct = self._direct
        if direct is not None:
            direct.append(record)  # a C method: no Python call for the trace
            if len(direct) >= self._trim_at:
                self.trace._trim()  # type: ignore[union-attr]
        for sub in subs:
            try:
                sub(record)
            except Exception:
                self._drop(sub)

    def publish(self, record: RunRecord) -> None:
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
        self._routes()

    # -- record helpers (build a record only when someone listens) --------------------------
    def new_step_id(self) -> int:
        return next(self._step_ids)

    def run_started(self) -> None:
        self.started_at = _clock()
        if self._subs:
            self.publish(
                RunStarted(self.run_id, self.started_at, self.flow_name, self.root, time.time())
            )

    def step_pending(self, step_id: int, event_id: str, inp: Any) -> None:
        only = self._only_trace
        if only is not None:
            only.append(StepPending(self.run_id, _clock(), step_id, event_id, inp))
            if len(only) >= self._trim_at:
                self.trace._trim()  # type: ignore[union-attr]
        elif self._direct is not None or self._hot:
            self._deliver(StepPending(self.run_id, _clock(), step_id, event_id, inp), self._hot)

    def step_started(self, step_id: int, event_id: str, inp: Any) -> float:
        self.steps += 1
        now = _clock()
        only = self._only_trace
        if only is not None:
            only.append(StepStarted(self.run_id, now, step_id, event_id, inp))
            if len(only) >= self._trim_at:
                self.trace._trim()  # type: ignore[union-attr]
        elif self._direct is not None or self._hot:
            self._deliver(StepStarted(self.run_id, now, step_id, event_id, inp), self._hot)
        return now

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None:
        if self._direct is not None or self._rest:
            self._deliver(
                StepProgress(self.run_id, _clock(), step_id, event_id, step, description, fraction),
                self._rest,
            )

    def step_retried(
        self, step_id: int, event_id: str, attempt: int, error: BaseException, delay: float
    ) -> None:
        if self._subs:
            self.publish(StepRetried(self.run_id, _clock(), step_id, event_id, attempt, error, delay))

    def step_finished(self, step_id: int, event_id: str, result: Any, t0: float) -> None:
        only = self._only_trace
        if only is not None:
            now = _clock()
            only.append(StepFinished(self.run_id, now, step_id, event_id, result, now - t0))
            if len(only) >= self._trim_at:
                self.trace._trim()  # type: ignore[union-attr]
        elif self._direct is not None or self._hot:
            now = _clock()
            self._deliver(
                StepFinished(self.run_id, now, step_id, event_id, result, now - t0), self._hot
            )

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
        only = self._only_trace
        if only is not None:
            now = _clock()
            only.append(StepGoto(self.run_id, now, step_id, event_id, targets, payload, now - t0))
            if len(only) >= self._trim_at:
                self.trace._trim()  # type: ignore[union-attr]
        elif self._direct is not None or self._hot:
            now = _clock()
            self._deliver(
                StepGoto(self.run_id, now, step_id, event_id, targets, payload, now - t0),
                self._hot,
            )

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
