"""notebook_flow in Jupyter: the live view of runs, and timelines of finished runs.

Importing this module loads ipywidgets and anywidget; ``import notebook_flow`` alone does not.
"""

from __future__ import annotations

from .run_state import RunState
from .timeline import Timeline, timeline
from .view import FlowView, view

__all__ = [
    "FlowView",
    "view",
    "RunState",
    "Timeline",
    "timeline",
]
