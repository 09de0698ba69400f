"""The run's results as markdown (quoted by the README) and JSON, with the date and machine."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from .goals import GoalResult
from .goals import markdown as goals_markdown
from .harness import REPO
from .tables import Cell, Metric, TableResult, ratio
from .targets import Verdict


# -- the machine --------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    if os.environ.get("BENCH_GIT_COMMIT"):  # measuring an exported snapshot (no .git there)
        return os.environ["BENCH_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "notebook_flow"], cwd=REPO, capture_output=True,
            text=True, timeout=10,
        )
        return out.stdout.strip() + (" (engine files modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "git": _git_commit(),
        "versions": {
            d: _version(d)
            for d in ("notebook_flow", "drive-flow", "microflow", "langgraph",
                      "llama-index-workflows")
        },
    }


# -- formatting ---------------------------------------------------------------------------------
def format_value(value: float | None, metric: Metric) -> str:
    if value is None:
        return "—"
    if metric.unit == "%":
        return f"{value:.{metric.digits}f}%"
    return f"{value:,.{metric.digits}f}"


def _shown(value: float | None, metric: Metric) -> float | None:
    """``value``, or None when it shows as zero (a ratio to it would mean nothing)."""
    if value is None or abs(value) < 0.5 * 10 ** -metric.digits:
        return None
    return value


def _cell_text(cell: Cell, metric: Metric, notes: list[str]) -> str:
    if cell.wrong:
        return "**WRONG ANSWER**"
    if cell.median is not None:
        text = format_value(cell.median, metric)
        if cell.spread is not None and cell.spread >= 0.005:
            text += f" ±{cell.spread * 100:.0f}%"
        if cell.note:  # e.g. fewer repeats than asked because later ones were skipped
            text += f" ({cell.note})"
        return text
    note = cell.note or "not run"
    if note.startswith("skipped"):
        return note
    if note not in notes:
        notes.append(note)
    label = note.split(":", 1)[0] if ":" in note else "note"
    return f"{label} [{notes.index(note) + 1}]"


def table_markdown(result: TableResult) -> str:
    table = result.table
    header = ["case"] + [c.label for c in table.columns] + [r.label for r in table.ratios]
    lines = [
        f"### {table.title}",
        "",
        table.what,
        "",
        "| " + " | ".join(header) + " |",
        "|---" + "|---:" * (len(header) - 1) + "|",
    ]
    notes: list[str] = []
    for row in table.rows:
        metric = row.metric
        cells = [
            _cell_text(result.cells.get((row.label, c.label), Cell(note="not run")), metric, notes)
            for c in table.columns
        ]
        ratios = []
        for r in table.ratios:
            a, b = result.median(row.label, r.a), result.median(row.label, r.b)
            value = ratio(r.kind, metric.better, _shown(a, metric), _shown(b, metric))
            ratios.append("—" if value is None else f"{value:.2f}×")
        lines.append(f"| {row.label} ({metric.unit}) | " + " | ".join(cells + ratios) + " |")
    if notes:
        lines.append("")
        lines += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    for key, what in table.setup:
        figures = [
            f"{column.label} {row.label}: {cell.setup[key]:.3g} s"
            for row in table.rows
            for column in table.columns
            if (cell := result.cells.get((row.label, column.label))) and key in cell.setup
        ]
        if figures:
            lines += ["", f"{what} (not in the figures above): " + "; ".join(figures) + "."]
    return "\n".join(lines)


def targets_markdown(verdicts: list[Verdict]) -> str:
    mark = {True: "met", False: "**not met**", None: "no figure"}
    lines = ["| target | figure (median) | |", "|---|---:|---|"]
    lines += [f"| {v.target} | {v.figure} | {mark[v.met]} |" for v in verdicts]
    return "\n".join(lines)


def to_markdown(
    meta: dict[str, Any], results: list[TableResult], verdicts: list[Verdict],
    judged: list[GoalResult],
) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    load = meta.get("load_average_start"), meta.get("load_average_end")
    parts = [
        "## notebook_flow benchmarks",
        "",
        f"{meta['date']} · {meta['cpu']}, {meta['cores']} cores · {meta['implementation']} "
        f"{meta['python']} · {meta['os']} · git {meta['git']} · {versions}",
        "",
        f"Command: `{meta['command']}` · {meta['repeats']} repeat(s) per cell "
        f"({meta['memory_repeats']} for W4), each in a fresh process; cells show the median "
        f"and ± half the min-max range · a measurement is "
        f"stopped after {meta['limit']:g} s · load average (1 min) at start/end: "
        f"{_load(load[0])} / {_load(load[1])} · total {meta['seconds']:.0f} s"
        + (" · **tiny sizes (smoke run): figures are not meaningful**" if meta["tiny"] else "")
        + (" · **quick: only the cells the goals read**" if meta["scale"] == "quick" else ""),
        "",
        "#### Goals (issues 11 and 12; each a ratio of two cells of this run)",
        "",
        goals_markdown(judged),
    ]
    if verdicts:
        parts += ["", "#### Targets (issue 6)", "", targets_markdown(verdicts)]
    for result in results:
        parts += ["", table_markdown(result)]
    return "\n".join(parts) + "\n"


def _load(value: Any) -> str:
    return "?" if not value else f"{value[0]:.2f}"


def to_json(
    meta: dict[str, Any], results: list[TableResult], verdicts: list[Verdict],
    judged: list[GoalResult],
) -> dict[str, Any]:
    tables = []
    for result in results:
        table = result.table
        rows = []
        for row in table.rows:
            rows.append({
                "label": row.label, "shape": row.shape, "n": row.n, "metric": row.metric.name,
                "unit": row.metric.unit, "better": row.metric.better,
                "cells": {
                    c.label: result.cells.get((row.label, c.label), Cell(note="not run")).to_json()
                    for c in table.columns
                },
                "ratios": {
                    r.label: ratio(r.kind, row.metric.better, result.median(row.label, r.a),
                                   result.median(row.label, r.b))
                    for r in table.ratios
                },
            })
        tables.append({
            "key": table.key, "title": table.title, "what": table.what,
            "columns": [{"label": c.label, "impl": c.impl, "options": dict(c.options)}
                        for c in table.columns],
            "rows": rows,
        })
    return {
        "meta": meta,
        "goals": [
            {"issue": j.goal.issue, "figure": j.goal.what, "goal": j.goal.wording(),
             "value": j.value, "met": j.met}
            for j in judged
        ],
        "targets": [{"target": v.target, "figure": v.figure, "met": v.met} for v in verdicts],
        "tables": tables,
    }
