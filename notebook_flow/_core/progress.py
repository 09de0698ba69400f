"""``progress(...)``: report progress from inside any running step."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from ..errors import FlowDefinitionError, FlowRunError


class ProgressReporter(Protocol):
    """Where a step's progress goes: the run's feed, or a stand-in (a thread, a worker)."""

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None: ...


# (reporter, step_id, event_id) of the step running in this task, set by the engine around it.
current_step: ContextVar[tuple[ProgressReporter, int, str] | None] = ContextVar(
    "notebook_flow_current_step", default=None
)


def progress(step: str, description: str | float | None = None, fraction: float | None = None) -> None:
    """Report progress of the running step: it reaches the run's feed, log and live view.

    ``progress("download", "fetching page 3", 0.3)`` labels it; ``progress("fetching page 3")``
    or ``progress("fetching page 3", 0.3)`` leaves the label out (the step's name is used).

    Args:
        step: a short label (e.g. "download"), or, alone, what is happening now.
        description: what is happening now (or, if a number, the fraction).
        fraction: how far along, from 0.0 to 1.0, for a progress bar; None if unknown.
    """
    scope = current_step.get()
    if scope is None:
        raise FlowRunError(
            "progress() was called outside a running step; call it from inside an event "
            "function or handler while a flow runs"
        )
    if description is None or (
        isinstance(description, (int, float)) and not isinstance(description, bool)
    ):
        if description is not None:
            if fraction is not None:
                raise FlowDefinitionError(
                    f"progress({step!r}, {description!r}, {fraction!r}): two fractions; write "
                    f"progress(label, description, fraction) or progress(description, fraction)"
                )
            fraction = description
        step, description = scope[2].rsplit(".", 1)[-1], step
    check_fraction(fraction)
    reporter, step_id, event_id = scope
    reporter.step_progress(step_id, event_id, str(step), str(description), fraction)


def check_fraction(fraction: Any) -> None:
    """Raise a clear error unless ``fraction`` is None or a number from 0.0 to 1.0."""
    if fraction is not None and not (
        isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0.0 <= fraction <= 1.0
    ):
        raise FlowDefinitionError(
            f"progress fraction is how far along the step is, a number from 0.0 to 1.0 (or None "
            f"if unknown); got {fraction!r}. For 3 of 10 done, pass fraction=0.3"
        )


def progress_from_event(feed: ProgressReporter, step_id: int, event_id: str, data: Any) -> None:
    """Publish a yielded ``WorkflowEvent.progress(...)`` as a progress record."""
    data = data if isinstance(data, dict) else {}
    check_fraction(data.get("fraction"))
    feed.step_progress(
        step_id,
        event_id,
        str(data.get("step", "")),
        str(data.get("description", "")),
        data.get("fraction"),
    )
