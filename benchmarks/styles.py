"""Where an implementation column gets a style's names: notebook_flow or the seed it stands for.

The drive-flow style (``Flow`` / ``EventEngineCls``, ``goto_events``) is measured on
notebook_flow and on drive-flow; the microflow style (``WorkflowManager``, ``WorkflowEvent``) on
notebook_flow (``notebook_flow_process``) and on microflow. A seed is imported only when its
column is measured: W4 weighs the whole process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notebook_flow import Flow


def drive_engine(impl: str) -> type[Flow]:
    """The engine class: ``notebook_flow.Flow``, or drive-flow's ``EventEngineCls``."""
    if impl == "notebook_flow":
        return Flow
    from drive_flow import EventEngineCls  # type: ignore[import-untyped]

    engine: type[Flow] = EventEngineCls
    return engine


def goto_events(impl: str) -> Callable[[list[Any]], Any]:
    if impl == "notebook_flow":
        from notebook_flow import goto_events as ours

        return ours
    from drive_flow.dynamic import goto_events as theirs  # type: ignore[import-untyped]

    seed: Callable[[list[Any]], Any] = theirs
    return seed


def pipeline_names(impl: str) -> Any:
    """The module whose ``WorkflowManager`` and ``WorkflowEvent`` the microflow style uses."""
    import importlib

    return importlib.import_module(
        "notebook_flow" if impl == "notebook_flow_process" else "microflow"
    )
