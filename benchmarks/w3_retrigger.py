"""W3: one step re-triggering itself N times (``goto_events([tick])``; a same-name event in the
microflow style); the last run returns its count, which must be N.
"""

from __future__ import annotations

from typing import Any

from . import styles
from .harness import Case
from .tables import EVERY_IMPLEMENTATION, PER_EVENT_US, TRACE_OFF, Ratio, Row, Table

UNFIT: dict[str, str] = {}


def _drive_style(impl: str, n: int, trace: bool) -> Case:
    flow = styles.drive_engine(impl)("w3_retrigger")
    goto_events = styles.goto_events(impl)

    @flow.make_event
    async def tick(event: Any, ctx: dict[str, int]) -> Any:
        ctx["n"] += 1
        if ctx["n"] < ctx["target"]:
            return goto_events([tick])
        return ctx["n"]

    async def run() -> Any:
        ctx = {"n": 0, "target": n}
        if impl == "notebook_flow":
            results = await flow.run(tick, None, ctx, trace=trace)
            return results[tick.id]
        results = await flow.invoke_event(tick, None, ctx)
        return results[tick.id]["result"]

    return Case(run=run, expected=n, events=n)


def _microflow_style(impl: str, n: int) -> Case:
    names = styles.pipeline_names(impl)
    WorkflowEvent = names.WorkflowEvent
    manager = names.WorkflowManager()

    async def tick(event: Any, ctx: Any) -> Any:
        count = event.data["n"] + 1
        yield WorkflowEvent("tick" if count < n else "done", data={"n": count})

    manager.register("tick", tick)

    async def run() -> Any:
        last: Any = None
        async for event in manager.process(WorkflowEvent("tick", data={"n": 0})):
            last = event
        return last.data["n"] if last is not None and last.name == "done" else last

    return Case(run=run, expected=n, events=n)


def _floor(n: int) -> Case:
    async def tick(ctx: dict[str, int]) -> bool:
        ctx["n"] += 1
        return ctx["n"] < ctx["target"]

    async def run() -> Any:
        ctx = {"n": 0, "target": n}
        while await tick(ctx):
            pass
        return ctx["n"]

    return Case(run=run, expected=n, events=n)


def generate(impl: str, n: int) -> None:
    """Nothing to generate: one step, declared in this module."""


def prepare(impl: str, n: int, trace: bool = True) -> Case:
    if impl in ("notebook_flow", "drive_flow"):
        return _drive_style(impl, n, trace)
    if impl in ("notebook_flow_process", "microflow"):
        return _microflow_style(impl, n)
    if impl == "langgraph":
        from . import peer_langgraph

        return peer_langgraph.retrigger(n)
    if impl == "llamaindex":
        from . import peer_llamaindex

        return peer_llamaindex.retrigger(n)
    return _floor(n)


COLUMNS = (*EVERY_IMPLEMENTATION[:1], TRACE_OFF, *EVERY_IMPLEMENTATION[1:])


def table(scale: str) -> Table:
    sizes = (10,) if scale == "tiny" else (10_000,)
    return Table(
        key="W3",
        title="W3 one step re-triggering itself",
        what=(
            "µs per re-trigger (trace on, the default, except `nf trace off`); lower is better."
        ),
        columns=COLUMNS,
        rows=tuple(Row(f"N = {n:,}", "retrigger", n, PER_EVENT_US) for n in sizes),
        ratios=(
            Ratio("nf ÷ floor", "notebook_flow", "asyncio floor", "raw"),
            Ratio("nf faster than drive-flow", "notebook_flow", "drive-flow"),
            Ratio("nf faster than microflow", "notebook_flow", "microflow"),
            Ratio("nf process faster than microflow", "nf process", "microflow"),
            Ratio("nf faster than LangGraph", "notebook_flow", "LangGraph"),
            Ratio("nf faster than LlamaIndex", "notebook_flow", "LlamaIndex"),
        ),
    )
