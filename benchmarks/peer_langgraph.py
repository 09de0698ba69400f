"""The workloads written for LangGraph, as its documentation shows them.

Each graph is a ``StateGraph`` over a ``TypedDict`` state, compiled once before the timed run
(compiling is part of declaring, like importing the other implementations' steps) and run with
``ainvoke`` / ``astream``:

- W1 chain: N nodes joined by ``add_edge``; one node per super-step, so ``recursion_limit`` is
  raised to N (the default, 25, would stop the run);
- W2 fan-out: the map-reduce pattern of the docs, ``Send`` one task per item to a ``work`` node,
  their results merged by an ``operator.add`` reducer, then a ``join`` node;
- W3 re-trigger: one node with a conditional edge back to itself until the count is reached;
- W5 stream: the node writes each progress item with ``get_stream_writer()``; the caller reads
  ``astream(stream_mode=["custom", "updates"])``;
- W7 runs: root, two nodes on edges from it (one super-step, run in parallel), a join node on
  ``add_edge([a, b], join)`` (waits for both); one compiled graph, ``ainvoke`` per run.
"""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict, cast

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from .harness import Case
from .w7_runs import RunsWorkload

_RECURSION_SLACK = 10  # super-steps beyond the nodes that run (START, END bookkeeping)


class ChainState(TypedDict):
    v: int


async def _add_one(state: ChainState) -> dict[str, int]:
    return {"v": state["v"] + 1}


def chain(n: int) -> Case:
    t0 = time.perf_counter()
    builder = StateGraph(ChainState)
    previous = START
    for i in range(1, n + 1):
        builder.add_node(f"s{i}", _add_one)
        builder.add_edge(previous, f"s{i}")
        previous = f"s{i}"
    builder.add_edge(previous, END)
    graph = builder.compile()
    define_seconds = time.perf_counter() - t0
    config: Any = {"recursion_limit": n + _RECURSION_SLACK}

    async def run() -> Any:
        final = await graph.ainvoke({"v": 0}, config)
        return final["v"]

    return Case(run=run, expected=n, events=n, define_seconds=define_seconds)


class FanoutState(TypedDict, total=False):  # the input sets no total
    results: Annotated[list[int], operator.add]
    total: int


class WorkState(TypedDict):
    i: int


def fanout(n: int, sleep: float) -> Case:

    async def start(state: FanoutState) -> dict[str, Any]:
        return {}

    def spread(state: FanoutState) -> list[Send]:
        return [Send("work", {"i": i}) for i in range(n)]

    async def work(state: WorkState) -> dict[str, list[int]]:
        await asyncio.sleep(sleep)
        return {"results": [state["i"]]}

    async def join(state: FanoutState) -> dict[str, int]:
        return {"total": sum(state["results"])}

    t0 = time.perf_counter()
    builder = StateGraph(FanoutState)
    builder.add_node("start", start)
    builder.add_node("work", work)
    builder.add_node("join", join)
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", spread, ["work"])
    builder.add_edge("work", "join")
    builder.add_edge("join", END)
    graph = builder.compile()
    define_seconds = time.perf_counter() - t0

    async def run() -> Any:
        start: FanoutState = {"results": []}
        final = await graph.ainvoke(start)
        return final["total"]

    return Case(run=run, expected=n * (n - 1) // 2, events=n, define_seconds=define_seconds)


class TickState(TypedDict):
    n: int
    target: int


def retrigger(n: int) -> Case:

    async def tick(state: TickState) -> dict[str, int]:
        return {"n": state["n"] + 1}

    def again(state: TickState) -> str:
        return "tick" if state["n"] < state["target"] else END

    builder = StateGraph(TickState)
    builder.add_node("tick", tick)
    builder.add_edge(START, "tick")
    builder.add_conditional_edges("tick", again, ["tick", END])
    graph = builder.compile()
    config: Any = {"recursion_limit": n + _RECURSION_SLACK}

    async def run() -> Any:
        final = await graph.ainvoke({"n": 0, "target": n}, config)
        return final["n"]

    return Case(run=run, expected=n, events=n)


class StreamState(TypedDict, total=False):  # the input is empty
    result: int


def stream(n: int) -> Case:

    async def streamer(state: StreamState) -> dict[str, int]:
        write = get_stream_writer()
        for _ in range(n):
            write({"step": "stream", "description": "tick"})
        return {"result": n}

    builder = StateGraph(StreamState)
    builder.add_node("stream", streamer)
    builder.add_edge(START, "stream")
    builder.add_edge("stream", END)
    graph = builder.compile()

    async def run() -> Any:
        received, result = 0, None
        empty: StreamState = {}
        async for part in graph.astream(empty, stream_mode=["custom", "updates"]):
            mode, chunk = cast(tuple[str, Any], part)  # (mode, chunk) with a list of modes
            if mode == "custom":
                received += 1
            elif mode == "updates":
                result = chunk["stream"]["result"]
        return received, result

    return Case(run=run, expected=(n, n), events=n)


class RunsState(TypedDict, total=False):  # the input sets x only
    x: int
    root: int
    a: int
    b: int
    out: int


def runs(workload: RunsWorkload) -> Case:

    async def root(state: RunsState) -> dict[str, int]:
        return {"root": workload.root(state["x"])}

    async def a(state: RunsState) -> dict[str, int]:
        return {"a": workload.left(state["root"])}

    async def b(state: RunsState) -> dict[str, int]:
        return {"b": workload.right(state["root"])}

    async def join(state: RunsState) -> dict[str, int]:
        return {"out": workload.join(state["a"], state["b"])}

    builder = StateGraph(RunsState)
    for name, node in (("root", root), ("a", a), ("b", b), ("join", join)):
        builder.add_node(name, node)
    builder.add_edge(START, "root")
    builder.add_edge("root", "a")
    builder.add_edge("root", "b")
    builder.add_edge(["a", "b"], "join")
    builder.add_edge("join", END)
    graph = builder.compile()

    async def one(x: int) -> int:
        start: RunsState = {"x": x}
        final = await graph.ainvoke(start)
        return int(final["out"])

    return workload.case(one)
