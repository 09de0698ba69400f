"""A resume never takes over a run that a live kernel is running; a dead kernel's run is found."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from notebook_flow._core.store import (
    DurableRun,
    RunInUseError,
    SqliteStore,
    find_resumable,
    owner_alive,
    this_owner,
)
from notebook_flow.errors import FlowRunError

# A kernel that starts a durable run, says its key, and keeps running until told to stop.
_KERNEL = textwrap.dedent(
    """
    import sys
    from notebook_flow._core.store import DurableRun, SqliteStore

    store = SqliteStore(sys.argv[1])
    run = DurableRun.start(store, flow_name="agent", root_event="plan", input="q")
    run.save_step(step_id=0, event_id="plan", result="a plan", duration=0.0, state={"done": [0]})
    print(run.key, flush=True)
    sys.stdin.read()  # running, until the test closes stdin or kills it
    """
)


def test_owner_alive_tells_live_gone_reused_and_unknown() -> None:
    me = this_owner()
    assert me.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert owner_alive(me) is True
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert owner_alive(f"{socket.gethostname()}:{done.stdout.strip()}:") is False
    if me.rpartition(":")[2]:  # a start time is known (Linux): a reused pid is not the owner
        assert owner_alive(f"{socket.gethostname()}:{os.getpid()}:1") is False
    assert owner_alive("some-other-host:1:") is None
    assert owner_alive("") is None


def test_a_live_kernels_run_is_refused_and_a_dead_kernels_run_is_found(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    kernel = subprocess.Popen([sys.executable, "-c", _KERNEL, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout is not None
        key = kernel.stdout.readline().strip()
        with SqliteStore(path) as store:
            with pytest.raises(RunInUseError) as caught:
                DurableRun.resume(store, key)
            assert isinstance(caught.value, FlowRunError)
            assert caught.value.run_key == key and f"process {kernel.pid}" in str(caught.value)
            assert find_resumable(store, "agent") is None  # it is not orphaned

            os.kill(kernel.pid, signal.SIGKILL)
            kernel.wait(timeout=30)
            found = find_resumable(store, "agent")
            assert found is not None and found.key == key
            resumed, saved = DurableRun.resume(store, key)
            assert saved.results_by_step() == {0: "a plan"}
            assert store.list_runs("agent")[0].owner == this_owner()
            assert find_resumable(store, "agent") is None  # now this live process runs it
            resumed.end("finished")
            assert find_resumable(store, "agent") is None
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait(timeout=30)
        if kernel.stdin is not None:
            kernel.stdin.close()
        if kernel.stdout is not None:
            kernel.stdout.close()


def test_force_takes_over_a_live_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    kernel = subprocess.Popen([sys.executable, "-c", _KERNEL, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout is not None and kernel.stdin is not None
        key = kernel.stdout.readline().strip()
        with SqliteStore(path) as store:
            _, saved = DurableRun.resume(store, key, force=True)
            assert saved.state == {"done": [0]}
            assert store.list_runs()[0].owner == this_owner()
        kernel.stdin.close()
        assert kernel.wait(timeout=30) == 0
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait(timeout=30)
        if kernel.stdout is not None:
            kernel.stdout.close()
