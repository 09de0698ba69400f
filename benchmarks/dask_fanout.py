"""Fan-out of CPU-bound steps: the engine's thread pool against a Dask LocalCluster.

Eight plain ``def`` steps each count the primes in a range of numbers by trial division (about
0.5 s of pure-Python CPU work each). Threads share one interpreter lock, so they take turns;
Dask's worker processes run side by side. The cluster's start-up is measured on its own.

    python -m benchmarks.dask_fanout            # 8 steps, 2 workers, 3 repeats
    python -m benchmarks.dask_fanout --steps 4 --numbers 50000 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from notebook_flow import Flow


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def count_primes(lo: int, hi: int) -> int:
    return sum(1 for n in range(lo, hi) if is_prime(n))


def fan_out(steps: int, numbers: int, executor: Any) -> tuple[Flow, tuple[Any, Any]]:
    """start -> ``steps`` counting steps (on ``executor``, None = the thread pool) -> total."""
    flow = Flow("dask_fanout")

    @flow.make_event
    async def start(event: Any, ctx: Any) -> Any:
        return event

    parts = []
    for i in range(steps):
        lo = 1_000_000 + i * numbers

        async def bounds(event: Any, ctx: Any, lo: int = lo) -> tuple[int, int]:
            return (lo, lo + numbers)

        bounds.__qualname__ = f"bounds{i}"
        source = flow.listen_group([start])(bounds)

        def count(event: Any, ctx: Any) -> int:
            ((lo, hi),) = event.results.values()
            return count_primes(lo, hi)

        count.__qualname__ = f"count{i}"
        parts.append(flow.listen_group([source], executor=executor)(count))

    @flow.listen_group(parts)
    async def total(event: Any, ctx: Any) -> int:
        return sum(event.results.values())

    return flow, (start, total)


async def timed(flow: Flow, ends: tuple[Any, Any], repeat: int) -> tuple[list[float], int]:
    start, total = ends
    walls: list[float] = []
    answer = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = await flow.invoke_event(start, "go")
        walls.append(time.perf_counter() - t0)
        answer = results[total.id]
    return walls, answer


async def main(steps: int, numbers: int, workers: int, repeat: int) -> None:
    from notebook_flow.dask import DaskExecutor

    rows = []
    flow, ends = fan_out(steps, numbers, None)
    one_step = time.perf_counter()
    count_primes(1_000_000, 1_000_000 + numbers)
    one_step = time.perf_counter() - one_step
    walls, local_answer = await timed(flow, ends, repeat)
    rows.append(("thread pool (default for plain def)", walls))

    dask = DaskExecutor(n_workers=workers, threads_per_worker=1)
    t0 = time.perf_counter()
    await dask.start()
    started = time.perf_counter() - t0
    flow, ends = fan_out(steps, numbers, dask)
    await timed(flow, ends, 1)  # warm: workers import notebook_flow and unpickle the steps once
    walls, dask_answer = await timed(flow, ends, repeat)
    rows.append((f"DaskExecutor, LocalCluster of {workers} processes", walls))
    await dask.close()
    assert dask_answer == local_answer, (dask_answer, local_answer)

    base = statistics.median(rows[0][1])
    print(f"{steps} steps of {one_step:.2f} s CPU each (primes among {numbers:,} numbers), "
          f"{os.cpu_count()} CPUs, median of {repeat}; answer {local_answer:,} primes")
    print(f"| {'executor':<44} | {'wall (s)':>8} | {'vs threads':>10} |")
    print(f"|{'-' * 46}|{'-' * 9}:|{'-' * 11}:|")
    for label, values in rows:
        wall = statistics.median(values)
        print(f"| {label:<44} | {wall:>8.2f} | {base / wall:>9.2f}x |")
    print(f"LocalCluster start-up (once per session, not in the figures): {started:.2f} s")


if __name__ == "__main__":  # worker processes are spawned: they re-import this module
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--numbers", type=int, default=210_000, help="numbers per step")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.numbers, args.workers, args.repeat))
