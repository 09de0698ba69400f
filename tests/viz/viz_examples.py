"""Flows the viz tests draw: defined in a module so their ids (and the snapshots) are stable."""

from notebook_flow import Flow, WorkflowEvent, WorkflowManager, abort_this, goto_events

shapes = Flow("shapes")


@shapes.make_event
async def start(event, ctx):
    return 1


@shapes.listen_group([start])
async def fetch_a(event, ctx):
    return "a"


@shapes.listen_group([start])
async def fetch_b(event, ctx):
    return "b"


@shapes.listen_group([start])
async def fetch_c(event, ctx):
    return "c"


@shapes.listen_group([fetch_a, fetch_b], group_name="both")
async def combine(event, ctx):
    return "ab"


@shapes.listen_group([fetch_b, fetch_c], retrigger_type="any")
async def first_of(event, ctx):
    return "bc"


@shapes.listen_group([combine])
async def review(event, ctx):
    if ctx and ctx.get("again"):
        ctx["again"] -= 1
        return goto_events([start], "retry")
    return abort_this() if ctx is None else "ok"


chain = WorkflowManager(name="chain")


async def plan(event, ctx):
    yield WorkflowEvent.progress("plan", "thinking")
    yield WorkflowEvent("research", data={"q": event.data})


async def research(event, ctx):
    yield WorkflowEvent(name="write")


async def write(event, ctx):
    yield WorkflowEvent("done", data={"text": "..."})


chain.register("plan", plan).register("research", research).register("write", write)
