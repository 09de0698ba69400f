"""Check what a user hands us as a step, and work out its identity.

Both front-ends accept the same kinds of callables: ``async def`` functions (the value returned is
the result) and ``async def`` generators (they stream progress; the last other value yielded is
the result), plain or as bound methods or ``functools.partial`` objects, or objects whose
``__call__`` is one of those. A drive-flow event may also be a plain ``def`` function (it runs in
the engine's thread pool, or on its executor); a microflow handler may not. Anything else is
refused here, at definition time, with a message that says what to write instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from ..errors import EventTypeError


@dataclass(frozen=True, slots=True)
class StepCallable:
    """A checked step: the object to call, whether it streams, and what names it."""

    func: Callable[..., Any]
    is_generator: bool
    module: str
    qualname: str
    code: CodeType | None
    owner: Any  # the instance of a bound method, else None
    plain: bool = False  # a plain ``def`` (runs in a thread or on an executor, never on the loop)

    @property
    def kind(self) -> str:
        """"function" (plain def), "coroutine" (async def) or "generator" (async generator)."""
        return "generator" if self.is_generator else "function" if self.plain else "coroutine"

    @property
    def key(self) -> str:
        """The module-qualified name: the identity that survives a notebook cell re-run."""
        return f"{self.module}.{self.qualname}"


def _unwrap(obj: Any) -> tuple[Any, Any]:
    """The innermost plain function of ``obj`` and the bound instance, if any."""
    owner = None
    target = obj
    while True:
        if isinstance(target, functools.partial):
            target = target.func
        elif inspect.ismethod(target):
            owner = target.__self__ if owner is None else owner
            target = target.__func__
        else:
            return target, owner


def _hidden_async(func: Any) -> Any:
    """The async function a plain-def decorator wraps (``functools.wraps`` sets __wrapped__)."""
    inner = func
    for _ in range(100):  # a chain of decorators; a cycle of __wrapped__ ends here
        inner = getattr(inner, "__wrapped__", None)
        if inner is None:
            return None
        if inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner):
            return inner
    return None


def _describe(obj: Any) -> str:
    text = repr(obj)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(obj).__name__} {text}"


def check_step_callable(
    obj: Any, *, role: str, arg_names: str, allow_plain: bool = False
) -> StepCallable:
    """Check ``obj`` as a step of kind ``role`` taking ``arg_names``; raise EventTypeError if unfit.

    Args:
        obj: what the user passed.
        role: "event function" or "handler", used in messages.
        arg_names: the positional parameters the step is called with, e.g. "(event, global_ctx)".
        allow_plain: accept a plain ``def`` function too (drive-flow events do; handlers don't).
    """
    if hasattr(obj, "func_inst") and hasattr(obj, "parent_groups"):  # an Event of a Flow
        raise EventTypeError(
            f"{obj!r} is an event of a Flow, not a function; as the {role}, pass its function "
            f"({getattr(obj, 'name', 'event')}.func_inst) or a new `async def name{arg_names}:`"
        )
    if not callable(obj):
        raise EventTypeError(
            f"expected an async function as the {role}, got {_describe(obj)}; "
            f"define it with `async def name{arg_names}:`"
        )
    target, owner = _unwrap(obj)
    call_target = target
    if not inspect.isfunction(target) and not inspect.isbuiltin(target):
        # A callable object: judge its __call__ method.
        call_target, owner = _unwrap(type(target).__call__)
        owner = target
    is_gen = inspect.isasyncgenfunction(call_target)
    is_coro = inspect.iscoroutinefunction(call_target)
    name: str = (
        getattr(call_target, "__qualname__", None) or getattr(target, "__name__", None)
        or repr(target)
    )
    plain = False
    hidden = _hidden_async(call_target) if not (is_gen or is_coro) else None
    if hidden is not None:
        raise EventTypeError(
            f"{role} {name!s} is a plain `def` wrapping the async function "
            f"{getattr(hidden, '__qualname__', hidden)!r} (a decorator whose wrapper is not "
            f"async): calling it returns a coroutine nobody awaits. Make the decorator's wrapper "
            f"`async def wrapper(*args): return await func(*args)`, or apply it under the step"
        )
    if not (is_gen or is_coro) and allow_plain:
        _check_plain(call_target, role=role, name=name, arg_names=arg_names)
        plain = True
    elif not (is_gen or is_coro):
        if inspect.isgeneratorfunction(call_target):
            what = "a plain (sync) generator function"
        elif getattr(call_target, "__name__", "") == "<lambda>":
            what = "a lambda (lambdas cannot be async)"
        else:
            what = "a plain (sync) function"
        raise EventTypeError(
            f"{role} {name!s} is {what}; it must be `async def` "
            f"(a coroutine function, or an async generator to stream progress): "
            f"write `async def {getattr(call_target, '__name__', 'step')}{arg_names}:`"
        )
    _check_arity(obj, role=role, name=name, arg_names=arg_names)
    module = getattr(call_target, "__module__", None) or "__main__"
    if call_target is not target:  # callable object: identity from its class
        qualname = type(target).__qualname__
        module = type(target).__module__
    else:
        qualname = getattr(call_target, "__qualname__", name)
    return StepCallable(
        func=obj,
        is_generator=is_gen,
        module=module,
        qualname=qualname,
        code=getattr(call_target, "__code__", None),
        owner=owner,
        plain=plain,
    )


def _check_plain(call_target: Any, *, role: str, name: str, arg_names: str) -> None:
    """A plain ``def`` is welcome; a sync generator, a lambda or a builtin is not."""
    func_name = getattr(call_target, "__name__", "step")
    if inspect.isgeneratorfunction(call_target):
        raise EventTypeError(
            f"{role} {name} is a plain (sync) generator function: a step streams progress as "
            f"an `async def` generator; write `async def {func_name}{arg_names}:` and keep the "
            f"`yield`s, or make it a plain function that returns its result"
        )
    if func_name == "<lambda>":
        raise EventTypeError(
            f"{role} {name} is a lambda: a lambda has no name, so a re-run notebook cell cannot "
            f"tell which event it replaces; write `def name{arg_names}:` (or `async def`)"
        )
    if not inspect.isfunction(call_target):
        raise EventTypeError(
            f"{role} {name} is a builtin {type(call_target).__name__}, not a function taking "
            f"{arg_names}; wrap it: `def name{arg_names}: return {func_name}(...)`"
        )


def _check_arity(obj: Any, *, role: str, name: str, arg_names: str) -> None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # some C callables have no signature: let them through
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise EventTypeError(
            f"{role} {name} has the signature {signature}, but it is called with two "
            f"positional arguments {arg_names}; change it to `async def ...{arg_names}:`"
        ) from None
