"""Turning a run's values (results, inputs, states, records, answers) into bytes and back.

``pickle`` first: it is the fastest and its bytes load anywhere. When it refuses (a lambda, a
closure, a class defined in a notebook cell) ``cloudpickle`` is tried if it is installed; its
bytes load with plain ``pickle.loads`` as long as cloudpickle can be imported. A value neither
can pickle is not saved: the caller gets None and decides what to say (nothing here warns).
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from notebook_flow.records import RunRecord

from .rows import NotSaved

__all__ = ["dumps_value", "loads_value", "type_name", "dumps_records", "loads_records"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL


@functools.cache
def _cloudpickle_dumps() -> Callable[[Any], bytes] | None:
    """cloudpickle's ``dumps``, imported the first time pickle refuses a value; None if absent."""
    try:
        import cloudpickle  # optional: closures, lambdas and classes defined in a notebook
    except ImportError:
        return None
    dumps: Callable[[Any], bytes] = cloudpickle.dumps
    return dumps


def dumps_value(value: Any) -> bytes | None:
    """The value's pickle (cloudpickle's when pickle refuses), or None if neither can pickle it."""
    try:
        return pickle.dumps(value, protocol=_PROTOCOL)
    except Exception:
        pass
    fallback = _cloudpickle_dumps()
    if fallback is not None:
        try:
            return fallback(value)
        except Exception:
            pass
    return None


def loads_value(data: bytes) -> tuple[bool, Any]:
    """``(True, value)``, or ``(False, error)`` when the bytes do not load any more.

    They may not: the class of the value was renamed, or it was defined in a notebook cell that
    has not been run again since the kernel restarted.
    """
    try:
        return True, pickle.loads(data)
    except Exception as exc:
        return False, exc


def type_name(value: Any) -> str:
    """``module.QualifiedName`` of the value's type (just the name for builtins)."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def dumps_records(records: Sequence[RunRecord]) -> bytes:
    """The records as one pickle; a field that cannot be saved becomes a :class:`NotSaved`.

    Errors (``StepFailed.error``, ...) are also loaded back once: an exception whose
    ``__init__`` takes keyword-only arguments pickles but does not load, and a record that does
    not load would make the whole past run unreadable.
    """
    kept = list(records)
    if not any(_has_error(r) for r in kept):
        data = dumps_value(kept)
        if data is not None:
            return data
    return pickle.dumps([_savable(r) for r in kept], protocol=_PROTOCOL)


def loads_records(data: bytes) -> list[RunRecord]:
    """The records of one :func:`dumps_records` blob ([] if it does not load any more)."""
    ok, value = loads_value(data)
    return list(value) if ok and isinstance(value, list) else []


def _has_error(record: RunRecord) -> bool:
    return isinstance(getattr(record, "error", None), BaseException)


def _savable(record: RunRecord) -> RunRecord:
    if dumps_value(record) is not None and not _has_error(record):
        return record
    replaced: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if not _round_trips(value):
            replaced[f.name] = NotSaved(type_name(value), _text(value))
    return dataclasses.replace(record, **replaced) if replaced else record


def _round_trips(value: Any) -> bool:
    data = dumps_value(value)
    if data is None:
        return False
    if isinstance(value, BaseException):
        return loads_value(data)[0]
    return True


def _text(value: Any) -> str:
    if isinstance(value, BaseException):
        return str(value)
    return ""
