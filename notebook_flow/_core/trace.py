"""The bounded record of a run: a window of the latest records plus exact counters."""

from __future__ import annotations

import json
import reprlib
from collections import deque
from dataclasses import fields
from typing import Any, Iterator

from ..errors import FlowDefinitionError, StepTimeout
from ..events import STEP_END_KINDS, RUN_END_KINDS, RunRecord

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


class Trace:
    """Subscriber that keeps the last ``maxlen`` records and exact counts of all of them.

    Memory stays bounded however long the run: ``records`` is a ring buffer, ``dropped`` says how
    many older records left it, and ``counts`` / ``events`` keep exact totals. Every started step
    gets exactly one end record; ``open_steps`` holds those still running and ``unmatched_ends``
    counts end records that closed no open step (always 0 unless the engine has a bug).
    """

    DEFAULT_MAXLEN = 10_000

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise FlowDefinitionError(
                f"a trace keeps a window of at least one record, got maxlen={maxlen!r}; pass "
                f"trace=True (the default window), an int >= 1, or trace=False for no trace"
            )
        self.records: deque[RunRecord] = deque(maxlen=maxlen)
        self.counts: dict[str, int] = {}
        self.total = 0
        self.events: dict[str, EventStats] = {}
        self.open_steps: dict[int, str] = {}  # step_id -> event_id, started and not yet ended
        self.unmatched_ends = 0
        self.retried = 0
        self.timeouts = 0
        self.status = "created"
        self.start_time: float | None = None

    def __call__(self, record: RunRecord) -> None:
        self.records.append(record)
        self.total += 1
        kind = record.kind
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "step_started":
            self.open_steps[record.step_id] = record.event_id  # type: ignore[attr-defined]
            stats = self.events.get(record.event_id)  # type: ignore[attr-defined]
            if stats is None:
                stats = self.events[record.event_id] = EventStats()  # type: ignore[attr-defined]
            stats.started += 1
        elif kind in STEP_END_KINDS:
            event_id = self.open_steps.pop(record.step_id, None)  # type: ignore[attr-defined]
            if event_id is None:
                self.unmatched_ends += 1
                return
            stats = self.events[event_id]
            stats.ended[kind] = stats.ended.get(kind, 0) + 1
            stats.busy_time += record.duration  # type: ignore[attr-defined]
            if kind == "step_failed" and isinstance(record.error, StepTimeout):  # type: ignore[attr-defined]
                stats.timeouts += 1
                self.timeouts += 1
        elif kind == "step_retried":
            stats = self.events.get(record.event_id)  # type: ignore[attr-defined]
            if stats is not None:
                stats.retried += 1
                self.retried += 1
                if isinstance(record.error, StepTimeout):  # type: ignore[attr-defined]
                    stats.timeouts += 1
                    self.timeouts += 1
        elif kind == "run_started":
            self.status = "running"
            self.start_time = record.time
        elif kind in RUN_END_KINDS:
            self.status = kind[len("run_"):]

    @property
    def dropped(self) -> int:
        """How many records left the window (the counters still include them)."""
        return self.total - len(self.records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counters, per-event stats and the record window."""
        start = self.start_time or 0.0
        return {
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


def record_to_dict(record: RunRecord, start: float = 0.0) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name == "time":
            out["t"] = round(value - start, 9)
        elif isinstance(value, BaseException):
            out[f.name] = {"type": type(value).__name__, "message": str(value)}
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[f.name] = value
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            out[f.name] = list(value)
        else:
            out[f.name] = _short.repr(value)
    return out
