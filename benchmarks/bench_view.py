"""What the live view costs a run: 100,000 progress events with and without a FlowView attached.

    python benchmarks/bench_view.py            # in a real kernel (comm messages over ZeroMQ)
    python benchmarks/bench_view.py --inline   # in this process (no front-end; same widget code)

Each variant runs ``--repeat`` times, alternating, after a warm-up; the script prints the median
wall time of each and their ratio (the target: at most 1.3), plus the messages the view sent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import textwrap
from typing import Any

SETUP = """
import asyncio, time
from notebook_flow import Flow, progress
from notebook_flow.jupyter import FlowView

N = {events}
flow = Flow("bench")

@flow.make_event
async def crunch(event, ctx):
    for i in range(N):
        progress("crunch", "item", (i + 1) / N)
        if i % 100 == 0:
            await asyncio.sleep(0)  # a real step awaits now and then: the view's timer can fire
    return "done"

async def one(with_view):
    view = FlowView(flow, interval={interval}) if with_view else None
    t0 = time.perf_counter()
    await flow.invoke_event(crunch)
    took = time.perf_counter() - t0
    flushes = view._coalescer.flushes if view else 0
    if view:
        view.close()
    return took, flushes

async def bench(repeat):
    await one(True); await one(False)  # warm-up: imports, layout cache
    times = {{True: [], False: []}}
    flushes = []
    for _ in range(repeat):
        for with_view in (False, True):
            took, n = await one(with_view)
            times[with_view].append(took)
            if with_view:
                flushes.append(n)
    return times, flushes
"""


def report(
    times: dict[Any, list[float]], flushes: list[int], events: int, messages: int | None
) -> None:
    off_runs = times["False"] if "False" in times else times[False]
    on_runs = times["True"] if "True" in times else times[True]
    off, on = statistics.median(off_runs), statistics.median(on_runs)
    print(f"{events:,} progress events, {len(flushes)} runs each (alternating)")
    print(f"  without view: median {off:.3f} s, best {min(off_runs):.3f} s  ({off / events * 1e6:.2f} us per event)")
    print(f"  with view:    median {on:.3f} s, best {min(on_runs):.3f} s  ({on / events * 1e6:.2f} us per event)")
    print(f"  ratio:        {on / off:.2f} of medians, {min(on_runs) / min(off_runs):.2f} of bests   (target <= 1.30)")
    print(f"  flushes per run with the view: {min(flushes)}..{max(flushes)}")
    if messages is not None:
        print(f"  comm messages the views sent in all: {messages} ({messages / (len(flushes) + 1):.0f} per run)")


def inline(events: int, repeat: int, interval: float) -> None:
    import asyncio

    namespace: dict[str, Any] = {}
    exec(SETUP.format(events=events, interval=interval), namespace)
    times, flushes = asyncio.run(namespace["bench"](repeat))
    report(times, flushes, events, None)


def in_kernel(events: int, repeat: int, interval: float) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        code = SETUP.format(events=events, interval=interval) + textwrap.dedent(
            f"""
            times, flushes = await bench({repeat})
            print(json.dumps({{"times": {{str(k): v for k, v in times.items()}}, "flushes": flushes}}))
            """
        )
        msg_id = kc.execute("import json\n" + code)
        out, messages, comms = "", 0, set()
        while True:
            msg = kc.get_iopub_msg(timeout=600)
            kind = msg["msg_type"]
            if kind == "comm_open":
                comms.add(msg["content"]["comm_id"])
            elif kind == "comm_msg" and msg["content"]["comm_id"] in comms:
                messages += 1
            elif kind == "stream":
                out += msg["content"]["text"]
            elif kind == "error":
                sys.exit("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle" and msg["parent_header"].get("msg_id") == msg_id:
                break
        result = json.loads(out.strip().splitlines()[-1])
        report(result["times"], result["flushes"], events, messages)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--interval", type=float, default=0.05, help="the view's update interval")
    parser.add_argument("--inline", action="store_true", help="run in this process, not a kernel")
    args = parser.parse_args()
    (inline if args.inline else in_kernel)(args.events, args.repeat, args.interval)


if __name__ == "__main__":
    main()
