"""Several runs at once in one event loop stay apart: results, ctx, trace, log, view feed.

Also: the trace and the log of a long run keep a bounded window with exact counters.
"""

import asyncio

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed

from notebook_flow import (
    Flow,
    RunLog,
    Trace,
    WorkflowEvent,
    WorkflowManager,
    goto_events,
    observe_runs,
    progress,
)


def counting_flow(name):
    """root -> (left, right) -> join, where each step records (run tag, step) in ctx."""
    flow = Flow(name)

    @flow.make_event
    async def root(event, ctx):
        ctx["seen"].append("root")
        return ctx["tag"]

    @flow.listen_group([root])
    async def left(event, ctx):
        for _ in range(ctx["pause"]):
            await asyncio.sleep(0)
        progress("left", f"working for {ctx['tag']}")
        ctx["seen"].append("left")
        return f"{event.results[root.id]}-L"

    @flow.listen_group([root])
    async def right(event, ctx):
        await asyncio.sleep(0)
        ctx["seen"].append("right")
        if ctx.get("fail"):
            raise ValueError(f"{ctx['tag']} broke")
        return f"{event.results[root.id]}-R"

    @flow.listen_group([left, right])
    async def join(event, ctx):
        ctx["seen"].append("join")
        return "+".join(event.results.values())

    return flow, root, join


def test_concurrent_runs_of_one_flow_keep_their_own_results_ctx_and_trace():
    flow, root, join = counting_flow("shared")
    ctxs = [{"tag": f"run{i}", "pause": 5 - i, "seen": []} for i in range(5)]

    async def main():
        handles = [flow.run(root, None, ctx) for ctx in ctxs]
        results = await asyncio.gather(*handles)
        assert_no_task_left()
        return handles, results

    handles, results = asyncio.run(main())
    for i, (handle, result, ctx) in enumerate(zip(handles, results, ctxs, strict=False)):
        assert result[join.id] == f"run{i}-L+run{i}-R"
        assert sorted(ctx["seen"]) == ["join", "left", "right", "root"]
        trace = handle.trace
        assert {r.run_id for r in trace.records} == {handle.run_id}
        assert trace.counts["step_started"] == 4
        (prog,) = [r for r in trace.records if r.kind == "step_progress"]
        assert prog.description == f"working for run{i}"  # progress() found its own run
        assert_trace_closed(trace, "finished")
    assert len({h.run_id for h in handles}) == 5


def test_a_failing_or_cancelled_run_does_not_touch_the_others():
    flow_a, root_a, join_a = counting_flow("a")
    flow_b, root_b, join_b = counting_flow("b")
    ok = {"tag": "ok", "pause": 20, "seen": []}
    broken = {"tag": "broken", "pause": 1, "seen": [], "fail": True}
    stopped = {"tag": "stopped", "pause": 50, "seen": []}

    async def main():
        good = flow_a.run(root_a, None, ok).start()
        bad = flow_a.run(root_a, None, broken).start()
        other = flow_b.run(root_b, None, stopped).start()
        other_flow_ok = flow_b.run(root_b, None, {"tag": "b-ok", "pause": 3, "seen": []}).start()
        while not stopped["seen"]:
            await asyncio.sleep(0)
        other.cancel()
        outcomes = await asyncio.gather(good, bad, other, other_flow_ok, return_exceptions=True)
        assert_no_task_left()
        return (good, bad, other, other_flow_ok), outcomes

    handles, outcomes = asyncio.run(main())
    assert outcomes[0][join_a.id] == "ok-L+ok-R"
    assert isinstance(outcomes[1], ValueError) and "broken" in str(outcomes[1])
    assert isinstance(outcomes[2], asyncio.CancelledError)
    assert outcomes[3][join_b.id] == "b-ok-L+b-ok-R"
    assert [h.status for h in handles] == ["finished", "failed", "cancelled", "finished"]
    for handle in handles:
        assert {r.run_id for r in handle.trace.records} == {handle.run_id}
        assert_trace_closed(handle.trace)


def test_each_run_gets_its_own_feed_for_a_view():
    flow, root, _ = counting_flow("viewed")
    feeds = []
    stop = observe_runs(feeds.append)
    per_view = {}

    async def main():
        handles = [flow.run(root, None, {"tag": t, "pause": 2, "seen": []}) for t in "xy"]
        for feed in feeds:
            per_view[feed.run_id] = []
            feed.subscribe(per_view[feed.run_id].append)
        await asyncio.gather(*handles)
        return handles

    try:
        handles = asyncio.run(main())
    finally:
        stop()
    assert [f.run_id for f in feeds] == [h.run_id for h in handles]
    for run_id, records in per_view.items():
        assert records and {r.run_id for r in records} == {run_id}
        assert records[-1].kind == "run_finished"


def test_concurrent_workflow_manager_runs_are_separate():
    wm = WorkflowManager()

    async def step(event, ctx):
        for _ in range(event.data["pause"]):
            await asyncio.sleep(0)
        progress("step", event.data["tag"])
        yield WorkflowEvent("done", data=event.data)

    wm.register("go", step)
    feeds = []
    stop = observe_runs(feeds.append)

    async def consume(tag, pause):
        return [e async for e in wm.process(WorkflowEvent("go", data={"tag": tag, "pause": pause}))]

    async def main():
        out = await asyncio.gather(consume("p", 5), consume("q", 1))
        assert_no_task_left()
        return out

    try:
        out_p, out_q = asyncio.run(main())
    finally:
        stop()
    assert out_p[-1].data["tag"] == "p" and out_q[-1].data["tag"] == "q"
    for feed, tag in zip(feeds, "pq", strict=False):
        (prog,) = [r for r in feed.trace.records if r.kind == "step_progress"]
        assert prog.description == tag
        assert_trace_closed(feed.trace, "finished")


# -- bounded memory --------------------------------------------------------------------------


def test_a_long_run_keeps_bounded_windows_and_exact_counters():
    flow = Flow("long", max_steps=None)
    steps = 20_000

    @flow.make_event
    async def tick(event, ctx):
        ctx["n"] += 1
        if ctx["n"] % 10 == 0:
            progress("tick", f"{ctx['n']} done", ctx["n"] / steps)
        return goto_events([tick]) if ctx["n"] < steps else "done"

    async def main():
        handle = flow.run(tick, None, {"n": 0}, trace=500)
        await handle
        return handle

    handle = asyncio.run(main())
    trace, log = handle.trace, handle.feed.log
    assert len(trace) == 500 and trace.dropped == trace.total - 500
    assert trace.counts["step_started"] == steps and trace.events[tick.id].started == steps
    assert trace.counts["step_goto"] == steps - 1 and trace.counts["step_finished"] == 1
    assert trace.counts["step_progress"] == steps // 10
    assert_trace_closed(trace, "finished")
    assert len(log) == RunLog.DEFAULT_MAXLEN and log.dropped == log.total - len(log)
    assert log.total == steps // 10 + 2  # progress lines, plus the run's start and end
    assert log.counts == {"info": log.total}
    assert log.entries[-1].kind == "run_finished"


def test_windows_refuse_a_size_below_one():
    from notebook_flow import FlowDefinitionError

    for make in (Trace, RunLog):
        with pytest.raises(FlowDefinitionError, match="at least one"):
            make(0)
