"""W6's hook: build notebook_flow's live view kernel-side (no browser) and let it follow a flow.

The view is ``notebook_flow.jupyter.flow_view.FlowView``: given a Flow it follows the flow's next
runs, exactly as in a notebook cell, so every record of the measured run reaches it. Building it
(laying out the graph) happens before the run and is reported apart as ``view_seconds``. If the
view cannot be imported, ``unavailable_reason()`` says why and W6 reports the column as not
measured instead of failing.
"""

from __future__ import annotations

import functools
import importlib
import time
from typing import Any

VIEW_MODULE = "notebook_flow.jupyter.flow_view"


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None when the live view can be built; else why not (shown in the table)."""
    try:
        module = importlib.import_module(VIEW_MODULE)
    except Exception as error:  # not written yet, or its optional dependencies are missing
        return f"not measured: {VIEW_MODULE} cannot be imported ({type(error).__name__}: {error})"
    if not hasattr(module, "FlowView"):
        return f"not measured: {VIEW_MODULE} has no FlowView (adapt benchmarks/live_view.py)"
    return None


def follow(target: Any) -> tuple[Any, float]:
    """A live view following ``target``'s next runs, and the seconds it took to build."""
    from notebook_flow.jupyter.flow_view import FlowView

    t0 = time.perf_counter()
    view = FlowView(target)
    return view, time.perf_counter() - t0
