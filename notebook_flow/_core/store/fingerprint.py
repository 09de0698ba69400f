"""Stable digests of a step's code and of a value, the parts of a step-cache key.

Stable means: the same in every process and kernel (no ``hash()``, which is salted per process
for strings), unchanged by things that do not change what a step computes (its line numbers,
its docstring, the order of a dict's or a set's items), and changed by what does (its bytecode,
constants, the names it uses, default values and closure values).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import types
from collections.abc import Callable
from typing import Any, Final

from notebook_flow.events import EventInput

from .values import dumps_value

__all__ = ["code_digest", "value_digest"]

_MAX_DEPTH: Final = 8  # nested closures / containers followed this deep
_DIGEST_CHARS: Final = 32


class _NoDigest(Exception):
    """A value has no stable digest (it cannot be pickled)."""


def code_digest(func: Callable[..., Any]) -> str:
    """A digest of what ``func`` runs: its code, constants, names, defaults and closure values.

    Follows ``functools.wraps`` chains, ``functools.partial`` (and its arguments) and bound
    methods. A function the step *calls* by a global name is not part of it: only its name is.
    A closure value that cannot be pickled counts by its type.
    """
    h = hashlib.sha256()
    _feed_callable(h, func, 0)
    return h.hexdigest()[:_DIGEST_CHARS]


def value_digest(value: Any) -> str | None:
    """A digest of ``value``'s content, or None if it has none (it cannot be pickled).

    Builtin scalars and containers are read directly (dicts and sets in a sorted order, so the
    digest is the same in every process), dataclasses field by field (the fields that take part
    in ``==``), enums by name, an ``EventInput`` by its group, results and behaviour (not its
    task id, which differs in every run); any other value by its pickle.
    """
    h = hashlib.sha256()
    try:
        _feed_value(h, value, 0)
    except _NoDigest:
        return None
    return h.hexdigest()[:_DIGEST_CHARS]


def _feed_callable(h: Any, func: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        h.update(b"deep")
        return
    func = inspect.unwrap(func)
    if isinstance(func, functools.partial):
        h.update(b"partial")
        _feed_callable(h, func.func, depth + 1)
        _feed_or_type(h, func.args, depth)
        _feed_or_type(h, func.keywords, depth)
    elif inspect.ismethod(func):
        _feed_callable(h, func.__func__, depth + 1)
    elif isinstance(func, types.FunctionType):
        _feed_code(h, func.__code__, func.__doc__, depth)
        _feed_or_type(h, func.__defaults__, depth)
        _feed_or_type(h, func.__kwdefaults__, depth)
        for cell in func.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell: a name assigned later
                h.update(b"empty")
                continue
            if isinstance(contents, types.FunctionType):
                _feed_callable(h, contents, depth + 1)
            else:
                _feed_or_type(h, contents, depth)
    else:  # a builtin, or a callable object: its name, its class's __call__, its content
        cls = type(func)
        name = getattr(func, "__qualname__", "")
        h.update(f"{cls.__module__}.{cls.__qualname__}:{name}".encode())
        call = inspect.getattr_static(cls, "__call__", None)
        if isinstance(call, types.FunctionType):
            _feed_callable(h, call, depth + 1)
            _feed_or_type(h, getattr(func, "__dict__", None), depth + 1)


def _feed_code(h: Any, code: types.CodeType, doc: str | None, depth: int) -> None:
    h.update(b"code")
    h.update(code.co_code)
    h.update(repr((code.co_argcount, code.co_kwonlyargcount, code.co_flags)).encode())
    h.update(repr(code.co_names).encode())
    consts = code.co_consts
    if doc is not None and consts and consts[0] == doc:
        consts = consts[1:]  # the docstring: editing it changes nothing the step computes
    for const in consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const, None, depth + 1)
        else:
            _feed_or_type(h, const, depth)


def _feed_or_type(h: Any, value: Any, depth: int) -> None:
    digest = value_digest(value) if depth <= _MAX_DEPTH else None
    if digest is None:
        cls = type(value)
        h.update(f"type:{cls.__module__}.{cls.__qualname__}".encode())
    else:
        h.update(digest.encode())


def _feed_value(h: Any, value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        _feed_pickle(h, value)
        return
    cls = type(value)
    if value is None or cls in (bool, int, float, complex):
        h.update(f"{cls.__name__}:{value!r};".encode())
    elif cls is str:
        data = value.encode("utf-8", "surrogatepass")
        h.update(f"str{len(data)}:".encode())
        h.update(data)
    elif cls in (bytes, bytearray):
        h.update(f"{cls.__name__}{len(value)}:".encode())
        h.update(value)
    elif cls in (tuple, list):
        h.update(f"{cls.__name__}{len(value)}(".encode())
        for item in value:
            _feed_value(h, item, depth + 1)
        h.update(b")")
    elif cls is dict:
        items = sorted(_digest_of(k, depth) + _digest_of(v, depth) for k, v in value.items())
        h.update(f"dict{len(items)}(".encode())
        h.update("".join(items).encode())
        h.update(b")")
    elif cls in (set, frozenset):
        members = sorted(_digest_of(item, depth) for item in value)
        h.update(f"{cls.__name__}{len(members)}(".encode())
        h.update("".join(members).encode())
        h.update(b")")
    elif cls is EventInput:
        # what the group delivered, not the task id the run numbered it with
        h.update(b"EventInput(")
        _feed_value(h, (value.group_name, value.results, value.behavior.value), depth + 1)
        h.update(b")")
    elif isinstance(value, enum.Enum):
        h.update(f"enum:{cls.__module__}.{cls.__qualname__}.{value.name};".encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        # field by field, so a set or dict inside digests the same in every process
        compared = [f.name for f in dataclasses.fields(value) if f.compare]
        h.update(f"dataclass:{cls.__module__}.{cls.__qualname__}(".encode())
        _feed_value(h, {name: getattr(value, name) for name in compared}, depth + 1)
        h.update(b")")
    else:
        _feed_pickle(h, value)


def _digest_of(value: Any, depth: int) -> str:
    h = hashlib.sha256()
    _feed_value(h, value, depth + 1)
    return h.hexdigest()


def _feed_pickle(h: Any, value: Any) -> None:
    data = dumps_value(value)
    if data is None:
        raise _NoDigest
    cls = type(value)
    h.update(f"pickle:{cls.__module__}.{cls.__qualname__}{len(data)}:".encode())
    h.update(data)
