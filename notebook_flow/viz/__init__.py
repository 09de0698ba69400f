"""Pictures of flows: FlowGraph -> DOT (python ``graphviz``) -> SVG (``graphviz-pure``).

Rendering runs in the kernel, without a server, a system Graphviz or the network: the
``graphviz-pure`` binary from its wheel, else a system ``dot``, else a text outline.
``NOTEBOOK_FLOW_RENDERER=pure|dot|text`` forces one.
"""

from __future__ import annotations

from .._core.graph import EdgeKind, FlowGraph, GraphEdge, GraphJoin, GraphNode
from .bundle import mimebundle, picture_bundle
from .dot import SvgIds, svg_ids, to_dot
from .graph_layout import Layout, layout
from .paint import framed_svg, on_paper, paint_svg
from .render import (
    RENDERER_ENV,
    RENDERERS,
    RendererError,
    choose_renderer,
    render_svg,
    renderer_path,
)
from .states import shown_states
from .theme import NODE_STATES, STATE_STYLES, StateStyle

__all__ = [
    "FlowGraph",
    "GraphNode",
    "GraphJoin",
    "GraphEdge",
    "EdgeKind",
    "to_dot",
    "svg_ids",
    "SvgIds",
    "render_svg",
    "choose_renderer",
    "renderer_path",
    "RENDERERS",
    "RENDERER_ENV",
    "RendererError",
    "layout",
    "Layout",
    "paint_svg",
    "framed_svg",
    "on_paper",
    "shown_states",
    "mimebundle",
    "picture_bundle",
    "STATE_STYLES",
    "NODE_STATES",
    "StateStyle",
]
