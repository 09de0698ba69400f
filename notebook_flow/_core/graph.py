"""FlowGraph: the shape of a workflow as plain data, derived from a Flow or a WorkflowManager.

Nodes are events (drive-flow style: one per registered event; microflow style: one per event
name, with the handlers registered on it). A listen group with several members becomes a join
point ("all" or "any"); a group with one member is a direct edge. Edges a run may take but no
group declares are read from the steps' source code: ``goto_events([...])`` targets in drive-flow
events, literal ``WorkflowEvent("name")`` names in microflow handlers. Edges seen at runtime
(a goto or an emitted event the source did not reveal) are passed in by whoever watched the run.

Standard library only: the display layers (``notebook_flow.viz``) turn this into DOT and SVG.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")

__all__ = ["FlowGraph", "GraphNode", "GraphJoin", "GraphEdge", "EdgeKind"]

#: listen: a one-member group (member -> listener); member / fire: into and out of a join;
#: goto: a ``goto_events`` target; emit: a microflow handler yields an event of that name.
EdgeKind = Literal["listen", "member", "fire", "goto", "emit"]


@dataclass(frozen=True, slots=True)
class GraphNode:
    """An event. ``handlers`` names the microflow handlers on it; ``terminal`` = nobody handles it."""

    id: str
    label: str
    handlers: tuple[str, ...] = ()
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class GraphJoin:
    """A listen group of several members: ``listener`` fires when the group is satisfied."""

    id: str
    listener: str
    group_name: str
    members: tuple[str, ...]
    retrigger_type: str  # "all" | "any"


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """``declared`` is False for an edge known only because a run took it; ``group`` names the
    listen group a listen / member / fire edge belongs to."""

    source: str
    target: str
    kind: EdgeKind
    label: str = ""
    declared: bool = True
    group: str = ""


@dataclass(frozen=True, slots=True)
class FlowGraph:
    """Nodes, join points and edges of one flow; equal graphs have equal structure (and layout)."""

    style: Literal["flow", "workflow"]
    name: str
    nodes: tuple[GraphNode, ...]
    joins: tuple[GraphJoin, ...] = ()
    edges: tuple[GraphEdge, ...] = ()

    @classmethod
    def of(
        cls, source: Any, *, runtime_edges: Iterable[tuple[str, str, str]] = ()
    ) -> FlowGraph:
        """The graph of a ``Flow`` or ``WorkflowManager``, plus edges seen at runtime.

        Args:
            source: the Flow or WorkflowManager (``RunFeed.source``).
            runtime_edges: ``(source_id, target_id, "goto" | "emit")`` triples a run took.
        """
        from .flow import Flow

        if isinstance(source, Flow):
            graph = _flow_graph(source)
        elif isinstance(getattr(source, "handlers", None), dict) and hasattr(source, "register"):
            graph = _workflow_graph(source)  # a WorkflowManager (compat depends on _core, not back)
        else:
            raise TypeError(
                f"a graph is drawn from a Flow or a WorkflowManager, got {type(source).__name__}; "
                "pass the flow (or the manager) whose runs you want to see"
            )
        return graph.with_edges(runtime_edges)

    def node(self, node_id: str) -> GraphNode | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def with_edges(self, extra: Iterable[tuple[str, str, str]]) -> FlowGraph:
        """This graph plus the given undeclared edges (and their nodes, for emitted names)."""
        known: set[tuple[str, str, str]] = {(e.source, e.target, e.kind) for e in self.edges}
        node_ids = {n.id for n in self.nodes}
        nodes, edges = list(self.nodes), list(self.edges)
        for src, dst, kind in extra:
            if (src, dst, kind) in known:
                continue
            known.add((src, dst, kind))
            for end in (src, dst):
                if end not in node_ids:
                    node_ids.add(end)
                    nodes.append(GraphNode(end, end, terminal=self.style == "workflow"))
            label = "goto" if kind == "goto" else ""
            edges.append(GraphEdge(src, dst, kind, label, declared=False))  # type: ignore[arg-type]
        if len(edges) == len(self.edges) and len(nodes) == len(self.nodes):
            return self
        return FlowGraph(self.style, self.name, tuple(nodes), self.joins, tuple(edges))

    def with_nodes(self, node_ids: Iterable[str]) -> FlowGraph:
        """This graph plus bare nodes for ids a run reached that the definitions did not show."""
        known = {n.id for n in self.nodes}
        extra = [GraphNode(i, i) for i in dict.fromkeys(node_ids) if i not in known]
        if not extra:
            return self
        return FlowGraph(self.style, self.name, self.nodes + tuple(extra), self.joins, self.edges)

    def text(self) -> str:
        """A plain-text outline: each node with what it leads to (the no-Graphviz fallback)."""
        out: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        labels = {n.id: n.label for n in self.nodes}
        joins = {j.id: j for j in self.joins}
        for edge in self.edges:
            if edge.kind in ("listen", "goto", "emit") and edge.source in out:
                arrow = {"listen": "->", "goto": "-goto->", "emit": "=>"}[edge.kind]
                out[edge.source].append(f"{arrow} {labels.get(edge.target, edge.target)}")
            elif edge.kind == "member" and edge.source in out:
                join = joins[edge.target]
                peers = ", ".join(labels.get(m, m) for m in join.members)
                out[edge.source].append(
                    f"-> {labels.get(join.listener, join.listener)} ({join.retrigger_type} of {peers})"
                )
        lines = [f"{self.style} {self.name!r}: {len(self.nodes)} events"]
        for node in self.nodes:
            extra = f" [{', '.join(node.handlers)}]" if node.handlers else ""
            lines.append(f"  {node.label}{extra}")
            lines.extend(f"      {target}" for target in out[node.id])
        return "\n".join(lines)


# -- drive-flow style ------------------------------------------------------------------------


def _flow_graph(flow: Any) -> FlowGraph:
    events = flow.events  # id -> Event, registration order
    labels = _event_labels(events)
    nodes = tuple(GraphNode(event_id, labels[event_id]) for event_id in events)
    joins: list[GraphJoin] = []
    edges: list[GraphEdge] = []
    for listener_id, event in events.items():
        for group in event.parent_groups.values():
            members = tuple(m for m in group.events if m in events)
            named = "" if group.name.isdigit() else group.name
            if len(members) == 1:
                edges.append(GraphEdge(members[0], listener_id, "listen", named, group=group.name))
                continue
            join = GraphJoin(
                f"{listener_id}::{group.events_hash}", listener_id, group.name, members,
                group.retrigger_type,
            )
            joins.append(join)
            edges.extend(GraphEdge(m, join.id, "member", group=group.name) for m in members)
            edges.append(GraphEdge(join.id, listener_id, "fire", named, group=group.name))
    for event_id, event in events.items():
        for target in _declared_gotos(event, events):
            edge = GraphEdge(event_id, target, "goto", "goto")
            if edge not in edges:
                edges.append(edge)
    return FlowGraph("flow", flow.name, nodes, tuple(joins), tuple(edges))


def _event_labels(events: dict[str, Any]) -> dict[str, str]:
    """Short labels (the function name); fall back to the id where two would look the same."""
    labels = {}
    for event_id, event in events.items():
        suffix = event_id[event_id.rfind("#"):] if "#" in event_id else ""
        labels[event_id] = event.name + suffix
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for event_id, label in labels.items():
        if counts[label] > 1:
            labels[event_id] = event_id.removeprefix("__main__.")
    return labels


def _declared_gotos(event: Any, events: dict[str, Any]) -> list[str]:
    func = _innermost_function(event.func_inst)
    if func is None:
        return []
    refs = _goto_refs(func.__code__)
    if not refs:
        return []
    namespace = _namespace(func)
    targets = []
    for chain in refs:
        target = _resolve(chain, namespace)
        target_id = getattr(target, "id", None)
        if isinstance(target_id, str) and events.get(target_id) is target:
            if target_id not in targets:
                targets.append(target_id)
    return targets


# -- microflow style -------------------------------------------------------------------------


def _workflow_graph(manager: Any) -> FlowGraph:
    handled = {name: list(hs) for name, hs in manager.handlers.items() if hs}
    order: list[str] = list(handled)
    edges: list[GraphEdge] = []
    for name, handlers in handled.items():
        for handler in handlers:
            func = _innermost_function(handler)
            if func is None:
                continue
            for target in _emitted_names(func.__code__):
                edge = GraphEdge(name, target, "emit")
                if edge not in edges:
                    edges.append(edge)
                if target not in order:
                    order.append(target)
    nodes = tuple(
        GraphNode(
            name, name, tuple(_handler_name(h) for h in handled.get(name, ())), name not in handled
        )
        for name in order
    )
    return FlowGraph("workflow", manager.name, nodes, (), tuple(edges))


def _handler_name(handler: Any) -> str:
    func = _innermost_function(handler)
    if func is None:
        return type(handler).__name__
    return func.__qualname__.rsplit(".", 1)[-1]


# -- reading steps' source -------------------------------------------------------------------


def _innermost_function(obj: Any) -> types.FunctionType | None:
    """The plain function behind a step (through partials, bound methods, callable objects)."""
    for _ in range(8):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif isinstance(obj, types.FunctionType):
            return inspect.unwrap(obj) if hasattr(obj, "__wrapped__") else obj
        elif callable(obj) and not isinstance(obj, type):
            obj = getattr(type(obj), "__call__", None)  # noqa: B004 (the class attribute, not callable())
        else:
            return None
    return None


def _memo_by_code(reader: Callable[[types.CodeType], T]) -> Callable[[types.CodeType], T]:
    """Remember what ``reader`` found in a step's source for as long as its code object lives.

    A flow of 10,000 steps is read once, not on every run (an LRU cache of a fixed size parsed
    every source again on each run of a flow larger than the cache); the parsed trees themselves
    are not kept.
    """
    found: weakref.WeakKeyDictionary[types.CodeType, T] = weakref.WeakKeyDictionary()

    @functools.wraps(reader)
    def read(code: types.CodeType) -> T:
        try:
            return found[code]
        except KeyError:
            value = found[code] = reader(code)
            return value

    return read


@functools.lru_cache(maxsize=64)
def _function_tree(code: types.CodeType) -> ast.AST | None:
    """The parsed source of a step's code (None when the source cannot be read, e.g. exec)."""
    try:
        source = inspect.getsource(code)
        return ast.parse(textwrap.dedent(source))
    except (OSError, TypeError, SyntaxError, ValueError):
        return None


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


@_memo_by_code
def _goto_refs(code: types.CodeType) -> tuple[tuple[str, ...], ...]:
    """Dotted names listed literally in ``goto_events([...])`` calls of the step's source."""
    tree = _function_tree(code)
    if tree is None:
        return ()
    refs: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _call_name(node.func) == "goto_events"):
            continue
        targets = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "group_markers":
                targets = kw.value
        if isinstance(targets, (ast.List, ast.Tuple)):
            for element in targets.elts:
                chain = _dotted(element)
                if chain and chain not in refs:
                    refs.append(chain)
    return tuple(refs)


@_memo_by_code
def _emitted_names(code: types.CodeType) -> tuple[str, ...]:
    """Literal event names of ``WorkflowEvent(...)`` calls in a handler's source ("progress" aside)."""
    tree = _function_tree(code)
    if tree is None:
        return ()
    names: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _call_name(node.func) == "WorkflowEvent"):
            continue
        value = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "name":
                value = kw.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if value.value and value.value != "progress" and value.value not in names:
                names.append(value.value)
    return tuple(names)


def _dotted(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return ()


def _namespace(func: types.FunctionType) -> dict[str, Any]:
    namespace = dict(func.__globals__)
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
        try:
            namespace[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            pass
    return namespace


def _resolve(chain: tuple[str, ...], namespace: dict[str, Any]) -> Any:
    """Look a dotted name up without running code (no properties, no __getattr__)."""
    missing = object()
    value = namespace.get(chain[0], missing)
    for attr in chain[1:]:
        if value is missing or not isinstance(value, (types.ModuleType, type)):
            return None
        try:
            value = inspect.getattr_static(value, attr)
        except AttributeError:
            return None
    return None if value is missing else value
