import asyncio
import json

from notebook_flow import Flow, Trace, abort_this, goto_events


def test_trace_window_is_bounded_and_counters_exact():
    flow = Flow("t")

    @flow.make_event
    async def tick(event, ctx):
        ctx["n"] += 1
        return abort_this() if ctx["n"] >= 500 else goto_events([tick])

    async def main():
        handle = flow.run(tick, None, {"n": 0}, trace=100)
        await handle
        return handle.trace

    trace = asyncio.run(main())
    assert len(trace) == 100
    assert trace.counts["step_started"] == 500
    assert trace.counts["step_goto"] == 499 and trace.counts["step_aborted"] == 1
    assert trace.total == 2 + 500 * 3  # run start/end, pending + started + end per step
    assert trace.dropped == trace.total - 100
    assert trace.events[tick.id].started == 500
    assert trace.status == "finished" and trace.open_steps == {}


def test_trace_json_export():
    flow = Flow("j")

    @flow.make_event
    async def a(event, ctx):
        return {"big": list(range(1000))}

    @flow.listen_group([a])
    async def b(event, ctx):
        raise ValueError("nope")

    async def main():
        handle = flow.run(a)
        try:
            await handle
        except ValueError:
            pass
        return handle.trace

    data = json.loads(asyncio.run(main()).to_json())
    assert data["status"] == "failed"
    kinds = [r["kind"] for r in data["records"]]
    assert kinds[0] == "run_started" and kinds[-1] == "run_failed"
    failed = next(r for r in data["records"] if r["kind"] == "step_failed")
    assert failed["error"] == {"type": "ValueError", "message": "nope"}
    finished = next(r for r in data["records"] if r["kind"] == "step_finished")
    assert len(finished["result"]) < 200  # long values are shortened
    assert data["events"][b.id]["ended"] == {"step_failed": 1}


def test_run_without_trace():
    flow = Flow("n")

    @flow.make_event
    async def a(event, ctx):
        return 1

    async def main():
        handle = flow.run(a, trace=False)
        return await handle, handle.trace

    assert asyncio.run(main()) == ({a.id: 1}, None)


def test_trace_rejects_empty_window():
    import pytest

    with pytest.raises(ValueError):
        Trace(0)
