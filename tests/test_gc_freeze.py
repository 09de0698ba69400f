"""A run keeps the objects that existed before it out of the collector's way (gc.freeze), and
gives them back when the last run ends; an application's own gc.freeze() is left alone."""

import asyncio
import gc

from notebook_flow import Flow


def _flow():
    flow = Flow("frozen")

    @flow.make_event
    async def a(event, ctx):
        return gc.get_freeze_count()

    return flow, a


def test_a_run_freezes_the_heap_while_it_goes_and_thaws_it_after():
    flow, a = _flow()
    assert gc.get_freeze_count() == 0

    async def main():
        return await flow.run(a), await asyncio.gather(flow.run(a), flow.run(a))

    one, two = asyncio.run(main())
    assert one[a.id] > 0 and all(r[a.id] > 0 for r in two)
    assert gc.get_freeze_count() == 0


def test_an_application_that_froze_the_heap_itself_is_left_alone():
    flow, a = _flow()
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        async def main():
            return await flow.run(a)

        assert asyncio.run(main())[a.id] >= before
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


def test_a_failing_run_thaws_too():
    flow = Flow("frozen_fails")

    @flow.make_event
    async def boom(event, ctx):
        raise ValueError("no")

    async def main():
        try:
            await flow.run(boom)
        except ValueError as error:
            return str(error)

    assert asyncio.run(main()) == "no"
    assert gc.get_freeze_count() == 0


def test_a_wide_fan_out_collects_the_young_generation_less_often_and_restores_it():
    flow = Flow("wide")
    seen = []

    @flow.make_event
    async def start(event, ctx):
        return 0

    for i in range(600):  # more parallel steps than the relief threshold (512)

        async def branch(event, ctx):
            await asyncio.sleep(0)
            seen.append(gc.get_threshold()[0])
            return 1

        branch.__qualname__ = f"branch{i}"
        flow.listen_group([start])(branch)

    before = gc.get_threshold()

    async def main():
        return await flow.run(start)

    results = asyncio.run(main())
    assert len(results) == 601 and max(seen) > before[0]
    assert gc.get_threshold() == before
