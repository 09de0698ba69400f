"""FlowGraph -> DOT text (python ``graphviz`` package), with stable SVG ids.

Every node, join point and edge gets an ``id`` attribute that depends only on the graph's
structure (event ids, group order), so the SVG's elements can be found again by the live view
(``ev_<event>``, ``join_<listener>_<n>``, ``e_<source>__<target>``). Node states are not part of
the DOT: the layout depends on structure only and is computed once per structure.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import graphviz

from .._core.graph import FlowGraph, GraphEdge
from .theme import EDGE_COLOUR, FONT, GOTO_COLOUR, INFERRED_EDGE_COLOUR, STATE_STYLES

__all__ = ["SvgIds", "svg_ids", "to_dot"]

_IDLE = STATE_STYLES["idle"]
_INK = "#3e4c59"
_MUTED = "#7b8794"

_GRAPH_ATTR = {
    "rankdir": "LR",
    "bgcolor": "transparent",
    "fontname": FONT,
    "nodesep": "0.25",
    "ranksep": "0.42",
    "pad": "0.08",
}
_NODE_ATTR = {
    "shape": "box",
    "style": "rounded,filled",
    "fillcolor": _IDLE.fill,
    "color": _IDLE.stroke,
    "fontname": FONT,
    "fontsize": "11",
    "fontcolor": "#1f2933",
    "height": "0.34",
    "margin": "0.14,0.04",
    "penwidth": "1.2",
}
_EDGE_ATTR = {
    "color": EDGE_COLOUR,
    "arrowsize": "0.6",
    "fontname": FONT,
    "fontsize": "9",
    "fontcolor": _MUTED,
    "penwidth": "1.1",
}
_JOIN_ATTR = {
    "all": {
        "style": "filled", "fillcolor": _INK, "color": _INK, "fontcolor": "white", "label": "all",
    },
    "any": {
        "style": "filled,dashed", "fillcolor": "white", "color": _INK, "fontcolor": _INK,
        "label": "any",
    },
}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text.removeprefix("__main__.")) or "_"


@dataclass(frozen=True)
class SvgIds:
    """SVG element ids of a graph: ``nodes`` (event id -> id), ``joins``, ``edges`` (by edge)."""

    nodes: dict[str, str]
    joins: dict[str, str]
    edges: dict[tuple[str, str, str], str]

    def node_of(self, svg_id: str) -> str | None:
        """The event id drawn as ``svg_id`` (None if it is not an event node)."""
        for node_id, sid in self.nodes.items():
            if sid == svg_id:
                return node_id
        return None


def svg_ids(graph: FlowGraph) -> SvgIds:
    """Stable, unique element ids: they depend on event ids and group order only."""
    used: set[str] = set()

    def unique(base: str) -> str:
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        return candidate

    nodes = {n.id: unique("ev_" + _slug(n.id)) for n in graph.nodes}
    joins: dict[str, str] = {}
    per_listener: dict[str, int] = {}
    for join in graph.joins:
        k = per_listener[join.listener] = per_listener.get(join.listener, 0) + 1
        joins[join.id] = unique(f"join_{_slug(join.listener)}_{k}")
    ends = {**nodes, **joins}
    edges: dict[tuple[str, str, str], str] = {}
    for edge in graph.edges:
        src = ends.get(edge.source, "x").removeprefix("ev_")
        dst = ends.get(edge.target, "x").removeprefix("ev_")
        suffix = "_goto" if edge.kind == "goto" else ""
        edges[(edge.source, edge.target, edge.kind)] = unique(f"e_{src}__{dst}{suffix}")
    return SvgIds(nodes, joins, edges)


def to_dot(graph: FlowGraph, *, rankdir: str = "LR") -> str:
    """The DOT text of ``graph``: events as rounded boxes, joins as small circles, gotos dashed."""
    ids = svg_ids(graph)
    dot = graphviz.Digraph(
        graph.name,
        graph_attr={**_GRAPH_ATTR, "rankdir": rankdir},
        node_attr=_NODE_ATTR,
        edge_attr=_EDGE_ATTR,
    )
    for node in graph.nodes:
        attrs = {"id": ids.nodes[node.id]}  # also the DOT name: [A-Za-z0-9_] only, no quoting
        if node.handlers:
            handlers = html.escape(", ".join(node.handlers))
            attrs["label"] = (
                f'<<b>{html.escape(node.label)}</b><br/>'
                f'<font point-size="9" color="{_MUTED}">{handlers}</font>>'
            )
        else:
            attrs["label"] = graphviz.escape(node.label)
        if node.terminal:
            attrs.update(fillcolor="#f5f7fa", color="#c1c9d2", fontcolor="#52606d")
        dot.node(attrs["id"], **attrs)
    for join in graph.joins:
        dot.node(
            ids.joins[join.id],
            id=ids.joins[join.id],
            shape="circle",
            fixedsize="true",
            width="0.34",
            fontsize="8",
            **_JOIN_ATTR.get(join.retrigger_type, _JOIN_ATTR["all"]),
        )
    ends = {**ids.nodes, **ids.joins}
    for edge in graph.edges:
        dot.edge(ends[edge.source], ends[edge.target], **_edge_attrs(edge, ids))
    return str(dot.source)


def _edge_attrs(edge: GraphEdge, ids: SvgIds) -> dict[str, str]:
    attrs = {"id": ids.edges[(edge.source, edge.target, edge.kind)]}
    if edge.label:
        attrs["label"] = graphviz.escape(edge.label)
    if edge.kind == "member":
        attrs["arrowhead"] = "none"
    elif edge.kind == "goto":
        attrs.update(style="dashed", color=GOTO_COLOUR, fontcolor=GOTO_COLOUR, constraint="false")
    elif edge.kind == "emit" and edge.declared:
        attrs["color"] = INFERRED_EDGE_COLOUR  # inferred from source: lighter until a run takes it
    return attrs
