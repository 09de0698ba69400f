"""The goals of issues 11 (one engine) and 12 (the live view), judged on the medians of one run.

Every goal but one is a ratio of two cells of the same table, measured in the same run, so a
loaded machine moves both sides alike; the one absolute figure is the time to build a view.
``quick`` mode measures exactly the cells these goals read (``needed_cells``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .tables import TableResult

Results = dict[str, TableResult]
Bound = Literal["at most", "below", "at least"]
_SIGN = {"at most": "≤", "below": "<", "at least": "≥"}


@dataclass(frozen=True)
class Goal:
    """``a`` ÷ ``b`` (cells of one table row), or ``a``'s set-up seconds when ``setup`` is set."""

    issue: int
    what: str
    table: str
    row: str
    a: str
    bound: Bound
    limit: float
    b: str | None = None
    setup: str | None = None  # a sample's untimed set-up figure (seconds), e.g. "view_seconds"

    def wording(self) -> str:
        unit = " s" if self.setup else "×"
        return f"{_SIGN[self.bound]} {self.limit:g}{unit}"

    def cells(self) -> list[tuple[str, str, str]]:
        """The (table, row, column) cells this goal reads."""
        columns = [self.a] if self.b is None else [self.a, self.b]
        return [(self.table, self.row, column) for column in columns]


@dataclass(frozen=True)
class GoalResult:
    goal: Goal
    value: float | None
    met: bool | None  # None: a figure is missing (not measured, skipped, or a tiny run)

    @property
    def figure(self) -> str:
        if self.value is None:
            return "—"
        return f"{self.value:.3f} s" if self.goal.setup else f"{self.value:.2f}×"


def _w1(n: str, column: str, limit: float, trace: str) -> Goal:
    return Goal(11, f"W1 N = {n} per step, {trace} ÷ microflow", "W1", f"N = {n}", column,
                "at most", limit, b="microflow")


def _view(n: str) -> Goal:
    return Goal(12, f"W1 N = {n} with the live view ÷ trace alone", "W6", f"W1 chain N = {n}",
                "trace on + live view", "at most", 1.3, b="trace on")


GOALS: tuple[Goal, ...] = (
    _w1("1,000", "notebook_flow", 1.5, "default trace"),
    _w1("10,000", "notebook_flow", 1.5, "default trace"),
    _w1("1,000", "nf trace off", 1.0, "trace=False"),
    _w1("10,000", "nf trace off", 1.0, "trace=False"),
    Goal(11, "W3 N = 10,000 per re-trigger, default trace ÷ microflow", "W3", "N = 10,000",
         "notebook_flow", "at most", 1.5, b="microflow"),
    Goal(11, "W3 N = 10,000 per re-trigger, trace=False ÷ microflow", "W3", "N = 10,000",
         "nf trace off", "at most", 1.0, b="microflow"),
    Goal(11, "W5 N = 100,000 events/s, WorkflowManager.process ÷ microflow", "W5",
         "N = 100,000", "nf process", "at least", 1.0, b="microflow"),
    Goal(11, "W7 2,000 runs, µs per run ÷ the asyncio floor's", "W7", "2,000 runs",
         "notebook_flow", "at most", 1.5, b="asyncio floor"),
    Goal(11, "W2 N = 10,000 efficiency ÷ the asyncio floor's", "W2", "N = 10,000",
         "notebook_flow", "at least", 0.9, b="asyncio floor"),
    _view("1,000"),
    _view("10,000"),
    Goal(12, "building the live view of a 1,000-node flow (W1 chain)", "W6",
         "W1 chain N = 1,000", "trace on + live view", "below", 0.5, setup="view_seconds"),
)


def needed_cells() -> set[tuple[str, str, str]]:
    return {cell for goal in GOALS for cell in goal.cells()}


def _value(goal: Goal, results: Results) -> float | None:
    result = results.get(goal.table)
    if result is None:
        return None
    if goal.setup is not None:
        cell = result.cells.get((goal.row, goal.a))
        return None if cell is None or cell.median is None else cell.setup.get(goal.setup)
    a, b = result.median(goal.row, goal.a), result.median(goal.row, goal.b or "")
    if a is None or b is None or b == 0:
        return None
    return a / b


def evaluate(results: Results) -> list[GoalResult]:
    judged = []
    for goal in GOALS:
        value = _value(goal, results)
        if value is None:
            met = None
        elif goal.bound == "at most":
            met = value <= goal.limit
        elif goal.bound == "below":
            met = value < goal.limit
        else:
            met = value >= goal.limit
        judged.append(GoalResult(goal, value, met))
    return judged


def markdown(judged: list[GoalResult]) -> str:
    mark = {True: "met", False: "**not met**", None: "no figure"}
    lines = ["| issue | figure | goal | measured | met? |", "|---|---|---:|---:|---|"]
    lines += [
        f"| {j.goal.issue} | {j.goal.what} | {j.goal.wording()} | {j.figure} | {mark[j.met]} |"
        for j in judged
    ]
    return "\n".join(lines)
