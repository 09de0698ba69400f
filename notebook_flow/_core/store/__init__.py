"""Durable runs: the run store, the runner's checkpoints, and the step cache.

* :class:`RunStore`, the protocol of a backend; :class:`SqliteStore`, the embedded default;
  :func:`resolve_store` turns ``store=`` (a store, a path, True) into one.
* :class:`DurableRun`, the one object the runner talks to during a durable run.
* :class:`Cache` and :class:`StepCache`, the step cache and its key.
"""

from .checkpoints import DurableRun, find_resumable, load_saved_run
from .errors import RunInUseError, StoreFormatError, StoreTypeError, StoreWarning, UnknownRunError
from .fingerprint import code_digest, value_digest
from .history import format_history
from .keys import new_run_key
from .location import DEFAULT_STORE_PATH, default_store_path, resolve_store
from .owner import owner_alive, this_owner
from .protocol import RunStore
from .rows import NotSaved, RunInfo, RunStatus, SavedRun, SavedStep
from .sqlite import SqliteStore
from .step_cache import Cache, StepCache, as_cache, step_cache_key

__all__ = [
    "RunStore",
    "SqliteStore",
    "resolve_store",
    "default_store_path",
    "DEFAULT_STORE_PATH",
    "DurableRun",
    "load_saved_run",
    "find_resumable",
    "RunInfo",
    "format_history",
    "RunStatus",
    "SavedRun",
    "SavedStep",
    "NotSaved",
    "Cache",
    "as_cache",
    "StepCache",
    "step_cache_key",
    "code_digest",
    "value_digest",
    "new_run_key",
    "this_owner",
    "owner_alive",
    "UnknownRunError",
    "RunInUseError",
    "StoreFormatError",
    "StoreTypeError",
    "StoreWarning",
]
