"""Flow: the registry of events and the groups they listen to (drive-flow's EventEngineCls)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

from ..errors import EventTypeError, FlowDefinitionError, UnknownEventError
from . import display_hook
from .callables import StepCallable, check_step_callable
from .drive_steps import DriveSteps
from .event import RETRIGGER_TYPES, Event, EventGroup
from .feed import RunFeed
from .machines import DriveMachine
from .placed_run import RunPlacement
from .placement import bind, executor_of
from .policy import Retry, make_policy, merge_policy
from .run import RunHandle
from .run_options import DEFAULT_MAX_STEPS, check_grace, check_max_steps, check_run_options
from .runner import GRACE, Runner

logger = logging.getLogger("notebook_flow")

class _FlowDefault:
    """The default of a run option that the flow sets (its repr reads well in help())."""

    def __repr__(self) -> str:
        return "<the flow's max_steps>"


_UNSET: Any = _FlowDefault()
_ARGS = "(event, global_ctx)"

OnTimeout = Literal["raise", "return"]
OnError = Literal["raise", "continue"]
Listener = tuple[Event, EventGroup, tuple[str, str]]
_NO_LISTENERS: list[Listener] = []
EventFunction = Callable[..., Any]


class Flow:
    """A set of events and the groups they listen to; runs start from any event.

    Args:
        name: shown in messages, traces and views.
        broker: accepted for drive-flow compatibility; unused.
        max_steps: default cap on event runs per invocation (a guard against endless loops);
            None disables it.
    """

    def __init__(
        self, name: str = "default", broker: Any = None, *, max_steps: int | None = DEFAULT_MAX_STEPS
    ) -> None:
        check_max_steps(max_steps)
        if not isinstance(name, str):
            raise EventTypeError(
                f"a flow's name is a str shown in messages and views, got {type(name).__name__} "
                f"{name!r}; write Flow(\"my_flow\")"
            )
        self.name = name
        self.broker = broker
        self.max_steps = max_steps
        self._events: dict[str, Event] = {}
        self._by_key: dict[str, list[Event]] = {}
        # member id -> its listeners, kept up to date as groups are declared, so a run never
        # pays to build it (None: rebuilt by the next run, after a redefinition or so)
        self._index: dict[str, list[Listener]] | None = {}
        self._remote: set[str] = set()  # events bound to an executor in another process

    def __repr__(self) -> str:
        return f"<Flow {self.name!r}: {len(self._events)} events>"

    # -- definition -------------------------------------------------------------------------
    @property
    def events(self) -> dict[str, Event]:
        """The registered events by id, in registration order (a copy)."""
        return dict(self._events)

    @overload
    def make_event(
        self, func: EventFunction | Event, *, retry: Retry | None = None,
        timeout: float | None = None, executor: Any = None,
    ) -> Event: ...

    @overload
    def make_event(
        self, func: None = None, *, retry: Retry | None = None, timeout: float | None = None,
        executor: Any = None,
    ) -> Callable[[EventFunction | Event], Event]: ...

    def make_event(
        self,
        func: EventFunction | Event | None = None,
        *,
        retry: Retry | None = None,
        timeout: float | None = None,
        executor: Any = None,
    ) -> Event | Callable[[EventFunction | Event], Event]:
        """Register a function as an event; usable as a decorator.

        The function is ``async def`` (runs on the event loop), an ``async def`` generator
        (streams progress), or a plain ``def`` (runs in the engine's thread pool, so CPU-bound or
        blocking work does not hold the loop).

        Used bare (``@flow.make_event``) it returns the event; with options
        (``@flow.make_event(retry=Retry(attempts=3), timeout=5)``) it returns the decorator.
        Registering a new function with the module-qualified name of an existing event (a
        re-run notebook cell) replaces that event's function and keeps its listeners wired.

        Args:
            retry: run the event again when it raises (see :class:`Retry`).
            timeout: seconds one attempt may take; then it fails with ``StepTimeout``.
            executor: where the event runs: None (the default place), "thread" (the engine's
                thread pool), "local" (the default place even when the run has an executor),
                or an executor object such as ``notebook_flow.dask.DaskExecutor(...)``.
        """
        policy = make_policy(retry, timeout, "make_event(...)", executor)
        if func is None:
            return lambda target: self._make(target, policy)
        return self._make(func, policy)

    def _make(self, func: EventFunction | Event, policy: Any) -> Event:
        if isinstance(func, Event):
            self._register(func)
        else:
            func = self._event_for(func)
        if policy is not None:
            func.policy = merge_policy(func.policy, policy, f"event {func.repr_name}")
        bind(func)
        place = executor_of(func)
        if place is not None and place.remote:
            self._remote.add(func.id)
        else:
            self._remote.discard(func.id)
        return func

    def _event_for(self, func: EventFunction) -> Event:
        step = check_step_callable(func, role="event function", arg_names=_ARGS, allow_plain=True)
        siblings = self._by_key.setdefault(step.key, [])
        for event in siblings:
            if _same_callable(event._step, step):
                self._register(event)
                return event
        for event in siblings:
            if event._step.code is not None and event._step.code is step.code:
                continue  # same code, other closure or instance: a distinct event
            self._redefine(event, step)
            return event
        event_id = step.key if not siblings else f"{step.key}#{len(siblings) + 1}"
        event = Event(step, event_id)
        siblings.append(event)
        self._register(event)
        return event

    def _register(self, event: Event) -> None:
        previous = self._events.get(event.id)
        self._events[event.id] = event
        if event.parent_groups or (previous is not None and previous is not event):
            self._index = None  # it brought groups of its own, or replaced another object

    def _redefine(self, event: Event, step: StepCallable) -> None:
        """A new definition of an existing event: new function, groups declared afresh."""
        event._set_callable(step)
        event.parent_groups.clear()
        event.policy = None  # the new definition's decorators give its options afresh
        self._register(event)
        self._index = None

    def listen_group(
        self,
        group_markers: Sequence[Event],
        group_name: str | None = None,
        retrigger_type: Literal["all", "any", "first"] = "all",
        *,
        retry: Retry | None = None,
        timeout: float | None = None,
        executor: Any = None,
    ) -> Callable[[EventFunction | Event], Event]:
        """Decorator: the decorated event runs when every event of ``group_markers`` has a result.

        Args:
            group_markers: the events to wait for (their results arrive in this order).
            group_name: the name the listener sees in ``event.group_name``; default "0", "1", ...
            retrigger_type: "all" fires again once every member has a new result; "any" fires
                again on each member's new result; "first" fires once, on the first result of
                any member (with that result only), and cancels nothing.
            retry, timeout, executor: options of the decorated event, as in :meth:`make_event`.
        """
        if retrigger_type not in RETRIGGER_TYPES:
            raise FlowDefinitionError(
                f"retrigger_type must be 'all' or 'any' (lower case), or 'first', got "
                f"{retrigger_type!r}"
            )
        if group_name is not None and not isinstance(group_name, str):
            raise EventTypeError(
                f"group_name must be a str (or None for \"0\", \"1\", ...), got "
                f"{type(group_name).__name__} {group_name!r}"
            )
        members = self._check_markers(group_markers)
        policy = make_policy(retry, timeout, "listen_group(...)", executor)

        def decorator(func: EventFunction | Event) -> Event:
            event = self._make(func, policy)
            if self._events.get(event.id) is not event:
                raise FlowDefinitionError(
                    f"{event!r} is not registered in flow {self.name!r}; register it first"
                )
            self._add_group(event, members, group_name, retrigger_type)
            return event

        return decorator

    def _check_markers(self, group_markers: Sequence[Event]) -> dict[str, Event]:
        if isinstance(group_markers, Event) or not isinstance(group_markers, (list, tuple)):
            if callable(group_markers) and not isinstance(group_markers, Event):
                raise EventTypeError(
                    f"listen_group was applied to the function {group_markers!r} without the "
                    f"events to wait for; write @flow.listen_group([event_a, event_b]) above it"
                )
            raise EventTypeError(
                f"listen_group takes a list of events, got {type(group_markers).__name__}; "
                "write @flow.listen_group([event_a, event_b])"
            )
        if not group_markers:
            raise FlowDefinitionError(
                "listen_group got an empty list: an event must listen to at least one event"
            )
        members: dict[str, Event] = {}
        for marker in group_markers:
            if not isinstance(marker, Event):
                hint = (
                    "; decorate it with @flow.make_event first and pass the event it returns"
                    if callable(marker)
                    else "; pass the objects that @flow.make_event / @flow.listen_group returned"
                )
                raise EventTypeError(
                    f"listen_group members must be events, got {type(marker).__name__} "
                    f"{marker!r}{hint}"
                )
            if self._events.get(marker.id) is not marker:
                raise FlowDefinitionError(
                    f"{marker!r} is not registered in flow {self.name!r}: an event can only "
                    f"listen to events of its own flow (register it with "
                    f"{self.name}.make_event(...) or listen in the flow that owns it)"
                )
            members[marker.id] = marker
        return members

    def _add_group(
        self, event: Event, members: dict[str, Event], group_name: str | None, retrigger_type: str
    ) -> None:
        group_hash = ":".join(members)
        existing = event.parent_groups.get(group_hash)
        if existing is not None:
            if existing.retrigger_type != retrigger_type or (
                group_name is not None and group_name != existing.name
            ):
                raise FlowDefinitionError(
                    f"{event!r} already listens to {list(members.values())} as group "
                    f"{existing.name!r} (retrigger_type={existing.retrigger_type!r}); one group of "
                    f"the same members cannot be declared twice with another name or type"
                )
            return
        name = group_name if group_name is not None else str(len(event.parent_groups))
        group = event.parent_groups[group_hash] = EventGroup(
            name, group_hash, dict(members), retrigger_type
        )
        index = self._index
        if index is not None and next(reversed(self._events)) == event.id:
            # The listener is the latest registered event: appending keeps each member's
            # listeners in registration order, then group order (the order they are queued in).
            listener = (event, group, (event.id, group_hash))
            for member_id in members:
                index.setdefault(member_id, []).append(listener)
        else:
            self._index = None

    def reset(self) -> None:
        """Forget every event and group of this flow."""
        for event in self._events.values():
            event.parent_groups.clear()
        self._events.clear()
        self._by_key.clear()
        self._remote.clear()
        self._index = {}

    def get_event_from_id(self, event_id: str) -> Event | None:
        return self._events.get(event_id)

    def listeners_of(self, event_id: str) -> list[Listener]:
        """The events listening to ``event_id``: (listener, group, key), in the order they are
        queued (registration order, then group order). The engine's index, kept up to date."""
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        return index.get(event_id, _NO_LISTENERS)

    def _build_index(self) -> dict[str, list[Listener]]:
        index: dict[str, list[Listener]] = {}
        for listener in self._events.values():
            for group in listener.parent_groups.values():
                key = (listener.id, group.events_hash)
                for member_id in group.events:
                    index.setdefault(member_id, []).append((listener, group, key))
        return index

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        event: Event,
        event_input: Any = None,
        global_ctx: Any = None,
        max_async_events: int | None = None,
        *,
        max_steps: int | None = _UNSET,
        trace: bool | int = True,
        timeout: float | None = None,
        on_timeout: OnTimeout = "raise",
        on_error: OnError = "raise",
        executor: Any = None,
        gate: Any = None,
        grace: float = GRACE,
    ) -> RunHandle:
        """Prepare a run starting at ``event``: await it, iterate its records, or ``start()`` it.

        Args:
            event: the root event; it receives ``event_input`` as is.
            global_ctx: one object handed to every event.
            max_async_events: at most this many events run at once (None or 0: no cap).
            max_steps: cap on event runs (default: the flow's); None disables the guard.
            trace: keep a trace and a log (True, or the number of records the trace's window
                keeps); False for neither.
            timeout: seconds the whole run may take (None: no limit). When time is up every
                running step is cancelled, then ``on_timeout`` decides.
            on_timeout: "raise" (default) raises ``RunTimeout`` (a ``TimeoutError``); "return"
                returns the results produced so far and ends the run as cancelled.
            on_error: "raise" (default): the first failing step cancels the others and its
                exception propagates. "continue": a failing step produces no result and its
                listeners do not fire, every independent branch finishes, and then
                ``StepFailures`` (an ``ExceptionGroup``) reports every failure, with ``.results``.
            executor: where every step without an ``executor=`` of its own runs in this run,
                e.g. ``DaskExecutor(...)`` (see :meth:`make_event`). Steps that go to another
                process are pickled before the run starts: one that cannot be raises
                ``UnpicklableStep`` and nothing runs.
            gate: the debugger's gate (a ``Gate``), asked before each step starts; the
                ``DebugSession`` passes one.
            grace: seconds a cancelled step may take to stop before the run ends without it
                (a ``StepAbandoned`` record says so).
        """
        if not isinstance(event, Event):
            raise EventTypeError(
                f"a run starts from an event, got {type(event).__name__} {event!r}; pass the "
                "object @flow.make_event returned"
            )
        if self._events.get(event.id) is not event:
            raise UnknownEventError(
                f"{event!r} is not registered in flow {self.name!r}; register it with "
                f"{self.name}.make_event(...) or run it on the flow that owns it"
            )
        steps, seconds, place = check_run_options(
            self, event, max_async_events=max_async_events,
            max_steps=self.max_steps if max_steps is _UNSET else max_steps,
            timeout=timeout, on_timeout=on_timeout, on_error=on_error, executor=executor,
        )
        check_grace(grace)
        feed = RunFeed(self, self.name, event.id, trace=trace, gate=gate)
        keep_going = on_error == "continue"
        machine = DriveMachine(self, max_steps=steps, keep_going=keep_going)
        placement = None if place is None else RunPlacement(place)
        body = DriveSteps(self, feed, global_ctx, placement)
        runner = Runner(
            machine, feed, body, cap=max_async_events, keep_going=keep_going, grace=grace
        )
        return RunHandle(
            feed, runner, event.id, event_input, timeout=seconds, on_timeout=on_timeout
        )

    async def invoke_event(
        self,
        event: Event,
        event_input: Any = None,
        global_ctx: Any = None,
        max_async_events: int | None = None,
        *,
        max_steps: int | None = _UNSET,
        timeout: float | None = None,
        on_timeout: OnTimeout = "raise",
        on_error: OnError = "raise",
        executor: Any = None,
    ) -> dict[str, Any]:
        """Run the flow from ``event`` and return ``{event_id: last result}`` of every event.

        Events that ended with ``abort_this()`` or ``goto_events(...)`` have no entry (they
        produced no result). With ``on_error="raise"`` (default) the first exception of any event
        propagates unchanged after every other running event was cancelled; ``timeout``,
        ``on_timeout``, ``on_error`` and ``executor`` are described in :meth:`run`.
        """
        results: dict[str, Any] = await self.run(
            event, event_input, global_ctx, max_async_events, max_steps=max_steps,
            timeout=timeout, on_timeout=on_timeout, on_error=on_error, executor=executor,
        )
        return results

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The flow's DAG as SVG when a notebook displays it (plus a text outline); never raises."""
        return display_hook.draw(self, include, exclude)


def _same_callable(a: StepCallable, b: StepCallable) -> bool:
    if a.func is b.func:
        return True
    # Bound methods are made anew on each attribute access: compare function and instance.
    return a.owner is not None and a.owner is b.owner and a.code is b.code
