"""The debugger's input editor: a pending step's input as the user wrote the step, and back.

A listening step receives the results of the group that fired it; the editor shows them keyed by
event name (``{"receive": {"item": "lamp", "qty": 2}}``), pre-filled with what the step would get,
and turns what the user typed back into the engine's ``EventInput`` (same group, same behaviour).
A microflow handler's input is its event's data; a root event's is the value it was given.
"""

from __future__ import annotations

from typing import Any

from ..errors import EventTypeError
from ..events import EventInput, WorkflowEvent
from .formatting import bounded_repr, short_name

__all__ = ["editable_text", "parse_edit"]


def _names(results: dict[str, Any]) -> dict[str, str]:
    """Event id -> the key the editor shows: the short name, or the id if two names clash."""
    short = [short_name(k) for k in results]
    return {k: (s if short.count(s) == 1 else k) for k, s in zip(results, short, strict=True)}


def editable_text(value: Any) -> str:
    """The text the editor starts with for a pending input (a Python expression)."""
    if type(value) is EventInput:
        names = _names(value.results)
        inner = ",\n ".join(f"{names[k]!r}: {bounded_repr(v)}" for k, v in value.results.items())
        return "{" + inner + "}"
    if type(value) is WorkflowEvent:
        return bounded_repr(value.data if value.data is not None else {})
    return bounded_repr(value)


def parse_edit(original: Any, typed: Any) -> Any:
    """The new input from what the user typed (already evaluated), shaped like ``original``.

    For an ``EventInput``, ``typed`` is a dict of results by event name (or id); events it does
    not name keep their results. An ``EventInput`` or ``WorkflowEvent`` typed in full is taken as
    it is.
    """
    if type(original) is EventInput and type(typed) is not EventInput:
        if not isinstance(typed, dict):
            raise EventTypeError(
                f"this step receives the results of its group as a dict by event name, e.g. "
                f"{{{', '.join(repr(n) + ': ...' for n in _names(original.results).values())}}}; "
                f"got {type(typed).__name__}"
            )
        by_key = {name: event_id for event_id, name in _names(original.results).items()}
        by_key.update({event_id: event_id for event_id in original.results})
        results = dict(original.results)
        for key, result in typed.items():
            ref = getattr(key, "id", key)  # an Event names itself by its id
            event_id = by_key.get(ref) if isinstance(ref, str) else None
            if event_id is None:
                raise EventTypeError(
                    f"{key!r} is not an event whose result this step receives; it receives: "
                    f"{', '.join(repr(n) for n in _names(original.results).values())}"
                )
            results[event_id] = result
        return EventInput(original.group_name, results, original.behavior)
    if type(original) is WorkflowEvent and type(typed) is not WorkflowEvent:
        if not isinstance(typed, dict):
            raise EventTypeError(
                f"this handler receives the data of event {original.name!r} as a dict; got "
                f"{type(typed).__name__} (or type a whole WorkflowEvent(...))"
            )
        return WorkflowEvent(original.name, data=typed, metadata=original.metadata, error=original.error)
    return typed
