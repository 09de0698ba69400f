"""W4: peak memory of W1 (chain) and W2 (fan-out), each in its own fresh process.

Two measurements per cell, in separate processes (tracemalloc would inflate the RSS):
- peak RSS during the run: the kernel's high-water mark, reset just before the run starts, so it
  is the whole process (interpreter, imports, declared steps) at its largest while the run goes;
  the target (within 1.2x of the floor) is judged on this one. "RSS growth" is that peak minus
  the RSS just before the run (what the run itself added, as the machine sees it);
- the Python heap peak of the run alone (tracemalloc started just before it): the memory the
  engine itself allocates to run, which is what engine changes move.
"""

from __future__ import annotations

from .tables import (
    EVERY_IMPLEMENTATION,
    HEAP_PEAK_MB,
    PEAK_RSS_MB,
    RSS_GROWTH_MB,
    Ratio,
    Row,
    Table,
)

#: notebook_flow, the seeds and the floor (the shape's UNFIT blanks what is n/a); the peers'
#: memory is not a goal, and their imports (LangGraph's ~50 MB) would dwarf the runs' own
COLUMNS = tuple(c for c in EVERY_IMPLEMENTATION if c.impl not in ("langgraph", "llamaindex"))


def table(scale: str) -> Table:
    tiny = scale == "tiny"
    chain_sizes = (10,) if tiny else (1_000, 10_000)
    # the smoke run measures the chain only: the fan-out's answers are checked in W2 already
    fanout_sizes: tuple[int, ...] = () if tiny else (10, 100, 1_000, 10_000)
    rows = []
    for metric, short in (
        (PEAK_RSS_MB, "peak RSS"), (RSS_GROWTH_MB, "RSS growth"), (HEAP_PEAK_MB, "run heap")
    ):
        rows += [Row(f"W1 chain N = {n:,}, {short}", "chain", n, metric) for n in chain_sizes]
        rows += [Row(f"W2 fan-out N = {n:,}, {short}", "fanout", n, metric) for n in fanout_sizes]
    return Table(
        key="W4",
        title="W4 peak memory of W1 and W2",
        what=(
            "MB; lower is better. Peak RSS = whole process at its largest during the run "
            "(target: within 1.2x of the floor); RSS growth = that peak minus the RSS before the "
            "run; run heap = Python allocations of the run alone (tracemalloc)."
        ),
        columns=COLUMNS,
        rows=tuple(rows),
        ratios=(
            Ratio("nf ÷ floor", "notebook_flow", "asyncio floor", "raw"),
            Ratio("nf smaller than drive-flow", "notebook_flow", "drive-flow"),
            Ratio("nf smaller than microflow", "notebook_flow", "microflow"),
        ),
    )
