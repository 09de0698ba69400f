"""The one error hierarchy of notebook_flow.

Every error the toolkit raises on purpose derives from :class:`FlowError`, and also from the
builtin it refines (``TypeError`` for a wrong kind of object, ``ValueError`` for a wrong value,
``RuntimeError`` for a run that cannot go on), so ``except TypeError`` keeps working. Each message
says what happened and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "FlowError",
    "FlowDefinitionError",
    "EventTypeError",
    "FlowRunError",
    "UnknownEventError",
    "MaxStepsExceeded",
]


class FlowError(Exception):
    """Base class of every error notebook_flow raises on purpose."""


class FlowDefinitionError(FlowError, ValueError):
    """A flow, an event or a listen group was defined wrongly (raised at definition time)."""


class EventTypeError(FlowDefinitionError, TypeError):
    """An object of the wrong kind was given where an event function, handler or event was needed."""


class FlowRunError(FlowError, RuntimeError):
    """A run cannot go on (raised while a workflow runs)."""


class UnknownEventError(FlowRunError, LookupError):
    """A run reached an event that is not registered in the flow that runs it."""


class MaxStepsExceeded(FlowRunError):
    """A run executed more steps than its ``max_steps`` allows: most likely an endless loop."""

    def __init__(self, message: str, *, limit: int, event_id: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.event_id = event_id
