"""SVG from graphviz-pure for the example flows, the renderer choice, and the painted picture."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import viz_examples

import notebook_flow
from notebook_flow.viz import (
    RENDERER_ENV,
    STATE_STYLES,
    FlowGraph,
    RendererError,
    choose_renderer,
    framed_svg,
    layout,
    mimebundle,
    paint_svg,
    render_svg,
    renderer_path,
    to_dot,
)

SVG = "{http://www.w3.org/2000/svg}"


def groups(svg, cls):
    root = ET.fromstring(svg)
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("class") or "").split()[:1] == [cls]}


@pytest.fixture(autouse=True)
def no_forced_renderer(monkeypatch):
    monkeypatch.delenv(RENDERER_ENV, raising=False)


def test_graphviz_pure_is_found_and_chosen_first():
    assert renderer_path("pure") is not None
    assert choose_renderer() == "pure"


def test_svg_of_the_example_flow_has_every_event_join_and_edge():
    graph = FlowGraph.of(viz_examples.shapes)
    svg, used = render_svg(to_dot(graph))
    assert used == "pure" and svg.startswith("<svg")
    nodes = groups(svg, "node")
    assert {i for i in nodes if i.startswith("ev_")} == {
        f"ev_viz_examples_{n}"
        for n in ["start", "fetch_a", "fetch_b", "fetch_c", "combine", "first_of", "review"]
    }
    all_join = nodes["join_viz_examples_combine_1"].find(f"{SVG}ellipse")
    any_join = nodes["join_viz_examples_first_of_1"].find(f"{SVG}ellipse")
    assert all_join.get("fill") == "#3e4c59" and all_join.get("stroke-dasharray") is None
    assert any_join.get("fill") == "white" and any_join.get("stroke-dasharray")
    edges = groups(svg, "edge")
    assert len(edges) == len(graph.edges)
    goto = edges["e_viz_examples_review__viz_examples_start_goto"].find(f"{SVG}path")
    assert goto.get("stroke-dasharray") and goto.get("stroke") == "#8e44ad"
    fan_out = [e for e in edges if e.startswith("e_viz_examples_start__")]
    assert len(fan_out) == 3


def test_svg_of_the_microflow_chain():
    svg, _ = render_svg(to_dot(FlowGraph.of(viz_examples.chain)))
    nodes = groups(svg, "node")
    assert set(nodes) == {"ev_plan", "ev_research", "ev_write", "ev_done"}
    texts = ["".join(t.itertext()) for t in nodes["ev_research"].iter(f"{SVG}text")]
    assert texts == ["research", "research"]  # the event name, then its handler
    assert set(groups(svg, "edge")) == {"e_plan__research", "e_research__write", "e_write__done"}


def test_layout_is_cached_per_structure():
    dot = to_dot(FlowGraph.of(viz_examples.chain))
    first, _ = render_svg(dot)
    again, _ = render_svg(dot)
    assert again is first


def test_environment_variable_forces_the_text_renderer(monkeypatch):
    monkeypatch.setenv(RENDERER_ENV, "text")
    drawn = layout(viz_examples.chain)
    assert drawn.svg is None and drawn.renderer == "text"
    assert "plan [plan]" in drawn.text
    assert mimebundle(viz_examples.chain) == {"text/plain": drawn.text}


def test_a_forced_renderer_that_is_missing_says_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    if renderer_path("dot") is not None:
        pytest.fail("a dot program was found without PATH")
    monkeypatch.setenv(RENDERER_ENV, "dot")
    with pytest.raises(RendererError, match="apt-get install graphviz.*unset NOTEBOOK_FLOW_RENDERER"):
        choose_renderer()
    drawn = layout(viz_examples.chain)  # displaying falls back to text instead
    assert drawn.svg is None and "not installed" in drawn.note
    with pytest.raises(RendererError):
        layout(viz_examples.chain, strict=True)


def test_an_unknown_renderer_name_lists_the_choices():
    with pytest.raises(RendererError, match="pure, dot, text"):
        choose_renderer("cairo")


def test_displaying_flows_gives_svg_and_never_raises():
    bundle = mimebundle(viz_examples.shapes)
    assert bundle["image/svg+xml"].startswith("<svg")
    assert bundle["text/plain"].startswith("flow 'shapes': 7 events")
    assert mimebundle(viz_examples.shapes, include={"text/plain"}).keys() == {"text/plain"}
    broken = mimebundle(object())
    assert broken.keys() == {"text/plain"} and "could not draw" in broken["text/plain"]


def test_paint_colours_nodes_counts_reruns_and_darkens_seen_edges():
    drawn = layout(viz_examples.shapes)
    ids = drawn.ids.nodes
    start, review = ids["viz_examples.start"], ids["viz_examples.review"]
    fetch_a = ids["viz_examples.fetch_a"]
    seen = drawn.ids.edges[("viz_examples.start", "viz_examples.fetch_a", "listen")]
    svg = paint_svg(drawn.svg, {start: "done", review: "failed"}, {start: 3}, [seen])
    nodes = groups(svg, "node")
    shape = nodes[start].find(f"{SVG}path")
    assert (shape.get("fill"), shape.get("stroke")) == (STATE_STYLES["done"].fill, STATE_STYLES["done"].stroke)
    assert nodes[review].find(f"{SVG}path").get("fill") == STATE_STYLES["failed"].fill
    assert nodes[fetch_a].find(f"{SVG}path").get("fill") == STATE_STYLES["idle"].fill
    badge = "".join(nodes[start].find(f"{SVG}g").itertext())
    assert badge == "×3" and nodes[review].find(f"{SVG}g") is None
    edge = groups(svg, "edge")[seen].find(f"{SVG}path")
    assert edge.get("stroke") == "#52606d"


def test_framed_svg_is_one_valid_picture_with_title_and_legend():
    drawn = layout(viz_examples.chain)
    framed = framed_svg(drawn.svg, "chain · run 3 finished", ["done", "failed"])
    root = ET.fromstring(framed)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert texts[0] == "chain · run 3 finished"
    assert texts[-2:] == ["done", "failed"]
    assert len(root.findall(f"{SVG}svg")) == 1  # the graph, nested once


def test_the_css_uses_the_same_state_colours_as_the_static_picture():
    css = (Path(notebook_flow.__file__).parent / "jupyter" / "static" / "flow_view.css").read_text()
    for state, style in STATE_STYLES.items():
        if state == "idle":
            continue
        rule = re.search(rf"g\.node\.nf-{state} > path[^{{]*\{{([^}}]*)\}}", css)
        assert rule, f"no CSS rule for state {state}"
        assert f"fill: {style.fill}" in rule.group(1) and f"stroke: {style.stroke}" in rule.group(1)


def test_flows_and_managers_display_their_graph_and_never_raise(monkeypatch):
    for source in (viz_examples.shapes, viz_examples.chain):
        bundle = source._repr_mimebundle_()
        assert bundle["image/svg+xml"].startswith("<svg") and 'id="ev_' in bundle["image/svg+xml"]
    monkeypatch.setenv(RENDERER_ENV, "no-such-renderer")
    for source in (viz_examples.shapes, viz_examples.chain):
        bundle = source._repr_mimebundle_()
        assert bundle.keys() == {"text/plain"} and "unknown renderer 'no-such-renderer'" in bundle["text/plain"]
