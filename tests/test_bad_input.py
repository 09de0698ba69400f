"""Bad input the adversarial tries found: each a clear error at the earliest moment, nothing lost."""

import asyncio
import functools
import json

import pytest
from reliability_checks import assert_trace_closed, kinds, run_expecting

from notebook_flow import (
    EventTypeError,
    Flow,
    FlowDefinitionError,
    Retry,
    WorkflowEvent,
    WorkflowManager,
)


def test_thousands_of_attempts_keep_the_steps_own_error():
    assert Retry(attempts=5000, backoff=0.1, max_backoff=2.0).delay(4000) == 2.0
    assert Retry(attempts=5000, backoff=0).delay(4999) == 0.0
    flow = Flow("retry")
    calls = []

    @flow.make_event(retry=Retry(attempts=2000, backoff=0))
    async def flaky(event, ctx):
        calls.append(1)
        raise ValueError("still down")

    handle, error = run_expecting(ValueError, flow, flaky)
    assert str(error) == "still down" and len(calls) == 2000
    assert handle.trace.retried == 1999


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no text for you")


def test_an_exception_whose_str_raises_is_still_logged_exported_and_ends_the_run():
    flow = Flow("unprintable")

    @flow.make_event
    async def broken(event, ctx):
        raise Unprintable()

    handle, error = run_expecting(Unprintable, flow, broken)
    assert_trace_closed(handle.trace, "failed")
    exported = json.loads(handle.trace.to_json())
    (failed,) = [r for r in exported["records"] if r["kind"] == "step_failed"]
    assert failed["error"]["type"] == "Unprintable" and "str() failed" in failed["error"]["message"]
    assert any(e.kind == "step_failed" and "Unprintable" in e.message for e in handle.feed.log)
    assert any(e.kind == "run_failed" for e in handle.feed.log)


def test_an_unprintable_error_in_a_handler_still_gives_the_error_event():
    wm = WorkflowManager()

    async def broken(event, ctx):
        raise Unprintable()
        yield  # pragma: no cover

    wm.register("go", broken)

    async def main():
        return [e async for e in wm.process(WorkflowEvent("go"))]

    out = asyncio.run(main())
    assert out[-1].name == "error" and "str() failed" in out[-1].error
    assert_trace_closed(wm.last_run.trace, "failed")


def test_a_yielded_progress_fraction_is_checked_like_progress():
    flow = Flow("fraction")

    @flow.make_event
    async def streams(event, ctx):
        yield WorkflowEvent.progress("s", "far along", fraction=30)
        yield "done"

    _, error = run_expecting(FlowDefinitionError, flow, streams)
    assert "number from 0.0 to 1.0" in str(error) and "got 30" in str(error)


def test_a_huge_timeout_and_a_bool_max_steps_are_refused_at_the_call():
    flow = Flow("options")

    @flow.make_event
    async def start(event, ctx):
        return 1

    with pytest.raises(FlowDefinitionError, match="too large for a float.*use None for no limit"):
        flow.run(start, timeout=10**400)
    with pytest.raises(FlowDefinitionError, match="max_steps must be a positive int.*got True"):
        flow.run(start, max_steps=True)
    with pytest.raises(FlowDefinitionError, match="got True"):
        WorkflowManager(max_steps=True)


def test_an_async_function_behind_a_plain_def_decorator_is_named_as_such():
    def logged(func):
        @functools.wraps(func)
        def wrapper(*args):
            return func(*args)

        return wrapper

    flow = Flow("hidden")

    async def fetch(event, ctx):
        return 1

    with pytest.raises(EventTypeError, match="plain `def` wrapping the async function .*fetch"):
        flow.make_event(logged(fetch))
    with pytest.raises(EventTypeError, match="decorator whose wrapper is not async"):
        WorkflowManager().register("go", logged(fetch))


def test_to_json_shortens_huge_ints_and_strings_and_never_crashes():
    flow = Flow("huge")

    @flow.make_event
    async def start(event, ctx):
        return 10**5000

    @flow.listen_group([start])
    async def text(event, ctx):
        return "x" * 1_000_000

    @flow.listen_group([text])
    async def nested(event, ctx):
        return [10**5000]

    async def main():
        handle = flow.run(start)
        await handle
        return handle

    handle = asyncio.run(main())
    exported = handle.trace.to_json()
    assert len(exported) < 100_000
    records = json.loads(exported)["records"]
    results = [r["result"] for r in records if r["kind"] == "step_finished"]
    assert results[0].startswith("<int of ") and "characters)" in results[1]
    assert kinds(handle.trace, "step_finished")[0].result == 10**5000  # the record keeps it whole
