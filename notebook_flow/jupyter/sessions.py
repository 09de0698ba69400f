"""The debug sessions of this kernel that are still live, so that none is paused for ever.

A paused debug session is a background run waiting at its gate; once the notebook forgets it
(``%flow debug`` run again, a new session of the same flow) nothing would ever release it, and
its run, its tasks and its open trace would stay for the kernel's lifetime. So every session is
registered here, a new session of a flow stops the live ones of the same flow, and ``%flow stop``
reaches every live session it names. The list holds only sessions whose run has not ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from .._core.debug import DebugSession

__all__ = ["register", "live_sessions", "cancel_sessions", "sessions_of"]

_live: list[DebugSession] = []


def _prune() -> None:
    _live[:] = [session for session in _live if not session.done]


def register(session: DebugSession) -> None:
    """Remember ``session`` until its run ends."""
    _prune()
    if session not in _live:
        _live.append(session)


def live_sessions() -> list[DebugSession]:
    """Every registered session whose run has not ended, oldest first."""
    _prune()
    return list(_live)


def sessions_of(source: Any, *, besides: Iterable[DebugSession] = ()) -> list[DebugSession]:
    """The live sessions of the Flow or WorkflowManager ``source``, but those in ``besides``."""
    keep = list(besides)
    return [s for s in live_sessions() if s.source is source and not any(s is k for k in keep)]


def cancel_sessions(sessions: Iterable[DebugSession], reason: str) -> list[asyncio.Task[Any]]:
    """Cancel the run of each session (``reason`` goes into its ``RunCancelled`` record).

    Returns the runs' tasks: they end on the loop's next turns (await them to be sure).
    """
    tasks = []
    for session in sessions:
        task = session.task
        if task is None or task.done():
            continue
        handle = session.handle
        if handle is not None:
            handle.cancel(reason)
        else:
            task.cancel(reason)
        tasks.append(task)
    return tasks
