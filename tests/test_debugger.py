"""The debugger's gate and DebugSession, driven by their plain methods (no UI)."""

import asyncio

import pytest
from conftest import only_current_task

from notebook_flow import Flow, FlowDefinitionError, WorkflowEvent, WorkflowManager
from notebook_flow._core.debug import DebugSession


def fan_out_flow(log):
    flow = Flow("dbg")

    @flow.make_event
    async def start(event, ctx):
        log.append("start")
        return 1

    @flow.listen_group([start])
    async def left(event, ctx):
        log.append(("left", event.results))
        return "L"

    @flow.listen_group([start])
    async def right(event, ctx):
        log.append("right")
        return "R"

    @flow.listen_group([left, right])
    async def join(event, ctx):
        log.append("join")
        return sorted(event.results.values())

    return flow, start, left, right, join


def test_step_releases_one_event_at_a_time_in_queue_order():
    log = []
    flow, start, left, right, join = fan_out_flow(log)

    async def main():
        dbg = DebugSession.for_flow(flow, start)
        await dbg.wait_paused()
        assert [p.event_id for p in dbg.pending] == [start.id] and log == []
        ran = []
        for _ in range(4):
            record = await dbg.step()
            ran.append((record.kind, record.event_id))
            if not dbg.done:
                await dbg.wait_paused()
        results = await dbg.result()
        assert only_current_task()
        return ran, results, dbg

    ran, results, dbg = asyncio.run(main())
    assert [e for _, e in ran] == [start.id, left.id, right.id, join.id]
    assert all(kind == "step_finished" for kind, _ in ran)
    assert results[join.id] == ["L", "R"]
    assert dbg.status == "finished"


def test_pending_shows_fan_out_inputs_and_an_edit_reaches_the_step():
    log = []
    flow, start, left, right, join = fan_out_flow(log)

    async def main():
        dbg = DebugSession.for_flow(flow, start, global_ctx={"shared": True})
        await dbg.wait_paused()
        await dbg.step()  # start runs; left and right become pending
        await dbg.wait_paused()
        pending = dbg.pending
        assert [p.event_id for p in pending] == [left.id, right.id]
        assert pending[0].input.results == {start.id: 1}
        assert dbg.ctx == {"shared": True}
        edited = type(pending[0].input)("0", {start.id: 99})
        dbg.edit_input(left, edited)
        assert dbg.pending[0].input is edited
        await dbg.resume()
        return await dbg.result()

    asyncio.run(main())
    assert ("left", {start.id: 99}) in log


def test_breakpoint_stops_a_resumed_run_before_the_event():
    log = []
    flow, start, left, right, join = fan_out_flow(log)

    async def main():
        dbg = DebugSession.for_flow(flow, start, breakpoints=["join"])
        await dbg.wait_paused()
        status = await dbg.resume()
        assert status.startswith(f"paused before {join.id}")
        assert "join" not in log and "right" in log
        await dbg.resume()
        return await dbg.result()

    asyncio.run(main())
    assert log[-1] == "join"


def test_stop_cancels_and_leaves_no_task():
    flow = Flow("stop")
    state = {}

    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def slow(event, ctx):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    @flow.listen_group([start])
    async def other(event, ctx):
        pass

    async def main():
        dbg = DebugSession.for_flow(flow, start, paused=False, breakpoints=[other])
        await dbg.wait_paused()  # slow is running, other is held
        await dbg.stop()
        assert only_current_task()
        return dbg

    dbg = asyncio.run(main())
    assert state == {"cancelled": True}
    assert dbg.status == "stopped"
    trace = dbg.feed.trace
    assert trace.status == "cancelled" and trace.open_steps == {}


def test_pause_holds_the_next_step():
    flow = Flow("pause")

    @flow.make_event
    async def a(event, ctx):
        await asyncio.sleep(0.01)

    @flow.listen_group([a])
    async def b(event, ctx):
        pass

    async def main():
        dbg = DebugSession.for_flow(flow, a, paused=False)
        dbg.pause()
        status = await dbg.wait_paused()
        assert status.startswith(f"paused before {a.id}")
        await dbg.resume()
        return await dbg.result()

    assert set(asyncio.run(main())) == {a.id, b.id}


def test_unknown_breakpoint_is_a_clear_error():
    log = []
    flow, start, *_ = fan_out_flow(log)

    async def main():
        with pytest.raises(FlowDefinitionError, match="known events: join, left, right, start"):
            DebugSession.for_flow(flow, start, breakpoints=["nope"])

    asyncio.run(main())


def test_microflow_workflow_under_the_debugger():
    wm = WorkflowManager(name="mf")
    seen = []

    async def first(event, ctx):
        seen.append(event.data)
        yield WorkflowEvent("second", data={"n": event.data["n"] + 1})

    async def second(event, ctx):
        seen.append(event.data)
        yield WorkflowEvent("done")

    wm.register("first", first).register("second", second)

    async def main():
        dbg = DebugSession.for_manager(wm, WorkflowEvent("first", data={"n": 1}))
        await dbg.wait_paused()
        assert dbg.waiting.event_id == "first"
        dbg.edit_input("first", WorkflowEvent("first", data={"n": 10}))
        record = await dbg.step()
        assert record.kind == "step_finished"
        await dbg.wait_paused()
        assert dbg.waiting.event_id == "second"
        await dbg.resume()
        return await dbg.result()

    events = asyncio.run(main())
    assert [e.name for e in events] == ["first", "second", "done"]
    assert seen == [{"n": 10}, {"n": 11}]
