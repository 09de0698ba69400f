"""The bounded record of a run: a window of the latest records plus exact counters."""

from __future__ import annotations

import json
import reprlib
from collections import deque
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from ..errors import FlowDefinitionError, StepTimeout
from ..records import RUN_END_KINDS, STEP_END_KINDS, RunRecord
from .safe_text import safe_repr, safe_str

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120
_short.maxlevel = 3


class EventStats:
    """Exact per-event counters of one run (kept even when old records leave the window)."""

    __slots__ = ("started", "ended", "busy_time", "retried", "timeouts")

    def __init__(self) -> None:
        self.started = 0
        self.ended: dict[str, int] = {}
        self.busy_time = 0.0
        self.retried = 0  # failed attempts that were run again
        self.timeouts = 0  # attempts that ran out of their time limit (retried or final)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "ended": dict(self.ended),
            "busy_time": self.busy_time,
            "retried": self.retried,
            "timeouts": self.timeouts,
        }


class _Tally:
    """Exact counters over records, fed one record at a time (oldest first)."""

    __slots__ = (
        "counts", "events", "open_steps", "unmatched_ends", "retried", "timeouts", "status",
        "start_time",
    )

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.events: dict[str, EventStats] = {}
        self.open_steps: dict[int, str] = {}  # step_id -> event_id, started and not yet ended
        self.unmatched_ends = 0
        self.retried = 0
        self.timeouts = 0
        self.status = "created"
        self.start_time: float | None = None

    def copy(self) -> _Tally:
        other = _Tally()
        other.counts = dict(self.counts)
        for event_id, stats in self.events.items():
            copied = other.events[event_id] = EventStats()
            copied.started, copied.ended, copied.busy_time = (
                stats.started, dict(stats.ended), stats.busy_time
            )
            copied.retried, copied.timeouts = stats.retried, stats.timeouts
        other.open_steps = dict(self.open_steps)
        other.unmatched_ends, other.retried, other.timeouts = (
            self.unmatched_ends, self.retried, self.timeouts
        )
        other.status, other.start_time = self.status, self.start_time
        return other

    def fold(self, record: RunRecord) -> None:
        kind = record.kind
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind not in _COUNT_ONLY:
            self._fold_effects(record, kind)

    def _fold_effects(self, record: Any, kind: str) -> None:
        if kind == "step_started":
            self.open_steps[record.step_id] = record.event_id
            stats = self.events.get(record.event_id)
            if stats is None:
                stats = self.events[record.event_id] = EventStats()
            stats.started += 1
        elif kind in STEP_END_KINDS:
            event_id = self.open_steps.pop(record.step_id, None)
            if event_id is None:
                self.unmatched_ends += 1
                return
            stats = self.events[event_id]
            stats.ended[kind] = stats.ended.get(kind, 0) + 1
            stats.busy_time += record.duration
            if kind == "step_failed" and isinstance(record.error, StepTimeout):
                stats.timeouts += 1
                self.timeouts += 1
        elif kind == "step_retried":
            stats = self.events.get(record.event_id)
            if stats is not None:
                stats.retried += 1
                self.retried += 1
                if isinstance(record.error, StepTimeout):
                    stats.timeouts += 1
                    self.timeouts += 1
        elif kind == "run_started":
            self.status = "running"
            self.start_time = record.time
        elif kind in RUN_END_KINDS:
            self.status = kind[len("run_"):]


# Kinds that only add to ``counts`` (most records of a run: the rest of the work is skipped).
_COUNT_ONLY = frozenset({"step_pending", "step_progress"})


class Trace:
    """Subscriber that keeps the last ``maxlen`` records and exact counts of all of them.

    Memory stays bounded however long the run: ``records`` is a ring buffer, ``dropped`` says how
    many older records left it, and ``counts`` / ``events`` keep exact totals. Every started step
    gets exactly one end record; ``open_steps`` holds those still running and ``unmatched_ends``
    counts end records that closed no open step (always 0 unless the engine has a bug).

    Receiving a record only appends it: that is the hot path of every run. Records are counted
    when they leave the window (an eighth of a window at a time, so internally the window briefly
    holds up to ``maxlen * 9/8`` records; every reader sees the last ``maxlen``), and the records
    still in the window are counted when someone reads a counter.
    """

    DEFAULT_MAXLEN = 10_000

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise FlowDefinitionError(
                f"a trace keeps a window of at least one record, got maxlen={maxlen!r}; pass "
                f"trace=True (the default window), an int >= 1, or trace=False for no trace"
            )
        self._records: deque[RunRecord] = deque()
        self._maxlen = maxlen
        self._limit = maxlen + max(1, maxlen // 8)  # count the oldest once the window reaches it
        self._left = _Tally()  # the records that left the window
        self._left_count = 0
        self._view: tuple[int, _Tally] = (0, self._left)  # (total when computed, tally of all)

    def add(self, record: RunRecord) -> None:
        """Receive one record (the feed subscribes this bound method: cheaper than __call__)."""
        records = self._records
        records.append(record)
        if len(records) >= self._limit:
            self._trim()

    __call__ = add

    def _trim(self) -> None:
        """Count the records beyond the window (the same fold every reader's tally uses) and
        drop them, oldest first.

        A KeyboardInterrupt landing between a record's fold and its removal (a notebook's
        Stop in a chain that never waits) would count that one record twice; everything else
        an interrupt can do here leaves the counts exact.
        """
        records, left, maxlen = self._records, self._left, self._maxlen
        while len(records) > maxlen:
            left.fold(records[0])
            records.popleft()
            self._left_count += 1

    def _tally(self) -> _Tally:
        total = self.total
        seen, tally = self._view
        if seen != total:
            window = self.records  # trims first: what leaves the window is in self._left
            tally = self._left.copy()
            for record in window:
                tally.fold(record)
            self._view = (total, tally)
        return tally

    @property
    def records(self) -> deque[RunRecord]:
        """The window: the last ``maxlen`` records, oldest first."""
        self._trim()
        return self._records

    @property
    def total(self) -> int:
        """How many records the run published, including those that left the window."""
        return self._left_count + len(self._records)

    @property
    def counts(self) -> dict[str, int]:
        """Records by kind, exact."""
        return self._tally().counts

    @property
    def events(self) -> dict[str, EventStats]:
        """Exact per-event counters, by event id."""
        return self._tally().events

    @property
    def open_steps(self) -> dict[int, str]:
        """step_id -> event_id of the steps started and not yet ended."""
        return self._tally().open_steps

    @property
    def unmatched_ends(self) -> int:
        return self._tally().unmatched_ends

    @property
    def retried(self) -> int:
        return self._tally().retried

    @property
    def timeouts(self) -> int:
        return self._tally().timeouts

    @property
    def status(self) -> str:
        return self._tally().status

    @property
    def start_time(self) -> float | None:
        return self._tally().start_time

    @property
    def dropped(self) -> int:
        """How many records left the window (the counters still include them)."""
        return self.total - len(self.records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    #: The version of the format `to_dict` / `to_json` write; raised on any change
    #: that is not a new optional key.
    SCHEMA_VERSION = 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counters, per-event stats and the record window.

        The format (``schema_version`` 1), key by key:

        - ``schema_version`` (int): 1.
        - ``status`` (str): "created", "running", "finished", "failed" or "cancelled".
        - ``total_records`` (int): records the run published; ``dropped_records`` (int): how
          many of them left the window (``records`` holds the rest).
        - ``counts`` (object): record kind -> exact number, window or not.
        - ``events`` (object): event id -> ``started`` (int), ``ended`` (kind of end record ->
          int), ``busy_time`` (seconds, float), ``retried`` and ``timeouts`` (int).
        - ``open_steps`` (object): step id (as a str) -> event id of the steps still running.
        - ``retried``, ``timeouts`` (int): failed attempts run again; attempts over their limit.
        - ``records`` (array, oldest first): one object per record with ``kind`` (e.g.
          "run_started", "step_finished"; see `notebook_flow.records`), ``t`` (seconds
          since the run started) and the record's other fields by name. Numbers, strings,
          booleans and null stay as they are, tuples of strings become arrays, exceptions
          become ``{"type": ..., "message": ...}`` and any other value a shortened ``repr``
          (at most about 120 characters).
        """
        start = self.start_time or 0.0
        return {
            "schema_version": self.SCHEMA_VERSION,
            "status": self.status,
            "total_records": self.total,
            "dropped_records": self.dropped,
            "counts": dict(self.counts),
            "events": {k: v.as_dict() for k, v in self.events.items()},
            "open_steps": {str(k): v for k, v in self.open_steps.items()},
            "retried": self.retried,
            "timeouts": self.timeouts,
            "records": [record_to_dict(r, start) for r in self.records],
        }

    def to_json(self, **json_kwargs: Any) -> str:
        """The trace as JSON text (values are shortened reprs, errors are type and message)."""
        return json.dumps(self.to_dict(), **json_kwargs)


_LONGEST_TEXT = 2_000  # characters of one string value kept in a JSON export


def record_to_dict(record: RunRecord, start: float = 0.0) -> dict[str, Any]:
    """A record as JSON-ready values: short reprs, errors as type and message; never raises."""
    out: dict[str, Any] = {"kind": record.kind}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name == "time":
            out["t"] = round(value - start, 9)
        elif isinstance(value, BaseException):
            out[f.name] = {"type": type(value).__name__, "message": _shorter(safe_str(value))}
        elif value is None or isinstance(value, (bool, float)):
            out[f.name] = value
        elif isinstance(value, int):
            out[f.name] = value if value.bit_length() <= 64 else f"<int of {value.bit_length()} bits>"
        elif isinstance(value, str):
            out[f.name] = _shorter(value)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            out[f.name] = [_shorter(v) for v in value]
        else:
            out[f.name] = _short_repr(value)
    return out


def _shorter(text: str) -> str:
    if len(text) <= _LONGEST_TEXT:
        return text
    return f"{text[:_LONGEST_TEXT]}... ({len(text)} characters)"


def _short_repr(value: Any) -> str:
    try:
        return _short.repr(value)
    except Exception:  # a huge int inside (no str conversion past 4300 digits), a broken repr
        return safe_repr(value) if not isinstance(value, int) else f"<{type(value).__name__}>"
