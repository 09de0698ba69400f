"""Issue 15 item 5: a "first" join, and progress() without the step's label."""

import asyncio

from reliability_checks import assert_trace_closed, kinds
from test_machines import Topology

from notebook_flow import Flow, WorkflowEvent, WorkflowManager, progress
from notebook_flow._core.machines import DriveMachine, Result


def test_a_first_join_fires_once_on_the_first_members_result_in_the_machine():
    m = DriveMachine(Topology([("x", "g", ["a", "b"], "first")]))
    m.start("a", None)
    m.start("b", None)
    a, b = m.begin(), m.begin()
    (fired,) = m.finish(b.step_id, Result("B"))  # b ended first
    assert fired.event_id == "x" and fired.input.results == {"b": "B"}
    assert m.finish(a.step_id, Result("A")) == []  # later results reach no one


def test_a_first_join_on_the_engine_cancels_nothing():
    flow = Flow("race")

    @flow.make_event
    async def start(event, ctx):
        return 0

    @flow.listen_group([start])
    async def fast(event, ctx):
        await asyncio.sleep(0.01)
        return "fast"

    @flow.listen_group([start])
    async def slow(event, ctx):
        await asyncio.sleep(0.05)
        return "slow"

    winners = []

    @flow.listen_group([fast, slow], group_name="race", retrigger_type="first")
    async def winner(event, ctx):
        winners.append(event.results)
        return next(iter(event.results.values()))

    async def main():
        handle = flow.run(start)
        return handle, await handle

    handle, results = asyncio.run(main())
    assert winners == [{fast.id: "fast"}]
    assert results[winner.id] == "fast" and results[slow.id] == "slow"  # slow was not cancelled
    assert_trace_closed(handle.trace, "finished")


def test_progress_may_leave_out_the_label_in_both_styles():
    flow = Flow("short")

    @flow.make_event
    async def fetch(event, ctx):
        progress("page 1 of 2")
        progress("page 2 of 2", 1.0)
        progress("download", "done")
        return 1

    async def main():
        handle = flow.run(fetch)
        await handle
        return handle

    records = kinds(asyncio.run(main()).trace, "step_progress")
    assert [(r.step, r.description, r.fraction) for r in records] == [
        ("fetch", "page 1 of 2", None), ("fetch", "page 2 of 2", 1.0), ("download", "done", None),
    ]

    wm = WorkflowManager()

    async def handler(event, ctx):
        progress("working", 0.5)
        yield WorkflowEvent("done")

    wm.register("go", handler)

    async def consume():
        return [e async for e in wm.process(WorkflowEvent("go"))]

    out = asyncio.run(consume())
    assert out[1].data == {"step": "go", "description": "working", "fraction": 0.5}
