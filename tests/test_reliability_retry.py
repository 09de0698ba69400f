"""Per-step retry policies and time limits, in drive-flow and microflow style runs."""

import asyncio
import logging

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed, kinds, run_expecting

from notebook_flow import (
    Event,
    Flow,
    FlowDefinitionError,
    FlowError,
    Retry,
    StepTimeout,
    WorkflowEvent,
    WorkflowManager,
    progress,
)

FAST = dict(backoff=0)  # no waiting between attempts in unit tests


def flaky(failures, error=ConnectionError, value="ok"):
    """An event function that raises ``failures`` times, then returns ``value``."""
    calls = []

    async def fetch(event, ctx):
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            raise error(f"attempt {len(calls)} broke")
        return value

    return fetch, calls


async def run_and_keep(flow, root, *args, **kwargs):
    handle = flow.run(root, *args, **kwargs)
    try:
        return await handle, handle
    finally:
        assert_no_task_left()


def test_a_flaky_step_is_retried_and_listeners_get_the_final_result():
    flow = Flow("retry")
    func, calls = flaky(2)
    fetch = flow.make_event(retry=Retry(attempts=3, **FAST))(func)

    @flow.listen_group([fetch])
    async def use(event, ctx):
        return event.results[fetch.id] + "!"

    results, handle = asyncio.run(run_and_keep(flow, fetch))
    assert calls == [1, 2, 3]
    assert results == {fetch.id: "ok", use.id: "ok!"}
    trace = handle.trace
    assert_trace_closed(trace, "finished")
    assert trace.events[fetch.id].started == 1  # a retry is not a new step
    assert trace.events[fetch.id].ended == {"step_finished": 1}
    assert trace.events[fetch.id].retried == 2 and trace.retried == 2
    retried = kinds(trace, "step_retried")
    assert [(r.attempt, r.delay, type(r.error)) for r in retried] == [
        (1, 0, ConnectionError), (2, 0, ConnectionError)
    ]
    warnings = [e.message for e in handle.feed.log if e.kind == "step_retried"]
    assert len(warnings) == 2 and "attempt 1 failed (ConnectionError: attempt 1 broke)" in warnings[0]


def test_retry_gives_up_after_its_attempts_with_the_last_error():
    flow = Flow("give-up")
    func, calls = flaky(10)
    fetch = flow.make_event(retry=Retry(attempts=3, **FAST))(func)

    async def main():
        handle = flow.run(fetch)
        with pytest.raises(ConnectionError, match="attempt 3 broke") as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, error = asyncio.run(main())
    assert calls == [1, 2, 3]
    assert any("attempt 3 of 3" in note for note in error.__notes__)
    assert_trace_closed(handle.trace, "failed")
    assert handle.trace.counts["step_retried"] == 2
    assert handle.trace.events[fetch.id].ended == {"step_failed": 1}


def test_only_the_listed_exceptions_are_retried():
    flow = Flow("only")
    func, calls = flaky(1, error=ValueError)
    fetch = flow.make_event(retry=Retry(attempts=5, on=(ConnectionError,), **FAST))(func)
    handle, _ = run_expecting(ValueError, flow, fetch)
    assert calls == [1] and "step_retried" not in handle.trace.counts


def test_backoff_grows_by_the_multiplier_and_is_capped():
    retry = Retry(attempts=5, backoff=0.01, multiplier=3, max_backoff=0.05)
    assert [retry.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.01, 0.03, 0.05, 0.05])
    spread = Retry(backoff=1.0, jitter=0.1)
    assert all(0.9 <= spread.delay(1) <= 1.1 for _ in range(200))
    assert Retry(on=ConnectionError).retries(ConnectionError(), 1)
    assert not Retry(attempts=2).retries(ValueError(), 2)

    flow = Flow("backoff")
    func, _ = flaky(3)
    fetch = flow.make_event(retry=Retry(attempts=4, backoff=0.001, multiplier=2))(func)
    _, handle = asyncio.run(run_and_keep(flow, fetch))
    assert [r.delay for r in kinds(handle.trace, "step_retried")] == pytest.approx(
        [0.001, 0.002, 0.004]
    )


def test_a_step_over_its_time_limit_fails_with_step_timeout():
    flow = Flow("slow")

    @flow.make_event(timeout=0.05)
    async def hang(event, ctx):
        await asyncio.sleep(30)

    async def main():
        handle = flow.run(hang)
        with pytest.raises(StepTimeout) as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, error = asyncio.run(main())
    assert isinstance(error, TimeoutError) and isinstance(error, FlowError)
    assert (error.event_id, error.timeout, error.attempt) == (hang.id, 0.05, 1)
    assert "timed out after 0.05 s" in str(error) and "larger timeout" in str(error)
    trace = handle.trace
    assert_trace_closed(trace, "failed")
    (failed,) = kinds(trace, "step_failed")
    assert isinstance(failed.error, StepTimeout)
    assert trace.timeouts == 1 and trace.events[hang.id].timeouts == 1
    assert any("timed out" in e.message for e in handle.feed.log if e.level == "error")


def test_timed_out_attempts_are_retried_when_the_policy_names_timeout_error():
    flow = Flow("retry-timeouts")
    attempts = []

    @flow.make_event(retry=Retry(attempts=3, on=(TimeoutError,), **FAST), timeout=0.05)
    async def call_api(event, ctx):
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(30)  # the first request hangs
        return "answer"

    results, handle = asyncio.run(run_and_keep(flow, call_api))
    assert results == {call_api.id: "answer"} and len(attempts) == 2
    (retried,) = kinds(handle.trace, "step_retried")
    assert isinstance(retried.error, StepTimeout) and retried.error.attempt == 1
    assert handle.trace.timeouts == 1
    assert_trace_closed(handle.trace, "finished")


def test_a_steps_own_timeout_error_is_not_relabelled():
    flow = Flow("own")

    @flow.make_event(timeout=5)
    async def step(event, ctx):
        raise TimeoutError("the API said 504")

    handle, error = run_expecting(TimeoutError, flow, step)
    assert str(error) == "the API said 504" and not isinstance(error, StepTimeout)
    assert handle.trace.timeouts == 0


def test_retries_work_in_parallel_branches_and_in_streaming_events():
    flow = Flow("branches")
    seen = []

    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start], retry=Retry(attempts=2, **FAST))
    async def streamed(event, ctx):
        seen.append("streamed")
        yield WorkflowEvent.progress("s", "working")
        if len(seen) == 1:
            raise ConnectionError("drop")
        yield "streamed-result"

    @flow.listen_group([start])
    async def steady(event, ctx):
        await asyncio.sleep(0)
        return "steady"

    @flow.listen_group([streamed, steady])
    async def join(event, ctx):
        return sorted(event.results.values())

    results, handle = asyncio.run(run_and_keep(flow, start))
    assert results[join.id] == ["steady", "streamed-result"]
    assert handle.trace.counts["step_progress"] == 2  # one per attempt
    assert handle.trace.events[streamed.id].retried == 1
    assert_trace_closed(handle.trace, "finished")


def test_cancelling_a_run_while_a_step_waits_to_retry_closes_it():
    flow = Flow("cancel-backoff")
    func, calls = flaky(5)
    fetch = flow.make_event(retry=Retry(attempts=5, backoff=30))(func)

    async def main():
        handle = flow.run(fetch).start()
        while not calls:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    assert calls == [1]
    assert_trace_closed(handle.trace, "cancelled")
    assert handle.trace.events[fetch.id].ended == {"step_cancelled": 1}


def test_keyword_options_on_make_event_and_listen_group():
    flow = Flow("options")

    @flow.make_event
    async def bare(event, ctx):
        pass

    @flow.make_event()
    async def empty_call(event, ctx):
        pass

    @flow.make_event(timeout=2)
    async def timed(event, ctx):
        pass

    @flow.listen_group([bare], retry=Retry(attempts=2))
    @flow.listen_group([timed], timeout=3)
    async def both(event, ctx):
        pass

    assert isinstance(bare, Event) and bare.policy is None
    assert isinstance(empty_call, Event) and empty_call.policy is None
    assert timed.policy.timeout == 2.0 and timed.policy.retry is None
    assert both.policy.timeout == 3.0 and both.policy.retry == Retry(attempts=2)
    flow.listen_group([bare], timeout=3)(both)  # the same value again is fine
    with pytest.raises(FlowDefinitionError, match="already has timeout=3.0"):
        flow.listen_group([timed], timeout=4)(both)


def test_re_running_a_cell_gives_the_event_its_new_options():
    flow = Flow("cells")
    ns = {"flow": flow, "Retry": Retry, "__name__": "cell"}
    exec("@flow.make_event(timeout=1)\nasync def step(event, ctx):\n    return 1\n", ns)
    first = ns["step"]
    assert first.policy.timeout == 1.0
    exec("@flow.make_event\nasync def step(event, ctx):\n    return 2\n", ns)
    assert ns["step"] is first and first.policy is None
    exec("@flow.make_event(timeout=9)\nasync def step(event, ctx):\n    return 3\n", ns)
    assert first.policy.timeout == 9.0


# -- microflow handlers --------------------------------------------------------------------------


def collect(manager, initial):
    async def main():
        out = [e async for e in manager.process(initial)]
        assert_no_task_left()
        return out

    return asyncio.run(main())


def test_a_handler_that_fails_before_yielding_is_retried():
    wm = WorkflowManager()
    calls = []

    async def fetch(event, ctx):
        calls.append(1)
        progress("fetch", f"try {len(calls)}")
        if len(calls) < 3:
            raise ConnectionError("flaky")
        yield WorkflowEvent("done", data={"tries": len(calls)})

    wm.register("go", fetch, retry=Retry(attempts=3, **FAST))
    out = collect(wm, WorkflowEvent("go"))
    assert [e.name for e in out] == ["go", "progress", "progress", "progress", "done"]
    assert out[-1].data == {"tries": 3}
    trace = wm.last_run.trace
    assert trace.counts["step_retried"] == 2 and trace.retried == 2
    assert_trace_closed(trace, "finished")


def test_a_handler_is_not_retried_after_the_consumer_saw_its_events(caplog):
    wm = WorkflowManager()
    calls = []

    async def half(event, ctx):
        calls.append(1)
        yield WorkflowEvent("partial")
        raise ConnectionError("dropped mid-way")

    wm.register("go", half, retry=Retry(attempts=5, **FAST))
    with caplog.at_level(logging.ERROR, logger="WorkflowManager"):
        out = collect(wm, WorkflowEvent("go"))
    assert calls == [1]
    assert [e.name for e in out] == ["go", "partial", "error"] and "dropped" in out[-1].error
    assert_trace_closed(wm.last_run.trace, "failed")


def test_a_handler_timeout_counts_only_the_handlers_own_time():
    wm = WorkflowManager()

    async def chatty(event, ctx):
        for i in range(3):
            await asyncio.sleep(0.01)
            yield WorkflowEvent.progress("chat", f"part {i}")
        yield WorkflowEvent("done")

    wm.register("go", chatty, timeout=0.5)

    async def slow_reader():
        out = []
        async for e in wm.process(WorkflowEvent("go")):
            out.append(e.name)
            await asyncio.sleep(0.3)  # the reader is slow: 1.2 s in total, not the handler
        return out

    assert asyncio.run(slow_reader()) == ["go", "progress", "progress", "progress", "done"]
    assert wm.last_run.trace.status == "finished"


@pytest.mark.parametrize("kind", ["generator", "coroutine"])
def test_a_slow_handler_times_out_with_an_error_event(kind, caplog):
    wm = WorkflowManager()

    if kind == "generator":
        async def stuck(event, ctx):
            yield WorkflowEvent.progress("s", "waiting")
            await asyncio.sleep(30)
            yield WorkflowEvent("never")
    else:
        async def stuck(event, ctx):
            await asyncio.sleep(30)
            return WorkflowEvent("never")

    wm.register("go", stuck, timeout=0.05)
    with caplog.at_level(logging.ERROR, logger="WorkflowManager"):
        out = collect(wm, WorkflowEvent("go"))
    assert out[-1].name == "error" and "timed out after 0.05 s" in out[-1].error
    trace = wm.last_run.trace
    (failed,) = kinds(trace, "step_failed")
    assert isinstance(failed.error, StepTimeout) and trace.timeouts == 1
    assert failed.error.event_id == "go" and "handler for event 'go'" in str(failed.error)
    assert_trace_closed(trace, "failed")
