"""Error policy per run (raise / continue) and the whole-run time limit."""

import asyncio

import pytest
from reliability_checks import assert_no_task_left, assert_trace_closed, kinds, run_expecting

from notebook_flow import (
    FailedStep,
    Flow,
    FlowError,
    MaxStepsExceeded,
    Retry,
    RunTimeout,
    StepFailures,
    StepTimeout,
    goto_events,
)


def diamond(bad_error: Exception | None = None):
    """start -> (good, bad, slow); good -> after_good; bad -> after_bad; (good, bad) -> join."""
    flow = Flow("diamond")
    ran = []

    @flow.make_event
    async def start(event, ctx):
        return 0

    @flow.listen_group([start])
    async def good(event, ctx):
        await asyncio.sleep(0)
        return "g"

    @flow.listen_group([start])
    async def bad(event, ctx):
        raise bad_error if bad_error is not None else ValueError("bad input")

    @flow.listen_group([start])
    async def slow(event, ctx):
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            ran.append("slow cancelled")
            raise
        return "s"

    @flow.listen_group([good])
    async def after_good(event, ctx):
        ran.append("after_good")
        return "ag"

    @flow.listen_group([bad])
    async def after_bad(event, ctx):
        ran.append("after_bad")

    @flow.listen_group([good, bad])
    async def join(event, ctx):
        ran.append("join")

    events = dict(start=start, good=good, bad=bad, slow=slow, after_good=after_good, join=join)
    return flow, events, ran


def test_raise_policy_cancels_siblings_and_raises_the_original_after_the_trace_closed():
    error = ValueError("bad input")
    flow, ev, ran = diamond(error)

    async def main():
        handle = flow.run(ev["start"])
        try:
            await handle
        except ValueError as caught:
            assert caught is error
            # By the time the caller sees the error, the run is over and fully recorded.
            assert_trace_closed(handle.trace, "failed")
            assert_no_task_left()
        return handle

    handle = asyncio.run(main())
    assert "slow cancelled" in ran and "join" not in ran and "after_bad" not in ran
    assert handle.status == "failed" and handle.error is error
    assert handle.trace.events[ev["slow"].id].ended == {"step_cancelled": 1}


def test_continue_policy_lets_independent_branches_finish_and_reports_every_failure():
    flow, ev, ran = diamond()

    async def main():
        handle = flow.run(ev["start"], on_error="continue")
        with pytest.raises(StepFailures) as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, group = asyncio.run(main())
    # The failed event produced nothing and its listeners did not fire; the rest finished.
    assert sorted(ran) == ["after_good"]
    assert group.results == {
        ev["start"].id: 0, ev["good"].id: "g", ev["slow"].id: "s", ev["after_good"].id: "ag"
    }
    (failure,) = group.failures
    assert isinstance(failure, FailedStep) and failure.event_id == ev["bad"].id
    assert isinstance(failure.error, ValueError) and failure.input.results == {ev["start"].id: 0}
    assert group.exceptions == (failure.error,) and group.count == 1
    assert isinstance(group, ExceptionGroup) and isinstance(group, FlowError)
    assert "1 step of flow 'diamond' failed" in str(group) and ".results" in str(group)
    assert handle.status == "failed" and handle.failures == [failure]
    assert_trace_closed(handle.trace, "failed")
    assert kinds(handle.trace, "run_failed")[0].error is group


def test_continue_failures_can_be_picked_apart_with_except_star():
    flow = Flow("many")

    @flow.make_event
    async def start(event, ctx):
        pass

    for i, error in enumerate([KeyError("k"), ConnectionError("c1"), ConnectionError("c2")]):
        async def fail(event, ctx, error=error):
            raise error

        fail.__qualname__ = f"fail{i}"
        flow.listen_group([start])(fail)

    network, other = [], []

    async def main():
        try:
            await flow.invoke_event(start, on_error="continue")
        except* ConnectionError as group:
            network.extend(group.exceptions)
        except* KeyError as group:
            other.extend(group.exceptions)

    asyncio.run(main())
    assert [str(e) for e in network] == ["c1", "c2"] and len(other) == 1


def test_continue_without_failures_returns_the_results():
    flow, ev, _ = diamond()
    flow.reset()

    @flow.make_event
    async def only(event, ctx):
        return 1

    assert asyncio.run(flow.invoke_event(only, on_error="continue")) == {only.id: 1}


def test_continue_keeps_the_first_failures_and_an_exact_count(monkeypatch):
    monkeypatch.setattr(StepFailures, "MAX_KEPT", 3)
    flow = Flow("loop-fails", max_steps=None)

    @flow.make_event
    async def start(event, ctx):
        return goto_events([worker] * 10)

    @flow.make_event
    async def worker(event, ctx):
        raise RuntimeError("boom")

    handle, group = run_expecting(StepFailures, flow, start, on_error="continue")
    assert group.count == 10 and len(group.failures) == 3 and len(handle.failures) == 3
    assert "10 steps of flow 'loop-fails' failed" in str(group) and "and 7 more" in str(group)
    assert handle.trace.counts["step_failed"] == 10


def test_continue_still_stops_for_cancellation_and_the_loop_guard():
    flow = Flow("guards", max_steps=20)

    @flow.make_event
    async def tick(event, ctx):
        return goto_events([tick])

    run_expecting(MaxStepsExceeded, flow, tick, on_error="continue")

    @flow.make_event
    async def cancels(event, ctx):
        raise asyncio.CancelledError()

    handle, _ = run_expecting(asyncio.CancelledError, flow, cancels, on_error="continue")
    assert handle.status == "cancelled"


def test_continue_counts_a_step_once_after_its_retries_and_timeouts():
    flow = Flow("retry-continue")

    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start], retry=Retry(attempts=2, backoff=0, on=(TimeoutError,)),
                       timeout=0.02)
    async def stuck(event, ctx):
        await asyncio.sleep(30)

    @flow.listen_group([start])
    async def fine(event, ctx):
        return "fine"

    async def main():
        handle = flow.run(start, on_error="continue")
        with pytest.raises(StepFailures) as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, group = asyncio.run(main())
    assert [type(f.error) for f in group.failures] == [StepTimeout]
    assert group.results[fine.id] == "fine"
    assert handle.trace.timeouts == 2 and handle.trace.retried == 1
    assert_trace_closed(handle.trace, "failed")


def slow_fan_out():
    flow = Flow("timed")

    @flow.make_event
    async def start(event, ctx):
        return "s"

    @flow.listen_group([start])
    async def quick(event, ctx):
        return "q"

    @flow.listen_group([start])
    async def forever(event, ctx):
        await asyncio.sleep(30)

    @flow.listen_group([start])
    async def also_forever(event, ctx):
        await asyncio.sleep(30)

    return flow, start, quick, forever, also_forever


def test_a_run_over_its_time_limit_raises_run_timeout_with_what_was_running():
    flow, start, quick, forever, also_forever = slow_fan_out()

    async def main():
        handle = flow.run(start, timeout=0.05)
        with pytest.raises(RunTimeout) as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, error = asyncio.run(main())
    assert isinstance(error, TimeoutError) and isinstance(error, FlowError)
    assert error.timeout == 0.05 and set(error.running) == {forever.id, also_forever.id}
    assert error.results == {start.id: "s", quick.id: "q"}
    assert "timed out after 0.05 s" in str(error) and 'on_timeout="return"' in str(error)
    assert handle.status == "failed" and handle.timed_out
    assert_trace_closed(handle.trace, "failed")
    assert handle.trace.counts["step_cancelled"] == 2


def test_a_run_timeout_can_return_the_results_so_far_instead():
    flow, start, quick, forever, _ = slow_fan_out()

    async def main():
        handle = flow.run(start, timeout=0.05, on_timeout="return")
        results = await handle
        assert_no_task_left()
        return handle, results

    handle, results = asyncio.run(main())
    assert results == {start.id: "s", quick.id: "q"}
    assert handle.status == "cancelled" and handle.timed_out and handle.result == results
    (end,) = kinds(handle.trace, "run_cancelled")
    assert end.reason == "timeout after 0.05 s"
    assert_trace_closed(handle.trace, "cancelled")
    assert any("timeout after 0.05 s" in e.message for e in handle.feed.log)


def test_a_run_that_ends_in_time_is_not_affected_by_its_timeout():
    flow, start, quick, forever, also_forever = slow_fan_out()
    flow.reset()
    flow.make_event(start)
    flow.listen_group([start])(quick)

    async def main():
        handle = flow.run(start, timeout=30)
        return await handle, handle

    results, handle = asyncio.run(main())
    assert results == {start.id: "s", quick.id: "q"}
    assert handle.status == "finished" and not handle.timed_out
    assert asyncio.run(flow.invoke_event(start, timeout=30)) == results
