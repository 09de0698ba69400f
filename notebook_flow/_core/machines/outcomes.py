"""What a machine hands out (``Ready``) and what it is told back (an outcome of a step)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Ready", "Result", "Goto", "Abort", "Failure", "Outcome"]


@dataclass(slots=True)
class Ready:
    """A step the machine made ready: run ``event_id`` with ``input``.

    ``position`` is the handler's index within its pass for a pipeline (always 0 for a drive
    flow, where an event has one function).
    """

    step_id: int
    event_id: str
    input: Any
    position: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    """The step produced ``value`` (for a pipeline: the last non-progress event, or None)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Goto:
    """The step asked for ``targets`` (event ids, in order, duplicates kept) to run next."""

    targets: tuple[str, ...]
    payload: Any


@dataclass(frozen=True, slots=True)
class Abort:
    """The step ended with ``abort_this()``: nobody is told."""


@dataclass(frozen=True, slots=True)
class Failure:
    """The step raised ``error`` (the run goes on only with ``on_error="continue"``)."""

    error: Exception


Outcome = Result | Goto | Abort | Failure
