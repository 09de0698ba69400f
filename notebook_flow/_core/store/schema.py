"""The SQLite schema of a run store, and how a file is recognised as one.

A finished step is ONE row of ``checkpoints`` (its result, the machine's state after it, the
records since the last save), written by one INSERT: atomic without a multi-statement
transaction, which keeps a checkpoint cheap. A row with no step (``step_id`` NULL) carries only
records (the end of a run). A step run again on resume adds a row; the last one counts.

A store file is marked twice: ``PRAGMA application_id`` says it is notebook_flow's, and
``PRAGMA user_version`` is the schema version. A file with neither and no tables is new and
gets the schema; anything else that is not ours is refused with a clear error, never changed.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from .errors import StoreFormatError

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "prepare_schema"]

#: "NBFL" in ASCII: marks a SQLite file as a notebook_flow run store.
APPLICATION_ID: Final = 0x4E42464C
#: Raised when the tables change; an older file is upgraded at open, a newer one refused.
SCHEMA_VERSION: Final = 1

_TABLES: Final = """
CREATE TABLE runs (
    key        TEXT PRIMARY KEY,
    flow_name  TEXT NOT NULL,
    status     TEXT NOT NULL,
    started    REAL NOT NULL,
    ended      REAL,
    parent_key TEXT,
    root_event TEXT NOT NULL,
    input      BLOB,
    owner      TEXT
);
CREATE INDEX runs_by_flow ON runs (flow_name, started);
CREATE INDEX runs_by_start ON runs (started);
CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY,
    run_key     TEXT NOT NULL,
    step_id     INTEGER,
    event_id    TEXT,
    result      BLOB,
    value_type  TEXT,
    duration    REAL,
    finished_at REAL,
    state       BLOB,
    state_raw   INTEGER NOT NULL DEFAULT 0,
    records     BLOB
);
CREATE INDEX checkpoints_by_run ON checkpoints (run_key, id);
CREATE TABLE answers (
    run_key  TEXT NOT NULL,
    step_id  INTEGER NOT NULL,
    question INTEGER NOT NULL,
    answer   BLOB NOT NULL,
    PRIMARY KEY (run_key, step_id, question)
) WITHOUT ROWID;
CREATE TABLE cache (
    key      TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    value    BLOB NOT NULL,
    saved    REAL NOT NULL,
    expires  REAL
);
CREATE INDEX cache_by_expiry ON cache (expires);
"""


def prepare_schema(conn: sqlite3.Connection, location: str) -> None:
    """Check that the file is a store of a version this code reads; give a new file the schema.

    Runs in one write transaction, so two processes opening a new file at once create the
    tables once.

    Raises:
        StoreFormatError: the file is not SQLite, is another program's, or is newer.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        raise _not_sqlite(location, exc) from exc
    try:
        _check_or_create(conn, location)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _check_or_create(conn: sqlite3.Connection, location: str) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        raise _not_sqlite(location, exc) from exc
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreFormatError(
                f"the run store {location} was written by a newer notebook_flow (schema "
                f"version {version}; this one reads up to {SCHEMA_VERSION}); upgrade "
                "notebook_flow, or give this flow another store file",
                location=location,
                reason="newer schema",
            )
        return  # version 1 is the first: nothing to upgrade yet
    if app_id == 0 and not tables:
        # one statement at a time: executescript() would commit the open transaction first
        for statement in _TABLES.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    raise StoreFormatError(
        f"{location} is a SQLite file of another program (application id {app_id:#x}, tables: "
        f"{shown or 'none'}), not a notebook_flow run store; give another path (store=True "
        "uses .notebook_flow/runs.sqlite under the current directory)",
        location=location,
        reason="another program's file",
    )


def _not_sqlite(location: str, exc: BaseException) -> StoreFormatError:
    return StoreFormatError(
        f"{location} is not a SQLite file ({exc}), so it cannot be a run store; give the path "
        "of a new file or of a store notebook_flow made",
        location=location,
        reason="not a SQLite file",
    )
