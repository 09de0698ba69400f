"""notebook_flow in Jupyter: live views, timelines, the debugger, the %flow magics, loop helpers.

Importing this module loads ipywidgets and anywidget; ``import notebook_flow`` alone does not.
"""

from __future__ import annotations

from .debugger import DebuggerView, current_session, debug
from .flow_view import FlowView, view
from .loop import RunInterrupted, allow_nested_runs, run_sync, start_background
from .magic import FlowMagics
from .run_numbers import start_counting
from .run_state import RunState
from .timeline_view import Timeline, timeline

start_counting()  # "run 1" is each flow's first run from here on

__all__ = [
    "FlowView",
    "view",
    "RunState",
    "Timeline",
    "timeline",
    "DebuggerView",
    "debug",
    "current_session",
    "run_sync",
    "allow_nested_runs",
    "start_background",
    "RunInterrupted",
    "FlowMagics",
]
