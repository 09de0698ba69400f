"""Random flows against the reference model of tests/model.py (hypothesis).

Each example builds a random flow (fan-out, all/any joins, goto loops bounded by per-event
scripts, aborts, failing and flaky steps with retries, streaming steps, a concurrency cap, either
error policy), runs it on the engine under a virtual clock, and checks the engine against the
model: the same executions with the same inputs in the same start order, the same end of each,
the same retries, the same results or error, a closed trace and no task left behind.

The virtual clock makes timing exact: a step "takes" n ticks by awaiting a future that the test
resolves only when the event loop has nothing else to do, so the engine's order is defined and
can be compared exactly. Profiles: ``NOTEBOOK_FLOW_PROPERTY_PROFILE=ci`` (the default, 2000
examples) or ``quick`` (200) or ``long`` (20000).
"""

import asyncio
import heapq
import itertools
import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from model import (
    ROOT_INPUT,
    Behaviour,
    EventSpec,
    FlowSpec,
    GroupSpec,
    TooLong,
    fail_message,
    flaky_message,
    simulate,
    value_of,
)
from reliability_checks import assert_no_task_left, assert_trace_closed

from notebook_flow import (
    EventInput,
    Flow,
    Retry,
    ReturnBehavior,
    StepFailures,
    WorkflowEvent,
    abort_this,
    goto_events,
)
from notebook_flow.records import STEP_END_KINDS

for name, examples in {"quick": 200, "ci": 2000, "long": 20000}.items():
    settings.register_profile(
        f"notebook_flow-{name}",
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
PROFILE = settings.get_profile(
    f"notebook_flow-{os.environ.get('NOTEBOOK_FLOW_PROPERTY_PROFILE', 'ci')}"
)


# -- random flows ----------------------------------------------------------------------------


def behaviours(n):
    # Mostly results (so listeners fire), often gotos (so events run again and joins refire).
    return st.builds(
        Behaviour,
        ticks=st.integers(0, 2),
        outcome=st.sampled_from(["value"] * 8 + ["goto"] * 4 + ["abort", "fail"]),
        targets=st.lists(st.integers(0, n - 1), max_size=2).map(tuple),
        flaky=st.sampled_from([0] * 6 + [1, 2]),
    )


@st.composite
def flow_specs(draw):
    n = draw(st.integers(1, 7) | st.integers(4, 7))
    events = []
    for i in range(n):
        groups = ()
        if i > 0:  # listeners wait on earlier events only: loops come from gotos, which end
            members = st.lists(st.integers(0, i - 1), min_size=1, max_size=3, unique=True)
            how_many = draw(st.sampled_from([0, 1, 1, 1, 2, 2]))  # 0: reached by gotos only
            tuples = draw(
                st.lists(members.map(tuple), min_size=how_many, max_size=how_many, unique=True)
            )
            groups = tuple(GroupSpec(m, draw(st.sampled_from(["all", "any"]))) for m in tuples)
        script = tuple(draw(st.lists(behaviours(n), max_size=4)))
        if i == 0 and script and script[0].outcome != "value":  # let most runs get going
            script = (Behaviour(script[0].ticks),) + script[1:]
        events.append(
            EventSpec(
                groups=groups,
                script=script,
                default_ticks=draw(st.integers(0, 2)),
                streaming=draw(st.booleans()),
                attempts=draw(st.sampled_from([1, 1, 2, 3])),
            )
        )
    return FlowSpec(
        tuple(events),
        cap=draw(st.sampled_from([None, None, 1, 2, 3])),
        on_error=draw(st.sampled_from(["raise", "continue"])),
    )


# -- the engine under a virtual clock --------------------------------------------------------


class VirtualClock:
    """Steps sleep in ticks; time moves only when the event loop has nothing left to run."""

    def __init__(self):
        self.now = 0
        self.sleepers = []  # (wake time, start order, future)

    async def sleep(self, ticks, order):
        if ticks:
            future = asyncio.get_running_loop().create_future()
            heapq.heappush(self.sleepers, (self.now + ticks, order, future))
            await future

    async def drive(self, run):
        loop = asyncio.get_running_loop()
        while True:
            while loop._ready:  # settle: every callback that can run has run (CPython's queue)
                await asyncio.sleep(0)
            if run.done():
                return
            assert self.sleepers, "the run waits, but no step is asleep: it would hang"
            self.now = wake = self.sleepers[0][0]
            while self.sleepers and self.sleepers[0][0] == wake:
                future = heapq.heappop(self.sleepers)[2]
                if not future.done():  # a cancelled step's future is already done
                    future.set_result(None)


def build(spec, clock):
    flow = Flow("random", max_steps=5000)
    events = []
    executions = {}  # task id of an execution -> [k, attempts so far, start order]
    count = [0] * len(spec.events)
    order = itertools.count()

    def make(i, ev):
        def begin(event_input):
            key = "root" if event_input is None else event_input.task_id
            state = executions.get(key)
            if state is None:  # the first attempt of a new execution
                state = executions[key] = [count[i], 0, next(order)]
                count[i] += 1
            state[1] += 1
            k, attempt, start = state
            b = ev.behaviour(k)
            if attempt <= b.flaky:
                raise ConnectionError(flaky_message(i, k, attempt))
            return k, b, start

        def finish(k, b):
            if b.outcome == "fail":
                raise ValueError(fail_message(i, k))
            if b.outcome == "abort":
                return abort_this()
            if b.outcome == "goto":
                return goto_events([events[t] for t in b.targets], value_of(i, k))
            return value_of(i, k)

        if ev.streaming:
            async def step(event_input, ctx):
                k, b, start = begin(event_input)
                yield WorkflowEvent.progress(f"e{i}", "working")
                await clock.sleep(b.ticks, start)
                yield finish(k, b)
        else:
            async def step(event_input, ctx):
                k, b, start = begin(event_input)
                await clock.sleep(b.ticks, start)
                return finish(k, b)

        step.__qualname__ = f"e{i}"
        retry = Retry(attempts=ev.attempts, backoff=0, on=(ConnectionError,))
        return flow.make_event(retry=retry if ev.attempts > 1 else None)(step)

    for i, ev in enumerate(spec.events):
        events.append(make(i, ev))
    for i, ev in enumerate(spec.events):
        for g, group in enumerate(ev.groups):
            members = [events[m] for m in group.members]
            flow.listen_group(members, group_name=f"g{g}", retrigger_type=group.retrigger)(events[i])
    return flow, events


def as_model_input(value, index):
    if value is None:
        return ROOT_INPUT
    assert isinstance(value, EventInput)
    if value.behavior is ReturnBehavior.GOTO:
        ((goer, payload),) = value.results.items()
        return ("goto", index[goer], payload)
    assert value.behavior is ReturnBehavior.DISPATCH
    group = int(value.group_name[1:])
    return ("dispatch", group, tuple((index[m], v) for m, v in value.results.items()))


def error_key(error):
    return (type(error).__name__, str(error))


@settings(PROFILE)
@given(flow_specs())
def test_engine_matches_the_reference_model(spec):
    try:
        expected = simulate(spec)
    except TooLong:
        assume(False)
    clock = VirtualClock()
    flow, events = build(spec, clock)
    index = {ev.id: i for i, ev in enumerate(events)}

    async def main():
        handle = flow.run(events[0], max_async_events=spec.cap, on_error=spec.on_error,
                          trace=100_000)
        run = asyncio.ensure_future(handle)
        await clock.drive(run)
        outcome = run.exception() or run.result()
        assert_no_task_left()
        return handle, outcome

    handle, outcome = asyncio.run(main())
    trace = handle.trace
    assert_trace_closed(trace)

    started = [r for r in trace.records if r.kind == "step_started"]
    ends = {r.step_id: r.kind for r in trace.records if r.kind in STEP_END_KINDS}
    got = [(index[r.event_id], as_model_input(r.input, index)) for r in started]
    assert got == [(ex.event, ex.input) for ex in expected.executions]
    assert [ends[r.step_id] for r in started] == [f"step_{ex.end}" for ex in expected.executions]
    for i, ev in enumerate(events):
        retried = sum(ex.retried for ex in expected.executions if ex.event == i)
        stats = trace.events.get(ev.id)
        assert (stats.retried if stats else 0) == retried

    def results(store):
        return {index[k]: v for k, v in store.items()}

    if expected.error is not None:
        assert isinstance(outcome, BaseException) and error_key(outcome) == expected.error
        assert handle.status == "failed"
    elif expected.failures:
        assert isinstance(outcome, StepFailures)
        assert [(index[f.event_id], error_key(f.error)) for f in outcome.failures] == expected.failures
        assert results(outcome.results) == expected.results
    else:
        assert results(outcome) == expected.results
        assert handle.status == "finished"


def test_the_model_on_the_seed_retrigger_example():
    """Guard the model itself with drive-flow's a/b/C/D trace (seeds-spec A10, example 5)."""
    spec = FlowSpec(
        (
            EventSpec(groups=(), script=()),  # 0: turn (the root; gotos come back here)
            EventSpec(groups=(GroupSpec((0,), "all"),), script=(), default_ticks=1),  # 1: fast
            EventSpec(groups=(GroupSpec((0,), "all"),), script=(), default_ticks=2),  # 2: slow
            EventSpec(groups=(GroupSpec((1, 2), "any"),), script=()),  # 3: on any
            EventSpec(  # 4: on all: goto turn twice, then stop
                groups=(GroupSpec((1, 2), "all"),),
                script=(Behaviour(outcome="goto", targets=(0,)),) * 2 + (Behaviour(outcome="abort"),),
            ),
        )
    )
    names = {0: "turn", 1: "fast", 2: "slow", 3: "ANY", 4: "ALL"}
    log = [names[ex.event] for ex in simulate(spec).executions]
    first = ["turn", "fast", "slow", "ANY", "ALL"]
    later = ["turn", "fast", "slow", "ANY", "ANY", "ALL"]  # start order (ends interleave)
    assert log == first + later + later
