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
