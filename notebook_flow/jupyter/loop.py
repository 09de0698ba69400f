"""Running flows from a notebook cell: synchronously, or in the background.

Top-level ``await flow.invoke_event(...)`` is the normal path in a cell. ``run_sync`` is for code
that cannot await (a sync function, a magic, a script): it works with or without a running loop,
and patches the kernel's loop with nest-asyncio2 only when it is first called, never at import.
Background runs are tasks on the kernel's loop: the cell returns at once, and a failure is shown
in the starting cell (and the run's view) instead of vanishing with the task.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..errors import FlowRunError
from .tracebacks import user_traceback

__all__ = ["run_sync", "allow_nested_runs", "start_background"]

T = TypeVar("T")
_patched: set[int] = set()  # ids of loops nest-asyncio2 has made re-entrant


def allow_nested_runs(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop`` (default: the running one) re-entrant, so ``asyncio.run`` works inside it."""
    loop = loop or asyncio.get_running_loop()
    if id(loop) in _patched:
        return
    import nest_asyncio2

    try:
        nest_asyncio2.apply(loop)
    except ValueError as error:  # uvloop and other C loops cannot be patched
        raise FlowRunError(
            f"cannot run a flow synchronously inside a {type(loop).__name__}: {error}. Use "
            "`await flow.invoke_event(...)` (or `await handle`) in the cell instead."
        ) from None
    _patched.add(id(loop))


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to its end from sync code and return its result.

    Outside an event loop this is ``asyncio.run``; inside one (a notebook cell, a widget
    callback) the running loop is made re-entrant with nest-asyncio2 and runs it nested.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    allow_nested_runs(loop)
    return loop.run_until_complete(_await(awaitable))


def start_background(handle: Any) -> Any:
    """Start a ``RunHandle`` as a task on the running loop and return the handle at once.

    If the run fails, its traceback is printed in the cell that started it (the run's live view,
    if any, shows it too); the exception is also kept on ``handle.error``.
    """
    handle.start()
    task = handle._task
    task.add_done_callback(_report_failure)  # runs in the starting cell's context
    return handle


def _report_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()  # retrieving it also silences "exception was never retrieved"
    if error is None:
        return
    print(f"notebook_flow: background run failed: {type(error).__name__}: {error}", file=sys.stderr)
    print(user_traceback(error), file=sys.stderr)  # the user's frames, cells named as IPython does
