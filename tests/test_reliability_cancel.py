"""Cancellation from every side: the handle, a Stop button, the awaiting task, a KeyboardInterrupt.

Each way stops every task of the run, closes every started step in the trace as cancelled and
ends the run with one ``RunCancelled`` record whose ``reason`` the view and the log show.
"""

import asyncio

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed, kinds

from notebook_flow import Flow, WorkflowEvent, WorkflowManager, goto_events


def sleepy_flow(started):
    """start -> three steps that sleep for a long time (and note that they started)."""
    flow = Flow("sleepy")

    @flow.make_event
    async def start(event, ctx):
        return 0

    for i in range(3):
        async def nap(event, ctx, i=i):
            started.append(i)
            await asyncio.sleep(30)

        nap.__qualname__ = f"nap{i}"
        flow.listen_group([start])(nap)
    return flow, start


async def until(condition):
    while not condition():
        await asyncio.sleep(0)


def assert_cancelled(handle, reason):
    trace = handle.trace
    assert handle.status == "cancelled"
    assert_trace_closed(trace, "cancelled")
    assert trace.counts["step_cancelled"] == 3
    (end,) = kinds(trace, "run_cancelled")
    assert end.reason == reason
    assert any(e.kind == "run_cancelled" and reason in e.message for e in handle.feed.log)


def test_handle_cancel_stops_every_step():
    started = []
    flow, start = sleepy_flow(started)

    async def main():
        handle = flow.run(start).start()
        await until(lambda: len(started) == 3)
        assert handle.cancel() is True
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        assert handle.cancel() is False  # already over
        return handle

    assert_cancelled(asyncio.run(main()), "RunHandle.cancel()")


def test_a_stop_button_callback_cancels_with_its_reason():
    started = []
    flow, start = sleepy_flow(started)

    async def main():
        handle = flow.run(start)
        task = asyncio.ensure_future(handle)
        await until(lambda: len(started) == 3)
        # A widget's on_click runs as a plain callback on the loop, outside any task.
        asyncio.get_running_loop().call_soon(handle.cancel, "Stop button")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_no_task_left()
        return handle

    assert_cancelled(asyncio.run(main()), "Stop button")


def test_cancelling_the_awaiting_task_cancels_the_run():
    # This is what a kernel interrupt does to a cell that awaits a run.
    started = []
    flow, start = sleepy_flow(started)
    handles = []

    async def cell():
        handle = flow.run(start)
        handles.append(handle)
        return await handle

    async def main():
        task = asyncio.ensure_future(cell())
        await until(lambda: len(started) == 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_no_task_left()

    asyncio.run(main())
    assert_cancelled(handles[0], "cancelled")


def test_a_run_cancelled_before_it_starts_never_runs():
    started = []
    flow, start = sleepy_flow(started)

    async def main():
        handle = flow.run(start)
        assert handle.cancel("changed my mind") is True
        with pytest.raises(asyncio.CancelledError):
            await handle
        records = [r.kind async for r in handle]
        assert_no_task_left()
        return handle, records

    handle, records = asyncio.run(main())
    assert started == [] and handle.status == "cancelled" and records == ["run_cancelled"]
    assert kinds(handle.trace, "run_cancelled")[0].reason == "changed my mind"


@pytest.mark.parametrize("where", ["parallel step", "inline step"])
def test_a_keyboard_interrupt_in_a_step_cancels_the_whole_run_then_propagates(where):
    started = []
    flow, start = sleepy_flow(started)
    at_end = []

    if where == "parallel step":
        @flow.listen_group([start])
        async def interrupted(event, ctx):
            await until(lambda: len(started) == 3)
            raise KeyboardInterrupt  # what Ctrl-C raises in code running at that moment
    else:
        @flow.make_event
        async def interrupted(event, ctx):
            raise KeyboardInterrupt

        start = interrupted

    async def main():
        handle = flow.run(start)

        def note_end(record):  # when the run's end is published, which tasks are alive?
            if record.kind == "run_cancelled":
                at_end.append(asyncio.all_tasks())

        handle.subscribe(note_end)
        at_end.append(handle)
        await handle

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    handle, alive = at_end
    # Only the run's own task and its caller were alive: every step task had ended.
    assert {t.get_coro().__name__ for t in alive} <= {"main", "_main"}
    trace = handle.trace
    assert handle.status == "cancelled" and isinstance(handle.error, KeyboardInterrupt)
    assert_trace_closed(trace, "cancelled")
    assert trace.events[interrupted.id].ended == {"step_cancelled": 1}
    assert kinds(trace, "run_cancelled")[0].reason == "KeyboardInterrupt"
    assert "step_failed" not in trace.counts


def test_a_chain_of_steps_that_never_wait_still_lets_a_cancel_in():
    flow = Flow("busy", max_steps=None)
    count = [0]

    @flow.make_event
    async def spin(event, ctx):
        count[0] += 1  # never awaits anything: the chain would hold the loop without yields
        return goto_events([spin]) if count[0] < 1_000_000 else None

    async def main():
        handle = flow.run(spin, trace=50).start()
        await until(lambda: count[0] >= 1000)  # this task gets to run between steps
        handle.cancel("enough")
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    assert count[0] < 1_000_000
    assert_trace_closed(handle.trace, "cancelled")


def test_cancelling_a_workflow_manager_run_closes_its_handler_step():
    wm = WorkflowManager()
    entered = []

    async def slow(event, ctx):
        entered.append(1)
        await asyncio.sleep(30)
        yield WorkflowEvent("never")

    wm.register("go", slow)

    async def consume():
        return [e async for e in wm.process(WorkflowEvent("go"))]

    async def main():
        task = asyncio.ensure_future(consume())
        await until(lambda: entered)
        task.cancel("Stop button")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_no_task_left()

    asyncio.run(main())
    trace = wm.last_run.trace
    assert_trace_closed(trace, "cancelled")
    assert kinds(trace, "run_cancelled")[0].reason == "Stop button"


def test_a_keyboard_interrupt_in_a_handler_ends_its_run_as_cancelled():
    wm = WorkflowManager()

    async def interrupted(event, ctx):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    wm.register("go", interrupted)

    async def consume():
        return [e async for e in wm.process(WorkflowEvent("go"))]

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(consume())
    trace = wm.last_run.trace
    assert_trace_closed(trace, "cancelled")
    assert kinds(trace, "run_cancelled")[0].reason == "KeyboardInterrupt"
