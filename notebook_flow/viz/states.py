"""What each node shows: the states a run's records give, made true once the run is known.

The records say what ran; some states only follow from the graph and the run's outcome:
a step that never ran because a step upstream of it failed or aborted is "skipped" (not "not
run"), what a Stop ended while it waited, was held or ran is "cancelled" (not "paused"), a step
that succeeded after a failed attempt is "recovered", and a microflow event that a handler
emitted but nobody handles (the run's final event) is "done" once it was emitted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .._core.graph import FlowGraph

__all__ = ["shown_states"]

_STOPPED = frozenset({"pending", "paused", "running"})
_BREAKS = frozenset({"failed", "aborted"})
_RUN_ENDED = frozenset({"finished", "failed", "cancelled"})


def _downstream(graph: FlowGraph, starts: Collection[str]) -> set[str]:
    """Every node and join reachable from ``starts`` along the graph's non-goto edges."""
    after: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.kind != "goto":
            after.setdefault(edge.source, []).append(edge.target)
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        for nxt in after.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def shown_states(
    graph: FlowGraph,
    states: Mapping[str, str],
    run_status: str,
    *,
    retried: Collection[str] = (),
    emitted: Collection[str] = (),
) -> dict[str, str]:
    """The state to draw for each node (event id -> state; nodes not listed are "idle").

    Args:
        graph: the flow's graph.
        states: the states the run's records gave (done, failed, running, paused, ...).
        run_status: "waiting", "running", "finished", "failed" or "cancelled".
        retried: events of which an attempt failed and was retried.
        emitted: events a microflow handler emitted (terminal ones have no step of their own).
    """
    shown = dict(states)
    terminal = {node.id for node in graph.nodes if node.terminal}
    for event_id in emitted:
        if event_id in terminal and event_id not in shown:
            shown[event_id] = "done"
    for event_id in retried:
        if shown.get(event_id) == "done":
            shown[event_id] = "recovered"
    if run_status not in _RUN_ENDED:
        return shown
    if run_status == "cancelled":
        for event_id, state in shown.items():
            if state in _STOPPED:
                shown[event_id] = "cancelled"
    broken = [event_id for event_id, state in shown.items() if state in _BREAKS]
    if broken:
        nodes = {node.id for node in graph.nodes}
        for event_id in _downstream(graph, broken):
            if event_id in nodes and event_id not in shown:
                shown[event_id] = "skipped"
    return shown
