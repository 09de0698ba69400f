"""Opening a store file: for writing (schema checked, WAL on), or read-only for its history."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .schema import prepare_schema

__all__ = ["open_for_writing", "open_for_reading"]

_OPEN_ATTEMPTS: Final = 50  # switching to WAL can meet another opener's lock: try again


def _connect(target: str, busy_timeout: float, *, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(
        target,
        timeout=busy_timeout,
        isolation_level=None,  # no implicit transactions: a write is one statement or BEGIN IMMEDIATE
        check_same_thread=False,  # the store shares it between threads, under its lock
        uri=uri,
    )


def open_for_writing(path: Path, busy_timeout: float, max_bytes: int | None) -> sqlite3.Connection:
    """A connection that writes ``path`` (made, with its directory, if missing).

    Raises:
        StoreFormatError: the file is not a store of a version this code reads.
        sqlite3.OperationalError, OSError: it cannot be written (read-only, full, ...).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(str(path), busy_timeout)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        prepare_schema(conn, str(path))  # before WAL: another program's file is left as it is
        _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        # a commit survives the process being killed; only a power loss may lose the last ones
        conn.execute("PRAGMA synchronous = NORMAL")
        if max_bytes is not None:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page_size)}")
    except BaseException:
        conn.close()
        raise
    return conn


def open_for_reading(path: Path, busy_timeout: float) -> sqlite3.Connection | None:
    """A read-only connection to a store that cannot be written, or None if it cannot be read."""
    if not path.is_file():
        return None
    # mode=ro needs the WAL's shared-memory file; in a read-only directory it cannot be made,
    # and nobody can write there either, so the file is then read as immutable.
    for query in ("mode=ro", "immutable=1"):
        try:
            conn = _connect(f"{path.as_uri()}?{query}", busy_timeout, uri=True)
        except sqlite3.Error:
            continue
        try:
            conn.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error:
            conn.close()
            continue
        return conn
    return None


def _retry_busy(action: Callable[[], object]) -> None:
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
