"""Tracebacks that show the user's code: the framework's frames left out, cells named as IPython does.

A step's error travels through notebook_flow's scheduler, asyncio, nest_asyncio2 and IPython
before a cell shows it; those frames are the framework's story, not the user's. ``user_traceback``
writes the text (log, node details, background runs) with only the user's frames, and names a
cell's code ``Cell In[10], line 12`` as IPython does. ``without_framework`` trims an exception's
own traceback the same way, so IPython's display of a failing ``%flow run`` shows the user's frame.
"""

from __future__ import annotations

import linecache
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from .formatting import cut

__all__ = ["is_framework_file", "user_traceback", "without_framework", "cell_name"]

_PACKAGE: Final = str(Path(__file__).resolve().parents[1]) + os.sep
#: Modules whose frames are the framework's (looked up in sys.modules: none is imported here).
_FRAMEWORK_MODULES: Final = ("asyncio", "nest_asyncio2", "nest_asyncio", "IPython", "ipykernel",
                             "concurrent", "threading", "contextlib")
_framework_dirs: list[str] = []


def _dirs() -> list[str]:
    if len(_framework_dirs) < len(_FRAMEWORK_MODULES) + 1:
        dirs = [_PACKAGE]
        for name in _FRAMEWORK_MODULES:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if path:
                dirs.append(path if not path.endswith("__init__.py") else os.path.dirname(path) + os.sep)
        _framework_dirs[:] = dirs
    return _framework_dirs


def is_framework_file(filename: str) -> bool:
    """True for a file of notebook_flow, asyncio, nest_asyncio2, IPython or ipykernel."""
    if not filename or filename.startswith("<frozen "):
        return True
    return any(filename == d or filename.startswith(d) for d in _dirs())


def cell_name(filename: str) -> str | None:
    """``Cell In[10]`` for the file IPython compiled cell 10 into; None for any other file."""
    shell = _shell()
    format_name = getattr(getattr(shell, "compile", None), "format_code_name", None)
    if format_name is None:
        return None
    try:
        named = format_name(filename)
    except Exception:
        return None
    return f"{named[0]} {named[1]}" if named else None


def _shell() -> Any:
    module = sys.modules.get("IPython")
    get_ipython = getattr(module, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def _frames(tb: types.TracebackType | None) -> Iterator[types.TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _where(tb: types.TracebackType) -> tuple[str, int, str]:
    return tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_code.co_name


def user_traceback(error: BaseException, tb: types.TracebackType | None = None, *,
                   max_lines: int = 40) -> str:
    """The traceback of ``error`` with only the user's frames (all of them if none is the user's).

    ``tb``: the traceback as it was when the step failed (an exception that propagates further
    collects the outer frames too). Chained causes are written the same way, each trimmed.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    head = tb if tb is not None else error.__traceback__
    while current is not None and id(current) not in seen and len(seen) < 5:
        seen.add(id(current))
        parts.append(_one(current, head))
        cause = current.__cause__
        context = None if current.__suppress_context__ else current.__context__
        nxt = cause if cause is not None else context
        if nxt is not None:
            link = ("The above exception was the direct cause of the following exception:"
                    if cause is not None else
                    "During handling of the above exception, another exception occurred:")
            parts.append(f"\n{link}\n")
        current, head = nxt, (nxt.__traceback__ if nxt is not None else None)
    rows = "\n".join(reversed(parts)).splitlines()
    if len(rows) > max_lines:
        keep = max_lines - 5
        rows = rows[:4] + [f"  ... ({len(rows) - 4 - keep} lines not shown) ..."] + rows[-keep:]
    return cut("\n".join(rows))


def _one(error: BaseException, tb: types.TracebackType | None) -> str:
    frames = list(_frames(tb))
    mine = [f for f in frames if not is_framework_file(_where(f)[0])]
    shown = mine or frames
    rows = ["Traceback (most recent call last):"] if shown else []
    hidden = len(frames) - len(shown)
    if hidden:
        rows.append(f"  ({hidden} frame{'s' if hidden != 1 else ''} of the framework not shown)")
    for frame in shown:
        filename, lineno, name = _where(frame)
        where = cell_name(filename) or f'File "{filename}"'
        rows.append(f"  {where}, line {lineno}, in {name}")
        line = linecache.getline(filename, lineno, frame.tb_frame.f_globals).strip()
        if line:
            rows.append(f"    {line}")
    try:
        message = str(error)
    except Exception:
        message = "(its message could not be read)"
    rows.append(f"{type(error).__name__}: {message}" if message else type(error).__name__)
    return "\n".join(rows)


def without_framework(error: BaseException) -> BaseException:
    """``error`` with its traceback reduced to the user's frames (unchanged if none is theirs).

    For a cell's display: raising the result shows the frame where the user's code failed, and
    not the scheduler, asyncio and nest_asyncio2 frames it travelled through. The frames kept
    are the real ones, so ``%debug`` still opens at the user's line.
    """
    frames = list(_frames(error.__traceback__))
    mine = [f for f in frames if not is_framework_file(_where(f)[0])]
    if not mine or len(mine) == len(frames):
        return error
    trimmed: types.TracebackType | None = None
    for frame in reversed(mine):
        trimmed = types.TracebackType(trimmed, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return error.with_traceback(trimmed)
