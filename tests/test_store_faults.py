"""Storage faults never fail a run: a read-only directory, a full store (real files, real processes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebook_flow._core.store import DurableRun, SqliteStore, StoreWarning, load_saved_run

# The scenario runs in a child process that cannot write the directory. As root, permission
# bits do not stop writes, so the child runs as root WITHOUT the capabilities that bypass them.
_DROP = "-dac_override,-dac_read_search,-fowner"
_CHILD = textwrap.dedent(
    """
    import json, sys, warnings
    from notebook_flow._core.store import DurableRun, SqliteStore

    existing, new = sys.argv[1], sys.argv[2]
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = SqliteStore(existing)
        out["existing_writable"] = store.writable
        out["history"] = [info.key for info in store.list_runs()]
        run = DurableRun.start(store, flow_name="demo", root_event="a", input=1)
        out["saving"] = run.saving
        out["saved"] = [
            run.save_step(step_id=i, event_id="a", result=i, duration=0.0, state={"i": i})
            for i in range(3)
        ]
        out["ended"] = run.end("finished")
        out["cache_put"] = store.cache_put("k", "a", b"v", 0.0, None)
        out["warnings_existing"] = [str(w.message) for w in caught]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh = SqliteStore(new)
        run = DurableRun.start(fresh, flow_name="demo", root_event="a", input=1)
        out["new_saved"] = run.save_step(step_id=0, event_id="a", result=0, duration=0.0,
                                         state=None)
        out["new_history"] = fresh.list_runs()
        out["new_key"] = run.key
        out["warnings_new"] = [str(w.message) for w in caught]
    print(json.dumps(out))
    """
)


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    # not tmp_path: its parents are private to root, and the child must reach the directory
    top = Path(tempfile.mkdtemp(prefix="nbflow-ro-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        for path in (top, *top.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(top)


def _child_command() -> list[str]:
    command = [sys.executable, "-c", _CHILD]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no way to make a directory read-only")
        command = [setpriv, "--bounding-set", _DROP, "--inh-caps", _DROP, *command]
    return command


def test_a_read_only_directory_means_no_checkpoints_said_once_and_the_history_still_reads(
    read_only_dir: Path,
) -> None:
    store_dir = read_only_dir / "kept"
    store_dir.mkdir()
    with SqliteStore(store_dir / "runs.sqlite") as store:
        earlier = DurableRun.start(store, flow_name="demo", root_event="a", input=0)
        earlier.save_step(step_id=0, event_id="a", result="kept", duration=0.0, state=None)
        earlier.end("finished")
    empty_dir = read_only_dir / "empty"
    empty_dir.mkdir()
    for path in (store_dir / "runs.sqlite", store_dir, empty_dir):
        path.chmod(0o444 if path.is_file() else 0o555)

    done = subprocess.run(
        [*_child_command(), str(store_dir / "runs.sqlite"), str(empty_dir / "runs.sqlite")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=read_only_dir,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    assert out["existing_writable"] is False
    assert out["history"] == [earlier.key]  # past runs can still be shown
    assert out["saving"] is False  # the run still got a key and runs, unsaved
    assert out["saved"] == [False, False, False] and out["ended"] is False
    assert out["cache_put"] is False
    (warning,) = out["warnings_existing"]  # said once, not once per step
    assert "cannot be written" in warning and "without checkpoints" in warning
    assert str(store_dir / "runs.sqlite") in warning

    assert out["new_saved"] is False and out["new_history"] == []
    assert out["new_key"]
    (warning,) = out["warnings_new"]
    assert "without checkpoints" in warning
    assert not (empty_dir / "runs.sqlite").exists()


def test_a_full_store_stops_saving_says_so_once_and_keeps_what_was_saved(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "runs.sqlite", max_bytes=256 * 1024)
    run = DurableRun.start(store, flow_name="demo", root_event="a", input=None)
    results: list[bool] = []
    with pytest.warns(StoreWarning) as caught:
        for i in range(100):  # 100 x 20 kB: the cap is reached on the way
            results.append(
                run.save_step(step_id=i, event_id="a", result=os.urandom(20_000), duration=0.0,
                              state={"i": i})
            )
    assert len(caught) == 1
    assert "full" in str(caught[0].message) and "without checkpoints" in str(caught[0].message)
    first_refused = results.index(False)
    assert first_refused > 0 and not any(results[first_refused:])
    saved = load_saved_run(store, run.key)
    assert [s.step_id for s in saved.steps] == list(range(first_refused))
    assert saved.state == {"i": first_refused - 1}  # the state of the last saved step
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: no second warning for the cache either
        assert store.cache_put("key", "a", os.urandom(500_000), 0.0, None) is False
    store.close()
