"""How a Flow or a WorkflowManager draws itself in a notebook, without the core knowing how.

The core knows nothing of display: ``Flow._repr_mimebundle_`` asks the one drawer registered
here. ``notebook_flow/__init__.py`` registers a drawer that imports ``notebook_flow.viz`` only
when a notebook first displays a flow, so ``import notebook_flow`` still loads no display code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Drawer", "set_drawer", "draw"]

#: ``drawer(source, include, exclude) -> mime bundle``
Drawer = Callable[[Any, Any, Any], dict[str, str]]

_drawer: Drawer | None = None


def set_drawer(drawer: Drawer | None) -> None:
    """Register the function that draws a flow for a notebook (``None``: text only)."""
    global _drawer
    _drawer = drawer


def draw(source: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """The mime bundle of ``source`` from the registered drawer; never raises."""
    if _drawer is None:
        return {"text/plain": repr(source)}
    try:
        return _drawer(source, include, exclude)
    except Exception as error:
        return {"text/plain": f"{source!r} (could not draw its graph: {error})"}
