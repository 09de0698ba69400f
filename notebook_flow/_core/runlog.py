"""The log of a run: readable lines for what a person wants to know, in a bounded window.

A subscriber of the run's feed, like the trace. It keeps the latest ``maxlen`` entries (progress,
retries, timeouts, failures, cancellations, the run's start and end) plus exact counts of all of
them, and passes each line to the ``notebook_flow`` logger (progress at DEBUG, the rest at INFO,
so nothing prints unless the application configures logging). The notebook view shows it.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import FlowDefinitionError
from ..records import RunRecord
from .safe_text import safe_str

logger = logging.getLogger("notebook_flow")


_MAX_TRACEBACK = 4_000  # characters kept of one traceback: its end, where the error is


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a run's log.

    A failure or retry keeps its traceback as text, not the exception: an exception holds its
    frames and their locals (a whole LLM response, say), which a long-lived log must not.
    """

    t: float  # seconds since the run started
    level: str  # "info", "warning" or "error"
    kind: str  # the kind of the record it describes
    event_id: str | None
    message: str
    traceback: str | None = None


def _traceback_text(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    return text if len(text) <= _MAX_TRACEBACK else "...\n" + text[-_MAX_TRACEBACK:]


def _error_text(error: BaseException) -> str:
    text = safe_str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _progress(r: Any) -> tuple[str, str]:
    share = "" if r.fraction is None else f" ({r.fraction:.0%})"
    return "info", f"{r.event_id}: {r.step}: {r.description}{share}"


def _retried(r: Any) -> tuple[str, str]:
    return "warning", (
        f"{r.event_id}: attempt {r.attempt} failed ({_error_text(r.error)}); "
        f"retrying in {r.delay:.3g} s"
    )


def _failed(r: Any) -> tuple[str, str]:
    if isinstance(r.error, TimeoutError):
        return "error", f"{r.event_id}: timed out ({_error_text(r.error)})"
    return "error", f"{r.event_id}: failed ({_error_text(r.error)})"


_FORMATS: dict[str, Callable[[Any], tuple[str, str]]] = {
    "run_started": lambda r: ("info", f"run {r.run_id} of {r.flow_name!r} started at {r.root}"),
    "step_progress": _progress,
    "step_retried": _retried,
    "step_placed": lambda r: ("info", f"{r.event_id}: runs on {r.executor} worker "
                                      f"{r.worker_name or r.worker} ({r.worker})"),
    "step_failed": _failed,
    "step_cancelled": lambda r: ("warning", f"{r.event_id}: cancelled after {r.duration:.3g} s"),
    "step_aborted": lambda r: ("info", f"{r.event_id}: aborted (its listeners do not fire)"),
    "run_finished": lambda r: ("info", f"run finished: {r.steps} steps in {r.duration:.3g} s"),
    "run_failed": lambda r: ("error", f"run failed: {_error_text(r.error)}"),
    "run_cancelled": lambda r: (
        "warning", f"run cancelled ({r.reason}) after {r.steps} steps, {r.duration:.3g} s"
    ),
}


class RunLog:
    """Subscriber that keeps the last ``maxlen`` log entries of a run and exact counts of all."""

    DEFAULT_MAXLEN = 1_000
    #: Kinds the log has no line for; the feed does not even call it for these.
    IGNORED_KINDS = frozenset({"step_pending", "step_started", "step_finished", "step_goto"})

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise FlowDefinitionError(
                f"a run log keeps a window of at least one entry, got maxlen={maxlen!r}"
            )
        # The window: LogEntry objects, and progress records kept as they came (a streaming
        # run sends thousands a second; they are formatted only when someone reads them).
        self._window: deque[Any] = deque(maxlen=maxlen)
        self._entries: tuple[int, deque[LogEntry]] = (-1, deque())  # (total when made, ...)
        self.counts: dict[str, int] = {}  # entries by level, exact
        self.total = 0
        self._start = 0.0

    def add(self, record: RunRecord) -> None:
        """Receive one record (the feed subscribes this bound method: cheaper than __call__)."""
        if record.kind == "step_progress":
            self._window.append(record)
            self.total += 1
            self.counts["info"] = self.counts.get("info", 0) + 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("run %s: %s", record.run_id, _progress(record)[1])
            return
        describe = _FORMATS.get(record.kind)
        if describe is None:
            return  # pending / started / finished / goto: the trace has them, a log would drown
        if record.kind == "run_started":
            self._start = record.time
        level, message = describe(record)
        error = getattr(record, "error", None)
        self._window.append(
            LogEntry(record.time - self._start, level, record.kind,
                     getattr(record, "event_id", None), message,
                     None if error is None else _traceback_text(error))
        )
        self.total += 1
        self.counts[level] = self.counts.get(level, 0) + 1
        py_level = logging.DEBUG if record.kind == "step_progress" else logging.INFO
        if logger.isEnabledFor(py_level):
            logger.log(py_level, "run %s: %s", record.run_id, message,
                       exc_info=error if record.kind == "step_failed" else None)

    __call__ = add

    @property
    def entries(self) -> deque[LogEntry]:
        """The window as log entries, oldest first."""
        made, entries = self._entries
        if made != self.total:
            entries = deque(
                (self._progress_entry(e) if type(e) is not LogEntry else e for e in self._window),
                maxlen=self._window.maxlen,
            )
            self._entries = (self.total, entries)
        return entries

    def _progress_entry(self, record: Any) -> LogEntry:
        level, message = _progress(record)
        return LogEntry(record.time - self._start, level, record.kind, record.event_id, message)

    @property
    def dropped(self) -> int:
        """How many entries left the window (the counts still include them)."""
        return self.total - len(self._window)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self._window)

    def text(self) -> str:
        """The window as plain text, one entry a line."""
        return "\n".join(f"{e.t:9.3f}s {e.level:<7} {e.message}" for e in self.entries)
