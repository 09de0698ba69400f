"""The history of a store as a text table (``flow.history()``'s repr, ``%flow runs``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .rows import RunInfo

__all__ = ["format_history"]

_HEADER = ("key", "flow", "status", "started", "duration", "steps", "parent")


def format_history(runs: Sequence[RunInfo], *, utc: bool = False) -> str:
    """A fixed-width table of runs, one line each, in the order given (newest first from a store).

    ``started`` is local time unless ``utc``; a run that has not ended shows its duration as
    "-" (it is running, or its kernel died: then it can be resumed).
    """
    if not runs:
        return "no runs saved"
    rows = [_HEADER, *(_row(info, utc) for info in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join(lines)


def _row(info: RunInfo, utc: bool) -> tuple[str, ...]:
    moment = time.gmtime(info.started) if utc else time.localtime(info.started)
    return (
        info.key,
        info.flow_name,
        info.status,
        time.strftime("%Y-%m-%d %H:%M:%S", moment),
        "-" if info.duration is None else _duration(info.duration),
        str(info.steps),
        info.parent_key or "",
    )


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
