"""FlowView in-process (no browser): what it follows, what it shows, what it leaves behind."""

import asyncio
import re
import xml.etree.ElementTree as ET

import pytest

from notebook_flow import WorkflowEvent, WorkflowManager, progress
from notebook_flow.jupyter import FlowView, timeline, view


@pytest.fixture
def small(flow):
    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start])
    async def work(event, ctx):
        progress("work", "half way", 0.5)
        return "ok"

    return flow, start, work


def run(coro):
    return asyncio.run(coro)


def test_a_view_of_a_flow_follows_its_next_runs(small):
    flow, start, work = small
    live = FlowView(flow)
    assert live.status == {} or live.status.get("state") in (None, "waiting")
    assert 'id="ev_' in live.svg and live.renderer == "pure"
    run(flow.invoke_event(start))
    assert set(live.states.values()) == {"done"} and len(live.states) == 2
    assert live.status["state"] == "finished" and live.status["steps_done"] == 2
    assert live.counts == {live_id: 1 for live_id in live.states}
    assert live.timeline.startswith("<svg") and "2 steps" in live.timeline
    run(flow.invoke_event(start))  # the next run replaces the picture
    assert live.status["run_id"] > 0 and live.counts == {live_id: 1 for live_id in live.states}
    live.close()


def test_the_newest_view_of_a_source_takes_over_and_closed_views_stop(small):
    flow, start, _ = small
    old, new = FlowView(flow), FlowView(flow)
    run(flow.invoke_event(start))
    assert new.states and not old.states
    new.close()
    run(flow.invoke_event(start))
    assert not old.states  # the old view was replaced, closing the new one does not revive it
    old.close()


def test_a_view_attached_to_a_finished_run_catches_up_from_its_trace(small):
    flow, start, work = small
    handle = flow.run(start)

    async def main():
        await handle
        return FlowView(handle)

    live = run(main())
    assert live.status["state"] == "finished" and len(live.states) == 2
    assert live.output_bundle()["text/plain"].startswith("test · run ")


def test_the_output_keeps_a_static_picture_of_the_final_states(flow):
    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start])
    async def bad(event, ctx):
        raise RuntimeError("broken")

    live = FlowView(flow)
    before = live.output_bundle()  # no run yet: the widget only
    assert before["application/vnd.jupyter.widget-view+json"]["model_id"] == live.model_id
    assert "image/svg+xml" not in before
    with pytest.raises(RuntimeError):
        run(flow.invoke_event(start))
    bundle = live.output_bundle()
    assert "application/vnd.jupyter.widget-view+json" not in bundle  # the run ended: the picture
    assert bundle["text/html"].startswith('<img src="data:image/svg+xml;base64,')
    root = ET.fromstring(bundle["image/svg+xml"])
    title = "".join(next(root.iter("{http://www.w3.org/2000/svg}text")).itertext())
    assert title.startswith("test · run ") and "failed" in title and "1 failure" in title
    assert 'class="node nf-failed"' in bundle["image/svg+xml"]
    assert 'class="node nf-done"' in bundle["image/svg+xml"]
    live.close()


def test_many_records_make_few_flushes(flow):
    @flow.make_event
    async def burst(event, ctx):
        for i in range(10_000):
            progress("burst", str(i))
        await asyncio.sleep(0.2)  # the loop runs: one coalesced update goes out here
        return "done"

    live = FlowView(flow)
    before = live._coalescer.flushes
    run(flow.invoke_event(burst))
    assert 2 <= live._coalescer.flushes - before <= 4
    assert live.status["state"] == "finished"
    live.close()


def test_mark_node_shows_a_paused_node(small):
    flow, start, _ = small
    live = FlowView(flow)
    live.mark_node(start.id, "paused")
    live._coalescer.flush_now()
    assert live.states == {live._layout.ids.nodes[start.id]: "paused"}
    with pytest.raises(ValueError, match="unknown node state 'sleeping'"):
        live.mark_node(start.id, "sleeping")
    live.close()


def test_a_microflow_view_learns_new_events_and_lays_out_again():
    manager = WorkflowManager(name="wf")

    async def plan(event, ctx):
        yield WorkflowEvent("write")

    async def write(event, ctx):
        name = "published"
        yield WorkflowEvent(name)

    manager.register("plan", plan).register("write", write)
    live = FlowView(manager)
    before = live.svg
    assert 'id="ev_published"' not in before

    async def main():
        return [e.name async for e in manager.process(WorkflowEvent("plan"))]

    assert run(main()) == ["plan", "write", "published"]
    assert 'id="ev_published"' in live.svg and live.svg != before
    # the final event has no handler and so no step of its own: it is lit once emitted
    assert live.states == {"ev_plan": "done", "ev_write": "done", "ev_published": "done"}
    assert "e_write__published" in live.edges_seen and "e_plan__write" in live.edges_seen
    live.close()


def test_view_outside_ipython_just_returns_the_widget(small):
    flow, start, _ = small
    live = view(flow, log_limit=20)
    assert isinstance(live, FlowView) and live.log_limit == 20
    run(flow.invoke_event(start))
    assert "2 steps" in timeline(live).svg
    live.close()


def test_timeline_of_a_run_handle_uses_its_trace(small):
    flow, start, work = small
    handle = flow.run(start)
    run(_await(handle))
    svg = timeline(handle).svg
    assert svg.count("<rect") == 3  # background + two steps
    assert ">start</text>" in svg and ">work</text>" in svg


async def _await(handle):
    return await handle


def test_a_view_of_something_else_says_what_it_takes():
    with pytest.raises(TypeError, match="a Flow, a WorkflowManager or a run"):
        FlowView(42)


def test_true_states_skipped_recovered_and_cancelled_by_stop(flow):
    from notebook_flow import Retry
    from notebook_flow.errors import StepFailures

    tries = []

    @flow.make_event
    async def load(event, ctx):
        return 1

    @flow.listen_group([load], retry=Retry(attempts=2, backoff=0.01))
    async def flaky(event, ctx):
        tries.append(1)
        if len(tries) == 1:
            raise ConnectionError("busy")
        return "ok"

    @flow.listen_group([load])
    async def broken(event, ctx):
        await asyncio.sleep(0.05)
        raise ValueError("bad")

    @flow.listen_group([broken])
    async def after_broken(event, ctx):
        return "never"

    @flow.listen_group([after_broken])
    async def further_down(event, ctx):
        return "never"

    live = FlowView(flow)
    with pytest.raises(StepFailures):
        run(flow.invoke_event(load, on_error="continue"))
    states = {live.nodes[sid]["label"]: state for sid, state in live.states.items()}
    assert states == {
        "load": "done", "flaky": "recovered", "broken": "failed",
        "after_broken": "skipped", "further_down": "skipped",
    }
    assert "recovered" in live.static_svg() and "skipped" in live.static_svg()  # in the legend
    live.close()


def test_stop_cancels_the_run_shown_and_says_why(flow):
    @flow.make_event
    async def begin(event, ctx):
        return 1

    @flow.listen_group([begin])
    async def crunch(event, ctx):
        await asyncio.sleep(30)

    @flow.listen_group([crunch])
    async def report(event, ctx):
        return "never"

    async def main():
        handle = flow.run(begin)
        live = FlowView(handle)
        handle.start()
        while "running" not in live.states.values():
            await asyncio.sleep(0.01)
        assert live.status["can_stop"] is True
        assert live.stop() is True
        try:
            await handle
        except BaseException:
            pass
        return live

    live = run(main())
    states = {live.nodes[sid]["label"]: state for sid, state in live.states.items()}
    assert states == {"begin": "done", "crunch": "cancelled"}
    assert live.status["state"] == "cancelled" and live.status["can_stop"] is False
    assert live.status["reason"] == "Stop button of the live view"
    assert "cancelled (Stop button of the live view)" in live.summary()
    live.close()


def test_a_followed_flow_has_no_stop_until_the_core_can_cancel_from_a_feed(small):
    flow, start, _ = small
    live = FlowView(flow)
    run(flow.invoke_event(start))
    assert live.status["can_stop"] is False and live.stop() is False
    live.close()


def test_the_layout_toggle_lays_the_graph_out_again(small):
    flow, start, work = small
    live = FlowView(flow)
    wide = live.svg
    live.rankdir = "TB"
    assert live.svg != wide and 'id="ev_' in live.svg
    size = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', live.svg)
    width, height = float(size.group(1)), float(size.group(2))
    assert height > width  # top-down: taller than wide
    live.rankdir = "sideways"  # from a stale front end: refused, the layout stays
    assert live.rankdir == "TB"
    with pytest.raises(ValueError, match="rankdir must be one of LR, TB"):
        FlowView(flow, rankdir="RL")
    live.close()


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (0.00002, ["0.000 ms", "0.005 ms", "0.010 ms"]),
        (0.25, ["0 ms", "50 ms", "100 ms"]),
        (2.5, ["0.0 s", "0.5 s", "1.0 s"]),
        (30, ["0 s", "5 s", "10 s"]),
        (400, ["0 min 00 s", "1 min 40 s", "3 min 20 s"]),
    ],
)
def test_the_timeline_axis_speaks_ms_and_s_and_its_labels_are_readable(span, expected):
    from notebook_flow.jupyter.timeline_view import _tick_step, tick_label, timeline_svg

    step = _tick_step(span)
    assert [tick_label(i * step, step, span) for i in range(3)] == expected
    svg = timeline_svg([("a", 0.0, span, "done"), ("b", span / 2, span, "failed")])
    sizes = [float(v) for v in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes and min(sizes) >= 11
    assert "e-0" not in svg
