"""DOT text of the example flows: snapshots, and ids that stay stable across cell re-runs.

Set NOTEBOOK_FLOW_UPDATE_SNAPSHOTS=1 to rewrite the snapshots after an intended change.
"""

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import viz_examples

from notebook_flow import Flow
from notebook_flow.viz import FlowGraph, svg_ids, to_dot

SNAPSHOTS = Path(__file__).parent / "snapshots"


def check_snapshot(name, text):
    path = SNAPSHOTS / name
    if os.environ.get("NOTEBOOK_FLOW_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}; run with NOTEBOOK_FLOW_UPDATE_SNAPSHOTS=1 once"
    assert text == path.read_text()


@pytest.mark.parametrize(
    "name, source",
    [("shapes.dot", viz_examples.shapes), ("chain.dot", viz_examples.chain)],
)
def test_dot_snapshot(name, source):
    check_snapshot(name, to_dot(FlowGraph.of(source)))


def test_dot_draws_joins_and_gotos_distinctly():
    dot = to_dot(FlowGraph.of(viz_examples.shapes))
    lines = dot.splitlines()
    all_join = next(line for line in lines if line.strip().startswith("join_viz_examples_combine_1 ["))
    any_join = next(line for line in lines if line.strip().startswith("join_viz_examples_first_of_1 ["))
    assert "label=all" in all_join and "style=filled" in all_join
    assert "label=any" in any_join and 'style="filled,dashed"' in any_join
    goto = next(line for line in lines if "ev_viz_examples_review -> ev_viz_examples_start" in line)
    assert "style=dashed" in goto and "constraint=false" in goto


def test_ids_are_stable_when_a_cell_is_run_again():
    source = (
        "@flow.make_event\n"
        "async def start(event, ctx):\n    return {body}\n"
        "@flow.listen_group([start])\n"
        "async def after(event, ctx):\n    return 2\n"
    )
    flow = Flow("cells")
    namespace = {"flow": flow, "__name__": "__main__"}
    exec(source.format(body=1), namespace)
    first = to_dot(FlowGraph.of(flow))
    exec(source.format(body=42), namespace)  # the edited cell, run again
    assert to_dot(FlowGraph.of(flow)) == first
    ids = svg_ids(FlowGraph.of(flow))
    assert ids.nodes == {"__main__.start": "ev_start", "__main__.after": "ev_after"}
    assert ids.node_of("ev_after") == "__main__.after" and ids.node_of("nope") is None


def test_ids_stay_unique_when_names_collide():
    graph = FlowGraph.of(viz_examples.chain).with_edges([("done", "a.b", "emit"), ("done", "a_b", "emit")])
    ids = svg_ids(graph)
    assert ids.nodes["a.b"] == "ev_a_b" and ids.nodes["a_b"] == "ev_a_b_2"
    assert len(set(ids.nodes.values())) == len(ids.nodes)


@pytest.mark.parametrize("name", ["a\\b", "x<y>", 'say "hi" & go\\n'])
def test_names_with_backslashes_and_angle_brackets_draw_the_dag(name):
    from notebook_flow import Flow, WorkflowEvent, WorkflowManager
    from notebook_flow.viz import layout

    flow = Flow(name)

    @flow.make_event
    async def start(event, ctx):
        return 1

    manager = WorkflowManager()

    async def handler(event, ctx):
        yield WorkflowEvent(name + " done")

    manager.register(name, handler)
    for source in (flow, manager):
        drawn = layout(source, strict=True)  # raises instead of falling back to the text outline
        assert drawn.renderer == "pure" and drawn.svg.count('class="node"') >= 1
    assert ET.fromstring(layout(manager).svg) is not None  # well-formed XML
