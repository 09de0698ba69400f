"""Coalesce many pokes into at most one flush per interval, with a timer on the event loop.

A run may publish a hundred thousand records a second; the browser needs a handful of updates.
``poke()`` is O(1): it only arms a timer when none is armed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

__all__ = ["Coalescer"]

logger = logging.getLogger("notebook_flow")


class Coalescer:
    """Call ``flush()`` at most once per ``interval`` seconds after any ``poke()``.

    Args:
        flush: what to run; an exception in it is logged, never raised into the poker.
        interval: the smallest time between two flushes (0.05 s = at most 20 a second).
    """

    def __init__(self, flush: Callable[[], None], interval: float = 0.05) -> None:
        self._flush = flush
        self.interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self._last = float("-inf")
        self.flushes = 0

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def poke(self) -> None:
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a record published from plain code): flush if due
            if time.monotonic() - self._last >= self.interval:
                self.flush_now()
            return
        delay = max(0.0, self._last + self.interval - time.monotonic())
        self._handle = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.flush_now()

    def flush_now(self) -> None:
        """Flush at once (and disarm the timer): e.g. when the run ends."""
        self.cancel()
        self._last = time.monotonic()
        self.flushes += 1
        try:
            self._flush()
        except Exception:
            logger.warning("live view update failed", exc_info=True)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
