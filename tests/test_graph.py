"""FlowGraph: nodes, join points and edges derived from a Flow or a WorkflowManager."""

import pytest

from notebook_flow import Flow, WorkflowEvent, WorkflowManager, goto_events
from notebook_flow._core.graph import FlowGraph, GraphEdge


def edges(graph, kind=None):
    return [(e.source, e.target) for e in graph.edges if kind is None or e.kind == kind]


def test_fan_out_and_joins(flow):
    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def a(event, ctx):
        pass

    @flow.listen_group([start])
    async def b(event, ctx):
        pass

    @flow.listen_group([a, b])
    async def both(event, ctx):
        pass

    @flow.listen_group([a, b], retrigger_type="any", group_name="first")
    async def either(event, ctx):
        pass

    graph = FlowGraph.of(flow)
    assert [n.label for n in graph.nodes] == ["start", "a", "b", "both", "either"]
    assert edges(graph, "listen") == [(start.id, a.id), (start.id, b.id)]
    assert [(j.listener, j.members, j.retrigger_type) for j in graph.joins] == [
        (both.id, (a.id, b.id), "all"),
        (either.id, (a.id, b.id), "any"),
    ]
    all_join, any_join = graph.joins
    assert edges(graph, "member") == [(a.id, all_join.id), (b.id, all_join.id), (a.id, any_join.id), (b.id, any_join.id)]
    assert edges(graph, "fire") == [(all_join.id, both.id), (any_join.id, either.id)]
    assert [e.label for e in graph.edges if e.kind == "fire"] == ["", "first"]  # default names unshown
    assert all(e.declared for e in graph.edges)


def test_goto_edges_are_read_from_the_source(flow):
    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def check(event, ctx):
        if event:
            return goto_events([start, other], "again")  # `other` resolves through the closure
        return 1

    @flow.make_event
    async def other(event, ctx):
        pass

    graph = FlowGraph.of(flow)
    assert edges(graph, "goto") == [(check.id, start.id), (check.id, other.id)]
    assert {e.label for e in graph.edges if e.kind == "goto"} == {"goto"}


def test_goto_to_something_that_is_not_an_event_of_this_flow_is_ignored(flow):
    elsewhere = Flow("elsewhere")

    @elsewhere.make_event
    async def foreign(event, ctx):
        pass

    @flow.make_event
    async def start(event, ctx):
        targets = [start]
        return goto_events(targets) if event else goto_events([foreign, undefined_name])  # noqa: F821

    assert edges(FlowGraph.of(flow), "goto") == []


def test_steps_without_readable_source_still_make_a_graph(flow):
    namespace = {"goto_events": goto_events}
    exec("async def made(event, ctx):\n    return goto_events([made])\n", namespace)
    made = flow.make_event(namespace["made"])
    graph = FlowGraph.of(flow)
    assert [n.id for n in graph.nodes] == [made.id]
    assert graph.edges == ()  # no source to read: the goto is learnt when a run takes it


def test_runtime_edges_add_missing_edges_and_nodes_once(flow):
    @flow.make_event
    async def start(event, ctx):
        pass

    graph = FlowGraph.of(flow)
    more = graph.with_edges([(start.id, start.id, "goto"), (start.id, start.id, "goto")])
    assert more.edges == (GraphEdge(start.id, start.id, "goto", "goto", declared=False),)
    assert more.with_edges([(start.id, start.id, "goto")]) is more
    assert graph.with_edges([]) is graph


def test_labels_stay_distinct_when_function_names_repeat(flow):
    def factory():
        async def step(event, ctx):
            pass

        return step

    first = flow.make_event(factory())
    second = flow.make_event(factory())
    labels = [n.label for n in FlowGraph.of(flow).nodes]
    assert first.id != second.id
    assert labels == ["step", "step#2"]


def test_microflow_chain_from_literal_event_names():
    manager = WorkflowManager(name="chain")

    async def plan(event, ctx):
        yield WorkflowEvent.progress("plan", "thinking")
        yield WorkflowEvent("research", data={})

    async def research(event, ctx):
        name = "dynamic"
        yield WorkflowEvent(name=name)  # not a literal: only a run can tell
        yield WorkflowEvent(name="write")

    async def write(event, ctx):
        yield WorkflowEvent("done")

    async def audit(event, ctx):
        yield WorkflowEvent("write")

    manager.register("plan", plan).register("research", research).register("research", audit)
    manager.register("write", write)
    graph = FlowGraph.of(manager)
    assert graph.style == "workflow"
    assert [(n.id, n.handlers, n.terminal) for n in graph.nodes] == [
        ("plan", ("plan",), False),
        ("research", ("research", "audit"), False),
        ("write", ("write",), False),
        ("done", (), True),
    ]
    assert edges(graph, "emit") == [("plan", "research"), ("research", "write"), ("write", "done")]
    seen = graph.with_edges([("research", "dynamic", "emit")])
    assert seen.node("dynamic").terminal and not seen.edges[-1].declared


def test_graph_of_something_else_says_what_to_pass():
    with pytest.raises(TypeError, match="Flow or a WorkflowManager"):
        FlowGraph.of(object())


def test_text_outline_names_every_event_and_join(flow):
    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def a(event, ctx):
        pass

    @flow.listen_group([start, a], retrigger_type="any")
    async def b(event, ctx):
        return goto_events([start])

    text = FlowGraph.of(flow).text()
    assert text.splitlines() == [
        "flow 'test': 3 events",
        "  start",
        "      -> a",
        "      -> b (any of start, a)",
        "  a",
        "      -> b (any of start, a)",
        "  b",
        "      -goto-> start",
    ]
