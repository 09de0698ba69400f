"""The misuse catalogue: every case raises a clear error at the earliest moment it can be seen.

Each case names the error type and two parts of the message: what happened, and what to do.
The same table, in words, is the "Misuse catalogue" section of the README. The %flow magic's
cases are tested with the magic.
"""

import asyncio
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from notebook_flow import (
    EventInput,
    EventTypeError,
    Flow,
    FlowDefinitionError,
    FlowError,
    FlowRunError,
    MaxStepsExceeded,
    Retry,
    ReturnBehavior,
    Trace,
    UnknownEventError,
    WorkflowEvent,
    WorkflowManager,
    goto_events,
    progress,
)
from notebook_flow._core.event import SpecialReturn


@dataclass
class Case:
    when: str  # "definition", "run start" or "in a step"
    trigger: Callable[[], Any]
    error: type
    happened: str  # regex: what went wrong
    todo: str  # regex: what to do about it


def fresh():
    flow = Flow("m")

    @flow.make_event
    async def a(event, ctx):
        return 1

    return flow, a


def foreign_event():
    other = Flow("other")

    @other.make_event
    async def foreign(event, ctx):
        pass

    return foreign


async def two_args(event, ctx):
    pass


def sync_function(event, ctx):
    return 1


def sync_generator(event, ctx):
    yield 1


async def one_arg(event):
    pass


async def three_args(event, ctx, extra):
    pass


def in_a_run(body, **run_options):
    """Run a flow whose only event executes ``body()``; return what invoke_event raises."""
    flow = Flow("runner")

    @flow.make_event
    async def step(event, ctx):
        return await body()

    def trigger():
        asyncio.run(flow.invoke_event(step, **run_options))

    return trigger


def run_of(flow, event, **options):
    return lambda: flow.run(event, **options)


def conflicting_timeouts():
    flow, a = fresh()
    flow.listen_group([a], timeout=4)(flow.make_event(timeout=2)(two_args))


def listen_with(**options):
    flow, a = fresh()
    return lambda: flow.listen_group([a], **options)


def duplicate_group():
    flow, a = fresh()
    listener = flow.listen_group([a])(two_args)
    flow.listen_group([a], retrigger_type="any")(listener)


def bare_listen_group():
    flow, _ = fresh()
    flow.listen_group(two_args)


def call_event_directly():
    _, a = fresh()
    a(None, None)


def start_outside_a_loop():
    flow, a = fresh()
    flow.run(a).start()


async def returns_coroutine():
    async def fetch():
        return 1

    return fetch()


def goto_foreign():
    flow = Flow("g")
    foreign = foreign_event()

    @flow.make_event
    async def a(event, ctx):
        return goto_events([foreign])

    asyncio.run(flow.invoke_event(a))


def endless_loop():
    flow = Flow("loop", max_steps=30)

    @flow.make_event
    async def tick(event, ctx):
        return goto_events([tick])

    asyncio.run(flow.invoke_event(tick))


def process_with(value):
    return lambda: WorkflowManager().process(value)


async def _progress_outside():
    progress("x", "y")


def two_executors():
    from notebook_flow import ThreadExecutor

    flow, a = fresh()
    flow.listen_group([a], executor="thread")(flow.make_event(executor=ThreadExecutor())(two_args))


def unpicklable_step_on_dask():
    import threading

    from notebook_flow.dask import DaskExecutor

    lock = threading.Lock()

    def locked(event, ctx):
        with lock:
            return 1

    flow = Flow("d")
    step = flow.make_event(executor=DaskExecutor())(locked)
    flow.run(step)  # refused before any cluster starts


CASES = {
    # -- defining events ---------------------------------------------------------------------
    "sync generator as event": Case(
        "definition", lambda: fresh()[0].make_event(sync_generator), EventTypeError,
        "\\(sync\\) generator", "async def"),
    "lambda as event": Case(
        "definition", lambda: fresh()[0].make_event(lambda e, c: None), EventTypeError,
        "is a lambda: a lambda has no name", "write `def name\\(event, global_ctx\\):`"),
    "builtin as event": Case(
        "definition", lambda: fresh()[0].make_event(print), EventTypeError,
        "print is a builtin", "wrap it: `def name\\(event, global_ctx\\)"),
    "not callable as event": Case(
        "definition", lambda: fresh()[0].make_event(42), EventTypeError,
        "got int 42", "define it with `async def"),
    "too few parameters": Case(
        "definition", lambda: fresh()[0].make_event(one_arg), EventTypeError,
        "signature \\(event\\)", "change it to `async def ...\\(event, global_ctx\\)"),
    "too many parameters": Case(
        "definition", lambda: fresh()[0].make_event(three_args), EventTypeError,
        "signature \\(event, ctx, extra\\)", "change it to"),
    "partial still missing an argument": Case(
        "definition",
        lambda: fresh()[0].make_event(functools.partial(three_args)), EventTypeError,
        "called with two positional arguments", "change it to"),
    "calling an event directly": Case(
        "definition", call_event_directly, EventTypeError,
        "not called directly", "invoke_event\\(a\\)`.*solo_run"),
    # -- reliability options -----------------------------------------------------------------
    "retry given a number": Case(
        "definition", lambda: fresh()[0].make_event(retry=3), EventTypeError,
        "must be a notebook_flow.Retry, got int 3", "retry=Retry\\(attempts=3\\)"),
    "timeout not a number": Case(
        "definition", lambda: fresh()[0].make_event(timeout="5s"), EventTypeError,
        "must be a number of seconds", "write e.g. timeout=5"),
    "timeout zero or negative": Case(
        "definition", listen_with(timeout=0), FlowDefinitionError,
        "must be > 0 seconds", "use None for no limit"),
    "retry zero attempts": Case(
        "definition", lambda: Retry(attempts=0), FlowDefinitionError,
        "total number of attempts", "attempts=1 means no retry"),
    "retry negative backoff": Case(
        "definition", lambda: Retry(backoff=-1), FlowDefinitionError,
        "backoff=...\\) must be a finite number >= 0, got -1", "e.g. Retry\\(attempts=3, backoff=0.5"),
    "retry shrinking multiplier": Case(
        "definition", lambda: Retry(multiplier=0.5), FlowDefinitionError,
        "multiplier=...\\) must be >= 1", "1 keeps the wait constant"),
    "retry on a non-exception": Case(
        "definition", lambda: Retry(on="ConnectionError"), EventTypeError,
        "takes exception classes, got str", "on=\\(ConnectionError, TimeoutError\\)"),
    "retry on cancellation": Case(
        "definition", lambda: Retry(on=(asyncio.CancelledError,)), FlowDefinitionError,
        "cannot retry CancelledError", "name Exception subclasses"),
    "one option given twice": Case(
        "definition", conflicting_timeouts, FlowDefinitionError,
        "already has timeout=2.0 and was given timeout=4", "give each option once"),
    # -- executors ---------------------------------------------------------------------------
    "executor named by an unknown string": Case(
        "definition", lambda: fresh()[0].make_event(executor="dask"), EventTypeError,
        "executor must be None .* got str 'dask'", "executor=DaskExecutor\\(\\)"),
    "two executors for one event": Case(
        "definition", two_executors, FlowDefinitionError,
        "already has executor=ThreadExecutor", "give each option once"),
    "ThreadExecutor with zero threads": Case(
        "definition", lambda: __import__("notebook_flow").ThreadExecutor(0), FlowDefinitionError,
        "number of threads >= 1", "None for Python's default"),
    "run executor not an executor": Case(
        "run start", lambda: run_of(*fresh(), executor=4)(), EventTypeError,
        "run\\(...\\) executor must be None", "DaskExecutor"),
    "unpicklable step bound to Dask": Case(
        "run start", unpicklable_step_on_dask, FlowDefinitionError,
        "closure variable `lock` is a _thread.lock, which cannot be pickled",
        "Make it inside the step .* executor=\"local\""),
    # -- groups ------------------------------------------------------------------------------
    "invalid retrigger type": Case(
        "definition", listen_with(retrigger_type="ALL"),
        FlowDefinitionError, "got 'ALL'", "'all' or 'any' \\(lower case\\)"),
    "empty group": Case(
        "definition", lambda: fresh()[0].listen_group([]), FlowDefinitionError,
        "empty list", "at least one event"),
    "raw function in a group": Case(
        "definition", lambda: fresh()[0].listen_group([two_args]), EventTypeError,
        "members must be events, got function", "decorate it with @flow.make_event first"),
    "non-event value in a group": Case(
        "definition", lambda: fresh()[0].listen_group(["a"]), EventTypeError,
        "members must be events, got str 'a'", "pass the objects that @flow.make_event"),
    "one event instead of a list": Case(
        "definition", lambda: fresh()[0].listen_group(fresh()[1]), EventTypeError,
        "takes a list of events, got Event", "write @flow.listen_group\\(\\[event_a, event_b\\]\\)"),
    "listen_group without its events": Case(
        "definition", bare_listen_group, EventTypeError,
        "without the events to wait for", "write @flow.listen_group\\(\\[event_a, event_b\\]\\)"),
    "listening to another flow's event": Case(
        "definition", lambda: fresh()[0].listen_group([foreign_event()]), FlowDefinitionError,
        "not registered in flow 'm'", "listen in the flow that owns it"),
    "group name not a str": Case(
        "definition", listen_with(group_name=3), EventTypeError,
        "group_name must be a str", "None for \"0\""),
    "one group declared twice differently": Case(
        "definition", duplicate_group, FlowDefinitionError,
        "already listens to", "cannot be declared twice"),
    "flow name not a str": Case(
        "definition", lambda: Flow(3), EventTypeError,
        "got int 3", "write Flow\\(\"my_flow\"\\)"),
    "flow max_steps zero": Case(
        "definition", lambda: Flow("x", max_steps=0), FlowDefinitionError,
        "max_steps must be a positive int", "None to disable"),
    "trace window below one": Case(
        "definition", lambda: Trace(0), FlowDefinitionError,
        "at least one record", "trace=False for no trace"),
    # -- starting runs -----------------------------------------------------------------------
    "run a plain function": Case(
        "run start", lambda: fresh()[0].run(two_args), EventTypeError,
        "a run starts from an event, got function", "pass the object @flow.make_event returned"),
    "run another flow's event": Case(
        "run start", lambda: fresh()[0].run(foreign_event()), UnknownEventError,
        "not registered in flow 'm'", "run it on the flow that owns it"),
    "negative max_async_events": Case(
        "run start", lambda: run_of(*fresh(), max_async_events=-1)(), FlowDefinitionError,
        "got -1", "None/0 for no cap"),
    "unknown on_error": Case(
        "run start", lambda: run_of(*fresh(), on_error="ignore")(), FlowDefinitionError,
        "got 'ignore'", "'raise' or 'continue'"),
    "unknown on_timeout": Case(
        "run start", lambda: run_of(*fresh(), on_timeout="skip")(), FlowDefinitionError,
        "got 'skip'", "'raise' or 'return'"),
    "negative run timeout": Case(
        "run start", lambda: run_of(*fresh(), timeout=-5)(), FlowDefinitionError,
        "timeout must be > 0 seconds", "None for no limit"),
    "negative trace window": Case(
        "run start", lambda: run_of(*fresh(), trace=-1)(), FlowDefinitionError,
        "got maxlen=-1", "trace=True"),
    "starting a run outside an event loop": Case(
        "run start", start_outside_a_loop, FlowRunError,
        "needs a running asyncio event loop", "`await` it"),
    # -- inside a step -----------------------------------------------------------------------
    "goto with one event instead of a list": Case(
        "in a step", lambda: goto_events(fresh()[1]), EventTypeError,
        "takes a list of events, got Event", "write goto_events\\(\\[target\\], payload\\)"),
    "goto to a non-event": Case(
        "in a step", lambda: goto_events(["name"]), EventTypeError,
        "got str 'name'", "must be events made by make_event/listen_group"),
    "goto to another flow's event": Case(
        "in a step", goto_foreign, UnknownEventError,
        "not registered in flow 'g'", "goto only events of this flow"),
    "returning a coroutine (missing await)": Case(
        "in a step", in_a_run(returns_coroutine), EventTypeError,
        "returned a coroutine object", "write `return await fetch\\(...\\)`"),
    "hand-made special return with a bad behavior": Case(
        "in a step", lambda: SpecialReturn("goto"), EventTypeError,
        "must be a ReturnBehavior member", "use goto_events\\(...\\) or abort_this\\(\\)"),
    "returning an INPUT special return": Case(
        "in a step",
        in_a_run(lambda: asyncio.sleep(0, SpecialReturn(ReturnBehavior.INPUT, EventInput.from_input({})))),
        FlowRunError, "only describes how a root event was started", "return a plain value"),
    "progress outside a step": Case(
        "in a step", lambda: asyncio.run(_progress_outside()), FlowRunError,
        "outside a running step", "call it from inside an event function"),
    "progress fraction out of range": Case(
        "in a step", in_a_run(lambda: asyncio.sleep(0, progress("p", "d", 30))), FlowDefinitionError,
        "got 30", "pass fraction=0.3"),
    "endless loop": Case(
        "in a step", endless_loop, MaxStepsExceeded,
        "stopped after max_steps=30", "pass a larger max_steps"),
    # -- microflow ---------------------------------------------------------------------------
    "event name not a str": Case(
        "definition", lambda: WorkflowManager().register(None, two_args), EventTypeError,
        "must be a non-empty str, got NoneType", "write register\\(\"start\", handler\\)"),
    "sync handler": Case(
        "definition", lambda: WorkflowManager().register("a", sync_function), EventTypeError,
        "plain \\(sync\\) function", "async def sync_function\\(event, ctx\\)"),
    "handler with wrong parameters": Case(
        "definition", lambda: WorkflowManager().register("a", one_arg), EventTypeError,
        "signature \\(event\\)", "\\(event, ctx\\)"),
    "handler timeout negative": Case(
        "definition", lambda: WorkflowManager().register("a", two_args, timeout=-1),
        FlowDefinitionError, "must be > 0 seconds", "None for no limit"),
    "manager max_steps zero": Case(
        "definition", lambda: WorkflowManager(max_steps=0), FlowDefinitionError,
        "must be a positive int", "None to disable the guard"),
    "a Flow's event as a handler": Case(
        "definition", lambda: WorkflowManager().register("a", fresh()[1]), EventTypeError,
        "is an event of a Flow, not a function", "pass its function \\(a.func_inst\\)"),
    "process a non-event": Case(
        "run start", process_with({"name": "go"}), EventTypeError,
        "takes a WorkflowEvent, got dict", "write WorkflowEvent\\(name=..., data=...\\)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_raises_a_clear_error(name):
    case = CASES[name]
    with pytest.raises(case.error) as info:
        case.trigger()
    message = str(info.value)
    assert re.search(case.happened, message), (case.happened, message)
    assert re.search(case.todo, message), (case.todo, message)
    assert isinstance(info.value, FlowError)  # ours, and it refines the builtin one would catch


def test_the_catalogue_is_large_and_covers_each_moment():
    assert len(CASES) >= 30
    assert {c.when for c in CASES.values()} == {"definition", "run start", "in a step"}


def test_a_handler_yielding_a_non_event_ends_with_an_error_event_naming_both():
    # microflow's rule: a handler's misuse during a run becomes the workflow's final error event.
    wm = WorkflowManager()

    async def bad_handler(event, ctx):
        yield {"not": "an event"}

    wm.register("go", bad_handler)

    async def main():
        return [e async for e in wm.process(WorkflowEvent("go"))]

    out = asyncio.run(main())
    assert out[-1].name == "error"
    assert "bad_handler" in out[-1].error and "must yield WorkflowEvent" in out[-1].error


def test_errors_at_definition_leave_the_flow_unchanged():
    flow, a = fresh()
    before = dict(flow.events)
    for bad in (sync_generator, one_arg, 42, lambda e, c: 1):
        with pytest.raises(EventTypeError):
            flow.make_event(bad)
    with pytest.raises(FlowDefinitionError):
        flow.listen_group([a], retrigger_type="both")
    assert flow.events == before and a.parent_groups == {}
