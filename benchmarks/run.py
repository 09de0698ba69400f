"""Run every benchmark: ``python -m benchmarks.run`` (from the repository root).

Each cell of each table is measured ``--repeat`` times, each time in a fresh Python process, in
rounds (every cell once, then every cell again) so a burst of machine load hits all of them
alike. A measurement that passes ``--limit`` seconds is stopped and shown as "skipped: > N s"
(and not retried). Every answer is checked; a wrong answer or a crashed measurement makes the
exit status 1. Results go to ``<out>/latest.md`` and ``<out>/latest.json``; the markdown is also
printed.

``--tiny`` is the CI smoke run: tiny sizes, one repeat, every answer checked, figures
meaningless. ``--quick`` measures only the cells the goals of issues 11 and 12 read (goals.py), at
the sizes they name, 3 repeats: the goals table in a few minutes, e.g. after an engine change.
Without either, every table at every size, 5 repeats (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import (
    goals,
    report,
    targets,
    w1_chain,
    w2_fanout,
    w3_retrigger,
    w4_memory,
    w5_stream,
    w6_observed,
    w7_runs,
)
from .harness import REPO, Outcome, Spec, run_fresh, shape_module
from .tables import Cell, Table, TableResult

WORKLOADS = {
    "W1": w1_chain, "W2": w2_fanout, "W3": w3_retrigger,
    "W4": w4_memory, "W5": w5_stream, "W6": w6_observed, "W7": w7_runs,
}
DEFAULT_REPEATS = {"tiny": 1, "quick": 3, "full": 5}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--tiny", action="store_const", const="tiny", dest="scale",
                       help="CI smoke run: tiny sizes, 1 repeat, answers checked")
    scale.add_argument("--quick", action="store_const", const="quick", dest="scale",
                       help="only the cells the goals read, at their sizes, 3 repeats")
    parser.set_defaults(scale="full")
    parser.add_argument("--repeat", type=int, default=None,
                        help="measurements per cell (default 5; 3 with --quick, 1 with --tiny)")
    parser.add_argument("--memory-repeat", type=int, default=3,
                        help="measurements per W4 cell (memory varies little; default 3, "
                             "at most --repeat)")
    parser.add_argument("--limit", type=float, default=60.0,
                        help="seconds before a measurement is stopped")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--impl", default="",
                        help="comma-separated implementations to measure (default: all), e.g. "
                             "notebook_flow,asyncio; the others' cells say 'not run'")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results",
                        help="folder for latest.md / latest.json")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = DEFAULT_REPEATS[args.scale]
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    return args


def goal_rows_only(table: Table) -> Table | None:
    """``table`` cut to the rows some goal reads (None when no goal reads it): for --quick."""
    wanted = {row for key, row, _ in goals.needed_cells() if key == table.key}
    rows = tuple(row for row in table.rows if row.label in wanted)
    return replace(table, rows=rows) if rows else None


class Measurements:
    """Every distinct Spec of the run, measured in rounds; shared by the cells that need it."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.samples: dict[Spec, list[dict[str, Any]]] = {}
        self.stopped: dict[Spec, str] = {}  # why a spec gets no more repeats
        self.failed = False

    def add(self, spec: Spec) -> None:
        self.samples.setdefault(spec, [])

    def _stopped_twin(self, spec: Spec) -> str | None:
        """A case whose timed run was too slow is not tried again to measure its memory.

        (Not the other way round: under tracemalloc a run is several times slower.)
        """
        if spec.mode == "time":
            return None
        for other, why in self.stopped.items():
            if why.startswith("skipped") and other.mode == "time" and (
                other.shape, other.impl, other.n, other.options
            ) == (spec.shape, spec.impl, spec.n, spec.options):
                return f"{why} (in its timed run)"
        return None

    def run(self, repeats: int, memory_repeats: int) -> None:
        specs = list(self.samples)
        for round_no in range(1, repeats + 1):
            for spec in specs:
                if spec in self.stopped or (spec.mode != "time" and round_no > memory_repeats):
                    continue
                twin = self._stopped_twin(spec)
                if twin is not None:
                    self.stopped[spec] = twin
                    continue
                outcome = run_fresh(spec, self.limit)
                self._record(spec, outcome)
                _log(f"round {round_no}/{repeats} {spec.shape:9} {spec.impl:22} N={spec.n:<7} "
                     f"{spec.mode:4} {dict(spec.options) or ''} -> {_describe(outcome)}")

    def _record(self, spec: Spec, outcome: Outcome) -> None:
        if outcome.sample is not None:
            self.samples[spec].append(outcome.sample)
            if not outcome.sample["ok"]:
                self.failed = True
                self.stopped[spec] = (
                    f"wrong answer: got {outcome.sample.get('answer')}, "
                    f"expected {outcome.sample.get('expected')}"
                )
        elif outcome.skipped is not None:
            self.stopped[spec] = outcome.skipped
        else:
            self.failed = True
            self.stopped[spec] = f"error: {outcome.error}"

    def cell(self, spec: Spec, metric_value: Any, repeats: int) -> Cell:
        samples = self.samples.get(spec, [])
        cell = Cell(values=[metric_value(s) for s in samples if s["ok"]])
        cell.wrong = any(not s["ok"] for s in samples)
        for key in ("define_seconds", "view_seconds"):
            seconds = [s[key] for s in samples if s.get(key)]
            if seconds:
                cell.setup[key] = statistics.median(seconds)
        why = self.stopped.get(spec)
        if why is not None and not cell.wrong:
            cell.note = why if not cell.values else f"{len(cell.values)} of {repeats} runs; {why}"
        return cell


def _describe(outcome: Outcome) -> str:
    if outcome.sample is not None:
        s = outcome.sample
        answer = "ok" if s["ok"] else f"WRONG (got {s.get('answer')})"
        parts = [f"{s['seconds'] * 1e3:.1f} ms"]
        if "peak_rss_kb" in s:
            parts.append(f"peak RSS {s['peak_rss_kb'] / 1024:.1f} MB")
        if "heap_peak_bytes" in s:
            parts.append(f"heap {s['heap_peak_bytes'] / 2**20:.2f} MB")
        return ", ".join(parts) + f", {answer}"
    return outcome.skipped or f"ERROR {outcome.error}"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_GENERATED_DIR"] = str(args.out.resolve() / "generated")
    chosen = [k.strip().upper() for k in args.only.split(",") if k.strip()] or list(WORKLOADS)
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        _log(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
        return 2
    tables = [WORKLOADS[key].table(args.scale) for key in chosen]
    if args.scale == "quick":
        tables = [t for t in map(goal_rows_only, tables) if t is not None]
    needed = goals.needed_cells()
    impls = {i.strip() for i in args.impl.split(",") if i.strip()}

    measurements = Measurements(args.limit)
    memory_repeats = min(args.memory_repeat, args.repeat)
    notes: dict[tuple[str, str, str], str] = {}
    generated: set[tuple[str, str, int]] = set()
    for table in tables:
        for row in table.rows:
            for column in table.columns:
                reason = row.unfit(column)
                if reason is None and impls and column.impl not in impls:
                    reason = "not run: --impl"
                if reason is None and args.scale == "quick" and (
                    table.key, row.label, column.label
                ) not in needed:
                    reason = "not run: --quick measures what the goals read"
                if reason is not None:
                    notes[(table.key, row.label, column.label)] = reason
                    continue
                spec = row.spec(column)
                measurements.add(spec)
                if (spec.shape, spec.impl, spec.n) not in generated:
                    shape_module(spec.shape).generate(spec.impl, spec.n)
                    generated.add((spec.shape, spec.impl, spec.n))
    meta = report.machine()
    meta.update(
        command="python -m benchmarks.run"
        + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:])),
        repeats=args.repeat, memory_repeats=memory_repeats,
        limit=args.limit, scale=args.scale, tiny=args.scale == "tiny",
        load_average_start=report.load_average(),
    )
    _log(f"{len(measurements.samples)} distinct measurements × {args.repeat} repeat(s)")
    measurements.run(args.repeat, memory_repeats)

    results = []
    for table in tables:
        result = TableResult(table)
        for row in table.rows:
            for column in table.columns:
                note = notes.get((table.key, row.label, column.label))
                if note is not None:
                    result.cells[(row.label, column.label)] = Cell(note=note)
                else:
                    spec = row.spec(column)
                    repeats = args.repeat if spec.mode == "time" else memory_repeats
                    result.cells[(row.label, column.label)] = measurements.cell(
                        spec, row.metric.value, repeats
                    )
        results.append(result)
    by_key = {r.table.key: r for r in results}
    verdicts = [] if args.scale == "quick" else targets.evaluate(by_key)
    judged = goals.evaluate(by_key)
    meta.update(load_average_end=report.load_average(), seconds=time.perf_counter() - started)
    markdown = report.to_markdown(meta, results, verdicts, judged)
    (args.out / "latest.md").write_text(markdown)
    (args.out / "latest.json").write_text(
        json.dumps(report.to_json(meta, results, verdicts, judged), indent=1, default=str)
    )
    print(markdown)
    _log(f"wrote {args.out / 'latest.md'} and latest.json in {meta['seconds']:.0f} s")
    if measurements.failed:
        _log("FAILED: a measurement crashed or gave a wrong answer (see the tables)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
