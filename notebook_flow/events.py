"""Public data: the values that flow through a workflow (events, inputs, behaviours).

Nothing here runs anything; the engine creates these objects and subscribers read them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "ReturnBehavior",
    "EventInput",
    "WorkflowEvent",
]


class ReturnBehavior(Enum):
    """How an event was started (``EventInput.behavior``) or what a special return asks for."""

    DISPATCH = "dispatch"
    GOTO = "goto"
    ABORT = "abort"
    INPUT = "input"


_task_ids = itertools.count(1)


def _next_task_id() -> str:
    # A counter, not a uuid4: unique within the process and ten times cheaper per event.
    return f"task-{next(_task_ids)}"


@dataclass(slots=True)
class EventInput:
    """What a listening event receives: the results of the group that fired it.

    ``results`` maps each member's id to its latest result, in the order the group lists them.
    """

    group_name: str | None
    results: dict[str, Any]
    behavior: ReturnBehavior = ReturnBehavior.DISPATCH
    task_id: str = field(default_factory=_next_task_id)

    @classmethod
    def from_input(cls, input_data: dict[str, Any]) -> EventInput:
        """Wrap user data as the input of a root event (``group_name="user_input"``)."""
        return cls(group_name="user_input", results=input_data, behavior=ReturnBehavior.INPUT)


@dataclass
class WorkflowEvent:
    """A named event of a microflow-style workflow (also used for progress in any step)."""

    name: str
    data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def progress(
        cls,
        step_name: str,
        description: str,
        metadata: dict[str, Any] | None = None,
        *,
        fraction: float | None = None,
    ) -> WorkflowEvent:
        """A progress event: reported to the feed, the log and the view, never dispatched."""
        data: dict[str, Any] = {"step": step_name, "description": description}
        if fraction is not None:
            data["fraction"] = fraction
        return cls(name="progress", data=data, metadata=metadata)
