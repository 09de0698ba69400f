"""A flow's picture: graph -> DOT -> SVG (or the text outline), with its element ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._core.graph import FlowGraph
from .dot import SvgIds, svg_ids, to_dot
from .render import render_svg

__all__ = ["Layout", "layout"]


@dataclass(frozen=True)
class Layout:
    """One laid-out graph. ``svg`` is None when rendering fell back to text (see ``text``)."""

    graph: FlowGraph
    ids: SvgIds
    dot: str
    svg: str | None
    renderer: str
    note: str = ""  # why the fallback was taken, if it was

    @property
    def text(self) -> str:
        return self.graph.text()


def layout(
    source: Any, *, renderer: str | None = None, rankdir: str = "LR", strict: bool = False
) -> Layout:
    """Lay out a Flow, WorkflowManager or FlowGraph (cached: same structure, same layout).

    Args:
        renderer: "pure", "dot" or "text"; default ``$NOTEBOOK_FLOW_RENDERER`` or the first found.
        strict: raise ``RendererError`` instead of falling back to the text outline.
    """
    graph = source if isinstance(source, FlowGraph) else FlowGraph.of(source)
    dot = to_dot(graph, rankdir=rankdir)
    try:
        svg, used = render_svg(dot, renderer)
        note = ""
    except Exception as error:
        if strict:
            raise
        svg, used, note = None, "text", f"{error}"
    return Layout(graph, svg_ids(graph), dot, svg, used, note)
