"""Two real processes write one store file at once, and nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from notebook_flow._core.store import SqliteStore, load_saved_run

RUNS_PER_PROCESS = 60
STEPS_PER_RUN = 5

# Each writer opens the (new) file itself, so the two also race to create the schema.
_WRITER = textwrap.dedent(
    """
    import json, pathlib, sys, time, warnings
    from notebook_flow._core.store import DurableRun, SqliteStore

    path, name, runs, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    gate = pathlib.Path(sys.argv[5])
    (gate / name).touch()  # ready; then wait for the other, so the two really write at once
    deadline = time.monotonic() + 60
    while len(list(gate.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = time.time()
        store = SqliteStore(path)
        keys, saved = [], 0
        for r in range(runs):
            run = DurableRun.start(store, flow_name=name, root_event="start", input=r)
            keys.append(run.key)
            for s in range(steps):
                saved += run.save_step(step_id=s, event_id=f"e{s}", result=(name, r, s),
                                       duration=0.0, state={"run": r, "done": s})
            run.save_answer(0, 0, f"{name}-{r}")
            store.cache_put(f"{name}:{r}", "e0", b"cached", 0.0, None)
            run.end("finished")
        store.close()
        last = time.time()
    print(json.dumps({"keys": keys, "saved": saved, "warnings": [str(w.message) for w in caught],
                      "first": first, "last": last}))
    """
)


def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "runs.sqlite"
    gate = tmp_path / "gate"
    gate.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(RUNS_PER_PROCESS),
             str(STEPS_PER_RUN), str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    outputs = []
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=110)
        assert writer.returncode == 0, stderr
        outputs.append(json.loads(stdout))

    left, right = outputs
    assert left["first"] < right["last"] and right["first"] < left["last"]  # they overlapped
    for out in outputs:
        assert out["warnings"] == []
        assert out["saved"] == RUNS_PER_PROCESS * STEPS_PER_RUN  # every save_step said True

    with SqliteStore(path) as store:
        for name, out in zip(("left", "right"), outputs, strict=True):
            history = store.list_runs(name, limit=1000)
            assert {info.key for info in history} == set(out["keys"])
            assert len(history) == RUNS_PER_PROCESS
            assert all(i.status == "finished" and i.steps == STEPS_PER_RUN for i in history)
            for r, key in enumerate(out["keys"]):
                saved = load_saved_run(store, key)
                assert saved.input == r
                assert saved.results_by_step() == {s: (name, r, s) for s in range(STEPS_PER_RUN)}
                assert saved.state == {"run": r, "done": STEPS_PER_RUN - 1}
                assert saved.answers == {(0, 0): f"{name}-{r}"}
                assert store.cache_get(f"{name}:{r}", 1.0) == b"cached"
        assert len(store.list_runs(limit=1000)) == 2 * RUNS_PER_PROCESS
