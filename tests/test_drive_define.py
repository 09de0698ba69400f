"""Defining events and groups: drive-flow's API, with its identity and validation fixed."""

import asyncio
import functools

import pytest

from notebook_flow import (
    Event,
    EventEngineCls,
    EventTypeError,
    FlowDefinitionError,
    default_drive,
)


def test_make_event_returns_event_and_is_idempotent(flow):
    async def hello(event, ctx):
        return 1

    ev = flow.make_event(hello)
    assert isinstance(ev, Event)
    assert flow.make_event(ev) is ev
    assert flow.make_event(hello) is ev
    assert flow.get_event_from_id(ev.id) is ev
    assert ev.id.endswith("hello") and repr(ev) == f"Node(source={ev.repr_name})"


def test_default_drive_is_a_module_level_engine():
    assert isinstance(default_drive, EventEngineCls)
    assert default_drive.name == "default"


@pytest.mark.parametrize(
    "bad, words",
    [
        (lambda e, c: None, "lambda"),
        (print, "builtin"),
        (42, "expected an async function"),
    ],
)
def test_non_async_callables_are_refused(flow, bad, words):
    with pytest.raises(EventTypeError, match=words) as info:
        flow.make_event(bad)
    assert isinstance(info.value, TypeError)


def test_plain_def_accepted_and_runs_in_a_thread_sync_generator_refused(flow):
    import asyncio
    import threading

    def sync(event, ctx):
        return threading.current_thread().name

    def gen(event, ctx):
        yield 1

    event = flow.make_event(sync)
    assert event.name == "sync" and not event.is_generator
    result = asyncio.run(flow.invoke_event(event))
    assert result[event.id].startswith("notebook_flow-step")
    with pytest.raises(EventTypeError, match="sync\\) generator"):
        flow.make_event(gen)


def test_wrong_arity_refused_at_definition(flow):
    async def one(event):
        return 1

    with pytest.raises(EventTypeError, match=r"\(event, global_ctx\)"):
        flow.make_event(one)


def test_async_generators_partials_and_callable_objects_accepted(flow):
    async def stream(event, ctx):
        yield 1

    async def scaled(k, event, ctx):
        return k

    class Step:
        async def __call__(self, event, ctx):
            return "obj"

    assert flow.make_event(stream).is_generator
    p = flow.make_event(functools.partial(scaled, 3))
    o = flow.make_event(Step())
    assert asyncio.run(p.solo_run(None)) == 3
    assert asyncio.run(o.solo_run(None)) == "obj"


def test_bound_methods_of_different_instances_are_different_events(flow):
    class Agent:
        def __init__(self, n):
            self.n = n

        async def step(self, event, ctx):
            return self.n

    a1, a2 = Agent(1), Agent(2)
    e1 = flow.make_event(a1.step)
    e2 = flow.make_event(a2.step)
    assert e1 is not e2 and e1.id != e2.id
    assert flow.make_event(a1.step) is e1  # a fresh bound-method object of the same instance
    assert asyncio.run(flow.invoke_event(e1))[e1.id] == 1
    assert asyncio.run(flow.invoke_event(e2))[e2.id] == 2


def test_functions_made_with_exec_work(flow):
    ns = {}
    exec("async def made(event, ctx):\n    return 'exec'\n", ns)
    ev = flow.make_event(ns["made"])
    assert asyncio.run(flow.invoke_event(ev))[ev.id] == "exec"


def test_closures_of_one_factory_are_distinct_events(flow):
    def factory(i):
        async def step(event, ctx):
            return i

        return flow.make_event(step)

    events = [factory(i) for i in range(3)]
    assert len({e.id for e in events}) == 3
    assert [asyncio.run(e.solo_run(None)) for e in events] == [0, 1, 2]


def _define_in_cell(flow, source):
    """Run ``source`` like a notebook cell (module __main__-like namespace shared across cells)."""
    exec(compile(source, "<cell>", "exec"), flow.cell_ns)


def test_cell_rerun_replaces_event_and_keeps_listeners(flow):
    flow.cell_ns = {"flow": flow, "__name__": "cellmod"}
    _define_in_cell(flow, "@flow.make_event\nasync def hello(event, ctx):\n    return 'v1'\n")
    _define_in_cell(
        flow,
        "@flow.listen_group([hello])\nasync def world(event, ctx):\n"
        "    return event.results[hello.id] + '!'\n",
    )
    first = flow.cell_ns["hello"]
    # The user edits and re-runs the upstream cell.
    _define_in_cell(flow, "@flow.make_event\nasync def hello(event, ctx):\n    return 'v2'\n")
    assert flow.cell_ns["hello"] is first  # the same event, new function
    world = flow.cell_ns["world"]
    results = asyncio.run(flow.invoke_event(first))
    assert results[world.id] == "v2!"
    assert len(flow.events) == 2


def test_cell_rerun_of_listener_redeclares_its_groups(flow):
    flow.cell_ns = {"flow": flow, "__name__": "cellmod"}
    _define_in_cell(
        flow,
        "@flow.make_event\nasync def a(event, ctx):\n    return 1\n"
        "@flow.make_event\nasync def b(event, ctx):\n    return 2\n",
    )
    _define_in_cell(flow, "@flow.listen_group([a])\nasync def c(event, ctx):\n    return 3\n")
    c = flow.cell_ns["c"]
    _define_in_cell(flow, "@flow.listen_group([b])\nasync def c(event, ctx):\n    return 4\n")
    assert flow.cell_ns["c"] is c
    assert [list(g.events) for g in c.parent_groups.values()] == [[flow.cell_ns["b"].id]]
    assert [g.name for g in c.parent_groups.values()] == ["0"]


def test_group_names_count_up_and_named_groups_use_a_number(flow):
    @flow.make_event
    async def s(event, ctx):
        pass

    @flow.make_event
    async def t(event, ctx):
        pass

    @flow.listen_group([s, t])
    @flow.listen_group([t], group_name="named")
    @flow.listen_group([s])
    async def listener(event, ctx):
        pass

    assert [g.name for g in listener.parent_groups.values()] == ["0", "named", "2"]


def test_duplicate_members_collapse_and_order_matters(flow):
    @flow.make_event
    async def a(event, ctx):
        pass

    @flow.make_event
    async def b(event, ctx):
        pass

    @flow.listen_group([a, a])
    @flow.listen_group([a, b])
    @flow.listen_group([b, a])
    async def x(event, ctx):
        pass

    sizes = [len(g.events) for g in x.parent_groups.values()]
    assert sizes == [2, 2, 1]


def test_same_group_twice_is_a_noop_but_a_conflicting_one_is_an_error(flow):
    @flow.make_event
    async def a(event, ctx):
        pass

    @flow.listen_group([a])
    async def x(event, ctx):
        pass

    flow.listen_group([a])(x)
    assert len(x.parent_groups) == 1
    with pytest.raises(FlowDefinitionError, match="cannot be declared twice"):
        flow.listen_group([a], retrigger_type="any")(x)


def test_listen_group_validation(flow):
    other = EventEngineCls("other")

    @other.make_event
    async def foreign(event, ctx):
        pass

    async def raw(event, ctx):
        pass

    with pytest.raises(FlowDefinitionError, match="retrigger_type must be 'all' or 'any'"):
        flow.listen_group([], retrigger_type="bogus")
    with pytest.raises(FlowDefinitionError, match="empty list"):
        flow.listen_group([])
    with pytest.raises(EventTypeError, match="make_event first"):
        flow.listen_group([raw])
    with pytest.raises(EventTypeError, match="list of events"):
        flow.listen_group(foreign)
    with pytest.raises(FlowDefinitionError, match="not registered in flow 'test'"):
        flow.listen_group([foreign])
    with pytest.raises(EventTypeError, match="must be events"):
        flow.listen_group(["a"])


def test_debug_string_shape_with_loop_marker(flow):
    @flow.make_event
    async def a(event, ctx):
        pass

    @flow.listen_group([a])
    async def b(event, ctx):
        pass

    flow.listen_group([b])(a)

    @flow.listen_group([a, b])
    async def c(event, ctx):
        pass

    A, B, C = a.repr_name, b.repr_name, c.repr_name
    assert c.debug_string() == "\n".join(
        [
            C,
            "└─ <0>",
            f"    ├─ {A}",
            "    │  └─ <0>",
            f"    │      └─ {B}",
            "    │         └─ <0>",
            f"    │             └─ {A} <loop>",
            f"    └─ {B}",
            "       └─ <0>",
            f"           └─ {A}",
            "              └─ <0>",
            f"                  └─ {B} <loop>",
        ]
    )


def test_debug_string_several_groups_and_self_loop(flow):
    @flow.make_event
    async def s(event, ctx):
        pass

    @flow.listen_group([s])
    async def a(event, ctx):
        pass

    flow.listen_group([a])(a)
    assert a.debug_string() == "\n".join(
        [a.repr_name, "├─ <0>", f"│   └─ {s.repr_name}", "└─ <1>", f"    └─ {a.repr_name} <loop>"]
    )
    assert s.debug_string() == s.repr_name + "\n"


def test_reset_forgets_events(flow):
    @flow.make_event
    async def a(event, ctx):
        pass

    flow.reset()
    assert flow.get_event_from_id(a.id) is None
    assert flow.events == {}


def test_solo_run_runs_one_function(flow):
    @flow.make_event
    async def a(event, ctx):
        return (event, ctx)

    @flow.make_event
    async def streamed(event, ctx):
        from notebook_flow import WorkflowEvent

        yield 1
        yield WorkflowEvent.progress("s", "half")
        yield 2

    assert asyncio.run(a.solo_run("in", "ctx")) == ("in", "ctx")
    assert asyncio.run(streamed.solo_run(None)) == 2
