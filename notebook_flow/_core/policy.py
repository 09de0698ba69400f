"""Per-step options: a retry policy, a time limit and an executor, checked when the step is defined.

A step with no policy never comes here: the scheduler checks ``event.policy is None`` once and
keeps its fast path. A step with a policy runs each attempt through :func:`run_with_policy`, which
publishes a ``StepRetried`` record before every new attempt; the step stays one step (one start
record, one end record) however many attempts it takes.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import EventTypeError, FlowDefinitionError, StepTimeout
from .placement import check_executor

if TYPE_CHECKING:
    from .feed import RunFeed

ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Retry:
    """How often to run a failing step again, how long to wait between attempts, and on what.

    Args:
        attempts: total attempts, the first one included (``attempts=3``: up to two retries).
        backoff: seconds to wait before the second attempt.
        multiplier: each later wait is the previous one times this (exponential backoff).
        max_backoff: no wait is longer than this many seconds (None: no cap).
        on: the exception classes that are retried; anything else fails the step at once. A
            ``StepTimeout`` is a ``TimeoutError``, so ``on=(TimeoutError,)`` retries timeouts.
        jitter: spread each wait randomly by up to this fraction (0.1: +-10 %) so that many
            clients do not retry in lock step.

    Example::

        @flow.make_event(retry=Retry(attempts=3, backoff=0.5, on=(ConnectionError,)), timeout=10)
        async def fetch(event, ctx): ...
    """

    attempts: int = 3
    backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float | None = None
    on: ExceptionTypes = (Exception,)
    jitter: float = 0.0
    _on: tuple[type[BaseException], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool) or self.attempts < 1:
            raise FlowDefinitionError(
                f"Retry(attempts=...) is the total number of attempts, a positive int; got "
                f"{self.attempts!r} (attempts=1 means no retry)"
            )
        for name in ("backoff", "multiplier", "jitter"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise FlowDefinitionError(
                    f"Retry({name}=...) must be a finite number >= 0, got {value!r}; e.g. "
                    f"Retry(attempts=3, backoff=0.5, multiplier=2, jitter=0.1)"
                )
        if self.multiplier < 1:
            raise FlowDefinitionError(
                f"Retry(multiplier=...) must be >= 1 (1 keeps the wait constant), got "
                f"{self.multiplier!r}"
            )
        if self.jitter > 1:
            raise FlowDefinitionError(
                f"Retry(jitter=...) is a fraction between 0 and 1, got {self.jitter!r}"
            )
        if self.max_backoff is not None and (
            not _is_number(self.max_backoff) or self.max_backoff < self.backoff
        ):
            raise FlowDefinitionError(
                f"Retry(max_backoff=...) must be a number >= backoff ({self.backoff!r}), or None; "
                f"got {self.max_backoff!r}"
            )
        object.__setattr__(self, "_on", _exception_types(self.on))

    def retries(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt number ``attempt``, which raised ``error``, is followed by another."""
        return attempt < self.attempts and isinstance(error, self._on)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
        if not self.backoff:
            return 0.0
        try:
            wait = self.backoff * self.multiplier ** (attempt - 1)
        except OverflowError:  # thousands of attempts: the wait is "as long as allowed"
            wait = math.inf
        if self.max_backoff is not None:
            wait = min(wait, self.max_backoff)
        if self.jitter and wait and math.isfinite(wait):
            wait *= 1 + random.uniform(-self.jitter, self.jitter)
        return wait


def _exception_types(on: Any) -> tuple[type[BaseException], ...]:
    types = on if isinstance(on, tuple) else (on,)
    if not types:
        raise FlowDefinitionError(
            "Retry(on=()) retries nothing; leave `on` out to retry any Exception, or name the "
            "exception classes, e.g. on=(ConnectionError, TimeoutError)"
        )
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise EventTypeError(
                f"Retry(on=...) takes exception classes, got {type(kind).__name__} {kind!r}; "
                f"write on=(ConnectionError, TimeoutError)"
            )
        if not issubclass(kind, Exception):
            raise FlowDefinitionError(
                f"Retry(on=...) cannot retry {kind.__name__}: it stops a run (a cancellation, "
                f"an interrupt or an exit), it is not a fault to retry; name Exception subclasses"
            )
    return types


@dataclass(frozen=True, slots=True)
class StepPolicy:
    """The options of one step: its retry policy, its time limit per attempt, where it runs.

    ``executor`` is None (the default place: the event loop, or the engine's thread pool for a
    plain ``def``), ``LOCAL`` (the default place even when the run has an executor), or a
    :class:`~notebook_flow.StepExecutor`.
    """

    retry: Retry | None = None
    timeout: float | None = None
    executor: Any = None


def check_timeout(timeout: Any, what: str) -> float | None:
    """``timeout`` as float seconds (None stays None); raise a clear error if it is not one."""
    if timeout is None:
        return None
    if not _is_number(timeout):
        raise EventTypeError(
            f"{what} timeout must be a number of seconds (or None for no limit), got "
            f"{type(timeout).__name__} {timeout!r}; write e.g. timeout=5 or timeout=0.5"
        )
    try:
        seconds = float(timeout)
    except OverflowError:
        raise FlowDefinitionError(
            f"{what} timeout is a number of seconds too large for a float (an int of "
            f"{timeout.bit_length()} bits); use None for no limit, or a number of seconds such "
            f"as timeout=3600"
        ) from None
    if not (seconds > 0) or math.isnan(seconds):
        raise FlowDefinitionError(
            f"{what} timeout must be > 0 seconds, got {timeout!r}; use None for no limit"
        )
    return seconds if math.isfinite(seconds) else None


def make_policy(retry: Any, timeout: Any, what: str, executor: Any = None) -> StepPolicy | None:
    """Check the keyword options of a step; None when it has none (the fast path)."""
    if retry is not None and not isinstance(retry, Retry):
        hint = f"retry=Retry(attempts={retry})" if _is_number(retry) else "retry=Retry(attempts=3)"
        raise EventTypeError(
            f"{what} retry must be a notebook_flow.Retry, got {type(retry).__name__} {retry!r}; "
            f"write {hint}"
        )
    seconds = check_timeout(timeout, what)
    place = check_executor(executor, what)
    if retry is None and seconds is None and place is None:
        return None
    return StepPolicy(retry, seconds, place)


def merge_policy(
    old: StepPolicy | None, new: StepPolicy | None, what: str
) -> StepPolicy | None:
    """Add the options of ``new`` to ``old``; one option given twice with two values is an error."""
    if new is None:
        return old
    if old is None:
        return new
    for name in ("retry", "timeout", "executor"):
        a, b = getattr(old, name), getattr(new, name)
        if a is not None and b is not None and a != b:
            raise FlowDefinitionError(
                f"{what} already has {name}={a!r} and was given {name}={b!r}; give each option "
                f"once (on make_event or on one listen_group). To change it, re-run the cell "
                f"that defines the event with the new value"
            )
    return StepPolicy(
        old.retry or new.retry, old.timeout or new.timeout,
        old.executor if old.executor is not None else new.executor,
    )


async def run_with_policy(
    policy: StepPolicy,
    attempt_once: Callable[[], Awaitable[Any]],
    feed: RunFeed,
    step_id: int,
    event_id: str,
    retryable: Callable[[Exception], bool] | None = None,
    what: str | None = None,
) -> Any:
    """Run ``attempt_once`` until it succeeds, the policy gives up, or the step is cancelled.

    ``retryable(error)`` may veto a retry the policy would make (a handler whose events the
    consumer already saw is not run again); ``what`` names the step in a timeout's message.
    """
    retry, timeout = policy.retry, policy.timeout
    attempt = 1
    while True:
        try:
            if timeout is None:
                return await attempt_once()
            return await _within(timeout, attempt_once, event_id, attempt, what or event_id)
        except Exception as error:
            if (
                retry is None
                or not retry.retries(error, attempt)
                or (retryable is not None and not retryable(error))
            ):
                if attempt > 1:
                    error.add_note(
                        f"notebook_flow: {event_id} failed on attempt {attempt} of "
                        f"{retry.attempts if retry else attempt}; the run's trace has the "
                        f"earlier attempts' errors (step_retried records)"
                    )
                raise
            delay = retry.delay(attempt)
            feed.step_retried(step_id, event_id, attempt, error, delay)
        # Outside the except block, so the next attempt's error does not chain this one. No
        # backoff means no wait at all: the next attempt follows in the same step of the task.
        if delay > 0:
            await asyncio.sleep(delay)
        attempt += 1


async def _within(
    seconds: float, attempt_once: Callable[[], Awaitable[Any]], event_id: str, attempt: int,
    what: str,
) -> Any:
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return await attempt_once()
    except TimeoutError as error:
        if not scope.expired():
            raise  # the step's own TimeoutError, not our limit
        raise StepTimeout(
            f"{what} timed out after {seconds:g} s (attempt {attempt}); give it a larger "
            f"timeout=..., make it faster, or retry timeouts with Retry(on=(TimeoutError,))",
            event_id=event_id,
            timeout=seconds,
            attempt=attempt,
        ) from error
