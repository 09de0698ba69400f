"""``SqliteStore``: the embedded run store, one SQLite file (standard library ``sqlite3``).

Safe for several processes (two kernels) writing one file: WAL mode; a checkpoint is one
``INSERT`` (its own transaction), every other write one ``BEGIN IMMEDIATE`` transaction; a
writer waits for the other up to ``busy_timeout`` instead of failing halfway;
``synchronous=NORMAL`` (a commit survives the process being killed; the last commits may be
lost if the machine itself loses power). One connection per store object, used under a lock, so
threads may share it; a forked child opens its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, cast

from .connection import open_for_reading, open_for_writing
from .errors import StoreFormatError, StoreWarning, UnknownRunError
from .rows import RUN_STATUSES, RunBlobs, RunInfo, RunStatus, StateBlob, StepBlob

__all__ = ["SqliteStore"]

_RUN_COLUMNS: Final = (
    "key, flow_name, status, started, ended, parent_key, root_event, "
    "(SELECT count(DISTINCT step_id) FROM checkpoints WHERE checkpoints.run_key = runs.key), "
    "owner"
)


class SqliteStore:
    """Durable runs, their steps, answers and the step cache in one SQLite file.

    Args:
        path: the file; its directory is made if missing. A new or empty file gets the schema.
        busy_timeout: seconds a write waits for another process's write to finish.
        max_bytes: a cap on the file's size; beyond it saving stops (as on a full disk) and
            the runs go on without checkpoints.

    Raises:
        StoreFormatError: the file is not SQLite, is another program's, or was written by a
            newer notebook_flow.

    A store that cannot be written (a read-only directory or file, a full disk) is no error:
    it says so once with a :class:`StoreWarning`, reads what it can, and its writes return
    False.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 10.0,
        max_bytes: int | None = None,
    ) -> None:
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, got {busy_timeout!r}")
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        if os.fspath(path) in (":memory:", ""):
            raise ValueError(
                f"SqliteStore needs a file path, not {os.fspath(path)!r}: a store in memory "
                "would not outlive the kernel; give e.g. '.notebook_flow/runs.sqlite' "
                "(or store=True)"
            )
        self._path = Path(path).expanduser().absolute()
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._said_not_saved = False
        self._read_only = False
        self._conn: sqlite3.Connection | None = None
        self._max_bytes = max_bytes
        self._pid = os.getpid()
        if self._path.is_dir():
            raise StoreFormatError(
                f"{self._path} is a directory; give the path of a store file inside it, "
                f"e.g. {self._path / 'runs.sqlite'}",
                location=str(self._path),
                reason="a directory",
            )
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection | None:
        try:
            return open_for_writing(self._path, self._busy_timeout, self._max_bytes)
        except (sqlite3.OperationalError, OSError) as exc:
            self._say_not_saved("the store cannot be written", exc)
        conn = open_for_reading(self._path, self._busy_timeout)
        self._read_only = conn is not None
        return conn

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    @property
    def writable(self) -> bool:
        """False when the store could not be opened for writing (runs then keep no checkpoints)."""
        return self._conn is not None and not self._read_only

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"

    # -- faults ----------------------------------------------------------------------------

    def _say_not_saved(self, what: str, exc: BaseException) -> None:
        if self._said_not_saved:
            return
        self._said_not_saved = True
        warnings.warn(
            f"run store {self.location}: {what} ({type(exc).__name__}: {exc}); runs go on "
            "without checkpoints (they cannot be resumed). Free disk space or give a writable "
            "path (store=...) for the next runs",
            StoreWarning,
            stacklevel=3,
        )

    def _live(self) -> sqlite3.Connection | None:
        if self._closed:
            raise RuntimeError(f"the run store {self.location} is closed; open a new SqliteStore")
        if self._pid != os.getpid():
            # a forked child (multiprocessing, an executor): SQLite connections must not cross
            # a fork, so the child opens its own
            self._pid = os.getpid()
            if self._conn is not None:
                self._conn.close()
            self._read_only = False
            self._conn = self._open()
        return self._conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """The connection, under the lock; a damaged file is said as a StoreFormatError."""
        with self._lock:
            try:
                yield self._live()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                raise StoreFormatError(
                    f"the run store {self.location} is damaged ({exc}); its runs cannot be "
                    "read. Move it away (a new store is made at the same path), or check it "
                    "with `sqlite3 FILE 'PRAGMA integrity_check'`",
                    location=self.location,
                    reason="damaged",
                ) from exc

    def _write(self, what: str, body: Callable[[sqlite3.Connection], None]) -> bool:
        with self._lock:
            conn = self._live()
            if conn is None or self._read_only:
                return False
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    body(conn)
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:  # read-only, full, locked too long, I/O error
                self._say_not_saved(f"saving {what} failed", exc)
                return False
            return True

    def _write_one(self, what: Callable[[], str], sql: str, args: tuple[Any, ...]) -> bool:
        """One statement in autocommit mode: its own transaction, one call into SQLite."""
        with self._lock:
            conn = self._live()
            if conn is None or self._read_only:
                return False
            try:
                conn.execute(sql, args)
            except sqlite3.Error as exc:
                self._say_not_saved(f"saving {what()} failed", exc)
                return False
            return True

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, info: RunInfo, input: bytes | None) -> bool:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO runs (key, flow_name, status, started, ended, parent_key, "
                "root_event, input, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.key,
                    info.flow_name,
                    info.status,
                    info.started,
                    info.ended,
                    info.parent_key,
                    info.root_event,
                    input,
                    info.owner,
                ),
            )

        try:
            return self._write(f"the new run {info.key}", insert)
        except sqlite3.IntegrityError as exc:
            raise KeyError(
                f"a run with the key {info.key!r} is already in the store {self.location}"
            ) from exc

    def save_step(
        self,
        run_key: str,
        step: StepBlob,
        state: StateBlob | None,
        records: bytes | None,
    ) -> bool:
        data, raw = (None, 0) if state is None else (state.data, int(state.raw))
        return self._write_one(
            lambda: f"step {step.step_id} ({step.event_id}) of run {run_key}",
            "INSERT INTO checkpoints (run_key, step_id, event_id, result, value_type, duration, "
            "finished_at, state, state_raw, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_key, *step, data, raw, records),
        )

    def end_run(
        self, run_key: str, status: RunStatus, ended: float, records: bytes | None
    ) -> bool:
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(
                f"a run ends as one of 'finished', 'failed', 'cancelled', not {status!r}"
            )

        def end(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET status = ?, ended = ? WHERE key = ?", (status, ended, run_key)
            )
            if records is not None:
                conn.execute(
                    "INSERT INTO checkpoints (run_key, records) VALUES (?, ?)", (run_key, records)
                )

        return self._write(f"the end of run {run_key}", end)

    def reopen_run(self, run_key: str, owner: str) -> bool:
        def reopen(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET status = 'running', ended = NULL, owner = ? WHERE key = ?",
                (owner, run_key),
            )

        return self._write(f"the resumed run {run_key}", reopen)

    def load_run(self, run_key: str) -> RunBlobs:
        with self._reading() as conn:
            if conn is None:
                raise UnknownRunError(run_key, self.location)
            conn.execute("BEGIN")  # one snapshot: a writer in another process may be saving
            try:
                row = conn.execute(
                    f"SELECT {_RUN_COLUMNS}, input FROM runs WHERE key = ?", (run_key,)
                ).fetchone()
                if row is None:
                    raise UnknownRunError(run_key, self.location)
                checkpoints = conn.execute(
                    "SELECT step_id, event_id, result, value_type, duration, finished_at, state, "
                    "state_raw, records FROM checkpoints WHERE run_key = ? ORDER BY id",
                    (run_key,),
                ).fetchall()
                answers = {
                    (r[0], r[1]): r[2]
                    for r in conn.execute(
                        "SELECT step_id, question, answer FROM answers WHERE run_key = ?",
                        (run_key,),
                    )
                }
            finally:
                conn.execute("COMMIT")
        steps: dict[int, StepBlob] = {}
        since_state: list[StepBlob] = []
        state: StateBlob | None = None
        records: list[bytes] = []
        for step_id, event_id, result, value_type, duration, finished_at, data, raw, blob in (
            checkpoints
        ):
            if data is not None:
                state = StateBlob(data, bool(raw))
                since_state.clear()  # this row's step is in the state
            if step_id is not None:
                step = StepBlob(step_id, event_id, result, value_type, duration, finished_at)
                steps.pop(step_id, None)  # a step run again counts once, where it last finished
                steps[step_id] = step
                if data is None:
                    since_state.append(step)
            if blob is not None:
                records.append(blob)
        return RunBlobs(
            _run_info(row[:9]),
            row[9],
            state,
            tuple(steps.values()),
            tuple(records),
            answers,
            tuple(since_state),
        )

    def list_runs(
        self,
        flow_name: str | None = None,
        limit: int = 20,
        *,
        status: RunStatus | None = None,
    ) -> list[RunInfo]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit!r}")
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        where: list[str] = []
        args: list[Any] = []
        if flow_name is not None:
            where.append("flow_name = ?")
            args.append(flow_name)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._reading() as conn:
            if conn is None:
                return []
            rows = conn.execute(sql, args).fetchall()
        return [_run_info(r) for r in rows]

    # -- answers and the step cache ----------------------------------------------------------

    def save_answer(self, run_key: str, step_id: int, question: int, answer: bytes) -> bool:
        def save(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO answers (run_key, step_id, question, answer) "
                "VALUES (?, ?, ?, ?)",
                (run_key, step_id, question, answer),
            )

        return self._write(f"an answer of run {run_key}", save)

    def cache_get(self, key: str, now: float) -> bytes | None:
        with self._lock:
            conn = self._live()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT value FROM cache WHERE key = ? AND (expires IS NULL OR expires > ?)",
                    (key, now),
                ).fetchone()
            except sqlite3.Error as exc:  # looked up during a run: never raise into it
                self._say_not_saved("reading the step cache failed", exc)
                return None
        return None if row is None else cast(bytes, row[0])

    def cache_put(
        self, key: str, event_id: str, value: bytes, now: float, ttl: float | None
    ) -> bool:
        expires = None if ttl is None else now + ttl

        def put(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM cache WHERE expires <= ?", (now,))  # the file stays bounded
            conn.execute(
                "INSERT OR REPLACE INTO cache (key, event_id, value, saved, expires) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, event_id, value, now, expires),
            )

        return self._write(f"the cached result of {event_id}", put)

    # -- keeping the file bounded ------------------------------------------------------------

    def delete_runs(self, keys: Iterable[str]) -> int:
        """Delete these runs with their checkpoints and answers; returns how many there were."""
        wanted = list(dict.fromkeys(keys))
        deleted = 0

        def delete(conn: sqlite3.Connection) -> None:
            nonlocal deleted
            for key in wanted:
                conn.execute("DELETE FROM checkpoints WHERE run_key = ?", (key,))
                conn.execute("DELETE FROM answers WHERE run_key = ?", (key,))
                deleted += conn.execute("DELETE FROM runs WHERE key = ?", (key,)).rowcount

        return deleted if self._write("deleting runs", delete) else 0

    def prune(self, *, keep: int, flow_name: str | None = None) -> int:
        """Delete ended runs (of ``flow_name``, if given) but the newest ``keep``; returns how many.

        Runs still marked "running" are kept: they may be running in another kernel, or be
        waiting for a resume.
        """
        if keep < 0:
            raise ValueError(f"keep must be >= 0, got {keep!r}")
        with self._reading() as conn:
            if conn is None:
                return 0
            sql = "SELECT key FROM runs WHERE status != 'running'"
            args: list[Any] = []
            if flow_name is not None:
                sql += " AND flow_name = ?"
                args.append(flow_name)
            sql += " ORDER BY started DESC, rowid DESC LIMIT -1 OFFSET ?"
            args.append(keep)
            old = [row[0] for row in conn.execute(sql, args)]
        return self.delete_runs(old)

    def clear_cache(self, event_id: str | None = None) -> int:
        """Forget cached step results (of one event, if given); returns how many."""
        cleared = 0

        def clear(conn: sqlite3.Connection) -> None:
            nonlocal cleared
            if event_id is None:
                cleared = conn.execute("DELETE FROM cache").rowcount
            else:
                cleared = conn.execute("DELETE FROM cache WHERE event_id = ?", (event_id,)).rowcount

        return cleared if self._write("clearing the cache", clear) else 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._closed = True

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _run_info(row: Any) -> RunInfo:
    return RunInfo(
        key=row[0],
        flow_name=row[1],
        status=row[2],
        started=row[3],
        ended=row[4],
        parent_key=row[5],
        root_event=row[6],
        steps=row[7],
        owner=row[8] or "",
    )
