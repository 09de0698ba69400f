"""The pure machines, without an event loop: unit cases, state as data, and the model's oracle."""

import copy
import pickle
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from model import ROOT_INPUT, TooLong, fail_message, simulate, value_of
from test_property import PROFILE, flow_specs

from notebook_flow import EventInput, MaxStepsExceeded, ReturnBehavior, WorkflowEvent
from notebook_flow._core.machines import (
    Abort,
    DriveMachine,
    Failure,
    Goto,
    PipelineMachine,
    Result,
)

# -- a flow as plain topology (no Flow, no Event objects) --------------------------------------


@dataclass
class Node:
    id: str


@dataclass
class Group:
    name: str
    events: dict
    retrigger_type: str = "all"


class Topology:
    """listeners_of over ids: listeners = {member: [(listener, group name, members, type)]}."""

    name = "t"

    def __init__(self, groups):
        self.index = {}
        for listener, name, members, kind in groups:
            group = Group(name, {m: None for m in members}, kind)
            for member in members:
                self.index.setdefault(member, []).append(
                    (Node(listener), group, (listener, ":".join(members)))
                )

    def listeners_of(self, event_id):
        return self.index.get(event_id, [])


def run_chain(machine, outcomes):
    """Start every ready step in order and end it with outcomes[event_id] (callable or value)."""
    log = []
    while machine.has_ready():
        ready = machine.begin()
        log.append((ready.event_id, ready.input))
        outcome = outcomes.get(ready.event_id, Result(ready.event_id.upper()))
        machine.finish(ready.step_id, outcome)
    return log


def test_drive_all_join_fires_once_both_members_have_results():
    topo = Topology([("b", "0", ["a"], "all"), ("c", "0", ["a"], "all"),
                     ("d", "j", ["b", "c"], "all")])
    m = DriveMachine(topo)
    m.start("a", 7)
    log = run_chain(m, {})
    assert [e for e, _ in log] == ["a", "b", "c", "d"]
    assert log[0][1] == 7
    d_input = log[3][1]
    assert isinstance(d_input, EventInput) and d_input.group_name == "j"
    assert d_input.results == {"b": "B", "c": "C"}
    assert m.results == {"a": "A", "b": "B", "c": "C", "d": "D"}


def test_drive_abort_satisfies_nobody_and_goto_sends_payload_to_each_target_in_order():
    topo = Topology([("b", "0", ["a"], "all"), ("c", "0", ["b"], "all")])
    m = DriveMachine(topo)
    m.start("a", None)
    a = m.begin()
    made = m.finish(a.step_id, Goto(("c", "c"), "pay"))
    assert [(r.event_id, r.input.group_name, r.input.results, r.input.behavior) for r in made] == [
        ("c", "$goto", {"a": "pay"}, ReturnBehavior.GOTO)
    ] * 2
    c1 = m.begin()
    assert m.finish(c1.step_id, Abort()) == []
    assert "c" not in m.results


def test_drive_any_needs_every_member_once_then_fires_on_each():
    topo = Topology([("x", "g", ["a", "b"], "any")])
    m = DriveMachine(topo)
    m.start("a", None)
    a = m.begin()
    assert m.finish(a.step_id, Result(1)) == []  # b has no result yet
    m._s.queue.clear()
    # b arrives (as if by goto): the group fires, then fires again on a's next result
    m.start("b", None)
    b = m.begin()
    (fired,) = m.finish(b.step_id, Result(2))
    assert fired.input.results == {"a": 1, "b": 2}
    m.finish(m.begin().step_id, Result("X"))
    m.start("a", None)
    a2 = m.begin()
    (again,) = m.finish(a2.step_id, Result(3))
    assert again.input.results == {"a": 3, "b": 2}


def test_drive_max_steps_names_the_limit_and_the_busiest_event():
    m = DriveMachine(Topology([]), max_steps=2)
    for _ in range(3):
        m.start("loop", None)
    m.begin()
    m.begin()
    with pytest.raises(MaxStepsExceeded, match="max_steps=2.*'loop' ran 3 times") as info:
        m.begin()
    assert (info.value.limit, info.value.event_id) == (2, "loop")


def test_drive_failures_are_kept_with_keep_going():
    m = DriveMachine(Topology([("b", "0", ["a"], "all")]), keep_going=True)
    m.start("a", "in")
    a = m.begin()
    assert m.finish(a.step_id, Failure(ValueError("boom"))) == []
    error = m.failures_error()
    assert error is not None and error.failures[0].event_id == "a"
    assert error.failures[0].input == "in" and "1 step of flow 't' failed" in str(error)


def test_drive_state_is_plain_data_that_round_trips():
    topo = Topology([("b", "0", ["a"], "all"), ("c", "0", ["a"], "all"),
                     ("d", "j", ["b", "c"], "all")])
    m = DriveMachine(topo)
    m.start("a", None)
    a = m.begin()
    m.finish(a.step_id, Result("A"))
    b = m.begin()  # b running, c queued
    saved = pickle.loads(pickle.dumps(m.state()))
    assert [r.event_id for r in saved.queue] == ["c"] and list(saved.running) == [b.step_id]
    # the copy goes on exactly as the original does
    twin = DriveMachine.from_state(topo, saved)
    for machine in (m, twin):
        machine.finish(b.step_id, Result("B"))
    def plain(log):
        return [(event_id, getattr(inp, "results", inp)) for event_id, inp in log]

    assert plain(run_chain(m, {})) == plain(run_chain(twin, {}))
    assert m.results == twin.results == {"a": "A", "b": "B", "c": "C", "d": "D"}


# -- the pipeline machine ------------------------------------------------------------------


def test_pipeline_runs_handlers_of_a_name_in_sequence_then_dispatches_by_name():
    handlers = {"start": ["h1", "h2"], "next": ["h3"]}
    m = PipelineMachine(handlers)
    first = WorkflowEvent("start")
    (r,) = m.start("start", first)
    assert (r.event_id, r.input, r.position) == ("start", first, 0)
    m.begin()
    mid = WorkflowEvent("next")
    (r2,) = m.finish(r.step_id, Result(mid))
    assert (r2.event_id, r2.input, r2.position) == ("start", mid, 1)  # h2 gets h1's event
    m.begin()
    (r3,) = m.finish(r2.step_id, Result(None))  # h2 yielded nothing: mid is dispatched
    assert (r3.event_id, r3.input) == ("next", mid)
    m.begin()
    assert m.finish(r3.step_id, Result(WorkflowEvent("unknown"))) == []
    assert m.ended == "unhandled"


def test_pipeline_silent_pass_ends_and_same_name_loops_are_bounded():
    m = PipelineMachine({"a": ["h"]})
    (r,) = m.start("a", WorkflowEvent("a"))
    m.begin()
    assert m.finish(r.step_id, Result(None)) == [] and m.ended == "silent"

    loop = PipelineMachine({"a": ["h"]}, max_steps=3, name="w")
    (r,) = loop.start("a", WorkflowEvent("a"))
    with pytest.raises(MaxStepsExceeded, match="max_steps=3 handler passes; event 'a'"):
        for _ in range(5):
            loop.begin()
            (r,) = loop.finish(r.step_id, Result(WorkflowEvent("a")))
    assert loop.ended == "failed"


def test_pipeline_failure_ends_and_state_round_trips():
    m = PipelineMachine({"a": ["h1", "h2"]})
    (r,) = m.start("a", WorkflowEvent("a", {"n": 1}))
    m.begin()
    saved = pickle.loads(pickle.dumps(m.state()))
    twin = PipelineMachine.from_state({"a": ["h1", "h2"]}, saved)
    assert twin.current == WorkflowEvent("a", {"n": 1}) and list(twin.running) == [r.step_id]
    assert m.finish(r.step_id, Failure(RuntimeError("x"))) == [] and m.ended == "failed"
    assert len(twin.finish(r.step_id, Result(None))) == 1  # the copy is independent


def test_no_machine_has_no_ready_step_before_start():
    assert DriveMachine(Topology([])).next_ready() is None
    assert not PipelineMachine({}).has_ready()
    assert PipelineMachine({}).start("x", WorkflowEvent("x")) == []


# -- the drive machine against the reference model (no event loop at all) ------------------


def spec_topology(spec):
    groups = []
    for i, ev in enumerate(spec.events):
        for g, group in enumerate(ev.groups):
            groups.append((f"e{i}", f"g{g}", [f"e{m}" for m in group.members], group.retrigger))
    return Topology(groups)


def model_input(value):
    if value is None:
        return ROOT_INPUT
    if value.behavior is ReturnBehavior.GOTO:
        ((goer, payload),) = value.results.items()
        return ("goto", int(goer[1:]), payload)
    members = tuple((int(m[1:]), v) for m, v in value.results.items())
    return ("dispatch", int(value.group_name[1:]), members)


def drive_in_virtual_time(spec, limit=300):
    """The machine under the model's timing rules: what starts, with what, how it ends."""
    m = DriveMachine(spec_topology(spec), keep_going=spec.on_error == "continue")
    m.start("e0", None)
    count = [0] * len(spec.events)
    log, running, now, seq = [], [], 0, 0
    failed = False
    while True:
        started = []
        while m.has_ready() and (spec.cap is None or len(running) < spec.cap):
            ready = m.begin()
            i = int(ready.event_id[1:])
            k = count[i]
            count[i] += 1
            b = spec.events[i].behaviour(k)
            fails = b.outcome == "fail" or b.flaky >= spec.events[i].attempts
            entry = [i, model_input(ready.input), ""]
            log.append(entry)
            if len(log) > limit:
                raise TooLong()
            ends_at = now if b.flaky >= spec.events[i].attempts else now + b.ticks
            item = (ends_at, seq, ready, b, fails, k, entry)
            seq += 1
            running.append(item)
            started.append(item)
        if not running:
            return log, m, failed
        batch = [x for x in started if x[0] == now]
        if not batch:
            now = min(x[0] for x in running)
            batch = [x for x in running if x[0] == now]
        batch.sort(key=lambda x: x[1])
        for item in batch:
            _, _, ready, b, fails, k, entry = item
            running.remove(item)
            i = int(ready.event_id[1:])
            if fails:
                entry[2] = "failed"
                m.finish(ready.step_id, Failure(ValueError(fail_message(i, k))))
                failed = True
            elif b.outcome == "abort":
                entry[2] = "aborted"
                m.finish(ready.step_id, Abort())
            elif b.outcome == "goto":
                entry[2] = "goto"
                m.finish(ready.step_id, Goto(tuple(f"e{t}" for t in b.targets), value_of(i, k)))
            else:
                entry[2] = "finished"
                m.finish(ready.step_id, Result(value_of(i, k)))
        if spec.on_error == "raise" and failed:
            for item in running:
                item[6][2] = "cancelled"
                m.cancel(item[2].step_id)
            return log, m, failed


@pytest.mark.timeout(900)  # thousands of flows; a loaded machine is slow
@settings(PROFILE)
@given(flow_specs())
def test_drive_machine_matches_the_reference_model(spec):
    try:
        expected = simulate(spec)
        log, machine, _ = drive_in_virtual_time(spec)
    except TooLong:
        assume(False)
    assert [(i, inp) for i, inp, _ in log] == [(ex.event, ex.input) for ex in expected.executions]
    assert [end for _, _, end in log] == [ex.end for ex in expected.executions]
    assert {int(k[1:]): v for k, v in machine.results.items()} == expected.results
    # the state is data at every end: a deep copy equals a pickled copy
    assert pickle.loads(pickle.dumps(machine.state())).results == copy.deepcopy(machine.results)
