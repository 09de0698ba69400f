"""A kernel interrupt (the notebook's Stop button) stops a run, in a real ipykernel.

What ipykernel 7.4 does: while a cell awaits, it swaps the SIGINT handler for one that cancels the
cell's task, so the awaited run is cancelled (the cell shows CancelledError); in a cell that does
not await (``asyncio.run`` under nest-asyncio2) the interrupt is a KeyboardInterrupt raised in
whatever code runs. Two engine fixes are checked here: a waiting run keeps the main thread waking
(else the interrupt is acted on only when the next timer or message arrives: a step waiting 10
minutes on an API ignored it for 10 minutes), and a chain of steps that never wait yields now and
then (else the interrupt could not get in at all).

After each interrupt: the run ended cancelled, the trace closed every started step exactly once,
no task of notebook_flow is left, and the kernel still runs cells and flows.
"""

import json
import queue
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

SETUP = """
import asyncio, json
import nest_asyncio2
from notebook_flow import Flow, WorkflowEvent, WorkflowManager, goto_events, observe_runs
from notebook_flow.jupyter import run_sync
from notebook_flow.records import STEP_END_KINDS
%load_ext notebook_flow

runs = []  # the feed of every run, to check the ones a magic started
observe_runs(runs.append)

flow = Flow('waits')

@flow.make_event
async def start(event, ctx):
    return 0

@flow.listen_group([start])
async def call_api(event, ctx):
    print('waiting on the API', flush=True)
    await asyncio.sleep(600)

@flow.listen_group([start])
async def call_other_api(event, ctx):
    await asyncio.sleep(600)

busy = Flow('busy', max_steps=None)

@busy.make_event
async def spin(event, ctx):
    ctx[0] += 1
    if ctx[0] == 2000:
        print('spinning', flush=True)
    return goto_events([spin]) if ctx[0] < 100_000_000 else None

chat = WorkflowManager(name='chat')

async def ask(event, ctx):
    print('asking the model', flush=True)
    await asyncio.sleep(600)
    yield WorkflowEvent('answer', data={})

chat.register('ask', ask)

async def consume(events):
    return [e async for e in events]

def report(handle=None):
    trace = handle.trace if handle is not None else runs[-1].trace
    status = handle.status if handle is not None else trace.status
    ends = sum(trace.counts.get(k, 0) for k in STEP_END_KINDS)
    left = [repr(t) for t in asyncio.all_tasks() if 'notebook_flow' in repr(t)]
    end = [r for r in trace.records if r.kind.startswith('run_')][-1]
    print(json.dumps(dict(
        status=status, trace_status=trace.status, open_steps=len(trace.open_steps),
        started=trace.counts.get('step_started', 0), ends=ends, unmatched=trace.unmatched_ends,
        reason=getattr(end, 'reason', None), tasks_left=left,
    )))
"""


class Kernel:
    def __init__(self) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(
        self, code: str, *, interrupt_after: tuple[str, float] | None = None, timeout: float = 60
    ) -> tuple[str, str | None, float | None]:
        """Run a cell; interrupt the kernel ``interrupt_after[1]`` s after output containing
        ``interrupt_after[0]``. Returns (printed text, error name or None, seconds from the
        interrupt to the end of the cell); the error's traceback lines are kept in
        ``self.traceback``."""
        msg_id = self.client.execute(code)
        text, error, deadline = "", None, time.monotonic() + timeout
        interrupted_at: float | None = None
        self.traceback: list[str] = []
        marker, delay = interrupt_after or (None, 0.0)
        seen_at: float | None = None
        while True:
            if seen_at is not None and interrupted_at is None and time.monotonic() >= seen_at + delay:
                self.manager.interrupt_kernel()
                interrupted_at = time.monotonic()
            assert time.monotonic() < deadline, f"cell did not end in {timeout} s: {text!r}"
            try:
                msg = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text += content["text"]
                if marker and marker in text and seen_at is None:
                    seen_at = time.monotonic()
            elif kind == "error":
                error = content["ename"]
                self.traceback = content["traceback"]
            elif kind == "status" and content["execution_state"] == "idle":
                took = None if interrupted_at is None else time.monotonic() - interrupted_at
                return text, error, took

    def report(self, of: str | None = "handle") -> dict[str, Any]:
        text, error, _ = self.run(f"report({of})")
        assert error is None, text
        state: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
        return state

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    text, error, _ = k.run(SETUP)
    assert error is None, text
    yield k
    k.close()


def assert_stopped_cleanly(kernel: Kernel, reason: str, of: str | None = "handle") -> None:
    state = kernel.report(of)
    assert state["status"] == "cancelled" and state["trace_status"] == "cancelled"
    assert state["open_steps"] == 0 and state["unmatched"] == 0
    assert state["ends"] == state["started"] > 0
    assert state["tasks_left"] == []
    assert state["reason"] == reason
    # The kernel still works, and so does the engine.
    assert kernel.run("print(1 + 1)")[0].strip() == "2"
    text, error, _ = kernel.run("print(len(await busy.invoke_event(spin, None, [99_999_990])))")
    assert error is None and text.strip() == "1"


def test_interrupting_a_cell_that_awaits_a_waiting_run(kernel: Kernel) -> None:
    text, error, took = kernel.run(
        "handle = flow.run(start)\nawait handle", interrupt_after=("waiting on the API", 0.5)
    )
    # ipykernel turned the interrupt into the cancellation of the cell, and so of the run, at
    # once: the steps would have waited 600 s.
    assert error == "CancelledError" and took is not None and took < 20
    assert_stopped_cleanly(kernel, "cancelled")


def test_interrupting_a_cell_that_awaits_a_chain_of_busy_steps(kernel: Kernel) -> None:
    text, error, took = kernel.run(
        "handle = busy.run(spin, None, [0], trace=100)\nawait handle",
        interrupt_after=("spinning", 0.2),
    )
    assert error == "CancelledError" and took is not None and took < 20
    assert_stopped_cleanly(kernel, "cancelled")


@pytest.mark.parametrize("which", ["waiting run", "busy chain"])
def test_interrupting_a_sync_cell_that_runs_a_flow_with_asyncio_run(
    kernel: Kernel, which: str
) -> None:
    # The seeds' examples call asyncio.run(...); in a notebook that needs nest-asyncio2.
    start = "flow.run(start)" if which == "waiting run" else "busy.run(spin, None, [0], trace=100)"
    marker = "waiting on the API" if which == "waiting run" else "spinning"
    text, error, took = kernel.run(
        f"nest_asyncio2.apply()\nhandle = {start}\n"
        "async def main():\n    return await handle\nasyncio.run(main())",
        interrupt_after=(marker, 0.3),
    )
    assert error == "KeyboardInterrupt" and took is not None and took < 20
    state = kernel.report()
    # The interrupt may land inside a step (the run records why) or in the loop's wait (then
    # nest-asyncio2 cancels the main task, which cancels the run): either way it is stopped.
    assert state["reason"] in {"KeyboardInterrupt", "cancelled"}
    assert_stopped_cleanly(kernel, state["reason"])


# -- run_sync, %flow run and %%flow: the interrupt cancels the run and says so in one line ---

SYNC_CELLS = {
    "run_sync of a Flow": ("handle = flow.run(start)\nrun_sync(handle)", "waits", 2),
    "%flow run of a Flow": ("%flow run flow", "waits", 2),
    "%%flow cell awaiting a Flow": ("%%flow\nh = flow.run(start)\nawait h", "waits", 2),
    "%%flow cell with asyncio.run": (
        "%%flow\nasyncio.run(flow.invoke_event(start))", "waits", 2,
    ),
    "run_sync of a busy chain": (
        "handle = busy.run(spin, None, [0], trace=100)\nrun_sync(handle)", "busy", None,
    ),
    "run_sync of a WorkflowManager": (
        "run_sync(consume(chat.process(WorkflowEvent('ask', data={}))))", "chat", 1,
    ),
    "%flow run of a WorkflowManager": ("%flow run chat --input {}", "chat", 1),
}


@pytest.mark.parametrize("cell", list(SYNC_CELLS))
def test_an_interrupt_of_a_sync_cell_cancels_its_run_and_says_so_in_one_line(
    kernel: Kernel, cell: str
) -> None:
    code, flow_name, running = SYNC_CELLS[cell]
    marker = {"waits": "waiting on the API", "busy": "spinning", "chat": "asking the model"}[flow_name]
    text, error, took = kernel.run(code, interrupt_after=(marker, 0.3))
    assert error == "RunInterrupted" and took is not None and took < 20
    (line,) = kernel.traceback  # one line, not a chain of CancelledError tracebacks
    assert line.startswith("notebook_flow: run "), line
    if running is None:  # the interrupt lands inside a step, or between two of them
        assert re.search(r"of 'busy' cancelled by a kernel interrupt \([01] steps? stopped\)$", line)
    else:
        assert line.endswith(
            f"of {flow_name!r} cancelled by a kernel interrupt ({running} "
            f"step{'s' if running > 1 else ''} stopped)"
        ), line
    state = kernel.report(None)  # the run the cell started
    # The interrupt cancels the run; inside asyncio.run(...), that loop's own handling cancels
    # it first (the run's reason is then just "cancelled").
    reason = "cancelled" if "asyncio.run" in cell else "kernel interrupt"
    if flow_name == "busy":  # the interrupt may land in a step: the run records it as such
        reason = state["reason"] if state["reason"] == "KeyboardInterrupt" else reason
    assert state["status"] == "cancelled" and state["reason"] == reason
    if flow_name in ("waits", "busy"):
        assert_stopped_cleanly(kernel, reason, of=None)
    else:
        assert state["tasks_left"] == [] and state["open_steps"] == 0


def test_an_interrupt_of_plain_code_in_a_flow_cell_stays_a_keyboard_interrupt(kernel: Kernel) -> None:
    text, error, _ = kernel.run(
        "%%flow\nimport time\nprint('sleeping', flush=True)\ntime.sleep(600)",
        interrupt_after=("sleeping", 0.3),
    )
    assert error == "KeyboardInterrupt"  # no run was under way: the traceback shows where
