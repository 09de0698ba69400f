"""W7: many small runs. 2,000 runs of a four-step flow (root, two parallel steps, a join), 50 in
flight at any time; the figure is µs per run (whole wall time / runs).

Run ``x`` computes root = x, a = root + 1, b = root * 2 (a and b after root, side by side), and
join = a + b; the answer is the sum of every run's join. Fifty worker coroutines take the next run
number until all are done: the same driver for every implementation, so what differs is what one
run costs (set-up, scheduling, records, tear-down). The flow is declared once, before the timed
part; each run is a fresh run of it.

microflow has no parallel steps: its runs (and ``nf process``) go root, a, b, join one after
another, which costs them nothing here since no step waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import styles
from .harness import Case
from .tables import EVERY_IMPLEMENTATION, Metric, Ratio, Row, Table

RUNS = 2_000
IN_FLIGHT = 50

UNFIT: dict[str, str] = {}

PER_RUN_US = Metric(
    "per run", "µs", "time", "lower", lambda s: s["seconds"] / s["events"] * 1e6, digits=1
)


@dataclass(frozen=True)
class RunsWorkload:
    """What one run computes (every implementation's steps call these) and how runs are driven."""

    runs: int
    in_flight: int = IN_FLIGHT

    @staticmethod
    def root(x: int) -> int:
        return x

    @staticmethod
    def left(root: int) -> int:
        return root + 1

    @staticmethod
    def right(root: int) -> int:
        return root * 2

    @staticmethod
    def join(a: int, b: int) -> int:
        return a + b

    def expected(self) -> int:
        return sum(
            self.join(self.left(self.root(x)), self.right(self.root(x))) for x in range(self.runs)
        )

    def case(self, one_run: Callable[[int], Awaitable[int]], define_seconds: float = 0.0) -> Case:
        """The timed part: ``in_flight`` workers run ``one_run(x)`` for x in range(runs)."""
        runs, in_flight = self.runs, self.in_flight

        async def worker(numbers: Iterator[int]) -> int:
            total = 0
            for x in numbers:  # one shared iterator: each number is taken by one worker
                total += await one_run(x)
            return total

        async def run() -> Any:
            numbers = iter(range(runs))
            totals = await asyncio.gather(*(worker(numbers) for _ in range(in_flight)))
            return sum(totals)

        return Case(run=run, expected=self.expected(), events=runs, define_seconds=define_seconds)


def _drive_style(impl: str, workload: RunsWorkload, trace: bool) -> Case:
    flow = styles.drive_engine(impl)("w7_runs")

    @flow.make_event
    async def root(event: Any, ctx: Any) -> int:
        return workload.root(event)

    @flow.listen_group([root])
    async def a(event: Any, ctx: Any) -> int:
        return workload.left(event.results[root.id])

    @flow.listen_group([root])
    async def b(event: Any, ctx: Any) -> int:
        return workload.right(event.results[root.id])

    @flow.listen_group([a, b])
    async def join(event: Any, ctx: Any) -> int:
        return workload.join(event.results[a.id], event.results[b.id])

    if impl == "notebook_flow":

        async def one(x: int) -> int:
            results = await flow.run(root, x, trace=trace)
            return int(results[join.id])

    else:

        async def one(x: int) -> int:
            results = await flow.invoke_event(root, x)
            return int(results[join.id]["result"])

    return workload.case(one)


def _microflow_style(impl: str, workload: RunsWorkload) -> Case:
    names = styles.pipeline_names(impl)
    WorkflowEvent = names.WorkflowEvent
    manager = names.WorkflowManager()

    async def root(event: Any, ctx: Any) -> Any:
        yield WorkflowEvent("a", data={"root": workload.root(event.data["x"])})

    async def a(event: Any, ctx: Any) -> Any:
        yield WorkflowEvent("b", data={**event.data, "a": workload.left(event.data["root"])})

    async def b(event: Any, ctx: Any) -> Any:
        yield WorkflowEvent("join", data={**event.data, "b": workload.right(event.data["root"])})

    async def join(event: Any, ctx: Any) -> Any:
        yield WorkflowEvent("done", data={"out": workload.join(event.data["a"], event.data["b"])})

    manager.register("root", root).register("a", a).register("b", b).register("join", join)

    async def one(x: int) -> int:
        last: Any = None
        async for event in manager.process(WorkflowEvent("root", data={"x": x})):
            last = event
        if last is None or last.name != "done":
            raise RuntimeError(f"W7 run {x} ended on {last!r}, not on 'done'")
        return int(last.data["out"])

    return workload.case(one)


def _floor(workload: RunsWorkload) -> Case:
    async def root(x: int) -> int:
        return workload.root(x)

    async def a(r: int) -> int:
        return workload.left(r)

    async def b(r: int) -> int:
        return workload.right(r)

    async def join(left: int, right: int) -> int:
        return workload.join(left, right)

    async def one(x: int) -> int:
        r = await root(x)
        left, right = await asyncio.gather(a(r), b(r))
        return await join(left, right)

    return workload.case(one)


def generate(impl: str, n: int) -> None:
    """Nothing to generate: the four steps are declared in this module."""


def prepare(impl: str, n: int, trace: bool = True) -> Case:
    workload = RunsWorkload(runs=n)
    if impl in ("notebook_flow", "drive_flow"):
        return _drive_style(impl, workload, trace)
    if impl in ("notebook_flow_process", "microflow"):
        return _microflow_style(impl, workload)
    if impl == "langgraph":
        from . import peer_langgraph

        return peer_langgraph.runs(workload)
    if impl == "llamaindex":
        from . import peer_llamaindex

        return peer_llamaindex.runs(workload)
    return _floor(workload)


COLUMNS = EVERY_IMPLEMENTATION


def table(scale: str) -> Table:
    sizes = (20,) if scale == "tiny" else (RUNS,)
    return Table(
        key="W7",
        title=f"W7 many small runs (root, two parallel steps, a join; {IN_FLIGHT} in flight)",
        what=(
            "µs per run (wall time of all runs ÷ runs, trace on, the default); lower is better. "
            "microflow and nf process run a and b one after another (no parallel steps there)."
        ),
        columns=COLUMNS,
        rows=tuple(Row(f"{n:,} runs", "runs", n, PER_RUN_US) for n in sizes),
        ratios=(
            Ratio("nf ÷ floor", "notebook_flow", "asyncio floor", "raw"),
            Ratio("nf faster than drive-flow", "notebook_flow", "drive-flow"),
            Ratio("nf faster than LangGraph", "notebook_flow", "LangGraph"),
            Ratio("nf faster than LlamaIndex", "notebook_flow", "LlamaIndex"),
        ),
    )
