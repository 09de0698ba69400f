"""Running a %%flow cell's code: top-level await allowed, the last expression is the value."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["compile_cell"]


def compile_cell(code: str) -> Callable[[dict[str, Any]], Coroutine[Any, Any, Any]]:
    """Compile a cell (top-level await allowed) into ``async body(ns) -> last expression``."""
    tree = ast.parse(code)
    last = None
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr):
        tree.body.pop()
        last = ast.Expression(final.value)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    statements = compile(tree, "<%%flow cell>", "exec", flags=flags)
    expression = compile(last, "<%%flow cell>", "eval", flags=flags) if last is not None else None

    async def body(ns: dict[str, Any]) -> Any:
        result = eval(statements, ns)
        if asyncio.iscoroutine(result):
            await result
        if expression is None:
            return None
        value = eval(expression, ns)
        return await value if asyncio.iscoroutine(value) else value

    return body
