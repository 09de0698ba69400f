"""What a Flow or WorkflowManager shows when a notebook displays it: its DAG, never an error."""

from __future__ import annotations

import logging
from typing import Any

from .layout import layout

__all__ = ["mimebundle"]

logger = logging.getLogger("notebook_flow")


def mimebundle(
    source: Any, include: Any | None = None, exclude: Any | None = None
) -> dict[str, str]:
    """``{"image/svg+xml": ..., "text/plain": ...}`` for ``source``; only text if SVG fails.

    Used by ``Flow._repr_mimebundle_`` and ``WorkflowManager._repr_mimebundle_``. Never raises:
    whatever goes wrong is reported in the text and logged.
    """
    try:
        drawn = layout(source)
    except Exception as error:  # displaying must never raise
        logger.warning("could not draw %r", source, exc_info=True)
        return {"text/plain": f"{source!r}\n(could not draw its graph: {error})"}
    bundle = {"text/plain": drawn.text + (f"\n({drawn.note})" if drawn.note else "")}
    if drawn.svg is not None:
        bundle["image/svg+xml"] = drawn.svg
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
