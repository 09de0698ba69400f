"""Find the part of a value that cannot be pickled, to name it in an error.

``pickle`` says *what* failed ("cannot pickle '_thread.lock' object"), never *where*: in which
closure variable, global, argument, attribute or dict entry. :func:`find_unpicklable` asks the
given ``dumps`` (cloudpickle's, for Dask) about each part in turn and returns the deepest one
that fails. It only runs after a pickling failure, so it costs nothing when all is well.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

Dumps = Callable[[Any], Any]

_MAX_DEPTH = 6
_MAX_PARTS = 200  # parts looked at per level: a huge list is not searched item by item


def find_unpicklable(value: Any, dumps: Dumps, where: str) -> tuple[str, Any] | None:
    """``(where the failure is, the value there)``, or None if ``value`` pickles.

    ``where`` names ``value`` itself (e.g. "count_primes" or "the input"); the path grows from it,
    e.g. "count_primes -> closure variable `lock`".
    """
    if _pickles(value, dumps):
        return None
    return _deepest(value, dumps, where, 0)


def _deepest(value: Any, dumps: Dumps, where: str, depth: int) -> tuple[str, Any]:
    if depth < _MAX_DEPTH:
        for label, part in _parts(value):
            if not _pickles(part, dumps):
                return _deepest(part, dumps, f"{where} -> {label}", depth + 1)
    return where, value


def _pickles(value: Any, dumps: Dumps) -> bool:
    try:
        dumps(value)
    except Exception:
        return False
    return True


def _parts(value: Any) -> Iterator[tuple[str, Any]]:
    """The labelled parts a pickle of ``value`` carries, as far as they can be told apart."""
    if isinstance(value, functools.partial):
        yield "the partial's function", value.func
        for i, arg in enumerate(value.args):
            yield f"the partial's argument {i}", arg
        for key, arg in value.keywords.items():
            yield f"the partial's argument `{key}`", arg
    elif inspect.ismethod(value):
        yield f"the instance `{type(value.__self__).__name__}` it is bound to", value.__self__
        yield "its function", value.__func__
    elif isinstance(value, types.FunctionType):
        yield from _function_parts(value)
    elif isinstance(value, dict):
        for i, (key, item) in enumerate(value.items()):
            if i >= _MAX_PARTS:
                break
            yield f"[{key!r}]", item
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            if i >= _MAX_PARTS:
                break
            yield f"item {i}", item
    else:
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            for i, (key, item) in enumerate(attrs.items()):
                if i >= _MAX_PARTS:
                    break
                yield f".{key}", item
        for key in _slot_names(type(value)):
            if hasattr(value, key):
                yield f".{key}", getattr(value, key)


def _function_parts(func: types.FunctionType) -> Iterator[tuple[str, Any]]:
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            yield f"closure variable `{name}`", cell.cell_contents
        except ValueError:  # an empty cell
            continue
    for name in _global_names(code):
        if name in func.__globals__:
            yield f"global `{name}`", func.__globals__[name]
    for i, default in enumerate(func.__defaults__ or ()):
        yield f"default value {i}", default
    for key, default in (func.__kwdefaults__ or {}).items():
        yield f"default of `{key}`", default


def _global_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(n for n in _global_names(const) if n not in names)
    return names


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]
