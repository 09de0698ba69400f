"""microflow's WorkflowManager on the engine: the keep list and the fix list."""

import asyncio
import logging

import pytest

from notebook_flow import EventTypeError, WorkflowEvent, WorkflowManager, progress

WE = WorkflowEvent


def collect(manager, initial):
    async def main():
        return [e async for e in manager.process(initial)]

    return asyncio.run(main())


def names(events):
    return [e.name for e in events]


def test_workflow_event_fields_and_progress():
    e = WE("x")
    assert (e.name, e.data, e.metadata, e.error) == ("x", None, None, None)
    assert WE("x", {"a": 1}, {"m": 1}, "err") == WE(name="x", data={"a": 1}, metadata={"m": 1}, error="err")
    p = WE.progress("step", "desc", {"m": 2})
    assert p == WE(name="progress", data={"step": "step", "description": "desc"}, metadata={"m": 2})


def test_register_chains_and_initial_event_comes_first():
    wm = WorkflowManager()

    async def h(event, ctx):
        yield WE("done")

    assert wm.register("a", h).register("b", h) is wm
    initial = WE("a")
    out = collect(wm, initial)
    assert out[0] is initial and names(out) == ["a", "done"]


def test_process_is_lazy():
    ran = []
    wm = WorkflowManager()

    async def h(event, ctx):
        ran.append(1)
        yield WE("done")

    wm.register("a", h)

    async def main():
        gen = wm.process(WE("a"))
        first = await gen.__anext__()
        assert first.name == "a" and ran == []
        await gen.aclose()

    asyncio.run(main())


def test_handlers_of_one_name_form_a_pipeline():
    wm = WorkflowManager()
    got = []

    async def h1(event, ctx):
        got.append(event.name)
        yield WE("mid")

    async def h2(event, ctx):
        got.append(event.name)
        yield WE("end")

    wm.register("go", h1).register("go", h2)
    assert names(collect(wm, WE("go"))) == ["go", "mid", "end"]
    assert got == ["go", "mid"]


def test_same_handler_object_twice_runs_twice():
    wm = WorkflowManager()

    async def h(event, ctx):
        yield WE(f"fin_{event.name}")

    wm.register("go", h).register("go", h)
    assert names(collect(wm, WE("go"))) == ["go", "fin_go", "fin_fin_go"]


def test_only_the_last_non_progress_event_is_dispatched():
    wm = WorkflowManager()
    dispatched = []

    async def a(event, ctx):
        yield WE("b1")
        yield WE.progress("s", "p")
        yield WE("b2")
        yield WE("b3")

    def make(name):
        async def h(event, ctx):
            dispatched.append(name)
            yield WE(f"e{name[-1]}")

        return h

    for n in ["b1", "b2", "b3"]:
        wm.register(n, make(n))
    wm.register("a", a)
    assert names(collect(wm, WE("a"))) == ["a", "b1", "progress", "b2", "b3", "e3"]
    assert dispatched == ["b3"]


def test_error_event_stops_its_handler_not_the_pipeline():
    wm = WorkflowManager()
    seen = []

    async def validate(event, ctx):
        yield WE("oops", error="E!")
        seen.append("after error: must not run")

    async def transform(event, ctx):
        seen.append(event.name)
        yield WE("transformed")

    wm.register("go", validate).register("go", transform)
    assert names(collect(wm, WE("go"))) == ["go", "oops", "transformed"]
    assert seen == ["oops"]


def test_error_event_is_dispatched_by_name():
    wm = WorkflowManager()

    async def a(event, ctx):
        yield WE("error", error="bad")

    async def on_error(event, ctx):
        yield WE("handled", data={"was": event.error})

    wm.register("a", a).register("error", on_error)
    out = collect(wm, WE("a"))
    assert names(out) == ["a", "error", "handled"] and out[-1].data == {"was": "bad"}


def test_exception_ends_with_one_error_event_and_logs(caplog):
    wm = WorkflowManager()
    after = []

    async def h(event, ctx):
        yield WE("partial", metadata={"m": "p"})
        raise ValueError("broken")

    async def never(event, ctx):
        after.append(1)
        yield WE("x")

    wm.register("go", h).register("go", never).register("error", never)
    with caplog.at_level(logging.ERROR, logger="WorkflowManager"):
        out = collect(wm, WE("go"))
    assert names(out) == ["go", "partial", "error"]
    assert out[-1] == WE("error", data=None, metadata={"m": "p"}, error="broken")
    assert after == []
    assert "Error processing event partial" in caplog.text and "ValueError" in caplog.text


def test_cancellation_and_keyboard_interrupt_propagate():
    wm = WorkflowManager()

    async def h(event, ctx):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    wm.register("a", h)
    with pytest.raises(KeyboardInterrupt):
        collect(wm, WE("a"))

    async def slow(event, ctx):
        await asyncio.sleep(5)
        yield WE("never")

    wm2 = WorkflowManager().register("a", slow)

    async def main():
        task = asyncio.ensure_future(collect_async(wm2, WE("a")))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert wm2.last_run.trace.status == "cancelled"
        assert wm2.last_run.trace.open_steps == {}

    asyncio.run(main())


async def collect_async(wm, initial):
    return [e async for e in wm.process(initial)]


def test_ctx_is_the_identical_object():
    ctx = {"ids": []}
    wm = WorkflowManager(ctx)

    async def h(event, c):
        c["ids"].append(id(c))
        yield WE("next")

    wm.register("a", h).register("next", h)
    wm.max_steps = 2
    collect(wm, WE("a"))
    assert ctx["ids"] == [id(ctx), id(ctx)]


@pytest.mark.parametrize("body", ["silent", "progress_only"])
def test_a_silent_pass_ends_the_workflow(body):
    wm = WorkflowManager()
    calls = []

    async def h(event, ctx):
        calls.append(1)
        if body == "progress_only":
            yield WE.progress("s", "only progress")

    if body == "silent":
        async def h(event, ctx):
            calls.append(1)
            return
            yield

    wm.register("a", h)
    out = collect(wm, WE("a"))
    assert calls == [1]
    assert names(out) == (["a"] if body == "silent" else ["a", "progress"])
    assert wm.last_run.trace.status == "finished"


def test_same_name_loop_is_bounded_with_an_error_event():
    wm = WorkflowManager(max_steps=25)
    count = []

    async def tick(event, ctx):
        count.append(1)
        yield WE("tick")

    wm.register("tick", tick)
    out = collect(wm, WE("tick"))
    assert len(count) == 25
    assert out[-1].name == "error" and "max_steps=25" in out[-1].error and "'tick'" in out[-1].error
    assert wm.last_run.trace.status == "failed"


def test_register_checks_the_handler_at_once():
    wm = WorkflowManager()

    def sync(event, ctx):
        return WE("x")

    def gen(event, ctx):
        yield WE("x")

    async def one_arg(event):
        yield WE("x")

    for bad in (sync, gen, 3):
        with pytest.raises(TypeError):
            wm.register("a", bad)
    with pytest.raises(EventTypeError, match=r"\(event, ctx\)"):
        wm.register("a", one_arg)
    with pytest.raises(EventTypeError, match="non-empty str"):
        wm.register(None, lambda: None)
    assert wm.handlers == {}


def test_coroutine_handler_return_value_is_dispatched():
    wm = WorkflowManager()

    async def step(event, ctx):
        return WE("next", data={"n": 1})

    async def final(event, ctx):
        return None

    wm.register("a", step).register("next", final)
    assert names(collect(wm, WE("a"))) == ["a", "next"]


def test_yielding_a_non_event_ends_with_an_error_naming_handler_and_value():
    wm = WorkflowManager()

    async def bad_handler(event, ctx):
        yield {"not": "an event"}

    wm.register("a", bad_handler)
    out = collect(wm, WE("a"))
    assert names(out) == ["a", "error"]
    assert "bad_handler" in out[-1].error and "{'not': 'an event'}" in out[-1].error


def test_cell_rerun_replaces_handler_in_place():
    wm = WorkflowManager()
    ns = {"wm": wm, "WE": WE, "__name__": "cell"}
    exec("async def h(event, ctx):\n    yield WE('v1')\nwm.register('a', h)\n", ns)
    exec("async def h(event, ctx):\n    yield WE('v2')\nwm.register('a', h)\n", ns)
    assert len(wm.handlers["a"]) == 1
    assert names(collect(wm, WE("a"))) == ["a", "v2"]


def test_handler_registered_during_a_pass_runs_in_that_pass():
    wm = WorkflowManager()

    async def late(event, ctx):
        yield WE("late_done")

    async def first(event, ctx):
        wm.register("a", late)
        yield WE("a2")

    wm.register("a", first)
    assert names(collect(wm, WE("a"))) == ["a", "a2", "late_done"]


def test_progress_function_inside_a_handler_reaches_stream_and_trace():
    wm = WorkflowManager()

    async def h(event, ctx):
        progress("work", "half", 0.5)
        yield WE("done")

    wm.register("a", h)
    out = collect(wm, WE("a"))
    assert names(out) == ["a", "progress", "done"]
    assert out[1].data == {"step": "work", "description": "half", "fraction": 0.5}
    assert wm.last_run.trace.counts["step_progress"] == 1


def test_records_of_a_microflow_run():
    wm = WorkflowManager()

    async def h(event, ctx):
        yield WE.progress("p", "d")
        yield WE("done")

    wm.register("a", h)
    collect(wm, WE("a"))
    kinds = [r.kind for r in wm.last_run.trace]
    assert kinds == [
        "run_started", "step_pending", "step_started", "step_emitted", "step_progress",
        "step_emitted", "step_finished", "run_finished",
    ]


def test_consumer_stopping_early_closes_the_handler():
    wm = WorkflowManager()
    closed = []

    async def h(event, ctx):
        try:
            yield WE("one")
            yield WE("two")
        finally:
            closed.append(True)

    wm.register("a", h)

    async def main():
        gen = wm.process(WE("a"))
        async for e in gen:
            if e.name == "one":
                break
        await gen.aclose()

    asyncio.run(main())
    assert closed == [True]
    assert wm.last_run.trace.open_steps == {}


def test_pipeline_steps_are_recorded_under_the_registered_event_name():
    wm = WorkflowManager()

    async def h1(event, ctx):
        yield WE("mid")

    async def h2(event, ctx):
        yield WE("end")

    wm.register("go", h1).register("go", h2)
    collect(wm, WE("go"))
    started = [(r.event_id, r.input.name) for r in wm.last_run.trace if r.kind == "step_started"]
    assert started == [("go", "go"), ("go", "mid")]  # h2 is a step of "go", fed h1's output


def test_a_handler_for_progress_is_accepted_with_a_warning_and_never_runs():
    from notebook_flow.compat.microflow import NeverRunsWarning

    wm = WorkflowManager()
    ran = []

    async def on_progress(event, ctx):
        ran.append(event)
        yield WE("never")

    async def work(event, ctx):
        yield WE.progress("w", "working")

    with pytest.warns(NeverRunsWarning, match="never runs.*Give the event another name"):
        assert wm.register("progress", on_progress) is wm
    wm.register("go", work)
    assert names(collect(wm, WE("go"))) == ["go", "progress"] and ran == []


def test_manager_run_is_a_run_handle_with_the_flow_options():
    from notebook_flow import RunHandle, RunTimeout, StepFailures

    wm = WorkflowManager()

    async def fails(event, ctx):
        raise ValueError("first handler broke")
        yield  # pragma: no cover

    async def goes_on(event, ctx):
        yield WE("done", {"saw": event.name})

    async def slow(event, ctx):
        await asyncio.sleep(30)
        yield WE("never")

    wm.register("go", fails).register("go", goes_on).register("slow", slow)

    async def main():
        handle = wm.run(WE("go"))
        assert isinstance(handle, RunHandle)
        with pytest.raises(ValueError, match="first handler broke"):
            await handle
        with pytest.raises(StepFailures) as info:
            await wm.run(WE("go"), on_error="continue")
        assert info.value.results["last_event"] == WE("done", {"saw": "go"})
        assert [f.error.args[0] for f in info.value.failures] == ["first handler broke"]
        with pytest.raises(RunTimeout):
            await wm.run(WE("slow"), timeout=0.05)
        assert await wm.run(WE("slow"), timeout=0.05, on_timeout="return") == WE("slow")
        quiet = wm.run(WE("go"), trace=False, on_error="continue")
        with pytest.raises(StepFailures):
            await quiet
        assert quiet.trace is None

    asyncio.run(main())


def test_a_handlers_progress_calls_reach_the_consumer_at_once():
    wm = WorkflowManager()
    gate = asyncio.Event()

    async def h(event, ctx):
        progress("work", "half way", 0.5)
        await gate.wait()  # it yields nothing until the consumer has seen the progress
        yield WE("done")

    wm.register("go", h)

    async def main():
        seen = []
        async for event in wm.process(WE("go")):
            seen.append(event)
            if event.name == "progress":
                assert event.data == {"step": "work", "description": "half way", "fraction": 0.5}
                gate.set()
        return seen

    assert names(asyncio.run(main())) == ["go", "progress", "done"]


def test_handlers_run_at_most_a_bounded_window_ahead_of_a_slow_consumer():
    from notebook_flow._core.pipeline_steps import ReadWindow

    wm = WorkflowManager()
    produced = []

    async def chatty(event, ctx):
        for i in range(5000):
            produced.append(i)
            yield WE.progress("chat", str(i))
        yield WE("done")

    wm.register("go", chatty)

    async def main():
        read = 0
        async for _event in wm.process(WE("go")):
            read += 1
            if read == 10:
                await asyncio.sleep(0.05)  # a slow consumer: the handler waits for it
                assert len(produced) - read <= ReadWindow().limit + 1
        return read

    assert asyncio.run(main()) == 5002
