"""Soak: a million-event run's memory stays flat after warm-up (a script, not a test).

    python benchmarks/soak_memory.py                  # both scenarios, 1,000,000 steps each
    python benchmarks/soak_memory.py --steps 200000   # quicker
    python benchmarks/soak_memory.py --no-tracemalloc # RSS only, at full speed

Scenarios, each one run of one flow with the default trace (a 10,000-record window) and log:

- chain: one event that goes to itself: the inline fast path, a progress line every 10 steps.
- fan-out: start -> 4 parallel workers -> an "all" join -> goto start: a task per worker, group
  states refilled every round, a progress line per round, a retried failure every 20 rounds.

Every ``--every`` steps the step itself samples the Python heap (tracemalloc: current size and
the peak since the previous sample) and the process RSS. The table shows them; the verdict
compares the samples after warm-up (the first 10 % of the run, when the trace and log windows
fill, which is why the log window gets enough lines to fill early): flat means the spread of the current heap stays under ``--tolerance`` KiB. Exit status 1
if a scenario is not flat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from notebook_flow import Flow, Retry, abort_this, goto_events, progress


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    def __init__(self, every: int, traced: bool) -> None:
        self.every = every
        self.traced = traced
        self.rows: list[tuple[int, float, float, float]] = []  # steps, KiB now, KiB peak, RSS
        self.next_at = every

    def tick(self, steps: int) -> None:
        """Take a sample when ``steps`` has passed the next multiple of ``every``."""
        if steps < self.next_at:
            return
        self.next_at += self.every
        now = peak = float("nan")
        if self.traced:
            current, top = tracemalloc.get_traced_memory()
            now, peak = current / 1024, top / 1024
            tracemalloc.reset_peak()
        self.rows.append((steps, now, peak, rss_mib()))


def chain_flow(total: int, sampler: Sampler) -> tuple[Flow, Any]:
    flow = Flow("soak-chain", max_steps=None)

    @flow.make_event
    async def tick(event: Any, ctx: dict[str, Any]) -> Any:
        ctx["n"] += 1
        n = ctx["n"]
        if n % 10 == 0:
            progress("tick", "ten more", n / total)
        sampler.tick(n)
        return goto_events([tick], n) if n < total else abort_this()

    return flow, tick


def fan_out_flow(total: int, sampler: Sampler) -> tuple[Flow, Any]:
    flow = Flow("soak-fan-out", max_steps=None)
    rounds = total // 6  # start + 4 workers + join

    @flow.make_event
    async def start(event: Any, ctx: dict[str, Any]) -> Any:
        ctx["round"] += 1
        ctx["flaky"] = ctx["round"] % 20 == 0
        return ctx["round"]

    def worker(i: int) -> Any:
        async def work(event: Any, ctx: dict[str, Any]) -> Any:
            await asyncio.sleep(0)
            if i == 0 and ctx.pop("flaky", False):
                raise ConnectionError("flaky API")  # retried once, then fine
            ctx["steps"] += 1
            return event.results[start.id] * 10 + i

        work.__qualname__ = f"worker{i}"
        return flow.listen_group([start], retry=Retry(attempts=2, backoff=0))(work)

    workers = [worker(i) for i in range(4)]

    @flow.listen_group(workers)
    async def join(event: Any, ctx: dict[str, Any]) -> Any:
        ctx["steps"] += 2  # start and join
        progress("round", f"round {ctx['round']} joined", ctx["round"] / rounds)
        sampler.tick(ctx["steps"])
        return goto_events([start]) if ctx["round"] < rounds else sum(event.results.values())

    return flow, start


async def soak(name: str, total: int, sampler: Sampler) -> dict[str, Any]:
    make = chain_flow if name == "chain" else fan_out_flow
    flow, root = make(total, sampler)
    ctx = {"n": 0, "round": 0, "steps": 0}
    handle = flow.run(root, None, ctx)
    began = time.perf_counter()
    await handle
    elapsed = time.perf_counter() - began
    trace, log = handle.trace, handle.feed.log
    assert trace is not None and log is not None, "the soak runs keep the default trace"
    return {
        "steps": trace.counts["step_started"],
        "seconds": elapsed,
        "records": trace.total,
        "window": len(trace),
        "log_total": log.total,
        "log_window": len(log),
        "retried": trace.retried,
    }


def report(name: str, info: dict[str, Any], sampler: Sampler, tolerance: float) -> bool:
    print(f"\n== {name}: {info['steps']:,} steps in {info['seconds']:.1f} s "
          f"({info['seconds'] / info['steps'] * 1e6:.1f} us/step), {info['records']:,} records "
          f"(trace window {info['window']:,}), log {info['log_total']:,} lines "
          f"(window {info['log_window']:,}), {info['retried']} retries")
    print(f"{'steps':>10} {'heap KiB':>10} {'peak KiB':>10} {'RSS MiB':>9}")
    for steps, now, peak, rss in sampler.rows:
        print(f"{steps:>10,} {now:>10.0f} {peak:>10.0f} {rss:>9.1f}")
    settled = [r for r in sampler.rows if r[0] > info["steps"] * 0.1]
    if not settled:
        print("too few samples to judge")
        return True
    rss_values = [r[3] for r in settled]
    print(f"after warm-up: RSS {min(rss_values):.1f}..{max(rss_values):.1f} MiB", end="")
    if not sampler.traced:
        print()
        return max(rss_values) - min(rss_values) < tolerance / 1024 * 4
    heap = [r[1] for r in settled]
    peaks = [r[2] for r in settled]
    spread = max(heap) - min(heap)
    print(f"; heap {min(heap):.0f}..{max(heap):.0f} KiB (spread {spread:.0f} KiB); "
          f"interval peaks {min(peaks):.0f}..{max(peaks):.0f} KiB")
    flat = spread < tolerance and max(peaks) - min(peaks) < tolerance
    print("FLAT" if flat else f"GROWING (spread above {tolerance:.0f} KiB)")
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=50_000)
    parser.add_argument("--tolerance", type=float, default=256.0, help="KiB")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--scenario", choices=["chain", "fan-out", "both"], default="both")
    args = parser.parse_args()
    traced = not args.no_tracemalloc
    if traced:
        tracemalloc.start()
    ok = True
    for name in (["chain", "fan-out"] if args.scenario == "both" else [args.scenario]):
        sampler = Sampler(args.every, traced)
        info = asyncio.run(soak(name, args.steps, sampler))
        ok &= report(name, info, sampler, args.tolerance)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
