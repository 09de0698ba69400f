"""Close the views a cell showed when that cell runs again (the front end has cleared them).

A widget lives in the kernel until it is closed (ipywidgets keeps every open one), so a cell that
makes a view and is re-run a hundred times would keep a hundred views, and every run result
they hold. JupyterLab and Notebook 7 send each cell's id with its execution; when a view is
shown from a cell that already showed views in an earlier execution, those earlier outputs are
gone from the page, and their views are closed (unless another cell shows them too).
Without a cell id (a terminal IPython, nbclient) nothing is closed here.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any, Final, Protocol

__all__ = ["KEPT_CELLS", "current_cell", "shown"]

#: How many cells' views are remembered; the oldest cell's are forgotten (not closed) past it.
KEPT_CELLS: Final = 5_000


class _Closable(Protocol):
    def close(self) -> None: ...


# cell id -> (the execute request's id, the views that execution showed)
_shown: dict[str, tuple[str, list[weakref.ref[Any]]]] = {}
_cells_of: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def current_cell() -> tuple[str, str] | None:
    """(cell id, id of its execute request) of the cell running now, if the front end said which."""
    module = sys.modules.get("IPython")
    get_ipython = getattr(module, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if get_parent is None:
        return None
    try:
        parent = get_parent("shell")
    except Exception:
        return None
    if not isinstance(parent, dict):
        return None
    metadata, header = parent.get("metadata"), parent.get("header")
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    # the request's own id, not the shell's execution count: a background task started by the
    # cell still runs under that cell's request, while the count moves on with later cells
    execution = header.get("msg_id") if isinstance(header, dict) else None
    if not isinstance(cell_id, str) or not isinstance(execution, str):
        return None
    return cell_id, execution


def shown(view: _Closable) -> None:
    """Note that ``view`` is shown in the running cell; close what this cell showed before."""
    cell = current_cell()
    if cell is None:
        return
    cell_id, execution = cell
    earlier = _shown.get(cell_id)
    if earlier is not None and earlier[0] != execution:
        del _shown[cell_id]
        for ref in earlier[1]:
            old = ref()
            if old is None or old is view:
                continue
            cells = _cells_of.get(old)
            if cells is not None:
                cells.discard(cell_id)
                if not cells:
                    _close(old)
    entry = _shown.setdefault(cell_id, (execution, []))
    if all(ref() is not view for ref in entry[1]):
        entry[1].append(weakref.ref(view))
    _cells_of.setdefault(view, set()).add(cell_id)
    if len(_shown) > KEPT_CELLS:
        del _shown[next(iter(_shown))]


def _close(view: _Closable) -> None:
    try:
        view.close()
    except Exception:  # closing an old view must never break showing a new one
        pass
