"""Checkpoints survive SIGKILL: a small runner, killed mid-run, resumes in a new process.

The runner here is the least a runner must do with a :class:`DurableRun` (the engine's runner
does the same for both styles): save after each finished step, before the next starts; on
resume, take the saved results and run only what had not finished.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from notebook_flow._core.store import SqliteStore, load_saved_run

STEPS = 12

# A chain of steps e0 -> e1 -> ...; each step appends its name to a side-effect file (as an
# API call or an e-mail would happen) and then works for a while, so the kill lands mid-run.
# The machine's state is plain data without results: which steps are done.
_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    from notebook_flow._core.store import DurableRun, SqliteStore

    mode, path, effects, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    def step(i, value):
        with open(effects, "a") as f:
            f.write(f"e{i}\\n")
        time.sleep(0.05)
        return value * 3 + i

    def report(message):
        print(json.dumps(message), flush=True)

    if mode == "plain":
        value = 1
        for i in range(steps):
            value = step(i, value)
        report({"final": value})
        sys.exit(0)

    store = SqliteStore(path)
    if mode == "start":
        run = DurableRun.start(store, flow_name="chain", root_event="e0", input=1)
        report({"key": run.key})
        done, results, value = [], {}, 1
    else:
        (info,) = store.list_runs("chain", limit=1, status="running")
        run, saved = DurableRun.resume(store, info.key)
        done = list(saved.state["done"]) if saved.state else []
        results = saved.results_by_step()
        done = [i for i in done if i in results]  # a result that was not saved runs again
        value = results[done[-1]] if done else saved.input
    for i in range(steps):
        if i in done:
            continue
        value = step(i, value)
        done.append(i)
        run.save_step(step_id=i, event_id=f"e{i}", result=value, duration=0.05,
                      state={"done": list(done)})
        report({"saved": i})
    run.end("finished")
    report({"final": value})
    """
)


def _runner(mode: str, path: Path, effects: Path) -> list[str]:
    return [sys.executable, "-c", _RUNNER, mode, str(path), str(effects), str(STEPS)]


def test_a_run_killed_mid_run_resumes_without_repeating_finished_steps(tmp_path: Path) -> None:
    plain = subprocess.run(
        _runner("plain", tmp_path / "unused.sqlite", tmp_path / "plain.txt"),
        capture_output=True, text=True, timeout=60,
    )
    assert plain.returncode == 0, plain.stderr
    expected = json.loads(plain.stdout.splitlines()[-1])["final"]

    path, effects = tmp_path / "runs.sqlite", tmp_path / "effects.txt"
    first = subprocess.Popen(_runner("start", path, effects), stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    key = json.loads(first.stdout.readline())["key"]
    saved_before_kill: list[int] = []
    while len(saved_before_kill) < STEPS // 2:
        saved_before_kill.append(json.loads(first.stdout.readline())["saved"])
    os.kill(first.pid, signal.SIGKILL)  # no clean-up, no atexit: as a crashed kernel
    first.wait(timeout=30)
    first.stdout.close()
    assert first.returncode == -signal.SIGKILL

    with SqliteStore(path) as store:
        crashed = load_saved_run(store, key)
    assert crashed.info.status == "running" and crashed.info.ended is None
    # every save that returned is there; at most the one being saved at the kill is extra
    assert set(saved_before_kill) <= set(crashed.results_by_step())
    assert len(crashed.results_by_step()) <= len(saved_before_kill) + 1
    assert crashed.state["done"] == sorted(crashed.results_by_step())

    second = subprocess.run(_runner("resume", path, effects), capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.splitlines()[-1])["final"] == expected

    ran = effects.read_text().split()
    counts = {name: ran.count(name) for name in set(ran)}
    assert set(counts) == {f"e{i}" for i in range(STEPS)}
    for i in saved_before_kill:
        assert counts[f"e{i}"] == 1  # finished and saved: never run again
    assert sum(counts.values()) - STEPS <= 1  # only the step in flight may have run twice
    assert all(c <= 2 for c in counts.values())
    with SqliteStore(path) as store:
        done = load_saved_run(store, key)
    assert done.info.status == "finished" and len(done.steps) == STEPS
