"""Let a kernel interrupt reach a run that is waiting, at once.

Found with a real ipykernel 7.4 kernel (tests/test_interrupt_kernel.py): while a cell awaits, the
kernel's SIGINT handler turns an interrupt into the cancellation of the cell's task, which cancels
the awaited run. But the kernel has several threads and the signal may land on another one; the
main thread, asleep in the event loop's selector until its next timer or message, only runs the
Python handler when something else wakes it. A run whose steps wait on a slow API (a 60 s
request) then ignores the interrupt for up to 60 s.

So while any run is active on the main thread, one light timer per event loop wakes the loop
every ``INTERVAL`` seconds; Python then runs the pending handler and the cancellation goes
through. One timer is shared by all runs of a loop, so a thousand concurrent runs cost the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

INTERVAL = 0.1  # seconds: an interrupt feels immediate, and ten wake-ups a second cost nothing


class _Heartbeat:
    __slots__ = ("loop", "users", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.users = 0
        self.handle: asyncio.TimerHandle | None = None

    def beat(self) -> None:
        self.handle = self.loop.call_later(INTERVAL, self.beat) if self.users else None


_beats: dict[asyncio.AbstractEventLoop, _Heartbeat] = {}


def _nothing() -> None:
    return None


def keep_awake_for_signals() -> Callable[[], None]:
    """Start (or join) the loop's wake-up timer; returns the function that leaves it."""
    if threading.current_thread() is not threading.main_thread():
        return _nothing  # signal handlers only ever run on the main thread
    loop = asyncio.get_running_loop()
    beat = _beats.get(loop)
    if beat is None:
        beat = _beats[loop] = _Heartbeat(loop)
    beat.users += 1
    if beat.handle is None:
        beat.handle = loop.call_later(INTERVAL, beat.beat)

    left = False

    def leave() -> None:
        nonlocal left
        if left:
            return
        left = True
        beat.users -= 1
        if beat.users == 0:
            if beat.handle is not None:
                beat.handle.cancel()
                beat.handle = None
            if _beats.get(loop) is beat:
                del _beats[loop]

    return leave
