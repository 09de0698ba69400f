"""The errors and the warning of the run store.

They follow ``notebook_flow.errors``: each error is a :class:`~notebook_flow.errors.FlowError`
and the builtin it refines, and each message says what happened and what to do.
"""

from __future__ import annotations

from notebook_flow.errors import FlowError, FlowRunError

__all__ = ["UnknownRunError", "RunInUseError", "StoreFormatError", "StoreTypeError", "StoreWarning"]


class UnknownRunError(FlowError, KeyError):
    """No run with this key is in the store.

    Attributes:
        run_key: the key that was asked for.
        location: where the store is (its file, for a ``SqliteStore``).
    """

    def __init__(self, run_key: str, location: str) -> None:
        message = (
            f"no run with the key {run_key!r} in the store at {location}; "
            "list the saved runs with list_runs() (flow.history()) and pass one of their keys"
        )
        super().__init__(message)
        self.run_key = run_key
        self.location = location
        self.message = message

    def __str__(self) -> str:
        # KeyError would show the repr of its argument, quotes and escapes included.
        return self.message


class RunInUseError(FlowRunError):
    """A resume was asked for a run that another live process is running.

    Attributes:
        run_key: the run.
        owner: the process running it, ``host:pid:start``.
    """

    def __init__(self, run_key: str, owner: str) -> None:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        super().__init__(
            f"run {run_key} is still running in process {pid} on {host}; let it finish or stop "
            "it (or its kernel) first, or resume with force=True (its steps in flight may then "
            "run in both processes)"
        )
        self.run_key = run_key
        self.owner = owner


class StoreFormatError(FlowError, ValueError):
    """A file given as a run store cannot be used as one (found when the store is opened).

    It is not a SQLite file, it is another program's SQLite file, or it was written by a newer
    notebook_flow (a newer schema).

    Attributes:
        location: the file.
        reason: what is wrong with it, in a few words.
    """

    def __init__(self, message: str, *, location: str, reason: str) -> None:
        super().__init__(message)
        self.location = location
        self.reason = reason


class StoreTypeError(FlowError, TypeError):
    """``store=`` was given something that is not a store, a path, True, False or None."""


class StoreWarning(UserWarning):
    """Something was not saved, and the run went on without it.

    A result that cannot be pickled, a step input that cannot be hashed for the cache, or a
    store that cannot be written (a read-only or full disk): the run never fails because of its
    store, it says so with this warning instead.
    """
