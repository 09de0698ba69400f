"""W5: one step streams N progress events to the caller, then its result N.

The caller counts the progress it receives; the answer is (progress received, result) = (N, N).

notebook_flow has two paths to the caller and both are measured:
- ``notebook_flow``: an async generator event yields ``WorkflowEvent.progress(...)``; the caller
  reads the run's records with ``async for record in flow.run(...)`` (the path the target counts);
- ``notebook_flow_process``: the microflow style, ``async for event in manager.process(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import live_view, styles
from .harness import Case
from .tables import EVENTS_PER_SECOND, EVERY_IMPLEMENTATION, Ratio, Row, Table

UNFIT = {"drive_flow": "n/a: drive-flow events cannot stream (async generators are refused)"}


def _flow_run(n: int, trace: bool, view: bool) -> Case:
    from notebook_flow import Flow, WorkflowEvent
    from notebook_flow.records import StepFinished

    flow = Flow("w5_stream")

    @flow.make_event
    async def stream(event: Any, ctx: Any) -> Any:
        for _ in range(n):
            yield WorkflowEvent.progress("stream", "tick")
        yield n

    widget, view_seconds = live_view.follow(flow) if view else (None, 0.0)

    async def run() -> Any:
        received, result = 0, None
        async for record in flow.run(stream, trace=trace):
            kind = record.kind
            if kind == "step_progress":
                received += 1
            elif kind == "step_finished" and isinstance(record, StepFinished):
                result = record.result
        return received, result

    return Case(run=run, expected=(n, n), events=n, view_seconds=view_seconds, keep=widget)


def _process(impl: str, n: int) -> Case:
    names = styles.pipeline_names(impl)
    WorkflowEvent = names.WorkflowEvent
    manager = names.WorkflowManager()

    async def stream(event: Any, ctx: Any) -> Any:
        for _ in range(n):
            yield WorkflowEvent.progress("stream", "tick")
        yield WorkflowEvent("done", data={"n": n})

    manager.register("stream", stream)

    async def run() -> Any:
        received, result = 0, None
        async for event in manager.process(WorkflowEvent("stream")):
            if event.name == "progress":
                received += 1
            elif event.name == "done":
                result = event.data["n"]
        return received, result

    return Case(run=run, expected=(n, n), events=n)


@dataclass
class _Progress:
    step: str
    description: str


def _floor(n: int) -> Case:
    async def stream() -> Any:
        for _ in range(n):
            yield _Progress("stream", "tick")
        yield n

    async def run() -> Any:
        received, result = 0, None
        async for item in stream():
            if type(item) is _Progress:
                received += 1
            else:
                result = item
        return received, result

    return Case(run=run, expected=(n, n), events=n)


def generate(impl: str, n: int) -> None:
    """Nothing to generate: one step, declared in this module."""


def prepare(impl: str, n: int, trace: bool = True, view: bool = False) -> Case:
    if impl == "notebook_flow":
        return _flow_run(n, trace, view)
    if impl in ("notebook_flow_process", "microflow"):
        return _process(impl, n)
    if impl == "langgraph":
        from . import peer_langgraph

        return peer_langgraph.stream(n)
    if impl == "llamaindex":
        from . import peer_llamaindex

        return peer_llamaindex.stream(n)
    return _floor(n)


COLUMNS = EVERY_IMPLEMENTATION


def table(scale: str) -> Table:
    sizes = (100,) if scale == "tiny" else (100_000,)
    return Table(
        key="W5",
        title="W5 one step streaming progress to the caller",
        what=(
            "progress events per second reaching the caller (trace on); higher is better. "
            "The target counts `notebook_flow` (`async for record in flow.run(...)`)."
        ),
        columns=COLUMNS,
        rows=tuple(Row(f"N = {n:,}", "stream", n, EVENTS_PER_SECOND) for n in sizes),
        ratios=(
            Ratio("nf ÷ floor", "notebook_flow", "asyncio floor", "raw"),
            Ratio("nf better than microflow", "notebook_flow", "microflow"),
            Ratio("nf process better than microflow", "nf process", "microflow"),
            Ratio("nf better than LangGraph", "notebook_flow", "LangGraph"),
            Ratio("nf better than LlamaIndex", "notebook_flow", "LlamaIndex"),
        ),
    )
