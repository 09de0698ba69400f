"""RunState, the live view's subscriber: node states, counts, edges, log, details, status."""

import asyncio
import re

import pytest

from notebook_flow import WorkflowEvent, WorkflowManager, abort_this, goto_events, progress
from notebook_flow.jupyter import RunState
from notebook_flow.viz import FlowGraph


def watch(handle_or_feed, source):
    """A RunState on a run, plus the sequence of distinct states each node went through."""
    state = RunState(FlowGraph.of(source), log_limit=50)
    history = {}

    def record(r):
        state(r)
        for node, s in state.node_state.items():
            seq = history.setdefault(node, [])
            if not seq or seq[-1] != s:
                seq.append(s)

    handle_or_feed.subscribe(record)
    return state, history


def test_states_counts_and_edges_of_a_drive_run(flow):
    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start])
    async def ok(event, ctx):
        return "fine"

    @flow.listen_group([start])
    async def skip(event, ctx):
        return abort_this()

    @flow.listen_group([ok, start], retrigger_type="any")
    async def loop(event, ctx):
        ctx["n"] += 1
        return goto_events([ok]) if ctx["n"] < 3 else "end"

    handle = flow.run(start, global_ctx={"n": 0})
    state, history = watch(handle, flow)
    asyncio.run(_await(handle))
    assert history[start.id] == ["pending", "running", "done"]
    assert history[skip.id] == ["pending", "running", "aborted"]
    assert history[ok.id][:3] == ["pending", "running", "done"] and history[ok.id][-1] == "done"
    assert state.counts == {start.id: 1, ok.id: 3, skip.id: 1, loop.id: 3}
    assert state.status == "finished" and state.failures == 0 and state.steps_done == 8
    join = FlowGraph.of(flow).joins[0].id
    assert (start.id, ok.id, "listen") in state.seen_edges
    assert (ok.id, join, "member") in state.seen_edges and (join, loop.id, "fire") in state.seen_edges
    assert (loop.id, ok.id, "goto") in state.seen_edges
    assert state.runtime_edges == []  # the goto was declared in the source: no new structure


async def _await(handle):
    return await handle


def test_a_failing_step_fails_its_node_and_cancels_the_queue(flow):
    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start])
    async def slow(event, ctx):
        await asyncio.sleep(5)

    @flow.listen_group([start])
    async def bad(event, ctx):
        raise ValueError("no input file")

    handle = flow.run(start)
    state, history = watch(handle, flow)
    with pytest.raises(ValueError):
        asyncio.run(_await(handle))
    assert history[bad.id] == ["pending", "running", "failed"]
    assert history[slow.id] == ["pending", "running", "cancelled"]
    assert state.status == "failed" and state.failures == 1
    detail = state.detail_dict(bad.id)
    assert detail["state"] == "failed" and detail["runs"] == 1
    assert detail["error"] == "ValueError: no input file"
    tb = detail["traceback"]
    assert tb.splitlines()[-2:] == ['    raise ValueError("no input file")', "ValueError: no input file"]
    assert re.search(r"\d+ frames? of the framework not shown", tb)
    assert "notebook_flow/_core" not in tb
    assert "asyncio" not in tb  # the step's story ends where it failed, not where it was caught
    assert detail["input"] == "{'start': 1}" and detail["output"] is None
    errors = [line for line in state.all_log_lines() if line[2] == "error"]
    assert [line[1] for line in errors] == ["bad", ""]  # the step, then the run
    assert errors[0][3] == "ValueError: no input file" and errors[0][4] == tb
    assert errors[1][4] == ""  # the run's line does not repeat the step's traceback


def test_runtime_goto_that_the_source_hides_adds_an_edge(flow):
    @flow.make_event
    async def start(event, ctx):
        targets = [again] if not ctx else []  # not a literal list: invisible to the graph
        ctx.append(1)
        return goto_events(targets)

    @flow.make_event
    async def again(event, ctx):
        return "x"

    handle = flow.run(start, global_ctx=[])
    state, _ = watch(handle, flow)
    asyncio.run(_await(handle))
    assert state.runtime_edges == [(start.id, again.id, "goto")] and state.structure_changed
    assert state.detail_dict(again.id)["output"] == "'x'"


def test_log_is_bounded_and_counts_what_it_dropped(flow):
    @flow.make_event
    async def chatty(event, ctx):
        for i in range(120):
            progress("work", f"item {i}", (i + 1) / 120)
        return "done"

    handle = flow.run(chatty)
    state, _ = watch(handle, flow)
    seen_bars = []
    handle.subscribe(lambda r: seen_bars.append(len(state.bars)))
    asyncio.run(_await(handle))
    assert state.log_total == 123  # run started, 120 progress, step done, run finished
    lines = state.new_log_lines()
    assert len(lines) == 50 and lines[-1][3].startswith("finished after")
    assert lines[-3][:4] == [lines[-3][0], "chatty", "progress", "work: item 119 (100%)"]
    assert state.new_log_lines() == []
    assert max(seen_bars) == 1 and state.bars == {}  # one bar while it ran, gone at the end


def test_microflow_emits_are_confirmed_and_new_names_learnt():
    manager = WorkflowManager(name="wf")

    async def plan(event, ctx):
        yield WorkflowEvent.progress("plan", "thinking")
        yield WorkflowEvent("write")

    async def write(event, ctx):
        name = "published"  # a name the graph cannot read from the source
        yield WorkflowEvent(name)

    manager.register("plan", plan).register("write", write)
    state = RunState(FlowGraph.of(manager))
    history = []

    async def main():
        from notebook_flow import observe_runs

        stop = observe_runs(lambda feed: feed.subscribe(state) if feed.source is manager else None)
        try:
            async for _ in manager.process(WorkflowEvent("plan")):
                history.append(dict(state.node_state))
        finally:
            stop()

    asyncio.run(main())
    assert state.node_state == {"plan": "done", "write": "done"}
    assert ("plan", "write", "emit") in state.seen_edges
    assert state.runtime_edges == [("write", "published", "emit")]
    assert state.counts == {"plan": 1, "write": 1}
    assert [line[3] for line in state.all_log_lines() if line[2] == "progress"] == ["plan: thinking"]
