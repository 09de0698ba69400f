"""DebugSession: a run under the debugger, driven by plain methods.

The widget's buttons and the ``%flow step / continue / stop`` magics call these same methods, so
code and tests can drive a paused run exactly as a user does. The run itself is a background
task on the event loop; pausing awaits an ``asyncio.Event`` inside the gate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ..errors import EventTypeError, FlowDefinitionError, FlowRunError
from ..events import WorkflowEvent
from ..records import RunRecord
from .event import Event
from .feed import RunFeed, observe_runs
from .gate import Gate, PendingStep

__all__ = ["DebugSession"]

EventRef = Event | str


class DebugSession:
    """A run that stops before steps: step, resume, pause, stop, breakpoints, input edits."""

    def __init__(self, source: Any, gate: Gate, ctx: Any) -> None:
        self.source = source
        self.gate = gate
        self.ctx = ctx
        self.feed: RunFeed | None = None
        self.task: asyncio.Task[Any] | None = None
        self.handle: Any = None  # the RunHandle of a Flow run

    # -- making one ------------------------------------------------------------------------
    @classmethod
    def for_flow(
        cls,
        flow: Any,
        event: Event,
        event_input: Any = None,
        global_ctx: Any = None,
        *,
        breakpoints: Iterable[EventRef] = (),
        paused: bool = True,
        break_on_error: bool = False,
        **run_options: Any,
    ) -> DebugSession:
        """Start ``flow`` from ``event`` in the background, held by a gate (paused by default)."""
        gate = Gate(
            breakpoints=resolve_events(flow, breakpoints), paused=paused,
            break_on_error=break_on_error,
        )
        handle = flow.run(event, event_input, global_ctx, gate=gate, **run_options)
        session = cls(flow, gate, global_ctx)
        session.feed = handle.feed
        session.handle = handle
        session.task = handle.start()._task
        return session

    @classmethod
    def for_manager(
        cls,
        manager: Any,
        initial_event: WorkflowEvent,
        *,
        breakpoints: Iterable[str] = (),
        paused: bool = True,
        break_on_error: bool = False,
    ) -> DebugSession:
        """Run a WorkflowManager's ``process`` in the background, held by a gate."""
        gate = Gate(
            breakpoints=resolve_events(manager, breakpoints), paused=paused,
            break_on_error=break_on_error,
        )
        session = cls(manager, gate, manager.ctx)

        def attach(feed: RunFeed) -> None:
            if feed.source is manager and session.feed is None:
                feed.hold_with(gate)
                session.feed = feed
                stop_observing()

        stop_observing = observe_runs(attach)

        async def consume() -> list[WorkflowEvent]:
            try:
                return [e async for e in manager.process(initial_event)]
            finally:
                stop_observing()

        session.task = asyncio.get_running_loop().create_task(consume())
        return session

    # -- state -----------------------------------------------------------------------------
    @property
    def pending(self) -> list[PendingStep]:
        """Steps waiting to start, the one held at the gate first, then in queue order."""
        waiting = self.gate.waiting
        rest = [p for p in self.gate.pending.values() if waiting is None or p.step_id != waiting.step_id]
        return ([waiting] if waiting is not None else []) + rest

    @property
    def waiting(self) -> PendingStep | None:
        return self.gate.waiting

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    @property
    def status(self) -> str:
        if self.task is None:
            return "not started"
        if self.task.done():
            if self.task.cancelled():
                return "stopped"
            return "failed" if self.task.exception() is not None else "finished"
        if self.gate.waiting is not None:
            return f"paused before {self.gate.waiting.event_id} ({self.gate.reason})"
        return "running"

    # -- controls --------------------------------------------------------------------------
    async def step(self) -> RunRecord | None:
        """Release one pending step and wait until it ends; returns its end record.

        Returns None when the run ended with no step left to release.
        """
        before = len(self.gate.released)
        self.gate.step()
        while len(self.gate.released) <= before:
            if self._over():
                return None
            await self._changed()
        target = self.gate.released[before]
        while target.step_id not in self.gate.ended:
            if self._over():
                break
            await self._changed()
        return self.gate.ended.get(target.step_id)

    async def resume(self) -> str:
        """Run until the next breakpoint or the end; returns the status then."""
        self.gate.resume()
        while self.gate.waiting is None and not self._over():
            await self._changed()
        return self.status

    continue_ = resume

    def pause(self) -> None:
        """Hold the run before its next step."""
        self.gate.pause()

    async def stop(self) -> None:
        """Cancel the run; every running step is cancelled and closed in the trace."""
        task = self._require_task()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            pass  # the run's own failure stays in its trace and log

    async def wait_paused(self) -> str:
        """Wait until the run is held at the gate (or over); returns the status."""
        while self.gate.waiting is None and not self._over():
            await self._changed()
        return self.status

    async def result(self) -> Any:
        """Wait for the run to end and return its results (raises what the run raised)."""
        return await self._require_task()

    def add_breakpoint(self, event: EventRef) -> None:
        self.gate.breakpoints.update(resolve_events(self.source, [event]))

    def remove_breakpoint(self, event: EventRef) -> None:
        self.gate.breakpoints.difference_update(resolve_events(self.source, [event]))

    def edit_input(self, step: int | EventRef, new_input: Any) -> None:
        """Give a pending step (by step id, or the first pending step of an event) a new input."""
        if not isinstance(step, int):
            (event_id,) = resolve_events(self.source, [step])
            match = next((p for p in self.pending if p.event_id == event_id), None)
            if match is None:
                raise FlowRunError(
                    f"no pending step of {event_id}; pending: {[p.event_id for p in self.pending]}"
                )
            step = match.step_id
        self.gate.edit_input(step, new_input)

    # -- helpers ---------------------------------------------------------------------------
    def _require_task(self) -> asyncio.Task[Any]:
        if self.task is None:
            raise FlowRunError("this debug session has no run")
        return self.task

    def _over(self) -> bool:
        return self.gate.run_over or self._require_task().done()

    async def _changed(self) -> None:
        """Wait for the gate to change, or for the run to end."""
        change = self.gate.next_change()
        await asyncio.wait([change, self._require_task()], return_when=asyncio.FIRST_COMPLETED)
        change.cancel()


def resolve_events(source: Any, refs: Iterable[EventRef]) -> set[str]:
    """Event ids of ``refs`` (events, ids or short names) in a Flow or WorkflowManager."""
    if isinstance(refs, (str, Event)):
        refs = [refs]
    known_names: dict[str, list[str]] = {}
    if hasattr(source, "_events"):  # a Flow
        for event in source._events.values():
            known_names.setdefault(event.name, []).append(event.id)
        known_ids = set(source._events)
    else:  # a WorkflowManager: events are names
        known_ids = set(source.handlers)
    ids: set[str] = set()
    for ref in refs:
        if isinstance(ref, Event):
            ref = ref.id
        if not isinstance(ref, str):
            raise EventTypeError(f"a breakpoint names an event, got {type(ref).__name__} {ref!r}")
        if ref in known_ids:
            ids.add(ref)
        elif len(known_names.get(ref, ())) == 1:
            ids.add(known_names[ref][0])
        else:
            choices = sorted(known_names) if known_names else sorted(known_ids)
            why = "is ambiguous" if ref in known_names else "is not an event of"
            raise FlowDefinitionError(
                f"{ref!r} {why} {getattr(source, 'name', source)!r}; known events: "
                f"{', '.join(choices) or '(none)'}"
            )
    return ids
