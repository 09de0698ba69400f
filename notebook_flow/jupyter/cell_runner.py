"""Running a %%flow cell's code: top-level await allowed, the last expression is the value."""

from __future__ import annotations

import ast
import asyncio
from typing import Any

__all__ = ["compile_cell"]


def compile_cell(code: str) -> Any:
    """Compile a cell (top-level await allowed) into ``async body(ns) -> last expression``."""
    tree = ast.parse(code)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
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
