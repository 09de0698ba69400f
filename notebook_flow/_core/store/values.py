"""Turning a run's values (results, inputs, states, records, answers) into bytes and back.

``pickle`` first: it is the fastest and its bytes load anywhere. When it refuses (a lambda, a
closure, a class defined in a notebook cell) ``cloudpickle`` is tried if it is installed; its
bytes load with plain ``pickle.loads`` as long as cloudpickle can be imported. A value neither
can pickle is not saved: the caller gets None and decides what to say (nothing here warns).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
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

    Each record is kept as ``(kind, field values)``: pickling the dataclasses themselves costs
    twice as much, and this is paid on every checkpoint. Errors (``StepFailed.error``, ...)
    are also loaded back once: an exception whose ``__init__`` takes keyword-only arguments
    pickles but does not load, and a record that does not load would lose the past run's log.
    """
    rows = [(r.kind, _layout(type(r))[0](r)) for r in records]
    if not any(_layout(type(r))[1] for r in records):
        data = dumps_value(rows)
        if data is not None:
            return data
    return pickle.dumps([(kind, _savable(values)) for kind, values in rows], protocol=_PROTOCOL)


def loads_records(data: bytes) -> list[RunRecord]:
    """The records of one :func:`dumps_records` blob; those that no longer load are left out."""
    ok, rows = loads_value(data)
    if not ok or not isinstance(rows, list):
        return []
    records: list[RunRecord] = []
    for kind, values in rows:
        cls = _record_class(kind)
        if cls is not None:
            try:
                records.append(cls(*values))
            except TypeError:  # saved by a version whose record had other fields
                continue
    return records


_Layout = tuple[Callable[[RunRecord], tuple[Any, ...]], bool]
_layouts: dict[type[RunRecord], _Layout] = {}  # one entry per record class: bounded


def _layout(cls: type[RunRecord]) -> _Layout:
    """How to read a record class's fields as a tuple, and whether one of them is an error."""
    layout = _layouts.get(cls)
    if layout is None:
        fields = dataclasses.fields(cls)
        names = [f.name for f in fields]
        has_error = any(f.name == "error" for f in fields)
        if len(names) == 1:
            only = names[0]
            layout = (lambda r: (getattr(r, only),)), has_error
        else:
            layout = operator.attrgetter(*names), has_error
        _layouts[cls] = layout
    return layout


def _record_class(kind: str) -> type[RunRecord] | None:
    classes = _record_classes()
    if kind not in classes:  # a record class defined (imported) since the last look
        _record_classes.cache_clear()
        classes = _record_classes()
    return classes.get(kind)


@functools.cache
def _record_classes() -> dict[str, type[RunRecord]]:
    found: dict[str, type[RunRecord]] = {}
    pending: list[type[RunRecord]] = [RunRecord]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.kind, cls)
        pending.extend(cls.__subclasses__())
    return found


def _savable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        value if _round_trips(value) else NotSaved(type_name(value), _text(value))
        for value in values
    )


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
