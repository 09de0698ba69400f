"""The ``RunStore`` protocol: what a backend for durable runs provides.

A backend keeps bytes; pickling, warnings and the run's bookkeeping live in
:class:`~.checkpoints.DurableRun`, so a new backend (a server database, a key-value store) is
only these methods. :class:`~.sqlite.SqliteStore` is the embedded default.

Faults: a write that the storage refuses (a read-only or full disk, a lost connection) must not
raise: the method returns False and the backend says so once with a
:class:`~.errors.StoreWarning`. Reads of an unknown run raise
:class:`~.errors.UnknownRunError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .rows import RunBlobs, RunInfo, RunStatus, StateBlob, StepBlob

__all__ = ["RunStore"]


@runtime_checkable
class RunStore(Protocol):
    """Where durable runs, their steps, answers and the step cache are kept."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (a file path, a URL without its password)."""
        ...

    def create_run(self, info: RunInfo, input: bytes | None) -> bool:
        """Add a new run; False if it could not be saved. A key already present is a ``KeyError``."""
        ...

    def save_step(
        self,
        run_key: str,
        step: StepBlob,
        state: StateBlob | None,
        records: bytes | None,
    ) -> bool:
        """In ONE transaction: the finished step, the machine's state after it (None: keep the
        last one) and the records published since the last save. False if nothing was saved."""
        ...

    def end_run(
        self, run_key: str, status: RunStatus, ended: float, records: bytes | None
    ) -> bool:
        """Mark the run ended (``status`` is not "running") and add its last records."""
        ...

    def reopen_run(self, run_key: str, owner: str) -> bool:
        """Mark an ended or interrupted run "running" again, by ``owner`` (a resume continues it)."""
        ...

    def load_run(self, run_key: str) -> RunBlobs:
        """Everything saved about a run; ``UnknownRunError`` if there is none with this key."""
        ...

    def list_runs(
        self,
        flow_name: str | None = None,
        limit: int = 20,
        *,
        status: RunStatus | None = None,
    ) -> list[RunInfo]:
        """The newest ``limit`` runs (of ``flow_name``, with ``status``, when given), newest first."""
        ...

    def save_answer(self, run_key: str, step_id: int, question: int, answer: bytes) -> bool:
        """Keep the answer to question number ``question`` asked by step ``step_id``."""
        ...

    def cache_get(self, key: str, now: float) -> bytes | None:
        """The cached result under ``key`` if one is saved and not expired at ``now``."""
        ...

    def cache_put(
        self, key: str, event_id: str, value: bytes, now: float, ttl: float | None
    ) -> bool:
        """Cache ``value`` under ``key`` (replacing an older one) until ``now + ttl``."""
        ...

    def close(self) -> None:
        """Release the store's connections; further calls raise ``RuntimeError``."""
        ...
