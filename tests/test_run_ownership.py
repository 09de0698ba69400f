"""No task outlives its run, whatever the user does, for both styles.

After each of these the loop holds no task of the run and the trace is closed: cancel, break
out of ``async for record in handle``, a dropped handle (collected mid-run), a step that
swallows its cancellation, and one that refuses to stop (abandoned after the grace period).
"""

import asyncio
import gc

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed, kinds

from notebook_flow import Flow, WorkflowEvent, WorkflowManager
from notebook_flow._core.gate import Gate


def slow_flow(step_body):
    flow = Flow("own")

    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start])
    async def a(event, ctx):
        await step_body()

    @flow.listen_group([start])
    async def b(event, ctx):
        await step_body()

    return flow, start


def slow_manager(step_body):
    wm = WorkflowManager(name="own")

    async def handler(event, ctx):
        await step_body()
        yield WorkflowEvent("never")

    wm.register("go", handler)
    return wm


def make_run(style, step_body, **options):
    if style == "flow":
        flow, start = slow_flow(step_body)
        return flow.run(start, **options)
    return slow_manager(step_body).run(WorkflowEvent("go"), **options)


async def sleep_long():
    await asyncio.sleep(30)


async def until(predicate):
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never came true")


STYLES = ["flow", "manager"]


@pytest.mark.parametrize("style", STYLES)
def test_cancel_ends_every_step(style):
    async def main():
        handle = make_run(style, sleep_long).start()
        await until(lambda: handle.trace.counts.get("step_started", 0) >= 1)
        assert handle.cancel("enough")
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    assert_trace_closed(handle.trace, "cancelled")
    assert kinds(handle.trace, "run_cancelled")[0].reason == "enough"


@pytest.mark.parametrize("style", STYLES)
def test_breaking_out_of_async_for_cancels_the_run(style):
    async def main():
        handle = make_run(style, sleep_long)
        async for record in handle:
            if record.kind == "step_started":
                break
        await until(handle.done)  # the iterator's finaliser cancels the run
        me = asyncio.current_task()
        await until(lambda: not asyncio.all_tasks() - {me})  # ... and its own task ends too
        assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    assert_trace_closed(handle.trace, "cancelled")
    assert "consumer stopped iterating" in kinds(handle.trace, "run_cancelled")[0].reason


def test_leaving_async_for_raises_the_runs_own_error_there():
    flow = Flow("own")

    @flow.make_event
    async def start(event, ctx):
        raise ValueError("the run's own error")

    async def main():
        handle = flow.run(start)
        records = handle.__aiter__()
        await records.__anext__()  # run_started
        await asyncio.sleep(0.01)  # the run fails meanwhile
        with pytest.raises(ValueError, match="the run's own error"):
            async for _ in records:
                pass
        assert_no_task_left()

    asyncio.run(main())


@pytest.mark.parametrize("style", STYLES)
def test_a_dropped_handle_is_not_collected_mid_run(style):
    finished = []

    async def short():
        await asyncio.sleep(0.05)
        finished.append(1)

    async def main():
        handle = make_run(style, short).start()
        trace = handle.trace
        del handle
        gc.collect()
        await until(lambda: trace.status != "running" and trace.status != "created")
        assert_no_task_left()
        return trace

    trace = asyncio.run(main())
    assert finished and trace.status == "finished"
    assert_trace_closed(trace)


async def swallow_once():
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        pass  # swallowed: the step returns normally


@pytest.mark.parametrize("style", STYLES)
def test_a_step_swallowing_its_cancellation_still_ends_the_run_cancelled(style):
    async def main():
        handle = make_run(style, swallow_once).start()
        await until(lambda: handle.trace.counts.get("step_started", 0) >= 1)
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    trace = handle.trace
    assert_trace_closed(trace, "cancelled")
    assert not kinds(trace, "step_finished")[1:]  # only the root (flow) finished, nothing after
    assert trace.counts.get("step_cancelled", 0) >= 1


stubborn = [True]


async def refuse_to_stop():
    while True:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            if not stubborn[0]:
                raise
            # refuses: goes on after every cancel


@pytest.mark.parametrize("style", STYLES)
def test_a_step_refusing_to_stop_is_abandoned_after_the_grace_period(style):
    async def main():
        stubborn[0] = True
        handle = make_run(style, refuse_to_stop, grace=0.1).start()
        await until(lambda: handle.trace.counts.get("step_started", 0) >= 1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        handle.cancel("stop now")
        with pytest.raises(asyncio.CancelledError):
            await handle
        waited = loop.time() - began
        assert handle.done() and handle.status == "cancelled"
        # Only the refusing code is left (abandoned); let it go so the loop can close.
        stubborn[0] = False
        left = asyncio.all_tasks() - {asyncio.current_task()}
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        return handle, waited

    handle, waited = asyncio.run(main())
    assert waited < 2.0  # bounded: grace 0.1 s (+ the handle's margin), not 30 s
    trace = handle.trace
    assert_trace_closed(trace, "cancelled")
    abandoned = kinds(trace, "step_abandoned")
    assert abandoned and abandoned[0].grace == 0.1
    assert kinds(trace, "run_cancelled")[0].reason == "stop now"


def test_the_gate_holding_a_step_is_on_the_record():
    flow = Flow("gated")

    @flow.make_event
    async def start(event, ctx):
        return 1

    async def main():
        gate = Gate(paused=True)
        handle = flow.run(start, gate=gate).start()
        await until(lambda: gate.waiting is not None)
        gate.edit_input(gate.waiting.step_id, "edited")
        gate.resume()
        assert await handle == {start.id: 1}
        return handle

    handle = asyncio.run(main())
    (held,) = kinds(handle.trace, "step_held")
    (released,) = kinds(handle.trace, "step_released")
    assert held.event_id == start.id and held.reason == "start"
    assert released.input == "edited" and released.time >= held.time
    (started,) = kinds(handle.trace, "step_started")
    assert started.input == "edited"
