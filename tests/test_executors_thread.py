"""Plain ``def`` steps and the thread executor: off the loop, and otherwise like any step.

Results, exceptions, progress, retries, time limits, goto/abort and cancellation behave as for
``async def`` steps; only the place differs. No sleeps decide anything: threads meet at barriers
and events, whose time limits only guard against a hang.
"""

import asyncio
import threading

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed, kinds, run_expecting

from notebook_flow import (
    Flow,
    Retry,
    StepFailures,
    StepTimeout,
    ThreadExecutor,
    abort_this,
    goto_events,
    progress,
)

HANG = 10  # seconds a thread may wait for its peers before the test counts it as a hang


def here():
    return threading.current_thread().name


def test_plain_def_steps_run_in_the_engines_threads_side_by_side():
    flow = Flow("fan")
    meet = threading.Barrier(3, timeout=HANG)  # passes only if all three run at once

    @flow.make_event
    async def start(event, ctx):
        return here()

    def part(event, ctx):
        meet.wait()
        return here()

    parts = [flow.listen_group([start])(_named(part, f"part{i}")) for i in range(3)]

    async def main():
        handle = flow.run(start)
        results = await handle
        assert_no_task_left()
        return handle, results

    handle, results = asyncio.run(main())
    assert results[start.id] == "MainThread"
    threads = {results[p.id] for p in parts}
    assert len(threads) == 3 and all(t.startswith("notebook_flow-step") for t in threads)
    assert_trace_closed(handle.trace, "finished")
    assert "step_placed" not in handle.trace.counts  # local threads are not a remote placement


def test_a_plain_def_result_exception_and_progress_are_those_of_an_async_step():
    flow = Flow("same")

    @flow.make_event
    def load(event, ctx):
        progress("load", "reading", 0.5)
        return {"rows": event * 2}

    @flow.listen_group([load])
    def check(event, ctx):
        rows = event.results[load.id]["rows"]
        raise ValueError(f"{rows} rows is too few")

    handle, error = run_expecting(ValueError, flow, load, 21)
    assert str(error) == "42 rows is too few"
    assert error.__traceback__ is not None
    trace = handle.trace
    (finished,) = kinds(trace, "step_finished")
    assert finished.result == {"rows": 42}
    order = [r.kind for r in trace.records if getattr(r, "event_id", "") == load.id]
    assert order == ["step_pending", "step_started", "step_progress", "step_finished"]
    (failed,) = kinds(trace, "step_failed")
    assert failed.error is error


def test_retries_and_time_limits_wrap_a_thread_step_like_a_local_one():
    flow = Flow("policy")
    calls = []
    release = threading.Event()

    @flow.make_event(retry=Retry(attempts=3, backoff=0, on=(ConnectionError,)))
    def flaky(event, ctx):
        calls.append(here())
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)}")
        return "third time"

    results = asyncio.run(flow.invoke_event(flaky))
    assert results[flaky.id] == "third time" and len(calls) == 3

    @flow.make_event(timeout=0.05)
    def stuck(event, ctx):
        release.wait(HANG)
        return "late"

    try:
        handle, error = run_expecting(StepTimeout, flow, stuck)
    finally:
        release.set()  # the thread cannot be stopped from outside: let it end
    assert error.event_id == stuck.id and error.attempt == 1
    assert handle.trace.timeouts == 1


def test_cancelling_a_run_ends_its_thread_steps_and_drops_queued_calls():
    one = ThreadExecutor(max_workers=1)
    flow = Flow("stop")
    started, release, ran = threading.Event(), threading.Event(), []

    @flow.make_event
    async def start(event, ctx):
        return 0

    @flow.listen_group([start], executor=one)
    def blocker(event, ctx):
        started.set()
        release.wait(HANG)
        ran.append("blocker")

    @flow.listen_group([start], executor=one)
    def queued(event, ctx):
        ran.append("queued")  # must never run: its call waits behind the blocker

    async def main():
        handle = flow.run(start).start()
        await asyncio.get_running_loop().run_in_executor(None, started.wait, HANG)
        handle.cancel("Stop button")
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        return handle

    try:
        handle = asyncio.run(main())
    finally:
        release.set()
    one.close()
    assert_trace_closed(handle.trace, "cancelled")
    assert handle.trace.counts["step_cancelled"] == 2
    assert "queued" not in ran


def test_executor_thread_moves_an_async_step_off_the_loop_and_local_keeps_it_there():
    flow = Flow("places")

    @flow.make_event(executor="thread")
    async def worker(event, ctx):
        await asyncio.sleep(0)
        progress("worker", "in its own loop")
        return here()

    @flow.listen_group([worker], executor="local")
    async def stays(event, ctx):
        return here()

    @flow.listen_group([worker])
    async def follows_the_run(event, ctx):
        return here()

    results = asyncio.run(flow.invoke_event(worker))
    assert results[worker.id].startswith("notebook_flow-step")
    assert results[stays.id] == results[follows_the_run.id] == "MainThread"

    pool = ThreadExecutor(max_workers=2)
    results = asyncio.run(flow.invoke_event(worker, executor=pool))  # a whole run in threads
    pool.close()
    assert results[stays.id] == "MainThread"
    assert results[follows_the_run.id].startswith("notebook_flow-step")


def test_goto_abort_and_on_error_continue_from_plain_def_steps():
    flow = Flow("routes")

    @flow.make_event
    def router(event, ctx):
        return goto_events([target], "payload") if event == "go" else abort_this()

    @flow.make_event
    def target(event, ctx):
        return event.results

    @flow.listen_group([router])
    def never(event, ctx):
        return "never"

    results = asyncio.run(flow.invoke_event(router, "go"))
    assert results == {target.id: {router.id: "payload"}}
    results = asyncio.run(flow.invoke_event(router, "stop"))
    assert results == {}

    @flow.make_event
    def broken(event, ctx):
        raise KeyError("missing")

    with pytest.raises(StepFailures) as info:
        asyncio.run(flow.invoke_event(broken, on_error="continue"))
    assert isinstance(info.value.failures[0].error, KeyError)


def test_solo_run_and_a_rerun_cell_keep_a_plain_def_in_its_thread():
    flow = Flow("cells")

    async def step(event, ctx):
        return here()

    first = flow.make_event(step)
    assert asyncio.run(first.solo_run(None)) == "MainThread"

    def step(event, ctx):  # the cell re-run with a plain def of the same name
        return here()

    again = flow.make_event(step)
    assert again is first
    assert asyncio.run(again.solo_run(None)).startswith("notebook_flow-step")
    assert asyncio.run(flow.invoke_event(again))[again.id].startswith("notebook_flow-step")


def _named(func, name):
    """A copy of ``func`` with its own name, so each becomes its own event."""
    import types

    copy = types.FunctionType(func.__code__, func.__globals__, name, func.__defaults__, func.__closure__)
    copy.__qualname__ = name
    return copy


def test_the_graph_reads_gotos_through_a_plain_def_steps_placement():
    from notebook_flow._core.graph import FlowGraph

    flow = Flow("graph")

    @flow.make_event
    def router(event, ctx):
        return goto_events([target])

    @flow.make_event
    def target(event, ctx):
        return 1

    edges = [(e.source, e.target, e.kind) for e in FlowGraph.of(flow).edges]
    assert edges == [(router.id, target.id, "goto")]
