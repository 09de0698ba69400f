"""The debugger's gate: it stands in front of every step start of one run.

The engine awaits ``gate.admit(step_id, event_id, input)`` before it starts a step. While the gate
is paused that await blocks on an ``asyncio.Event`` (never a thread or a sleep), so the kernel stays
idle and responsive; ``step()`` lets one pending step through, ``resume()`` lets everything through
until a breakpoint, ``pause()`` holds the next one. The gate also follows the run's records to
know which steps are pending and with what input, and lets the user replace an input before the
step is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..records import RUN_END_KINDS, STEP_END_KINDS, RunRecord

__all__ = ["Gate", "PendingStep"]


@dataclass
class PendingStep:
    """A step queued to run: what it is, and the input it will receive."""

    step_id: int
    event_id: str
    input: Any


class Gate:
    """Pause, step and breakpoints for one run.

    Args:
        breakpoints: event ids the run pauses before (whenever it is not already paused).
        paused: start paused, before the first step (the usual way to debug).
        break_on_error: pause when a step fails and the run goes on (``on_error="continue"``).
    """

    def __init__(
        self,
        *,
        breakpoints: Iterable[str] = (),
        paused: bool = True,
        break_on_error: bool = False,
    ) -> None:
        self.breakpoints: set[str] = set(breakpoints)
        self.paused = paused
        self.break_on_error = break_on_error
        self.pending: dict[int, PendingStep] = {}  # queued and not started, in queue order
        self.waiting: PendingStep | None = None  # the step held at the gate right now
        self.running: dict[int, str] = {}  # started and not ended
        self.released: list[PendingStep] = []  # in release order
        self.ended: dict[int, RunRecord] = {}  # end record of each released step
        self.run_over = False
        self.reason = "start" if paused else ""
        self._passes = 0  # steps allowed through while paused
        self._edits: dict[int, Any] = {}
        self._wake: asyncio.Event | None = None
        self._change_waiters: list[asyncio.Future[None]] = []
        self._listeners: list[Callable[[Gate], Any]] = []

    # -- the engine side -----------------------------------------------------------------
    async def admit(
        self, step_id: int, event_id: str, event_input: Any,
        held: Callable[[str], Any] | None = None,
    ) -> Any:
        """Awaited by the engine before a step starts; returns the (possibly edited) input.

        ``held(reason)`` is called once if the gate holds the step (before it waits).
        """
        step = self.pending.get(step_id) or PendingStep(step_id, event_id, event_input)
        if not self.paused and event_id in self.breakpoints:
            self.paused, self.reason = True, f"breakpoint on {event_id}"
        while self.paused and self._passes == 0:
            if held is not None:
                held(self.reason)
                held = None
            self.waiting = step
            self._notify()
            if self._wake is None:
                self._wake = asyncio.Event()
            self._wake.clear()
            await self._wake.wait()
        if self.paused:
            self._passes -= 1
        self.waiting = None
        new_input = self._edits.pop(step_id, event_input)
        step.input = new_input
        self.released.append(step)
        self._notify()
        return new_input

    def __call__(self, record: RunRecord) -> None:
        """Subscriber of the run's feed: keeps the pending / running / ended views current."""
        kind = record.kind
        if kind == "step_pending":
            self.pending[record.step_id] = PendingStep(  # type: ignore[attr-defined]
                record.step_id, record.event_id, record.input  # type: ignore[attr-defined]
            )
        elif kind == "step_started":
            self.pending.pop(record.step_id, None)  # type: ignore[attr-defined]
            self.running[record.step_id] = record.event_id  # type: ignore[attr-defined]
        elif kind in STEP_END_KINDS:
            self.running.pop(record.step_id, None)  # type: ignore[attr-defined]
            self.ended[record.step_id] = record  # type: ignore[attr-defined]
            if kind == "step_failed" and self.break_on_error and not self.paused:
                self.paused, self.reason = True, f"error in {record.event_id}"  # type: ignore[attr-defined]
        elif kind in RUN_END_KINDS:
            self.run_over = True
            self.pending.clear()
            self.waiting = None
        else:
            return
        self._notify()

    # -- the user side -------------------------------------------------------------------
    def step(self) -> None:
        """Let exactly one more pending step start, then hold again."""
        self.paused, self.reason = True, "step"
        self._passes += 1
        self._release()

    def resume(self) -> None:
        """Run freely until the next breakpoint (or the end)."""
        self.paused, self.reason = False, ""
        self._passes = 0
        self._release()

    def pause(self) -> None:
        """Hold the next step before it starts."""
        if not self.paused:
            self.paused, self.reason = True, "paused"
            self._passes = 0
            self._notify()

    def edit_input(self, step_id: int, new_input: Any) -> None:
        """Replace the input a pending step will receive when it is released."""
        if step_id not in self.pending and (self.waiting is None or self.waiting.step_id != step_id):
            raise KeyError(
                f"step {step_id} is not pending (pending: {sorted(self.pending)}); only a step "
                f"that has not started can get a new input"
            )
        self._edits[step_id] = new_input
        if step_id in self.pending:
            self.pending[step_id].input = new_input
        if self.waiting is not None and self.waiting.step_id == step_id:
            self.waiting.input = new_input
        self._notify()

    def add_listener(self, callback: Callable[[Gate], Any]) -> Callable[[], None]:
        """Call ``callback(gate)`` whenever the gate's state changes (for a UI)."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def next_change(self) -> asyncio.Future[None]:
        """A future resolved at the gate's next change (made now, so no change is missed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(future)
        return future

    def _release(self) -> None:
        self.waiting = None  # the held step (if any) goes now
        if self._wake is not None:
            self._wake.set()
        self._notify()

    def _notify(self) -> None:
        waiters, self._change_waiters = self._change_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        for callback in list(self._listeners):
            try:
                callback(self)
            except Exception:  # a broken UI must not break the run
                self._listeners.remove(callback)
