"""Random microflow workflows against the pipeline model of tests/model.py (hypothesis).

Both the PipelineMachine alone (no event loop) and a WorkflowManager run on the engine must give
exactly the model's events, in order, and the model's handler calls with their inputs.
"""

import asyncio
from collections import namedtuple

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from model import PipelineSpec, TooLong, handler_event, simulate_pipeline
from reliability_checks import assert_no_task_left, assert_trace_closed
from test_property import PROFILE

from notebook_flow import WorkflowEvent, WorkflowManager
from notebook_flow._core.machines import PipelineMachine, Result

NAMES = ["n0", "n1", "n2", "n3"]
Ev = namedtuple("Ev", "name what")  # the machine reads only an event's .name


def actions():
    name = st.sampled_from(NAMES + ["unhandled"])
    return st.one_of(
        name.map(lambda n: ("emit", n)),
        name.map(lambda n: ("emit", n)),
        st.just(("progress",)),
        name.map(lambda n: ("error", n)),
        st.sampled_from([("raise",)] + [("progress",)] * 4),
    )


@st.composite
def pipeline_specs(draw):
    handlers = []
    for name in NAMES:
        count = draw(st.sampled_from([0, 1, 1, 2, 3]))
        scripts = tuple(
            tuple(draw(st.lists(st.lists(actions(), max_size=3).map(tuple), max_size=3)))
            for _ in range(count)
        )
        if scripts:
            handlers.append((name, scripts))
    max_steps = draw(st.sampled_from([None, None, 2, 5]))
    return PipelineSpec(tuple(handlers), max_steps)


def event_key(event):
    if event.name == "progress":
        return ("progress", event.data["description"])
    if event.name == "error" and event.data is None:
        return ("error", "max_steps" if "max_steps" in event.error else event.error)
    return (event.name, "error event" if event.error else event.data["id"])


# -- the machine alone -----------------------------------------------------------------------


def run_machine(spec):
    """The PipelineMachine with handlers played by the test: what the consumer would see."""
    handlers = {name: list(scripts) for name, scripts in spec.handlers}
    machine = PipelineMachine(handlers, max_steps=spec.max_steps)
    events, calls, counts = [(spec.root, "root")], [], {}
    ready = machine.start(spec.root, Ev(spec.root, "root"))
    while ready:
        (step,) = ready
        machine.begin()
        name, position = step.event_id, step.position
        k = counts.get((name, position), 0)
        counts[(name, position)] = k + 1
        calls.append((name, position, step.input[0]))
        if len(calls) > 300:
            raise TooLong()
        scripts = handlers[name][position]
        last = None
        for action in scripts[k] if k < len(scripts) else ():
            if action[0] == "progress":
                events.append(("progress", f"{name}.{position}.{k}"))
            elif action[0] == "raise":
                events.append(("error", f"{name}.{position}.{k} raised"))
                return events, calls
            else:
                last = Ev(*handler_event(action[1], name, position, k))
                events.append(last if action[0] == "emit" else (last[0], "error event"))
                if action[0] == "error":
                    break
        try:
            ready = machine.finish(step.step_id, Result(last))
        except Exception as error:  # max_steps
            assert "max_steps" in str(error)
            events.append(("error", "max_steps"))
            return events, calls
    return events, calls


@pytest.mark.timeout(900)
@settings(PROFILE)
@given(pipeline_specs())
def test_pipeline_machine_matches_the_model(spec):
    try:
        expected = simulate_pipeline(spec)
        events, calls = run_machine(spec)
    except TooLong:
        assume(False)
    assert events == expected.events
    assert calls == expected.calls


# -- a WorkflowManager on the engine ---------------------------------------------------------


def build(spec):
    wm = WorkflowManager(max_steps=spec.max_steps, name="random")
    calls, counts = [], {}

    def make(name, position, scripts):
        async def handler(event, ctx):
            k = counts.get((name, position), 0)
            counts[(name, position)] = k + 1
            calls.append((name, position, event.name))
            for action in scripts[k] if k < len(scripts) else ():
                await asyncio.sleep(0)
                if action[0] == "progress":
                    yield WorkflowEvent.progress(name, f"{name}.{position}.{k}")
                elif action[0] == "raise":
                    raise RuntimeError(f"{name}.{position}.{k} raised")
                else:
                    target, owner = handler_event(action[1], name, position, k)
                    yield WorkflowEvent(
                        target, {"id": owner}, error="bad" if action[0] == "error" else None
                    )

        handler.__qualname__ = f"h_{name}_{position}"  # distinct: no redefinition replaces it
        return handler

    for name, scripts_of in spec.handlers:
        for position, scripts in enumerate(scripts_of):
            wm.register(name, make(name, position, scripts))
    return wm, calls


@pytest.mark.timeout(900)
@settings(PROFILE)
@given(pipeline_specs())
def test_workflow_manager_matches_the_model(spec):
    try:
        expected = simulate_pipeline(spec)
    except TooLong:
        assume(False)
    wm, calls = build(spec)

    async def main():
        out = [e async for e in wm.process(WorkflowEvent(spec.root, {"id": "root"}))]
        assert_no_task_left()
        return out

    out = asyncio.run(main())
    assert [event_key(e) for e in out] == expected.events
    assert calls == expected.calls
    assert_trace_closed(wm.last_run.trace)
