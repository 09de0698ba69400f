"""Steps on a real Dask cluster: one LocalCluster of two worker processes on 127.0.0.1.

The step functions are defined the way a notebook cell defines them (module ``__main__``, so
cloudpickle sends them by value). Each test connects its own asynchronous client on its own
event loop; an observer client looks at the scheduler to check that nothing was left there.
"""

import asyncio
import threading
import time
import traceback

import pytest

distributed = pytest.importorskip("distributed")

from reliability_checks import assert_no_task_left, assert_trace_closed, kinds  # noqa: E402

from notebook_flow import (  # noqa: E402
    Flow,
    FlowDefinitionError,
    FlowRunError,
    Retry,
    StepTimeout,
    UnpicklableError,
    UnpicklableStep,
    goto_events,
)
from notebook_flow.dask import DaskExecutor  # noqa: E402

CELL = '''
import os
import time
from notebook_flow import progress

def primes_below(n):
    sieve = bytearray([1]) * n
    sieve[:2] = b"\\0\\0"
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(range(i * i, n, i)))
    return sum(sieve)

def count_primes(event, ctx):
    (limit,) = event.results.values()
    progress("count", "sieving", 0.5)
    total = 0
    for _ in range(40):  # a little CPU work, so both workers get some
        total = primes_below(limit)
    progress("count", "done", 1.0)
    return total

def inner_failure(x):
    raise ValueError(f"no primes below {x}")

def failing(event, ctx):
    inner_failure(event)

def nap(event, ctx):
    for _ in range(30):
        time.sleep(0.05)
    return "woke up"

def flaky(event, ctx):
    marker = event
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ConnectionError("first attempt fails")
    return os.getpid()

def pid(event, ctx):
    return os.getpid()

def returns_generator(event, ctx):
    return (i for i in range(3))

async def go_remote(event, ctx):
    return goto_events([TARGET], os.getpid())
'''


def cell():
    """The functions of CELL, as a notebook cell would define them."""
    namespace = {"__name__": "__main__"}
    exec(CELL, namespace)
    return namespace


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local, distributed.Client(local, set_as_default=False) as observer:
        yield local, observer


@pytest.fixture
def address(cluster):
    return cluster[0].scheduler_address


def scheduler_tasks(observer):
    """Keys the scheduler still holds, and tasks any worker is still given."""
    tasks = observer.run_on_scheduler(lambda dask_scheduler: sorted(map(str, dask_scheduler.tasks)))
    processing = [k for keys in observer.processing().values() for k in keys]
    return tasks, processing


def assert_cluster_left_empty(observer):
    """Released and cancelled keys leave the scheduler within moments; 20 s means a leak."""
    deadline = time.monotonic() + 20
    while scheduler_tasks(observer) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scheduler_tasks(observer) == ([], [])


def test_a_cpu_bound_fan_out_runs_on_both_workers(cluster, address):
    local, observer = cluster
    ns = cell()
    flow = Flow("primes")
    limits = [20_000 + 5_000 * i for i in range(6)]

    async def main():
        async with DaskExecutor(address) as dask:
            @flow.make_event
            async def start(event, ctx):
                return event

            parts = []
            for i, limit in enumerate(limits):
                async def bound(event, ctx, limit=limit):
                    return limit

                bound.__qualname__ = f"limit{i}"
                source = flow.listen_group([start])(bound)
                step = flow.listen_group([source], executor=dask)(_renamed(ns["count_primes"], f"count{i}"))
                parts.append(step)

            @flow.listen_group(parts)
            async def total(event, ctx):
                return sum(event.results.values())

            handle = flow.run(start, "go")
            results = await handle
            link = dask.dashboard_link
        assert_no_task_left()
        return handle, results, parts, total, link

    handle, results, parts, total, link = asyncio.run(main())
    expected = [ns["primes_below"](n) for n in limits]
    assert [results[p.id] for p in parts] == expected
    assert results[total.id] == sum(expected)
    trace = handle.trace
    assert_trace_closed(trace, "finished")
    placed = kinds(trace, "step_placed")
    assert {r.event_id for r in placed} == {p.id for p in parts}
    workers = set(local.scheduler_info["workers"])
    assert {r.worker for r in placed} == workers and len(workers) == 2  # both did some
    assert all(r.executor == "dask" and r.dashboard == link for r in placed)
    for step in parts:  # progress from the worker arrived while the step was open
        records = [r.kind for r in trace.records if getattr(r, "event_id", "") == step.id]
        assert records.index("step_progress") < records.index("step_finished")
        assert records.index("step_placed") < records.index("step_finished")
    log = handle.feed.log.text()
    assert "runs on dask worker" in log
    assert_cluster_left_empty(observer)


def test_a_failing_remote_step_raises_its_exception_with_the_workers_traceback(cluster, address):
    ns = cell()
    flow = Flow("fails")

    async def main():
        async with DaskExecutor(address) as dask:
            step = flow.make_event(executor=dask)(ns["failing"])
            handle = flow.run(step, 7)
            with pytest.raises(ValueError) as info:
                await handle
        assert_no_task_left()
        return handle, step, info.value

    handle, step, error = asyncio.run(main())
    assert str(error) == "no primes below 7" and type(error) is ValueError
    text = "".join(traceback.format_exception(error))
    assert "in inner_failure" in text and "in failing" in text  # the worker's own frames
    assert "raised this on Dask worker" in text
    trace = handle.trace
    assert_trace_closed(trace, "failed")
    (failed,) = kinds(trace, "step_failed")
    assert failed.error is error
    (placed,) = kinds(trace, "step_placed")
    assert placed.event_id == step.id and placed.worker in text
    assert "raised this on Dask worker" in handle.feed.log.entries[-1].traceback
    assert_cluster_left_empty(cluster[1])


def test_stopping_a_run_cancels_its_dask_futures(cluster, address):
    ns = cell()
    flow = Flow("stop")

    async def main():
        async with DaskExecutor(address) as dask:
            @flow.make_event
            async def start(event, ctx):
                return 0

            naps = [flow.listen_group([start], executor=dask)(_renamed(ns["nap"], f"nap{i}"))
                    for i in range(2)]
            handle = flow.run(start)
            placed = asyncio.Event()
            handle.subscribe(lambda r: r.kind == "step_placed"
                             and len(kinds(handle.trace, "step_placed")) == 2 and placed.set())
            handle.start()
            await placed.wait()  # both naps run on a worker now
            assert handle.cancel("Stop button")
            with pytest.raises(asyncio.CancelledError):
                await handle
        assert_no_task_left()
        return handle, naps

    handle, naps = asyncio.run(main())
    trace = handle.trace
    assert_trace_closed(trace, "cancelled")
    assert trace.counts["step_cancelled"] == 2
    assert_cluster_left_empty(cluster[1])


def test_retries_and_time_limits_on_a_remote_step(cluster, address, tmp_path):
    ns = cell()
    flow = Flow("policy")

    async def main():
        async with DaskExecutor(address) as dask:
            flaky = flow.make_event(retry=Retry(attempts=2, backoff=0, on=(ConnectionError,)),
                                    executor=dask)(ns["flaky"])
            handle = flow.run(flaky, str(tmp_path / "first-attempt-done"))
            results = await handle
            slow = flow.make_event(timeout=0.3, executor=dask)(ns["nap"])
            timed = flow.run(slow)
            with pytest.raises(StepTimeout) as info:
                await timed
        assert_no_task_left()
        return handle, results, flaky, timed, info.value

    handle, results, flaky, timed, error = asyncio.run(main())
    assert isinstance(results[flaky.id], int)  # a worker's pid
    assert [r.attempt for r in kinds(handle.trace, "step_retried")] == [1]
    assert isinstance(kinds(handle.trace, "step_retried")[0].error, ConnectionError)
    assert len(kinds(handle.trace, "step_placed")) == 2  # one per attempt
    assert error.timeout == 0.3 and timed.trace.timeouts == 1
    assert_trace_closed(timed.trace, "failed")
    assert_cluster_left_empty(cluster[1])  # the timed-out attempt's future was cancelled


def test_a_step_that_cannot_be_pickled_is_refused_before_the_run_starts(cluster, address):
    lock = threading.Lock()

    def locked(event, ctx):
        with lock:
            return event

    flow = Flow("unpicklable")
    dask = DaskExecutor(address)
    step = flow.make_event(executor=dask)(locked)
    with pytest.raises(UnpicklableStep) as info:
        flow.run(step)
    message = str(info.value)
    assert f"step {step.id} cannot be sent to the Dask cluster" in message
    assert "closure variable `lock` is a _thread.lock" in message
    assert info.value.event_id == step.id and info.value.value_type == "lock"
    assert dask.client is None  # refused before anything started

    # Also when the run's executor sends it: the whole run on Dask.
    flow2 = Flow("whole")
    step2 = flow2.make_event(locked)
    with pytest.raises(UnpicklableStep):
        flow2.run(step2, executor=dask)


def test_an_input_or_result_that_cannot_travel_fails_the_step_clearly(cluster, address):
    ns = cell()
    flow = Flow("payloads")

    async def main():
        async with DaskExecutor(address) as dask:
            step = flow.make_event(executor=dask)(ns["pid"])
            with pytest.raises(UnpicklableError) as sent:
                await flow.invoke_event(step, {"rows": [1, 2], "lock": threading.Lock()})
            back = flow.make_event(executor=dask)(ns["returns_generator"])
            with pytest.raises(UnpicklableError) as returned:
                await flow.invoke_event(back)
        assert_no_task_left()
        return step, back, sent.value, returned.value

    step, back, sent, returned = asyncio.run(main())
    assert sent.event_id == step.id and sent.what == "the input" and sent.value_type == "lock"
    assert "the input -> ['lock'] is a _thread.lock" in str(sent)
    assert returned.event_id == back.id and returned.what == "the result"
    assert "generator" in str(returned)
    assert_cluster_left_empty(cluster[1])


def test_a_whole_run_on_dask_async_steps_gotos_and_a_local_step(cluster, address):
    ns = cell()
    flow = Flow("whole")

    async def main():
        async with DaskExecutor(address) as dask:
            remote = flow.make_event(ns["go_remote"])
            target = flow.make_event(ns["pid"])
            ns["TARGET"] = target
            ns["goto_events"] = goto_events

            @flow.listen_group([target], executor="local")
            async def here(event, ctx):
                return "notebook"

            handle = flow.run(remote, executor=dask)
            results = await handle
        assert_no_task_left()
        return handle, results, remote, target, here

    handle, results, remote, target, here = asyncio.run(main())
    import os

    assert results[target.id] != os.getpid() and results[here.id] == "notebook"
    (goto,) = kinds(handle.trace, "step_goto")
    assert goto.targets == (target.id,) and goto.payload != os.getpid()
    assert {r.event_id for r in kinds(handle.trace, "step_placed")} == {remote.id, target.id}
    assert_trace_closed(handle.trace, "finished")


def test_the_embedded_default_starts_a_local_cluster_on_first_use():
    ns = cell()
    flow = Flow("embedded")

    async def main():
        dask = DaskExecutor(n_workers=1, processes=False)  # in-process: quick to start
        assert dask.client is None and dask.dashboard_link is None
        step = flow.make_event(executor=dask)(ns["pid"])
        handle = flow.run(step)
        await handle
        link = dask.dashboard_link
        scheduler = dask.cluster.scheduler_address
        await dask.close()
        assert dask.client is None and dask.cluster is None
        return handle, link, scheduler

    handle, link, scheduler = asyncio.run(main())
    assert link.startswith("http://127.0.0.1:") and scheduler.startswith("tcp://127.0.0.1:")
    (placed,) = kinds(handle.trace, "step_placed")
    assert placed.dashboard == link


def test_an_executor_belongs_to_the_loop_it_started_in(address):
    async def main():
        async with DaskExecutor(address) as dask:
            # Another loop (here in a thread) cannot use this asynchronous client.
            with pytest.raises(FlowRunError, match="started in another event loop; a Dask client"):
                await asyncio.to_thread(asyncio.run, dask.start())

    asyncio.run(main())


def _renamed(func, name):
    import types

    copy = types.FunctionType(func.__code__, func.__globals__, name, func.__defaults__, func.__closure__)
    copy.__qualname__ = name
    return copy


# -- the edges: a worker killed mid-step, a scheduler that never answers, one that died --------

EDGES = '''
import os
import time

def dies_once(event, ctx):
    """The first attempt sleeps until its worker is killed; Dask's re-run finds the marker."""
    if not os.path.exists(event):
        open(event, "w").close()
        time.sleep(120)
        return "the first worker was not killed"
    return os.getpid()
'''


def test_a_step_dask_re_ran_on_another_worker_shows_two_placements(tmp_path):
    import os
    import signal

    ns = {"__name__": "__main__"}
    exec(EDGES, ns)
    flow = Flow("rerun")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local:
        async def main():
            async with DaskExecutor(local.scheduler_address) as dask:
                step = flow.make_event(executor=dask)(ns["dies_once"])
                handle = flow.run(step, str(tmp_path / "first-attempt-started"))
                placed = asyncio.Event()
                handle.subscribe(lambda r: r.kind == "step_placed" and placed.set())
                handle.start()
                async with asyncio.timeout(60):
                    await placed.wait()  # the first worker runs the step now
                (first,) = kinds(handle.trace, "step_placed")
                pids = await dask.client.run(os.getpid, workers=[first.worker])
                os.kill(pids[first.worker], signal.SIGKILL)
                async with asyncio.timeout(120):
                    result = await handle
            assert_no_task_left()
            return handle, step, result

        handle, step, result = asyncio.run(main())
    assert isinstance(result[step.id], int) and result[step.id] != os.getpid()
    trace = handle.trace
    assert_trace_closed(trace, "finished")
    placed = kinds(trace, "step_placed")
    assert len(placed) == 2 and placed[0].worker != placed[1].worker  # where it ran, both times
    assert {r.step_id for r in placed} == {kinds(trace, "step_started")[0].step_id}
    assert trace.counts["step_started"] == 1 and trace.counts["step_finished"] == 1


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self):
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.05)  # so the accepting thread sees close() at once
        self.address = f"tcp://127.0.0.1:{self.socket.getsockname()[1]}"
        self.accepted = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self.accepted.append(connection)

    def close(self):
        self.closing.set()
        self.thread.join(5)
        assert not self.thread.is_alive()
        self.socket.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_a_scheduler_that_never_answers_fails_the_run_within_the_connect_timeout(silent):
    ns = cell()
    flow = Flow("silent")

    async def main():
        dask = DaskExecutor(silent.address, connect_timeout=1.5, close_timeout=2)
        step = flow.make_event(executor=dask)(ns["pid"])
        handle = flow.run(step)
        began = time.monotonic()
        with pytest.raises(FlowRunError) as info:
            await handle
        failed_after = time.monotonic() - began
        began = time.monotonic()
        await dask.close()
        closed_after = time.monotonic() - began
        assert_no_task_left()
        return handle, info.value, failed_after, closed_after

    handle, error, failed_after, closed_after = asyncio.run(main())
    assert silent.accepted  # it did accept the connection
    assert 1.5 <= failed_after < 10 and closed_after < 2.5
    message = str(error)
    assert f"could not connect to the Dask scheduler at {silent.address} within 1.5 s" in message
    assert "accepted the connection but never answered" in message
    assert "connect_timeout=SECONDS" in message
    assert_trace_closed(handle.trace, "failed")


def test_close_while_connecting_to_a_silent_scheduler_returns_at_once(silent):
    ns = cell()
    flow = Flow("closing")

    async def main():
        dask = DaskExecutor(silent.address, connect_timeout=60, close_timeout=2)
        step = flow.make_event(executor=dask)(ns["pid"])
        handle = flow.run(step).start()
        while not silent.accepted:
            await asyncio.sleep(0.02)
        began = time.monotonic()
        await dask.close()  # the start waits up to 60 s: close() cancels it
        closed_after = time.monotonic() - began
        with pytest.raises(FlowRunError, match="closed while it was connecting"):
            await handle
        assert_no_task_left()
        return handle, closed_after

    handle, closed_after = asyncio.run(main())
    assert closed_after < 2.5
    assert_trace_closed(handle.trace, "failed")


def test_a_killed_scheduler_fails_the_run_clearly_and_close_is_bounded(tmp_path):
    import signal
    import socket
    import subprocess
    import sys

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--dashboard-address", "127.0.0.1:0", "--no-show"], **quiet,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
         "--no-nanny", "--host", "127.0.0.1"], **quiet,
    )
    ns = {"__name__": "__main__"}
    exec(EDGES, ns)
    flow = Flow("killed")
    try:
        async def main():
            dask = DaskExecutor(address, connect_timeout=90, close_timeout=3)
            await dask.start()
            await dask.client.wait_for_workers(1, timeout=90)
            step = flow.make_event(executor=dask)(ns["dies_once"])  # sleeps: it is not done
            handle = flow.run(step, str(tmp_path / "started"))
            placed = asyncio.Event()
            handle.subscribe(lambda r: r.kind == "step_placed" and placed.set())
            handle.start()
            async with asyncio.timeout(60):
                await placed.wait()
            scheduler.send_signal(signal.SIGKILL)
            scheduler.wait(10)
            began = time.monotonic()
            with pytest.raises(FlowRunError) as info:
                async with asyncio.timeout(30):
                    await handle
            failed_after = time.monotonic() - began
            began = time.monotonic()
            await dask.close()
            closed_after = time.monotonic() - began
            assert dask.client is None
            assert_no_task_left()
            return handle, step, info.value, failed_after, closed_after

        handle, step, error, failed_after, closed_after = asyncio.run(main())
    finally:
        for process in (worker, scheduler):
            process.kill()
            process.wait(10)
    assert failed_after < 10  # at once: Dask tells the client its futures are lost
    assert f"step {step.id} was lost on Dask: the connection to the scheduler at {address}" in str(error)
    assert_trace_closed(handle.trace, "failed")
    assert closed_after < 3.5  # the client gives up reconnecting within close_timeout


def test_the_timeouts_are_checked():
    for bad in (0, -1, float("nan"), float("inf"), "10", True):
        with pytest.raises(FlowDefinitionError, match=r"connect_timeout=\.\.\.\) is a number of seconds > 0"):
            DaskExecutor(connect_timeout=bad)
    with pytest.raises(FlowDefinitionError, match="close_timeout"):
        DaskExecutor(close_timeout=0)
