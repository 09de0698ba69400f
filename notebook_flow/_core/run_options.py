"""Checking the options of one run before it is made (each wrong value: a clear error)."""

from __future__ import annotations

from typing import Any

from ..errors import FlowDefinitionError
from .placed_run import check_sendable
from .placement import LOCAL, check_executor
from .policy import check_timeout
from .run import ON_TIMEOUT

#: The default cap on steps per run (event runs of a Flow, handler passes of a WorkflowManager).
DEFAULT_MAX_STEPS = 100_000
#: The values of ``on_error``.
ON_ERROR = ("raise", "continue")

__all__ = ["DEFAULT_MAX_STEPS", "ON_ERROR", "check_grace", "check_max_steps", "check_run_options"]


def check_run_options(
    flow: Any,
    event: Any,
    *,
    max_async_events: int | None,
    max_steps: int | None,
    timeout: float | None,
    on_timeout: str,
    on_error: str,
    executor: Any,
) -> tuple[int | None, float | None, Any]:
    """Check a run's options; return (max_steps, timeout seconds, executor or None)."""
    if max_async_events is not None and (
        not isinstance(max_async_events, int) or max_async_events < 0
    ):
        raise FlowDefinitionError(
            f"max_async_events must be a positive int (or None/0 for no cap), got "
            f"{max_async_events!r}"
        )
    check_max_steps(max_steps)
    seconds = check_timeout(timeout, "the run's")
    _check_choice("on_timeout", on_timeout, ON_TIMEOUT)
    _check_choice("on_error", on_error, ON_ERROR)
    place = check_executor(executor, "run(...)")
    if place == LOCAL:
        place = None
    if place is not None or flow._remote:
        check_sendable(flow, event, place)  # before anything runs
    return max_steps, seconds, place


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        options = " or ".join(repr(c) for c in choices)
        raise FlowDefinitionError(f"{name} must be {options}, got {value!r}")


def check_max_steps(max_steps: int | None) -> None:
    if max_steps is not None and (
        not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1
    ):
        raise FlowDefinitionError(
            f"max_steps must be a positive int, or None to disable the guard against endless "
            f"loops; got {max_steps!r}"
        )


def check_grace(grace: Any) -> None:
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not 0 <= grace < 3600:
        raise FlowDefinitionError(
            f"grace is how many seconds a cancelled step may take to stop, a number from 0 to "
            f"3600; got {grace!r}. The default is 1 s"
        )
