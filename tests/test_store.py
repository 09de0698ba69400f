"""The run store: schema, round trips, history, answers, and the errors at open (real files)."""

from __future__ import annotations

import pickle
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notebook_flow._core.store import (
    DurableRun,
    NotSaved,
    RunStore,
    SqliteStore,
    StoreFormatError,
    StoreTypeError,
    StoreWarning,
    UnknownRunError,
    default_store_path,
    load_saved_run,
    resolve_store,
)
from notebook_flow._core.store.schema import APPLICATION_ID, SCHEMA_VERSION
from notebook_flow.errors import FlowError
from notebook_flow.records import RunFinished, RunStarted, StepFailed, StepFinished, StepStarted


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "runs.sqlite") as opened:
        yield opened


def start(store: SqliteStore, flow_name: str = "demo", **kwargs: Any) -> DurableRun:
    kwargs.setdefault("root_event", "start")
    kwargs.setdefault("input", {"n": 3})
    return DurableRun.start(store, flow_name=flow_name, **kwargs)


def test_a_new_file_gets_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "runs.sqlite"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "checkpoints", "answers", "cache"} <= tables
    conn.close()


def test_a_run_round_trips_steps_state_records_and_input(store: SqliteStore) -> None:
    run = start(store, input={"n": 3, "words": ["a", "b"]})
    t0 = time.perf_counter()
    records = [
        RunStarted(1, t0, "demo", "start", time.time()),
        StepStarted(1, t0, 0, "start", {"n": 3}),
        StepFinished(1, t0 + 1, 0, "start", [1, 2, 3], 1.0),
    ]
    assert run.save_step(step_id=0, event_id="start", result=[1, 2, 3], duration=1.0,
                         state={"done": [0], "queue": [1]}, records=records)
    assert run.save_step(step_id=1, event_id="double", result={"x": 6}, duration=0.5,
                         state={"done": [0, 1], "queue": []})
    assert run.end("finished", [RunFinished(1, t0 + 2, 2, 2.0)])

    saved = load_saved_run(store, run.key)
    assert saved.key == run.key
    assert saved.input == {"n": 3, "words": ["a", "b"]}
    assert saved.state == {"done": [0, 1], "queue": []}
    assert saved.results_by_step() == {0: [1, 2, 3], 1: {"x": 6}}
    assert saved.results_by_event() == {"start": [1, 2, 3], "double": {"x": 6}}
    assert [r.kind for r in saved.records] == ["run_started", "step_started", "step_finished",
                                               "run_finished"]
    assert saved.records[2] == records[2]
    info = saved.info
    assert (info.flow_name, info.status, info.root_event, info.steps) == ("demo", "finished", "start", 2)
    assert info.parent_key is None
    assert info.ended is not None and info.duration is not None and info.duration >= 0


def test_the_state_may_be_the_runners_own_bytes_and_none_keeps_the_last(store: SqliteStore) -> None:
    run = start(store)
    run.save_step(step_id=0, event_id="a", result=1, duration=0.0, state=b"\x00machine-v1")
    run.save_step(step_id=1, event_id="b", result=2, duration=0.0, state=None)
    assert load_saved_run(store, run.key).state == b"\x00machine-v1"


def test_a_run_without_steps_has_no_state(store: SqliteStore) -> None:
    run = start(store)
    saved = load_saved_run(store, run.key)
    assert saved.state is None and saved.steps == () and saved.info.status == "running"


def test_a_step_run_again_on_resume_counts_once_with_its_last_result(store: SqliteStore) -> None:
    run = start(store)
    run.save_step(step_id=0, event_id="a", result="first", duration=0.0, state={"s": 0})
    run.save_step(step_id=1, event_id="b", result="b", duration=0.0, state={"s": 1})
    resumed, saved = DurableRun.resume(store, run.key)
    assert saved.results_by_step() == {0: "first", 1: "b"}
    resumed.save_step(step_id=0, event_id="a", result="again", duration=0.0, state={"s": 2})
    again = load_saved_run(store, run.key)
    assert [(s.step_id, s.result) for s in again.steps] == [(1, "b"), (0, "again")]
    assert again.info.steps == 2 and again.state == {"s": 2}


def test_resume_marks_an_ended_run_running_again(store: SqliteStore) -> None:
    run = start(store)
    run.end("cancelled")
    assert store.list_runs()[0].status == "cancelled"
    DurableRun.resume(store, run.key)
    info = store.list_runs()[0]
    assert info.status == "running" and info.ended is None


def test_an_unpicklable_result_warns_once_naming_the_step_and_type(store: SqliteStore) -> None:
    run = start(store)
    with pytest.warns(StoreWarning) as caught:
        saved_it = run.save_step(step_id=4, event_id="fetch", result=threading.Lock(),
                                 duration=0.1, state={"done": [4]})
    assert saved_it  # the step row and the state are saved; only the value is not
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "'fetch'" in message and "step 4" in message and "_thread.lock" in message
    saved = load_saved_run(store, run.key)
    (step,) = saved.steps
    assert not step.saved and step.result == NotSaved("_thread.lock")
    assert saved.results_by_step() == {}  # so a resume runs it again
    assert saved.state == {"done": [4]}


def test_closures_are_saved_with_cloudpickle(store: SqliteStore) -> None:
    factor = 7
    run = start(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.save_step(step_id=0, event_id="make", result=lambda x: x * factor, duration=0.0,
                      state=None)
    (step,) = load_saved_run(store, run.key).steps
    assert step.saved and step.result(6) == 42


def _refuse_to_load() -> Exception:
    raise TypeError("this error cannot be loaded back")


class _KeywordOnlyError(Exception):
    """Pickles, but does not load back (as an error whose class changed since it was saved)."""

    def __init__(self, message: str, *, event_id: str) -> None:
        super().__init__(message)
        self.event_id = event_id

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return _refuse_to_load, ()


def test_records_keep_errors_even_those_that_do_not_unpickle(store: SqliteStore) -> None:
    # An exception that pickles, but does not load back.
    timeout = _KeywordOnlyError("step slow ran out of time", event_id="slow")
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(timeout))
    run = start(store)
    failed = StepFailed(1, 0.0, 3, "slow", timeout, 1.0)
    plain = StepFailed(1, 0.0, 4, "other", ValueError("bad value"), 1.0)
    run.end("failed", [failed, plain])
    records = load_saved_run(store, run.key).records
    assert records[0].error == NotSaved(f"{__name__}._KeywordOnlyError",  # type: ignore[attr-defined]
                                        "step slow ran out of time")
    assert isinstance(records[1].error, ValueError)  # type: ignore[attr-defined]
    assert str(records[1].error) == "bad value"  # type: ignore[attr-defined]


def test_an_unpicklable_input_is_said_and_the_run_is_still_saved(store: SqliteStore) -> None:
    with pytest.warns(StoreWarning, match="input of a durable run of 'demo'.*_thread.lock"):
        run = start(store, input=threading.Lock())
    assert run.saving
    assert isinstance(load_saved_run(store, run.key).input, NotSaved)


def test_an_unpicklable_state_warns_once_and_keeps_the_last_good_one(store: SqliteStore) -> None:
    run = start(store)
    run.save_step(step_id=0, event_id="a", result=1, duration=0.0, state={"ok": 0})
    with pytest.warns(StoreWarning, match="machine's state") as caught:
        run.save_step(step_id=1, event_id="b", result=2, duration=0.0, state={"lock": threading.Lock()})
        run.save_step(step_id=2, event_id="c", result=3, duration=0.0, state={"lock": threading.Lock()})
    assert len(caught) == 1
    saved = load_saved_run(store, run.key)
    assert saved.state == {"ok": 0} and saved.results_by_step() == {0: 1, 1: 2, 2: 3}


def test_answers_are_kept_by_step_and_question_and_come_back_on_resume(store: SqliteStore) -> None:
    run = start(store)
    assert run.saved_answer(2, 0) == (False, None)
    assert run.save_answer(2, 0, "yes")
    assert run.save_answer(2, 1, {"pick": "draft 2"})
    assert run.save_answer(3, 0, False)
    assert run.saved_answer(2, 0) == (True, "yes")
    resumed, saved = DurableRun.resume(store, run.key)
    assert saved.answers == {(2, 0): "yes", (2, 1): {"pick": "draft 2"}, (3, 0): False}
    assert resumed.saved_answer(2, 1) == (True, {"pick": "draft 2"})
    assert resumed.saved_answer(3, 1) == (False, None)


def test_history_lists_newest_first_by_flow_and_status_with_parents(store: SqliteStore) -> None:
    first = start(store, "alpha")
    first.save_step(step_id=0, event_id="a", result=1, duration=0.0, state=None)
    first.end("finished")
    second = start(store, "beta")
    child = start(store, "alpha", parent_key=first.key)
    keys = [info.key for info in store.list_runs()]
    assert keys == [child.key, second.key, first.key]
    alpha = store.list_runs("alpha")
    assert [i.key for i in alpha] == [child.key, first.key]
    assert alpha[0].parent_key == first.key and alpha[1].steps == 1
    assert [i.key for i in store.list_runs("alpha", limit=1)] == [child.key]
    assert [i.key for i in store.list_runs(status="running")] == [child.key, second.key]
    assert store.list_runs("nobody") == []
    with pytest.raises(ValueError, match="status must be one of"):
        store.list_runs(status="done")  # type: ignore[arg-type]


def test_run_keys_are_unique_and_sortable_by_start(store: SqliteStore) -> None:
    keys = [start(store).key for _ in range(50)]
    assert len(set(keys)) == 50
    assert keys[0][:15] <= keys[-1][:15]  # YYYYmmdd-HHMMSS


def test_an_unknown_key_is_a_flow_error_and_a_key_error_naming_key_and_store(
    store: SqliteStore,
) -> None:
    with pytest.raises(UnknownRunError) as caught:
        load_saved_run(store, "20260101-000000-deadbeef")
    error = caught.value
    assert isinstance(error, KeyError) and isinstance(error, FlowError)
    assert error.run_key == "20260101-000000-deadbeef" and error.location == store.location
    assert "'20260101-000000-deadbeef'" in str(error) and store.location in str(error)
    with pytest.raises(UnknownRunError):
        DurableRun.resume(store, "nope")


def test_a_duplicate_run_key_is_refused(store: SqliteStore) -> None:
    run = start(store)
    info = store.list_runs()[0]
    assert info.key == run.key
    with pytest.raises(KeyError, match="already in the store"):
        store.create_run(info, None)


def test_a_text_file_is_refused_at_open_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StoreFormatError, match="is not a SQLite file") as caught:
        SqliteStore(path)
    assert caught.value.reason == "not a SQLite file" and caught.value.location == str(path)
    assert isinstance(caught.value, ValueError)
    assert path.read_bytes() == before


def test_a_truncated_store_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with SqliteStore(path) as store:
        for _ in range(20):
            start(store).save_step(step_id=0, event_id="a", result="x" * 5000, duration=0.0,
                                   state=None)
    # the file as a crash in the middle of copying it would leave it: a header and garbage
    data = path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(data[:100] + b"\xff" * 3000)
    with pytest.raises(StoreFormatError):
        SqliteStore(path)


def test_another_programs_sqlite_file_is_refused_and_not_changed(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreFormatError, match="another program.*customers") as caught:
        SqliteStore(path)
    assert caught.value.reason == "another program's file"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    assert conn.execute("SELECT name FROM customers").fetchall() == [("Ada",)]
    conn.close()


def test_a_store_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreFormatError, match="newer notebook_flow") as caught:
        SqliteStore(path)
    assert caught.value.reason == "newer schema"


def test_an_empty_file_becomes_a_store_and_a_reopened_store_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.touch()
    with SqliteStore(path) as store:
        key = start(store).key
    with SqliteStore(path) as again:
        assert [i.key for i in again.list_runs()] == [key]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="is a directory"):
        SqliteStore(tmp_path)


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "runs.sqlite")
    store.close()
    with pytest.raises(RuntimeError, match="is closed"):
        store.list_runs()


def test_store_option_resolves_true_to_the_default_file(tmp_path: Path) -> None:
    assert resolve_store(None) is None and resolve_store(False) is None
    store = resolve_store(True, cwd=tmp_path)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / ".notebook_flow" / "runs.sqlite" == default_store_path(tmp_path)
    assert store.path.is_file()
    store.close()
    by_path = resolve_store("elsewhere/runs.sqlite", cwd=tmp_path)
    assert isinstance(by_path, SqliteStore) and by_path.path == tmp_path / "elsewhere" / "runs.sqlite"
    assert resolve_store(by_path) is by_path
    by_path.close()
    with pytest.raises(StoreTypeError, match="store= takes a RunStore.*not a int"):
        resolve_store(3)  # type: ignore[arg-type]


def test_sqlite_store_is_a_run_store(store: SqliteStore) -> None:
    assert isinstance(store, RunStore)
    assert store.writable and store.location == str(store.path)


def test_prune_keeps_the_newest_ended_runs_and_every_running_one(store: SqliteStore) -> None:
    ended = []
    for i in range(5):
        run = start(store, "alpha")
        run.save_step(step_id=0, event_id="a", result=i, duration=0.0, state={"i": i})
        run.save_answer(0, 0, "yes")
        run.end("finished")
        ended.append(run.key)
    running = start(store, "alpha").key
    other = start(store, "beta")
    other.end("failed")
    assert store.prune(keep=2, flow_name="alpha") == 3
    assert [i.key for i in store.list_runs("alpha")] == [running, ended[4], ended[3]]
    assert [i.key for i in store.list_runs("beta")] == [other.key]
    with pytest.raises(UnknownRunError):
        load_saved_run(store, ended[0])
    assert store.delete_runs([ended[4], "no-such-run"]) == 1
    assert store.prune(keep=0) == 2  # ended[3] and beta's
    assert [i.key for i in store.list_runs()] == [running]


def test_clear_cache_forgets_one_event_or_all(store: SqliteStore) -> None:
    for event in ("a", "a", "b"):
        store.cache_put(f"{event}:{time.perf_counter()}", event, b"v", 0.0, None)
    assert store.clear_cache("a") == 2
    assert store.clear_cache() == 1


def test_threads_share_one_store(store: SqliteStore) -> None:
    keys: list[str] = []

    def write() -> None:
        for _ in range(20):
            run = start(store)
            for s in range(3):
                run.save_step(step_id=s, event_id="e", result=s, duration=0.0, state=None)
            run.end("finished")
            keys.append(run.key)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = store.list_runs(limit=1000)
    assert {i.key for i in history} == set(keys) and len(keys) == 80
    assert all(i.steps == 3 and i.status == "finished" for i in history)


def _write_in_forked_child(store: SqliteStore, queue: Any) -> None:
    run = DurableRun.start(store, flow_name="forked", root_event="a", input=None)
    run.save_step(step_id=0, event_id="a", result="from the child", duration=0.0, state=None)
    run.end("finished")
    queue.put(run.key)


def test_a_forked_child_opens_its_own_connection(store: SqliteStore) -> None:
    import multiprocessing

    parent_run = start(store)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_write_in_forked_child, args=(store, queue))
    child.start()
    child_key = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    parent_run.save_step(step_id=0, event_id="a", result="from the parent", duration=0.0,
                         state=None)
    assert load_saved_run(store, child_key).results_by_step() == {0: "from the child"}
    assert load_saved_run(store, parent_run.key).results_by_step() == {0: "from the parent"}


def test_a_store_damaged_inside_says_so_on_reading_and_never_raises_on_saving(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    with SqliteStore(path) as store:
        keys = []
        for i in range(30):
            run = start(store)
            run.save_step(step_id=0, event_id="a", result="x" * 3000, duration=0.0, state={"i": i})
            keys.append(run.key)
    data = bytearray(path.read_bytes())
    assert len(data) > 40 * 4096
    for page in range(3, len(data) // 4096 - 1):  # every page but the header and the schema
        data[page * 4096 : page * 4096 + 200] = b"\x07" * 200
    path.write_bytes(bytes(data))
    store = SqliteStore(path)  # the header and the schema are intact: it opens
    with pytest.raises(StoreFormatError, match="is damaged") as caught:
        for key in keys:
            load_saved_run(store, key)
        store.list_runs(limit=100)
    assert caught.value.reason == "damaged"
    with pytest.warns(StoreWarning, match="without checkpoints"):
        run = DurableRun.start(store, flow_name="demo", root_event="a", input=None)
        run.save_step(step_id=0, event_id="a", result=1, duration=0.0, state=None)
        assert store.cache_get("k", 0.0) is None
    store.close()


def test_steps_saved_without_a_state_are_listed_for_replay(store: SqliteStore) -> None:
    run = start(store)
    run.save_step(step_id=0, event_id="a", result="a", duration=0.0, state={"after": 0})
    run.save_step(step_id=1, event_id="b", result="b", duration=0.0, state=None)
    run.save_step(step_id=2, event_id="c", result="c", duration=0.0, state=None)
    saved = load_saved_run(store, run.key)
    assert saved.state == {"after": 0}
    assert [(s.step_id, s.result) for s in saved.since_state] == [(1, "b"), (2, "c")]
    run.save_step(step_id=3, event_id="d", result="d", duration=0.0, state={"after": 3})
    assert load_saved_run(store, run.key).since_state == ()
    never = start(store)
    never.save_step(step_id=0, event_id="a", result="a", duration=0.0, state=None)
    saved = load_saved_run(store, never.key)
    assert saved.state is None and [s.step_id for s in saved.since_state] == [0]


def test_a_result_whose_class_is_gone_counts_as_not_saved(store: SqliteStore) -> None:
    import sys
    import types

    module = types.ModuleType("nbflow_cell_that_is_gone")
    exec("class Answer:\n    def __init__(self, text):\n        self.text = text\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        run = start(store)
        run.save_step(step_id=0, event_id="draft", result=module.Answer("hi"), duration=0.0,
                      state=None)
        run.save_step(step_id=1, event_id="plain", result="kept", duration=0.0, state=None)
    finally:
        del sys.modules[module.__name__]  # as after a kernel restart, before the cell runs again
    with pytest.warns(StoreWarning, match="'draft'.*no longer loads") as caught:
        saved = load_saved_run(store, run.key)
    assert len(caught) == 1
    assert saved.results_by_step() == {1: "kept"}  # so step 0 runs again on resume
    (gone,) = [s for s in saved.steps if s.step_id == 0]
    assert not gone.saved and isinstance(gone.result, NotSaved)
    assert gone.value_type == "nbflow_cell_that_is_gone.Answer"


def test_importing_the_store_loads_no_cloudpickle_and_no_display_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, notebook_flow._core.store\n"
        "print(','.join(m for m in ('cloudpickle', 'IPython', 'ipywidgets', 'graphviz') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_store_needs_a_file(tmp_path: Path) -> None:
    for bad in (":memory:", ""):
        with pytest.raises(ValueError, match="needs a file path"):
            SqliteStore(bad)
    with pytest.raises(ValueError, match="busy_timeout"):
        SqliteStore(tmp_path / "a.sqlite", busy_timeout=-1)
    with pytest.raises(ValueError, match="max_bytes"):
        SqliteStore(tmp_path / "a.sqlite", max_bytes=0)


def test_the_history_prints_as_a_table() -> None:
    import calendar

    from notebook_flow._core.store import RunInfo, format_history

    start_time = float(calendar.timegm((2026, 12, 1, 22, 20, 0)))
    runs = [
        RunInfo("20261201-222500-bbbbbbbb", "research", "running", start_time + 300, None,
                "20261201-222000-aaaaaaaa", "plan", 2),
        RunInfo("20261201-222000-aaaaaaaa", "research", "failed", start_time, start_time + 0.25,
                None, "plan", 5),
        RunInfo("20261201-220000-cccccccc", "research", "finished", start_time - 1200,
                start_time - 1200 + 754, None, "plan", 40),
    ]
    lines = format_history(runs, utc=True).splitlines()
    assert lines[0].split() == ["key", "flow", "status", "started", "duration", "steps", "parent"]
    assert lines[1].split() == ["20261201-222500-bbbbbbbb", "research", "running", "2026-12-01",
                                "22:25:00", "-", "2", "20261201-222000-aaaaaaaa"]
    assert lines[2].split() == ["20261201-222000-aaaaaaaa", "research", "failed", "2026-12-01",
                                "22:20:00", "250", "ms", "5"]
    assert "12 min 34 s" in lines[3]
    assert len({line.index("research") for line in lines[1:]}) == 1  # aligned columns
    assert format_history([]) == "no runs saved"
