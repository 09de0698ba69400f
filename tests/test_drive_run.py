"""Running drive-flow style flows: the keep list and the fix list of seed-decisions.md."""

import asyncio
import time

import pytest
from conftest import only_current_task

from notebook_flow import (
    EventInput,
    Flow,
    MaxStepsExceeded,
    ReturnBehavior,
    UnknownEventError,
    WorkflowEvent,
    abort_this,
    goto_events,
    progress,
)
from notebook_flow._core.event import SpecialReturn


def run(coro):
    return asyncio.run(coro)


def test_results_are_plain_values_by_event_id(flow):
    @flow.make_event
    async def start(event, ctx):
        return None

    @flow.listen_group([start])
    async def one(event, ctx):
        return 1

    results = run(flow.invoke_event(start))
    assert results == {start.id: None, one.id: 1}


def test_root_input_and_listener_input(flow):
    seen = {}

    @flow.make_event
    async def root(event, ctx):
        seen["root"] = event
        return "r"

    @flow.listen_group([root], group_name="g")
    async def child(event, ctx):
        seen["child"] = event

    run(flow.invoke_event(root))
    assert seen["root"] is None
    child_input = seen["child"]
    assert isinstance(child_input, EventInput)
    assert child_input.group_name == "g"
    assert child_input.results == {root.id: "r"}
    assert child_input.behavior is ReturnBehavior.DISPATCH
    assert isinstance(child_input.task_id, str) and child_input.task_id

    user = EventInput.from_input({"q": 1})
    run(flow.invoke_event(root, user))
    assert seen["root"] is user
    assert (user.group_name, user.behavior, user.results) == ("user_input", ReturnBehavior.INPUT, {"q": 1})


def test_global_ctx_is_the_identical_object(flow):
    ctx = {"hits": []}

    @flow.make_event
    async def a(event, global_ctx):
        global_ctx["hits"].append(id(global_ctx))

    @flow.listen_group([a])
    async def b(event, global_ctx):
        global_ctx["hits"].append(id(global_ctx))

    run(flow.invoke_event(a, None, ctx))
    assert ctx["hits"] == [id(ctx), id(ctx)]


def test_listeners_of_one_group_run_in_parallel_in_registration_order(flow):
    started = []

    @flow.make_event
    async def start(event, ctx):
        pass

    def make(name):
        async def step(event, ctx):
            started.append(name)
            await asyncio.sleep(0.2)

        step.__qualname__ = name
        return flow.listen_group([start])(step)

    for name in ["zz", "aa", "mm"]:
        make(name)
    t0 = time.perf_counter()
    run(flow.invoke_event(start))
    elapsed = time.perf_counter() - t0
    assert started == ["zz", "aa", "mm"]
    assert elapsed < 0.35  # three 0.2 s steps overlapped, not 0.6 s in sequence


def test_several_groups_on_one_listener_fire_independently(flow):
    names = []

    @flow.make_event
    async def s(event, ctx):
        pass

    @flow.listen_group([s])
    async def a(event, ctx):
        pass

    @flow.listen_group([s])
    @flow.listen_group([a])
    async def both(event, ctx):
        names.append(event.group_name)

    run(flow.invoke_event(s))
    assert sorted(names) == ["0", "1"]


def _retrigger_flow(flow, turns, log):
    @flow.make_event
    async def turn(event, ctx):
        log.append("turn")

    @flow.listen_group([turn])
    async def fast(event, ctx):
        await asyncio.sleep(0.01)
        log.append("fast")

    @flow.listen_group([turn])
    async def slow(event, ctx):
        await asyncio.sleep(0.05)
        log.append("slow")

    @flow.listen_group([fast, slow], retrigger_type="any")
    async def on_any(event, ctx):
        log.append("ANY")

    @flow.listen_group([fast, slow])  # "all" is the default
    async def on_all(event, ctx):
        log.append("ALL")
        ctx["turns"] += 1
        if ctx["turns"] >= turns:
            return abort_this()
        return goto_events([turn])

    return turn


def test_any_and_all_retrigger_trace(flow):
    log = []
    root = _retrigger_flow(flow, 3, log)
    run(flow.invoke_event(root, None, {"turns": 0}))
    first = ["turn", "fast", "slow", "ANY", "ALL"]
    later = ["turn", "fast", "ANY", "slow", "ANY", "ALL"]
    assert log == first + later + later


def test_all_group_fires_again_only_when_every_member_is_new(flow):
    fired = []

    @flow.make_event
    async def root(event, ctx):
        pass

    @flow.listen_group([root])
    async def a(event, ctx):
        ctx["a"] += 1
        if ctx["a"] < 3:
            return goto_events([a])  # a re-runs without producing a result
        return "a"

    @flow.listen_group([root])
    async def b(event, ctx):
        return "b"

    @flow.listen_group([a, b])
    async def join(event, ctx):
        fired.append(dict(event.results))

    run(flow.invoke_event(root, None, {"a": 0}))
    assert fired == [{a.id: "a", b.id: "b"}]


def test_goto_payload_duplicates_and_normal_listeners_skipped(flow):
    seen = []

    @flow.make_event
    async def a(event, ctx):
        if event is not None:
            seen.append((event.group_name, event.behavior, event.results))
            return abort_this()
        return 1

    @flow.listen_group([a])
    async def b(event, ctx):
        return goto_events([a, a], {"payload": 2})

    @flow.listen_group([b])
    async def never(event, ctx):
        raise AssertionError("a goto-ing event's listeners must not fire")

    results = run(flow.invoke_event(a))
    assert seen == [("$goto", ReturnBehavior.GOTO, {b.id: {"payload": 2}})] * 2
    assert b.id not in results and never.id not in results


def test_goto_empty_list_ends_branch(flow):
    @flow.make_event
    async def a(event, ctx):
        return goto_events([])

    @flow.listen_group([a])
    async def b(event, ctx):
        raise AssertionError("unreachable")

    assert run(flow.invoke_event(a)) == {}


def test_goto_to_a_foreign_event_fails_clearly(flow):
    other = Flow("other")

    @other.make_event
    async def foreign(event, ctx):
        pass

    @flow.make_event
    async def a(event, ctx):
        return goto_events([foreign])

    with pytest.raises(UnknownEventError, match="not registered in flow 'test'"):
        run(flow.invoke_event(a))


def test_abort_stops_listeners_but_not_the_run(flow):
    ran = []

    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def aborts(event, ctx):
        return abort_this()

    @flow.listen_group([start])
    async def other(event, ctx):
        await asyncio.sleep(0.01)
        ran.append("other")

    @flow.listen_group([aborts])
    async def after_abort(event, ctx):
        ran.append("after_abort")

    @flow.listen_group([aborts, other])
    async def join(event, ctx):
        ran.append("join")

    results = run(flow.invoke_event(start))
    assert ran == ["other"]  # an aborted member does not satisfy the join
    assert aborts.id not in results


def test_hand_made_dispatch_return_dispatches_its_value(flow):
    @flow.make_event
    async def a(event, ctx):
        return SpecialReturn(ReturnBehavior.DISPATCH, 5)

    @flow.listen_group([a])
    async def b(event, ctx):
        return event.results[a.id] + 1

    assert run(flow.invoke_event(a))[b.id] == 6


def test_failing_event_cancels_siblings_and_raises_original():
    flow = Flow("fail")
    state = {"slow_cancelled": False, "slow_finished": False}

    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def bad(event, ctx):
        await asyncio.sleep(0.01)
        raise KeyError("bad")

    @flow.listen_group([start])
    async def slow(event, ctx):
        try:
            await asyncio.sleep(1)
            state["slow_finished"] = True
        except asyncio.CancelledError:
            state["slow_cancelled"] = True
            raise

    async def main():
        handle = flow.run(start)
        with pytest.raises(KeyError, match="bad"):
            await handle
        assert only_current_task()
        return handle

    handle = run(main())
    assert state == {"slow_cancelled": True, "slow_finished": False}
    trace = handle.trace
    assert trace.open_steps == {}
    assert trace.counts["step_started"] == 3
    ends = sum(trace.counts.get(k, 0) for k in ("step_finished", "step_failed", "step_cancelled"))
    assert ends == 3 and trace.status == "failed"


def test_root_exception_propagates_unchanged(flow):
    error = ValueError("root")

    @flow.make_event
    async def root(event, ctx):
        raise error

    with pytest.raises(ValueError) as info:
        run(flow.invoke_event(root))
    assert info.value is error


def test_cancelling_the_caller_cancels_every_step(flow):
    cancelled = []

    @flow.make_event
    async def start(event, ctx):
        pass

    for i in range(3):
        async def sleeper(event, ctx, i=i):
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                cancelled.append(i)
                raise

        sleeper.__qualname__ = f"sleeper{i}"
        flow.listen_group([start])(sleeper)

    async def main():
        handle = flow.run(start)
        task = asyncio.ensure_future(handle)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert only_current_task()
        return handle

    handle = run(main())
    assert sorted(cancelled) == [0, 1, 2]
    assert handle.status == "cancelled" and handle.trace.open_steps == {}
    assert handle.trace.counts["step_cancelled"] == 3


def test_cancelled_error_inside_an_event_cancels_the_run(flow):
    @flow.make_event
    async def start(event, ctx):
        pass

    @flow.listen_group([start])
    async def canceller(event, ctx):
        raise asyncio.CancelledError()

    @flow.listen_group([start])
    async def sibling(event, ctx):
        await asyncio.sleep(5)

    async def main():
        with pytest.raises(asyncio.CancelledError):
            await flow.invoke_event(start)
        assert only_current_task()

    run(main())


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_max_async_events_caps_concurrency(flow, cap):
    state = {"now": 0, "peak": 0}

    @flow.make_event
    async def start(event, ctx):
        pass

    for i, delay in enumerate([0.06, 0.01, 0.01, 0.01, 0.01]):
        async def work(event, ctx, delay=delay):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(delay)
            state["now"] -= 1

        work.__qualname__ = f"work{i}"
        flow.listen_group([start])(work)

    run(flow.invoke_event(start, max_async_events=cap))
    assert state["peak"] == cap


def test_no_cap_runs_all_at_once(flow):
    state = {"now": 0, "peak": 0}

    @flow.make_event
    async def start(event, ctx):
        pass

    for i in range(5):
        async def work(event, ctx):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.01)
            state["now"] -= 1

        work.__qualname__ = f"w{i}"
        flow.listen_group([start])(work)

    run(flow.invoke_event(start, max_async_events=0))
    assert state["peak"] == 5


def test_loop_guard_names_limit_and_event():
    flow = Flow("loops", max_steps=50)

    @flow.make_event
    async def tick(event, ctx):
        return goto_events([tick])

    with pytest.raises(MaxStepsExceeded) as info:
        run(flow.invoke_event(tick))
    message = str(info.value)
    assert "max_steps=50" in message and tick.id in message
    assert info.value.limit == 50 and info.value.event_id == tick.id

    with pytest.raises(MaxStepsExceeded, match="max_steps=7"):
        run(flow.invoke_event(tick, max_steps=7))


def test_loop_guard_can_be_disabled_and_default_is_large(flow):
    from notebook_flow import DEFAULT_MAX_STEPS

    assert DEFAULT_MAX_STEPS >= 100_000

    @flow.make_event
    async def tick(event, ctx):
        ctx["n"] += 1
        return abort_this() if ctx["n"] >= 300 else goto_events([tick])

    ctx = {"n": 0}
    run(flow.invoke_event(tick, None, ctx, max_steps=None))
    assert ctx["n"] == 300


def test_streaming_event_progress_and_last_value(flow):
    @flow.make_event
    async def stream(event, ctx):
        yield WorkflowEvent.progress("load", "half", fraction=0.5)
        yield "partial"
        progress("load", "almost", 0.9)
        yield "final"

    @flow.listen_group([stream])
    async def after(event, ctx):
        return event.results[stream.id]

    async def main():
        records = [r async for r in flow.run(stream)]
        return records

    records = run(main())
    prog = [(r.step, r.description, r.fraction) for r in records if r.kind == "step_progress"]
    assert prog == [("load", "half", 0.5), ("load", "almost", 0.9)]
    finished = {r.event_id: r.result for r in records if r.kind == "step_finished"}
    assert finished == {stream.id: "final", after.id: "final"}


def test_progress_outside_a_step_is_an_error():
    from notebook_flow import FlowRunError

    with pytest.raises(FlowRunError, match="outside a running step"):
        progress("x", "y")


def test_record_feed_order_and_run_handle(flow):
    @flow.make_event
    async def a(event, ctx):
        return 1

    @flow.listen_group([a])
    async def b(event, ctx):
        return 2

    async def main():
        handle = flow.run(a)
        kinds = [(r.kind, getattr(r, "event_id", None)) async for r in handle]
        return handle, kinds

    handle, kinds = run(main())
    assert kinds == [
        ("run_started", None),
        ("step_pending", a.id),
        ("step_started", a.id),
        ("step_finished", a.id),
        ("step_pending", b.id),
        ("step_started", b.id),
        ("step_finished", b.id),
        ("run_finished", None),
    ]
    assert handle.status == "finished" and handle.result == {a.id: 1, b.id: 2}


def test_iterating_a_failed_run_raises_its_error(flow):
    @flow.make_event
    async def a(event, ctx):
        raise RuntimeError("boom")

    async def main():
        kinds = []
        with pytest.raises(RuntimeError, match="boom"):
            async for r in flow.run(a):
                kinds.append(r.kind)
        return kinds

    assert run(main())[-2:] == ["step_failed", "run_failed"]


def test_concurrent_invocations_are_independent(flow):
    @flow.make_event
    async def a(event, ctx):
        await asyncio.sleep(0.01)
        return event

    async def main():
        return await asyncio.gather(flow.invoke_event(a, 1), flow.invoke_event(a, 2))

    r1, r2 = run(main())
    assert (r1[a.id], r2[a.id]) == (1, 2)


def test_run_of_unregistered_event_is_refused(flow):
    other = Flow("other")

    @other.make_event
    async def foreign(event, ctx):
        pass

    with pytest.raises(UnknownEventError, match="not registered in flow 'test'"):
        flow.run(foreign)


def test_a_broken_subscriber_does_not_kill_the_run(flow, caplog):
    @flow.make_event
    async def a(event, ctx):
        return 1

    async def main():
        handle = flow.run(a)

        def broken(record):
            raise ValueError("subscriber bug")

        handle.subscribe(broken)
        return await handle

    assert run(main()) == {a.id: 1}
    assert "raised and was removed" in caplog.text
