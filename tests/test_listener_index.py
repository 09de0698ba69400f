"""The listener index kept while groups are declared always equals one built from scratch."""

import random

import pytest

from notebook_flow import Flow, FlowDefinitionError


def _agree(flow):
    index = flow._index
    assert index is None or {k: v for k, v in index.items() if v} == flow._build_index()


@pytest.mark.parametrize("seed", range(20))
def test_index_matches_a_fresh_build_after_any_declarations(seed):
    rng = random.Random(seed)
    flow = Flow(f"idx{seed}")
    namespace: dict = {}
    events = []
    for i in range(12):
        exec(f"async def e{i}(event, ctx):\n    return {i}", namespace)
        events.append(flow.make_event(namespace[f"e{i}"]))
        _agree(flow)
        for _ in range(rng.randrange(3)):  # groups on this or an earlier event
            listener = rng.choice(events)
            members = rng.sample(events, rng.randint(1, min(3, len(events))))
            try:
                flow.listen_group(members, retrigger_type=rng.choice(["all", "any"]))(listener)
            except FlowDefinitionError:
                pass  # the same group again with the other retrigger type: refused, nothing changes
            _agree(flow)
        if rng.random() < 0.15:  # a notebook cell re-run with an edited body: a redefinition
            j = rng.randrange(len(events))
            exec(f"async def e{j}(event, ctx):\n    return -{j}", namespace)
            flow.make_event(namespace[f"e{j}"])
            _agree(flow)
    assert flow.listeners_of(events[0].id) == flow._build_index().get(events[0].id, [])


def test_listeners_start_in_registration_order_whatever_the_declaration_order():
    flow = Flow("order")
    started = []

    @flow.make_event
    async def root(event, ctx):
        return 0

    async def make(name):
        async def step(event, ctx):
            started.append(name)
        step.__qualname__ = name
        return step

    import asyncio

    zz, aa, mm = (flow.make_event(asyncio.run(make(n))) for n in ("zz", "aa", "mm"))
    for listener in (mm, zz, aa):  # groups declared in another order than registration
        flow.listen_group([root])(listener)
    asyncio.run(flow.invoke_event(root))
    assert started == ["zz", "aa", "mm"]
