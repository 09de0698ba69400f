"""One short, readable text for the values and records a notebook shows (log, details, debugger, magic).

Two ways to turn a value into text:

- ``preview(value)`` runs no user code: builtin values, containers, dataclass fields, events and
  inputs are written out (cut to a few items); any other object is ``<TypeName>``. It is what log
  lines use while a run goes on, so a slow or broken ``__repr__`` cannot touch the run.
- ``bounded_repr(value)`` is for what a person asked to see (a clicked node, the debugger's
  pending inputs): it calls the value's own ``repr`` in a helper thread and waits at most
  ``REPR_BUDGET`` seconds for it; a slower ``repr`` is reported, not waited for.

Every text that goes to the browser is cut with ``cut(text)`` to ``TEXT_LIMIT`` characters.
"""

from __future__ import annotations

import dataclasses
import enum
import reprlib
import threading
from collections.abc import Mapping
from typing import Any, Final

from ..events import EventInput, ReturnBehavior, WorkflowEvent
from ..records import RunRecord
from .run_numbers import run_number

__all__ = [
    "TEXT_LIMIT",
    "REPR_BUDGET",
    "cut",
    "preview",
    "bounded_repr",
    "seconds",
    "short_name",
    "describe_input",
    "describe_record",
    "show_records_readably",
]

#: The most characters of one text (a log line, a detail, a traceback) sent to the browser.
TEXT_LIMIT: Final = 4_000
#: The most seconds one call of a user's ``__repr__`` may hold the kernel's event loop.
REPR_BUDGET: Final = 0.1

_SCALARS: Final = (int, float, complex, bool, type(None), str, bytes, bytearray, range)
_CONTAINERS: Final = (dict, list, tuple, set, frozenset)


def cut(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def seconds(duration: float) -> str:
    """A duration people read at a glance: ``62 µs``, ``4.1 ms``, ``0.250 s``, ``12.3 s``."""
    if duration < 0.001:
        return f"{duration * 1e6:.0f} µs"
    if duration < 0.1:
        return f"{duration * 1e3:.1f} ms"
    return f"{duration:.3f} s" if duration < 10 else f"{duration:.1f} s"


def short_name(event_id: str) -> str:
    """An event's name without its flow's module: ``__main__.receive`` -> ``receive``."""
    return event_id.rsplit(".", 1)[-1]


class _Preview(reprlib.Repr):
    """reprlib that writes out builtins, dataclasses and our own values, and nothing else."""

    def __init__(self, *, items: int, chars: int) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = items
        self.maxstring = self.maxother = self.maxlong = chars

    def repr1(self, x: Any, level: int) -> str:
        kind = type(x)
        if kind in _SCALARS or kind in _CONTAINERS:
            return super().repr1(x, level)
        if isinstance(x, enum.Enum):
            return f"{kind.__name__}.{x.name}"
        if kind is WorkflowEvent:
            return self._workflow_event(x, level)
        if kind is EventInput:
            return self.repr_dict(_by_name(x.results), level)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            if level <= 0:
                return f"{kind.__name__}(...)"
            fields = [f for f in dataclasses.fields(x) if f.repr][: self.maxdict]
            inner = ", ".join(f"{f.name}={self.repr1(getattr(x, f.name), level - 1)}" for f in fields)
            return f"{kind.__name__}({inner})"
        if isinstance(x, BaseException):
            return f"{kind.__name__}({self.repr1(str(x), level - 1)})"
        return f"<{kind.__module__}.{kind.__qualname__}>" if kind.__module__ != "builtins" else f"<{kind.__name__}>"

    def _workflow_event(self, x: WorkflowEvent, level: int) -> str:
        text = f"{x.name!r}"
        if x.data:
            text += f" {self.repr1(x.data, level - 1)}"
        if x.error:
            text += f" error: {self.repr1(x.error, level - 1)}"
        return f"event {text}"


_preview = _Preview(items=8, chars=160)


def preview(value: Any, limit: int = 400) -> str:
    """A short text for ``value`` that runs none of its code (see the module's docstring)."""
    try:
        return cut(_preview.repr(value), limit)
    except Exception as error:  # a __len__ or __iter__ of a builtin subclass could still raise
        return f"<{type(value).__name__}: not shown: {error}>"


def _by_name(results: Mapping[str, Any]) -> dict[str, Any]:
    return {short_name(key): value for key, value in results.items()}


def _is_plain(value: Any, depth: int = 0) -> bool:
    """True when ``repr(value)`` runs only builtin code (builtin values in builtin containers)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind not in _CONTAINERS or depth > 3 or len(value) > 1_000:
        return False
    items = value.items() if kind is dict else ((v, None) for v in value)
    return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in items)


class _ReprCall:
    """A user's ``repr`` running in a helper thread: at most one at a time in the process."""

    busy = threading.Lock()

    def __init__(self, value: Any) -> None:
        self.text: str | None = None
        self.error: BaseException | None = None
        self._value = value

    def run(self) -> None:
        try:
            self.text = repr(self._value)
        except BaseException as error:
            self.error = error
        finally:
            self._value = None
            _ReprCall.busy.release()


def bounded_repr(value: Any, limit: int = TEXT_LIMIT, budget: float = REPR_BUDGET) -> str:
    """``repr(value)`` cut to ``limit``, waiting at most ``budget`` seconds for a user's ``repr``.

    Builtin values are written at once (their repr runs no user code). Any other value's repr
    runs in a helper thread; when it takes longer than ``budget``, or another slow repr is still
    running, a placeholder says so instead (the thread finishes on its own; nothing is killed).
    """
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return f"{repr(value[:limit])}... ({len(value) - limit} more characters)"
    if _is_plain(value):
        try:
            return cut(repr(value), limit)
        except RecursionError:
            return preview(value, limit)
    name = type(value).__name__
    if not _ReprCall.busy.acquire(blocking=False):
        return f"<{name}: not shown while an earlier slow repr is still running>"
    call = _ReprCall(value)
    thread = threading.Thread(target=call.run, name="notebook_flow repr", daemon=True)
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        return f"<{name}: its repr took longer than {budget:g} s; not shown>"
    if call.error is not None:
        return f"<{name}: repr failed: {type(call.error).__name__}: {call.error}>"
    return cut(call.text or "", limit)


def describe_input(value: Any, labels: Mapping[str, str] | None = None, *, safe: bool = True) -> str:
    """A step's input as the step sees it: ``{receive: {...}}`` for the results of a group.

    ``safe``: use ``preview`` (no user code) rather than ``bounded_repr`` for the values.
    """
    show = preview if safe else bounded_repr
    if type(value) is not EventInput:
        return show(value)
    named = {(labels or {}).get(k) or short_name(k): v for k, v in value.results.items()}
    if value.behavior is ReturnBehavior.INPUT:
        return f"user input {show(value.results)}"
    inner = ", ".join(f"{name!r}: {show(result)}" for name, result in named.items())
    if value.behavior is ReturnBehavior.GOTO:
        return f"goto from {{{inner}}}"
    return f"{{{inner}}}"


def describe_record(record: RunRecord, labels: Mapping[str, str] | None = None) -> str:
    """One readable line for a run record, e.g. ``price done in 0.001 s -> 80`` (no user code)."""
    r: Any = record
    labels = labels or {}
    kind = record.kind
    event = (labels.get(r.event_id) or short_name(r.event_id)) if hasattr(r, "event_id") else ""
    if kind == "step_finished":
        return f"{event} done in {seconds(r.duration)} -> {preview(r.result)}"
    if kind == "step_failed":
        return f"{event} failed after {seconds(r.duration)}: {_error_text(r.error)}"
    if kind == "step_retried":
        return (f"{event} attempt {r.attempt} failed ({_error_text(r.error)}); "
                f"retrying in {r.delay:.3g} s")
    if kind == "step_goto":
        targets = ", ".join(labels.get(t) or short_name(t) for t in r.targets) or "nothing"
        return f"{event} goto {targets} after {seconds(r.duration)}"
    if kind in ("step_aborted", "step_cancelled"):
        return f"{event} {kind[len('step_'):]} after {seconds(r.duration)}"
    if kind in ("step_pending", "step_started"):
        return f"{event} {kind[len('step_'):]} with {describe_input(r.input, labels)}"
    if kind == "step_progress":
        fraction = f" ({r.fraction:.0%})" if r.fraction is not None else ""
        return f"{event} {r.step + ': ' if r.step else ''}{r.description}{fraction}"
    if kind == "step_placed":
        name = f"{r.worker_name} ({r.worker})" if r.worker_name else r.worker
        return f"{event} runs on {r.executor} worker {name}"
    if kind == "run_started":
        return f"run {run_number(r.run_id) or r.run_id} of {r.flow_name!r} started at {labels.get(r.root) or short_name(r.root)}"
    if kind == "run_failed":
        return f"run failed after {seconds(r.duration)}: {_error_text(r.error)}"
    if kind in ("run_finished", "run_cancelled"):
        reason = getattr(r, "reason", "")
        why = f" ({reason})" if reason and reason != "cancelled" else ""
        return f"run {kind[len('run_'):]}{why} after {seconds(r.duration)}, {r.steps} steps"
    return f"{kind} at {r.time:.3f}"


def _error_text(error: BaseException) -> str:
    try:
        message = str(error)
    except Exception:
        message = "(its message could not be read)"
    return cut(f"{type(error).__name__}: {message}" if message else type(error).__name__, 400)


def show_records_readably(shell: Any) -> None:
    """Make IPython display a run record as its one readable line (e.g. what ``%flow step`` returns).

    Registered for this shell only (by ``%load_ext notebook_flow``); the record itself is unchanged.
    """
    formatter = shell.display_formatter.formatters["text/plain"]

    def pretty(record: RunRecord, printer: Any, cycle: bool) -> None:
        printer.text(describe_record(record))

    # each class: IPython takes a class's own generated __repr__ before a printer of its base
    kinds: list[type[RunRecord]] = [RunRecord]
    while kinds:
        kind = kinds.pop()
        formatter.for_type(kind, pretty)
        kinds.extend(kind.__subclasses__())
