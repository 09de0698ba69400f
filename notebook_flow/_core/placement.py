"""Where a step runs: the executor seam.

By default a step runs where it always has: an ``async def`` on the event loop, and a plain
``def`` in the engine's thread pool. ``executor=`` on ``make_event`` / ``listen_group`` picks
another place for one step: ``"thread"`` (the engine's pool), ``"local"`` (the default place, even
in a run that has an executor of its own) or a :class:`StepExecutor` such as
``notebook_flow.dask.DaskExecutor``; ``executor=`` on ``run`` / ``invoke_event`` picks it for
every step that has none of its own.

The scheduler is not told: a step that does not run on the loop gets a *placement shim* as its
``func_inst``, an ``async def`` that hands the call to its executor and awaits it. The scheduler
awaits the shim like any async step, so retries and time limits wrap it exactly as they wrap a
local step, and a timeout or a Stop cancels the awaiting shim, which cancels the work where it
runs. Steps that stay on the loop keep the fast path untouched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Final

from ..errors import EventTypeError, FlowDefinitionError
from ..events import WorkflowEvent
from ..records import StepPlaced
from .feed import RunFeed
from .progress import current_step, progress_from_event

if TYPE_CHECKING:
    from .event import Event

__all__ = ["LOCAL", "StepCall", "StepExecutor", "ThreadExecutor", "check_executor", "bind"]

#: ``executor="local"``: the default place (loop or thread pool) even when the run has an executor.
LOCAL: Final = "local"


class StepCall:
    """One attempt of one step, handed to an executor.

    Attributes:
        event_id: the step's event.
        name: the function's short name (a readable key prefix for remote task names).
        func: the user's function, called as ``func(event_input, ctx)``.
        kind: "function" (plain def), "coroutine" (async def) or "generator" (async generator).
        event_input, ctx: its arguments.
        feed, step_id: the run's feed and the step's id (None and 0 outside a run, e.g. solo_run).
    """

    __slots__ = (
        "event_id", "name", "func", "kind", "event_input", "ctx", "feed", "step_id", "closed",
        "_placed",
    )

    def __init__(
        self, event_id: str, name: str, func: Callable[..., Any], kind: str, event_input: Any,
        ctx: Any, feed: RunFeed | None, step_id: int,
    ) -> None:
        self.event_id = event_id
        self.name = name
        self.func = func
        self.kind = kind
        self.event_input = event_input
        self.ctx = ctx
        self.feed = feed
        self.step_id = step_id
        self.closed = False  # the attempt has ended: late progress or placement is stale
        self._placed: str | None = None

    @property
    def source(self) -> Any:
        """The Flow (or other source) of the run, None outside a run."""
        return None if self.feed is None else self.feed.source

    def placed(self, executor: str, worker: str, worker_name: str = "", dashboard: str = "") -> None:
        """Record that this attempt runs on ``worker`` (call on the loop).

        Once per worker: an executor that moves the attempt elsewhere (Dask re-runs a step
        whose worker died) makes a second record, so the trace shows both placements.
        """
        if self.closed or self._placed == worker or self.feed is None:
            return
        self._placed = worker
        self.feed.publish(
            StepPlaced(
                self.feed.run_id, time.perf_counter(), self.step_id, self.event_id, executor,
                worker, worker_name, dashboard,
            )
        )

    def progress(self, step: str, description: str, fraction: float | None) -> None:
        """Publish progress the step reported where it runs (call on the loop)."""
        if self.closed or self.feed is None:
            return
        self.feed.step_progress(self.step_id, self.event_id, step, description, fraction)


class StepExecutor:
    """A place where steps run other than the event loop (subclass it for a new kind).

    ``run(call)`` runs one attempt of a step to its end and returns its result or raises its
    exception. When the awaiting task is cancelled (a Stop, a timeout, a failing sibling) it
    must cancel the work it started before it re-raises. An executor that runs steps in another
    process sets ``remote = True``: the engine then checks, before a run starts, that each step
    bound to it can be pickled (:meth:`check_step`).
    """

    name: str = "executor"
    remote: bool = False

    async def run(self, call: StepCall) -> Any:
        raise NotImplementedError

    def check_step(self, event_id: str, func: Callable[..., Any]) -> None:
        """Raise ``UnpicklableStep`` if ``func`` cannot be sent where this executor runs it."""

    @property
    def dashboard_link(self) -> str | None:
        """A link to the executor's own dashboard, if it has one."""
        return None


class ThreadExecutor(StepExecutor):
    """Runs steps in a thread pool owned by the engine (``executor="thread"`` is the shared one).

    A plain ``def`` step is called in a worker thread; an ``async def`` step runs there on its
    own event loop (``asyncio.run``). ``progress()`` works from the thread. A thread cannot be
    stopped from outside: when its step is cancelled or times out, the step ends at once and a
    call that already started runs on to its end in the background, its result dropped; a call
    still queued never starts.

    Args:
        max_workers: threads in the pool (None: Python's default, min(32, CPUs + 4)).
    """

    name = "thread"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1
        ):
            raise FlowDefinitionError(
                f"ThreadExecutor(max_workers=...) is a number of threads >= 1 (or None for "
                f"Python's default), got {max_workers!r}"
            )
        self.max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers!r})"

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self.max_workers, thread_name_prefix="notebook_flow-step"
            )
        return self._pool

    async def run(self, call: StepCall) -> Any:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        context.run(current_step.set, (_LoopReporter(call, loop), call.step_id, call.event_id))
        return await loop.run_in_executor(
            self._threads(), context.run, call_to_end, call.func, call.kind, call.event_input,
            call.ctx,
        )

    def close(self) -> None:
        """Stop the pool: queued calls are dropped, running ones finish in the background."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


#: The engine's shared pool: plain ``def`` steps run here unless given another executor.
THREADS = ThreadExecutor()


class _LoopReporter:
    """Stands in for the run's feed inside a worker thread: progress hops to the loop's thread."""

    __slots__ = ("call", "loop")

    def __init__(self, call: StepCall, loop: asyncio.AbstractEventLoop) -> None:
        self.call = call
        self.loop = loop

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None:
        try:
            self.loop.call_soon_threadsafe(self.call.progress, step, description, fraction)
        except RuntimeError:  # the loop is closed: the run is long over
            pass


def call_to_end(func: Callable[..., Any], kind: str, event_input: Any, ctx: Any) -> Any:
    """Run a step to its end in this thread (no event loop running here) and return its result."""
    if kind == "function":
        return func(event_input, ctx)
    if kind == "coroutine":
        return asyncio.run(func(event_input, ctx))
    return asyncio.run(_drain(func, event_input, ctx))


async def _drain(func: Callable[..., Any], event_input: Any, ctx: Any) -> Any:
    result = None
    async with aclosing(func(event_input, ctx)) as items:
        async for item in items:
            if type(item) is WorkflowEvent and item.name == "progress":
                scope = current_step.get()
                if scope is not None:
                    progress_from_event(scope[0], scope[1], scope[2], item.data)
            else:
                result = item
    return result


def check_executor(value: Any, what: str) -> Any:
    """The executor ``value`` names: None, LOCAL or a StepExecutor; a clear error otherwise."""
    if value is None or value == LOCAL:
        return value
    if value == "thread":
        return THREADS
    if isinstance(value, StepExecutor):
        return value
    hint = (
        "; for Dask write executor=DaskExecutor() (from notebook_flow.dask import DaskExecutor)"
        if isinstance(value, str) and "dask" in value.lower()
        else ""
    )
    raise EventTypeError(
        f"{what} executor must be None (the default place), \"thread\", \"local\" or an "
        f"executor object such as notebook_flow.dask.DaskExecutor(...), got "
        f"{type(value).__name__} {value!r}{hint}"
    )


def bind(event: Event) -> None:
    """Make ``event.func_inst`` run the step where its options say (call after each change)."""
    step = event._step
    policy = event.policy
    chosen = policy.executor if policy is not None else None
    if chosen is None or chosen == LOCAL:
        chosen = THREADS if step.plain else None
    if chosen is None:
        event.func_inst = step.func
        event.is_generator = step.is_generator
    else:
        event.func_inst = shim(event.id, event.name, step.func, step.kind, chosen)
        event.is_generator = False


def shim(
    event_id: str, name: str, func: Callable[..., Any], kind: str, executor: StepExecutor
) -> Callable[..., Any]:
    """An ``async def (event_input, ctx)`` that runs ``func`` on ``executor``."""

    async def placed(event_input: Any, ctx: Any) -> Any:
        scope = current_step.get()
        feed, step_id = None, 0
        if scope is not None and isinstance(scope[0], RunFeed):
            feed, step_id = scope[0], scope[1]
        call = StepCall(event_id, name, func, kind, event_input, ctx, feed, step_id)
        try:
            return await executor.run(call)
        finally:
            call.closed = True

    placed.__wrapped__ = _innermost(func)  # type: ignore[attr-defined]  # graph.py reads gotos
    placed.__qualname__ = f"{name} on {executor.name}"
    placed.executor = executor  # type: ignore[attr-defined]
    return placed


def executor_of(event: Any) -> StepExecutor | None:
    """The executor an event's ``func_inst`` hands its steps to, None on the loop."""
    return getattr(event.func_inst, "executor", None)


def _innermost(func: Any) -> Any:
    for _ in range(8):
        if isinstance(func, functools.partial):
            func = func.func
        elif inspect.ismethod(func):
            func = func.__func__
        elif inspect.isfunction(func):
            return func
        else:
            func = getattr(type(func), "__call__", None)  # noqa: B004 (the class attribute, not callable())
    return func
