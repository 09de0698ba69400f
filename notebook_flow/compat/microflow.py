"""microflow's names: ``WorkflowManager`` and ``WorkflowEvent``, on notebook_flow's engine."""

from __future__ import annotations

from .._core.workflow import EventHandler, NeverRunsWarning, WorkflowManager
from ..events import WorkflowEvent

__all__ = ["EventHandler", "NeverRunsWarning", "WorkflowEvent", "WorkflowManager"]
