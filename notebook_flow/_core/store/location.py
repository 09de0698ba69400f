"""What ``store=`` means: a store, a path, True (the default file) or nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from .errors import StoreTypeError
from .protocol import RunStore
from .sqlite import SqliteStore
from .values import type_name

__all__ = ["DEFAULT_STORE_PATH", "default_store_path", "resolve_store"]

#: ``store=True`` keeps runs in this file, under the current directory.
DEFAULT_STORE_PATH: Final = Path(".notebook_flow") / "runs.sqlite"

StoreOption = RunStore | str | os.PathLike[str] | bool | None


def default_store_path(cwd: str | os.PathLike[str] | None = None) -> Path:
    """``<cwd>/.notebook_flow/runs.sqlite`` (``cwd`` is the current directory unless given)."""
    return Path(os.getcwd() if cwd is None else cwd).absolute() / DEFAULT_STORE_PATH


def resolve_store(store: StoreOption, *, cwd: str | os.PathLike[str] | None = None) -> RunStore | None:
    """The :class:`RunStore` that ``store=`` names, or None when runs are not durable.

    ``True`` is :func:`default_store_path`; a str or path is a :class:`SqliteStore` file; a
    ``RunStore`` is used as it is; ``False`` and ``None`` mean no store.

    Raises:
        StoreTypeError: ``store`` is none of these.
        StoreFormatError: the file is not a notebook_flow store (see :class:`SqliteStore`).
    """
    if store is None or store is False:
        return None
    if store is True:
        return SqliteStore(default_store_path(cwd))
    if isinstance(store, (str, os.PathLike)):
        path = Path(store)
        if not path.is_absolute() and cwd is not None:
            path = Path(cwd) / path
        return SqliteStore(path)
    if isinstance(store, RunStore):
        return store
    raise StoreTypeError(
        f"store= takes a RunStore (e.g. SqliteStore(path)), a file path, True (the file "
        f"{DEFAULT_STORE_PATH} under the current directory) or None, not a {type_name(store)}"
    )
