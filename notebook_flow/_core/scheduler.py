"""One run of a drive-flow style flow: ready queue, all/any groups, goto/abort, caps.

The scheduler keeps drive-flow's observable order (events start in queue order; listeners are
queued in registration order, then group order) and fixes what no user wants: a failing event
cancels its siblings (or, with ``on_error="continue"``, is recorded while independent branches
finish), ``max_async_events`` caps concurrency, ``max_steps`` stops endless loops, and aborted
events satisfy nobody. A step runs inline, with no task of its own, whenever it is the only thing
to do (a chain); parallel steps get one task each, and every task is awaited or cancelled before
the run returns. Steps with a retry policy or a time limit go through ``policy.run_with_policy``;
the others pay one attribute check for it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Sequence
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..errors import (
    EventTypeError,
    FailedStep,
    FlowRunError,
    MaxStepsExceeded,
    StepFailures,
    UnknownEventError,
)
from ..events import EventInput, ReturnBehavior, WorkflowEvent
from .event import Event, SpecialReturn
from .gc_tuning import RELIEF_AT, relief_enter, relief_exit
from .policy import run_with_policy
from .progress import current_step, progress_from_event

if TYPE_CHECKING:
    from .feed import RunFeed
    from .flow import Flow

_GOTO = ReturnBehavior.GOTO
_ABORT = ReturnBehavior.ABORT
_DISPATCH = ReturnBehavior.DISPATCH

#: The values of ``on_error``.
ON_ERROR = ("raise", "continue")
# A chain of steps that never suspend would hold the event loop for the whole run: no Stop
# button, no kernel interrupt, no other run could get in. Yield once per this many steps.
_YIELD_EVERY = 256


class _Interrupted(Exception):
    """Carries a KeyboardInterrupt/SystemExit out of a step's task to the run's own task.

    Raised as such inside a task it would stop the event loop at once, before the run could
    cancel its other steps; the run's task re-raises the original after cleaning up.
    """

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(repr(interrupt))
        self.interrupt = interrupt


class _GroupState:
    """Per-run state of one (listener, group) pair; O(1) work per member result."""

    __slots__ = ("missing", "stale")

    def __init__(self, missing: int) -> None:
        self.missing = missing  # members with no result yet in this run
        self.stale: set[str] = set()  # members whose latest result was already sent ("all")


class DriveScheduler:
    def __init__(
        self,
        flow: Flow,
        feed: RunFeed,
        root: Event,
        root_input: Any,
        global_ctx: Any,
        *,
        max_async_events: int | None,
        max_steps: int | None,
        on_error: str = "raise",
    ) -> None:
        self.flow = flow
        self.feed = feed
        self.ctx = global_ctx
        self.cap = max_async_events or None
        self.max_steps = max_steps
        self.keep_going = on_error == "continue"
        self.store: dict[str, Any] = {}
        self.states: dict[tuple[str, str], _GroupState] = {}
        self.ready: deque[tuple[Event, Any, int]] = deque()
        self.running: set[asyncio.Task[None]] = set()
        self.finished: deque[asyncio.Task[None]] = deque()
        self.wakeup: asyncio.Future[None] | None = None
        self.executed = 0
        self.counts: dict[str, int] = {}
        self.root = (root, root_input)
        self.failures: list[FailedStep] = []  # on_error="continue": the first MAX_KEPT
        self.failure_count = 0
        self.cancelled_events: list[str] = []  # steps the end of the run cancelled
        self._step_ids = feed._step_ids
        self.relieved = False  # this run raised the young generation's GC threshold

    # -- queue ------------------------------------------------------------------------------
    def enqueue(self, event: Event, event_input: Any) -> None:
        step_id = next(self._step_ids)
        self.feed.step_pending(step_id, event.id, event_input)
        self.ready.append((event, event_input, step_id))

    def _too_many(self) -> None:
        """Raise MaxStepsExceeded, naming the event that ran most often."""
        busiest = max(self.counts, key=self.counts.__getitem__)
        raise MaxStepsExceeded(
            f"flow {self.flow.name!r} stopped after max_steps={self.max_steps} event runs: "
            f"event {busiest!r} ran {self.counts[busiest]} times, most likely an endless "
            f"loop. If the loop is intended, pass a larger max_steps to invoke_event(...) or "
            f"the engine (None disables the guard).",
            limit=self.max_steps,
            event_id=busiest,
        )

    # -- main loop --------------------------------------------------------------------------
    async def execute(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        self.enqueue(*self.root)
        ready, running, finished, cap = self.ready, self.running, self.finished, self.cap
        counts, max_steps, feed = self.counts, self.max_steps, self.feed
        # One bound method and one context for every task's done callback (it reads no context
        # variable): no new objects per parallel step, so less for the garbage collector.
        on_done, callback_context = self._on_task_done, contextvars.copy_context()
        try:
            while True:
                while ready and (cap is None or len(running) < cap):
                    event, event_input, step_id = ready.popleft()
                    gate = feed.gate
                    if gate is not None:  # the debugger: may pause here, or edit the input
                        event_input = await gate.admit(step_id, event.id, event_input)
                    self.executed += 1  # what _count does, inline: this loop is the hot path
                    event_id = event.id
                    counts[event_id] = counts.get(event_id, 0) + 1
                    if max_steps is not None and self.executed > max_steps:
                        self._too_many()
                    if not running and not ready:
                        await self._run_step(event, event_input, step_id, True)  # inline: a chain
                        if not self.executed % _YIELD_EVERY:
                            await asyncio.sleep(0)
                    else:
                        task = loop.create_task(self._run_step(event, event_input, step_id, False))
                        running.add(task)
                        task.add_done_callback(on_done, context=callback_context)
                        if not self.relieved and len(running) >= RELIEF_AT:
                            relief_enter(self)
                if not running:
                    break
                if not finished:
                    self.wakeup = loop.create_future()
                    await self.wakeup
                    self.wakeup = None
                while finished:
                    task = finished.popleft()
                    running.discard(task)
                    if task.cancelled():
                        raise asyncio.CancelledError()
                    error = task.exception()
                    if error is not None:
                        raise error.interrupt if type(error) is _Interrupted else error
        except BaseException as error:
            interrupt = await self._cancel_running()
            if interrupt is not None and isinstance(error, Exception):
                raise interrupt from None  # an interrupt outranks the error it met on its way
            raise
        finally:
            if self.relieved:
                relief_exit(self)
        if self.failure_count:
            raise self._failures_error()
        return self.store

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self.finished.append(task)
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _cancel_running(self) -> BaseException | None:
        """Cancel every running step and wait until each has ended: no task outlives the run.

        Returns a KeyboardInterrupt/SystemExit one of them ended with, if any.
        """
        tasks = list(self.running)
        for task in tasks:
            task.cancel()
        interrupted = False
        pending = [t for t in tasks if not t.done()]
        while pending:
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError:
                interrupted = True
            pending = [t for t in pending if not t.done()]
        interrupt = None
        for task in tasks:
            if not task.cancelled():
                error = task.exception()  # mark retrieved: the first error is the one raised
                if type(error) is _Interrupted and interrupt is None:
                    interrupt = error.interrupt
        self.running.clear()
        self.finished.clear()
        if interrupted:
            raise asyncio.CancelledError()
        return interrupt

    def _failures_error(self) -> StepFailures:
        count, kept = self.failure_count, self.failures
        listed = "; ".join(f"{f.event_id}: {type(f.error).__name__}: {f.error}" for f in kept[:3])
        more = f"; and {count - 3} more" if count > 3 else ""
        return StepFailures(
            f"{count} step{'s' if count != 1 else ''} of flow {self.flow.name!r} failed "
            f"({listed}{more}); the independent branches finished: their results are in "
            f".results, each failure in .failures",
            kept, self.store, count,
        )

    # -- one step ---------------------------------------------------------------------------
    async def _run_step(self, event: Event, event_input: Any, step_id: int, inline: bool) -> None:
        feed = self.feed
        t0 = feed.step_started(step_id, event.id, event_input)
        token = current_step.set((feed, step_id, event.id))
        try:
            if event.policy is not None:
                attempt = partial(self._attempt, event, event_input, step_id)
                result = await run_with_policy(event.policy, attempt, feed, step_id, event.id)
            elif event.is_generator:
                result = await self._drain(event, event_input, step_id)
            else:
                result = await event.func_inst(event_input, self.ctx)
            follow = self._conclude(event, step_id, result, t0)
        except asyncio.CancelledError:
            feed.step_cancelled(step_id, event.id, t0)
            self.cancelled_events.append(event.id)
            raise
        except Exception as error:
            feed.step_failed(step_id, event.id, error, t0)
            if not self.keep_going:
                raise
            self.failure_count += 1
            if len(self.failures) < StepFailures.MAX_KEPT:
                self.failures.append(FailedStep(event.id, step_id, error, event_input))
        except BaseException as error:  # KeyboardInterrupt, SystemExit: the whole run stops
            # It can land anywhere, even in the publishing of this step's end record after the
            # trace got it; with a trace the run ends every step the trace saw start and not end
            # (RunHandle._close_open_steps), so the trace never sees a second end for this step.
            if feed.trace is None:
                feed.step_cancelled(step_id, event.id, t0)
            if inline:
                raise
            raise _Interrupted(error) from None
        else:
            # The end record is out: what follows (queueing listeners or goto targets) runs
            # outside the handlers above, so an interrupt landing here cannot end the step twice.
            if follow is not None:
                if follow.__class__ is bool:  # dispatch to the listeners (what _follow does)
                    listeners = self.flow._listeners_of(event.id)
                    if listeners:
                        self._dispatch(event.id, follow, listeners)
                else:
                    self._follow(event, follow)
        finally:
            current_step.reset(token)

    def _attempt(self, event: Event, event_input: Any, step_id: int) -> Any:
        """One attempt of a step with a policy: an awaitable of its result."""
        if event.is_generator:
            return self._drain(event, event_input, step_id)
        return event.func_inst(event_input, self.ctx)

    async def _drain(self, event: Event, event_input: Any, step_id: int) -> Any:
        """Run a streaming event: progress goes to the feed, the last other value is the result."""
        result = None
        feed, event_id = self.feed, event.id
        async for item in event.func_inst(event_input, self.ctx):
            if type(item) is WorkflowEvent and item.name == "progress":
                data = item.data
                if type(data) is dict:  # what progress_from_event does, inline: the common case
                    step, description = data.get("step", ""), data.get("description", "")
                    feed.step_progress(
                        step_id, event_id,
                        step if type(step) is str else str(step),
                        description if type(description) is str else str(description),
                        data.get("fraction"),
                    )
                else:
                    progress_from_event(feed, step_id, event_id, data)
            else:
                result = item
        return result

    def _conclude(self, event: Event, step_id: int, result: Any, t0: float) -> Any:
        """Check the result, store it, publish the step's end record; return what follows.

        Returns None (nothing follows), a bool (dispatch to listeners; True on the event's first
        result in this run) or a (targets, payload) tuple (goto).
        """
        kind = type(result)
        if kind is SpecialReturn:
            behavior = result.behavior
            if behavior is _GOTO:
                targets, payload = result.returns
                self._check_goto(event, targets)
                self.feed.step_goto(step_id, event.id, tuple(t.id for t in targets), payload, t0)
                return (targets, payload)
            if behavior is _ABORT:
                self.feed.step_aborted(step_id, event.id, t0)
                return None
            if behavior is not _DISPATCH:
                raise FlowRunError(
                    f"event {event.repr_name} returned a special return with behavior "
                    f"{behavior}, which only describes how a root event was started; return a "
                    f"plain value, goto_events(...) or abort_this()"
                )
            result = result.returns
        elif kind is CoroutineType:
            result.close()  # no "never awaited" warning on top of this error
            raise EventTypeError(
                f"event {event.repr_name} returned a coroutine object instead of a value: an "
                f"`await` is missing in `return {result.cr_code.co_name}(...)`; write "
                f"`return await {result.cr_code.co_name}(...)`"
            )
        store = self.store
        first = event.id not in store
        store[event.id] = result
        self.feed.step_finished(step_id, event.id, result, t0)
        return first

    def _follow(self, event: Event, follow: Any) -> None:
        if follow.__class__ is bool:
            listeners = self.flow._listeners_of(event.id)
            if listeners:
                self._dispatch(event.id, follow, listeners)
            return
        targets, payload = follow
        for target in targets:
            self.enqueue(target, EventInput("$goto", {event.id: payload}, _GOTO))

    def _check_goto(self, event: Event, targets: Any) -> None:
        registry = self.flow._events
        for target in targets:
            if registry.get(target.id) is not target:
                raise UnknownEventError(
                    f"event {event.repr_name} returned goto_events to {target.repr_name}, which "
                    f"is not registered in flow {self.flow.name!r}; goto only events of this "
                    f"flow, or register it with {self.flow.name}.make_event(...)"
                )

    def _dispatch(
        self, event_id: str, first: bool, listeners: Sequence[tuple[Event, Any, tuple[str, str]]]
    ) -> None:
        store, states = self.store, self.states
        for listener, group, key in listeners:
            if len(group.events) == 1:
                # One member: the group fires on each of its results, "all" or "any" alike, so
                # it needs no per-run state (chains and fan-out branches take this path).
                self.enqueue(listener, EventInput(group.name, {event_id: store[event_id]}))
                continue
            state = states.get(key)
            if state is None:
                missing = 0
                for member_id in group.events:
                    if member_id not in store:
                        missing += 1
                state = states[key] = _GroupState(missing)
            elif first:
                state.missing -= 1
            if state.missing:
                continue
            if group.retrigger_type == "all":
                stale = state.stale
                if stale:
                    stale.discard(event_id)
                    if stale:
                        continue  # not every member has a new result yet
                state.stale = set(group.events)
            results = {member_id: store[member_id] for member_id in group.events}
            self.enqueue(listener, EventInput(group.name, results))
