"""The shared machinery of the benchmarks: what a case is, how one is measured, and fresh processes.

A *case* is one workload prepared for one implementation: everything declared, nothing run. The
child process (``benchmarks.child``) prepares exactly one case, measures its run once in the mode
asked (wall time, peak RSS, or peak Python heap), checks the answer, and prints one JSON line.
The runner starts a fresh child per measurement so no run warms up, or leaks into, another.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import py_compile
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH-RESULT "
MODES = ("time", "rss", "heap")

#: The workload shape each module implements (W4 and W6 measure these shapes again).
SHAPES = {
    "chain": "benchmarks.w1_chain",
    "fanout": "benchmarks.w2_fanout",
    "retrigger": "benchmarks.w3_retrigger",
    "stream": "benchmarks.w5_stream",
    "runs": "benchmarks.w7_runs",
}


def shape_module(shape: str) -> Any:
    """The module that prepares ``shape``: it has ``prepare(impl, n, **options) -> Case``."""
    return importlib.import_module(SHAPES[shape])


# -- cases --------------------------------------------------------------------------------------
@dataclass
class Case:
    """A prepared workload: ``await run()`` is the measured part and returns the answer."""

    run: Callable[[], Awaitable[Any]]
    expected: Any
    events: int  # what the per-event cost divides by
    define_seconds: float = 0.0  # declaring the steps (not part of the measured run)
    view_seconds: float = 0.0  # building a live view before the run (W6; not measured either)
    keep: Any = None  # what must stay alive while the run goes (e.g. a live view following it)


@dataclass(frozen=True)
class Spec:
    """One measurement: which case (shape, implementation, size, options) and which mode."""

    shape: str
    impl: str
    n: int
    mode: str = "time"
    options: tuple[tuple[str, Any], ...] = ()

    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "benchmarks.child", self.shape, self.impl, str(self.n),
            "--mode", self.mode, "--options", json.dumps(self.option_dict(), sort_keys=True),
        ]


def options(**kwargs: Any) -> tuple[tuple[str, Any], ...]:
    """Hashable, ordered options for a Spec."""
    return tuple(sorted(kwargs.items()))


# -- static step modules ------------------------------------------------------------------------
def static_module_dir() -> Path:
    """Where generated step modules live (inside the git-ignored results folder)."""
    default = REPO / "benchmarks" / "results" / "generated"
    path = Path(os.environ.get("BENCH_GENERATED_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_static_module(name: str, source: str) -> Path:
    """Write a generated module of statically declared steps and compile it ahead of time.

    Compiling here, in the parent, keeps the compiler's memory peak out of the children's
    measurements; drive-flow reads the file for its event ids, so the steps must live in a file.
    """
    path = static_module_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        path.write_text(source)
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)), doraise=True)
    return path


def import_static_module(name: str) -> tuple[Any, float]:
    """Import a module written by ``write_static_module``; returns it and the seconds it took."""
    path = static_module_dir() / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} was not generated; the runner writes it before the child runs"
        )
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect.getsource (drive-flow's ids) looks modules up here
    t0 = time.perf_counter()
    spec.loader.exec_module(module)
    return module, time.perf_counter() - t0


# -- measuring inside the child -----------------------------------------------------------------
def _status_kb(field_name: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark so the peak seen is the run's own (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def measure(case: Case, mode: str) -> dict[str, Any]:
    """Run ``case`` once in this process and return its sample (answer included)."""
    sample: dict[str, Any] = {
        "events": case.events, "define_seconds": case.define_seconds,
        "view_seconds": case.view_seconds,
    }

    async def main() -> Any:
        gc.collect()
        if mode == "rss":
            sample["peak_reset"] = _reset_peak_rss()
            sample["rss_before_kb"] = _status_kb("VmRSS")
        elif mode == "heap":
            tracemalloc.start()
        t0 = time.perf_counter()
        answer = await case.run()
        sample["seconds"] = time.perf_counter() - t0
        if mode == "rss":
            sample["peak_rss_kb"] = _status_kb("VmHWM")
        elif mode == "heap":
            sample["heap_peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return answer

    answer = asyncio.run(main())
    sample["ok"] = answer == case.expected
    if not sample["ok"]:
        sample["answer"] = repr(answer)[:300]
        sample["expected"] = repr(case.expected)[:300]
    return sample


# -- running a measurement in a fresh process ---------------------------------------------------
@dataclass
class Outcome:
    """What one fresh-process measurement gave: a sample, or why there is none."""

    sample: dict[str, Any] | None = None
    skipped: str | None = None  # e.g. "skipped: > 60 s"
    error: str | None = None
    wall: float = 0.0


def run_fresh(spec: Spec, limit: float) -> Outcome:
    """Measure ``spec`` in a new Python process, killed after ``limit`` seconds."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            spec.argv(), cwd=REPO, capture_output=True, text=True, timeout=limit,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    except subprocess.TimeoutExpired:
        return Outcome(skipped=f"skipped: > {limit:g} s", wall=time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return Outcome(sample=json.loads(line[len(RESULT_PREFIX):]), wall=wall)
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
    return Outcome(error=f"exit {proc.returncode}: " + " | ".join(tail), wall=wall)
