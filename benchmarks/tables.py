"""What a results table is made of, and how its cells and ratios come out of the samples.

A table belongs to one workload. Its rows are (shape, size, metric); its columns are
implementations (or, in W6, observers of one implementation). Each cell is the median of the
repeated fresh-process measurements of ``row.spec(column)``.
"""

from __future__ import annotations

import importlib.util
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .harness import Spec, options, shape_module

IMPL_NAMES = {
    "notebook_flow": "notebook_flow (Flow.run)",
    "notebook_flow_process": "notebook_flow (WorkflowManager.process)",
    "drive_flow": "drive-flow 0.0.1",
    "microflow": "microflow 0.1.0",
    "langgraph": "LangGraph 1.2.22",
    "llamaindex": "LlamaIndex Workflows 2.26.1",
    "asyncio": "bare asyncio (floor)",
}


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    mode: str  # how the child measures: "time", "rss" or "heap"
    better: str  # "lower" or "higher"
    value: Callable[[dict[str, Any]], float]
    digits: int = 2


@dataclass(frozen=True)
class Column:
    label: str
    impl: str
    options: tuple[tuple[str, Any], ...] = ()
    #: returns why this column cannot be measured on this machine now (None: it can)
    unavailable: Callable[[], str | None] | None = None


#: The columns of a workload every implementation can run: notebook_flow (trace on), its
#: microflow-style front-end, the two seeds, the two peers and the bare-asyncio floor.
EVERY_IMPLEMENTATION = (
    Column("notebook_flow", "notebook_flow", options(trace=True)),
    Column("nf process", "notebook_flow_process"),
    Column("drive-flow", "drive_flow"),
    Column("microflow", "microflow"),
    Column("LangGraph", "langgraph"),
    Column("LlamaIndex", "llamaindex"),
    Column("asyncio floor", "asyncio"),
)

#: notebook_flow with the trace off: the column the "at or below microflow" goals compare.
TRACE_OFF = Column("nf trace off", "notebook_flow", options(trace=False))

#: How much a run measures: "tiny" (the smoke test: every answer, no meaningful figure),
#: "quick" (the sizes the goals name) or "full".
SCALES = ("tiny", "quick", "full")


@dataclass(frozen=True)
class Row:
    label: str
    shape: str
    n: int
    metric: Metric

    def spec(self, column: Column) -> Spec:
        return Spec(self.shape, column.impl, self.n, self.metric.mode, column.options)

    def unfit(self, column: Column) -> str | None:
        """Why this cell is not measured (outside the implementation's model, or unavailable)."""
        reason: str | None = shape_module(self.shape).UNFIT.get(column.impl)
        if reason is None:
            reason = peer_missing(column.impl)
        if reason is None and column.unavailable is not None:
            reason = column.unavailable()
        return reason


_PEER_MODULES = {
    "drive_flow": "drive_flow", "microflow": "microflow", "langgraph": "langgraph",
    "llamaindex": "workflows",
}


def peer_missing(impl: str) -> str | None:
    """Why a peer library cannot be measured here (not installed), or None."""
    module = _PEER_MODULES.get(impl)
    if module is None or importlib.util.find_spec(module) is not None:
        return None
    return f"not installed: {module} (pip install 'notebook_flow[bench]')"


@dataclass(frozen=True)
class Ratio:
    """``a`` against ``b``: "raw" is a / b; "advantage" is how many times better a is than b;
    "cost" is how many times more a costs than b (the inverse of advantage)."""

    label: str
    a: str
    b: str
    kind: str = "advantage"


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    what: str  # one sentence: what is run and what the metric means
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    ratios: tuple[Ratio, ...] = ()
    #: untimed set-up figures to list under the table: sample key -> what it is
    setup: tuple[tuple[str, str], ...] = ()


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    note: str | None = None  # unfit / skipped / error text when there is no value
    wrong: bool = False  # some repeat gave a wrong answer
    setup: dict[str, float] = field(default_factory=dict)  # median untimed set-up seconds

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values and not self.wrong else None

    @property
    def spread(self) -> float | None:
        """Half the min-max range, relative to the median (a plain noise figure)."""
        med = self.median
        if med is None or len(self.values) < 2 or med == 0:
            return None
        return (max(self.values) - min(self.values)) / 2 / abs(med)

    def to_json(self) -> dict[str, Any]:
        return {
            "median": self.median, "values": self.values, "spread": self.spread,
            "note": self.note, "wrong": self.wrong, "setup_seconds": self.setup,
        }


def ratio(kind: str, better: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a == 0 or b == 0:
        return None
    if kind == "raw":
        return a / b
    advantage = b / a if better == "lower" else a / b
    return 1 / advantage if kind == "cost" else advantage


# -- the metrics the workloads share ------------------------------------------------------------
PER_EVENT_US = Metric(
    "per event", "µs", "time", "lower", lambda s: s["seconds"] / s["events"] * 1e6, digits=2
)
EVENTS_PER_SECOND = Metric(
    "events/s to the caller", "events/s", "time", "higher", lambda s: s["events"] / s["seconds"],
    digits=0,
)
PEAK_RSS_MB = Metric(
    "peak RSS during the run", "MB", "rss", "lower", lambda s: s["peak_rss_kb"] / 1024, digits=1
)
RSS_GROWTH_MB = Metric(
    "RSS growth during the run", "MB", "rss", "lower",
    lambda s: (s["peak_rss_kb"] - s["rss_before_kb"]) / 1024, digits=1,
)
HEAP_PEAK_MB = Metric(
    "Python heap peak of the run", "MB", "heap", "lower", lambda s: s["heap_peak_bytes"] / 2**20,
    digits=2,
)


@dataclass
class TableResult:
    """A table and its measured cells, keyed by (row label, column label)."""

    table: Table
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def median(self, row_label: str, column_label: str) -> float | None:
        cell = self.cells.get((row_label, column_label))
        return cell.median if cell is not None else None
