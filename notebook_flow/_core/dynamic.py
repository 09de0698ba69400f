"""Re-routing a run from inside an event: ``goto_events`` and ``abort_this``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import EventTypeError
from ..events import ReturnBehavior
from .event import Event, SpecialReturn


def goto_events(group_markers: Sequence[Event], any_return: Any = None) -> SpecialReturn:
    """Return this from an event to run ``group_markers`` next instead of its listeners.

    Each target runs once per time it is listed, with ``EventInput(group_name="$goto",
    results={goer.id: any_return}, behavior=ReturnBehavior.GOTO)``. An empty list ends the branch.
    """
    if isinstance(group_markers, Event) or not isinstance(group_markers, (list, tuple)):
        raise EventTypeError(
            f"goto_events takes a list of events, got {type(group_markers).__name__}; "
            "write goto_events([target], payload)"
        )
    for marker in group_markers:
        if not isinstance(marker, Event):
            raise EventTypeError(
                f"goto_events targets must be events made by make_event/listen_group, got "
                f"{type(marker).__name__} {marker!r}"
            )
    return SpecialReturn(ReturnBehavior.GOTO, (list(group_markers), any_return))


def abort_this() -> SpecialReturn:
    """Return this from an event so its listeners do not fire; the rest of the run goes on."""
    return SpecialReturn(ReturnBehavior.ABORT, None)
