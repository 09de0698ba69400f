"""The one error hierarchy of notebook_flow.

Every error the toolkit raises on purpose derives from :class:`FlowError`, and also from the
builtin it refines (``TypeError`` for a wrong kind of object, ``ValueError`` for a wrong value,
``RuntimeError`` for a run that cannot go on, ``TimeoutError`` for a time limit), so ``except
TypeError`` keeps working. Each message says what happened and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FlowError",
    "FlowDefinitionError",
    "EventTypeError",
    "FlowRunError",
    "UnknownEventError",
    "MaxStepsExceeded",
    "StepTimeout",
    "RunTimeout",
    "FailedStep",
    "StepFailures",
    "UnpicklableError",
    "UnpicklableStep",
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


class StepTimeout(FlowError, TimeoutError):
    """One attempt of a step ran longer than the step's ``timeout``.

    Attributes:
        event_id: the event (or handler's event name) that timed out.
        timeout: the limit in seconds.
        attempt: which attempt timed out (1 for the first).
    """

    def __init__(self, message: str, *, event_id: str, timeout: float, attempt: int) -> None:
        super().__init__(message)
        self.event_id = event_id
        self.timeout = timeout
        self.attempt = attempt


class RunTimeout(FlowError, TimeoutError):
    """A whole run ran longer than its ``timeout``; every step still running was cancelled.

    Attributes:
        timeout: the limit in seconds.
        running: ids of the events that were still running when time was up.
        results: the results the run had produced by then (``{event_id: value}``).
    """

    def __init__(
        self, message: str, *, timeout: float, running: Sequence[str], results: dict[str, Any]
    ) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.running = tuple(running)
        self.results = results


class UnpicklableError(FlowError, TypeError):
    """A value a step needs cannot be pickled, so it cannot be sent to another process.

    Raised when a step runs on an executor in another process (a Dask worker): the step's
    function, its input, the run's ``global_ctx`` and its result travel pickled. A step whose
    input or result cannot travel fails with this error.

    Attributes:
        event_id: the step.
        what: which part could not be sent ("the function", "the input", "global_ctx", ...).
        value_type: the type name of the value that could not be pickled.
    """

    def __init__(self, message: str, *, event_id: str, what: str, value_type: str) -> None:
        super().__init__(message)
        self.event_id = event_id
        self.what = what
        self.value_type = value_type


class UnpicklableStep(UnpicklableError, FlowDefinitionError):
    """A step bound to an executor in another process cannot be pickled (found before the run)."""


@dataclass(frozen=True, slots=True)
class FailedStep:
    """One step that failed in a run with ``on_error="continue"``."""

    event_id: str
    step_id: int
    error: Exception
    input: Any = None


class StepFailures(ExceptionGroup, FlowRunError):
    """Steps failed in a run with ``on_error="continue"``; the rest of the run still finished.

    An ``ExceptionGroup``, so ``except* ConnectionError:`` picks out one kind and notebooks show
    every traceback. ``failures`` lists the failed steps in the order they failed (the first
    ``MAX_KEPT`` of them; ``count`` is exact), ``results`` holds what the run did produce.
    """

    MAX_KEPT = 1000

    failures: tuple[FailedStep, ...]
    results: dict[str, Any]
    count: int

    def __new__(
        cls,
        message: str,
        failures: Sequence[FailedStep],
        results: dict[str, Any] | None = None,
        count: int | None = None,
    ) -> StepFailures:
        self = super().__new__(cls, message, [f.error for f in failures])
        self.failures = tuple(failures)
        self.results = dict(results or {})
        self.count = len(self.failures) if count is None else count
        return self

    def __init__(
        self,
        message: str,
        failures: Sequence[FailedStep],
        results: dict[str, Any] | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(message, [f.error for f in failures])

    def derive(self, excs: Sequence[Exception]) -> ExceptionGroup:  # type: ignore[override]
        # except* splits the group: the parts are plain groups (they no longer hold every failure).
        return ExceptionGroup(self.message, excs)
