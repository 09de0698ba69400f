"""notebook_flow: async, event-driven workflows for AI agents and pipelines, made for Jupyter.

One engine runs both drive-flow style flows (decorated async functions listening to groups of
events) and microflow style workflows (handlers on event names yielding new events). Importing
this package loads no IPython, widget or Graphviz code.
"""

from __future__ import annotations

from typing import Any as _Any

from . import records
from ._core import display_hook
from ._core.dynamic import abort_this, goto_events
from ._core.event import Event, EventGroup
from ._core.feed import RunFeed, observe_runs
from ._core.flow import Flow
from ._core.placement import StepCall, StepExecutor, ThreadExecutor
from ._core.policy import Retry
from ._core.progress import progress
from ._core.run import RunHandle
from ._core.run_options import DEFAULT_MAX_STEPS
from ._core.runlog import LogEntry, RunLog
from ._core.trace import Trace
from .compat.drive_flow import BaseEvent, EventEngineCls, default_drive
from .compat.microflow import EventHandler, WorkflowManager
from .errors import (
    EventTypeError,
    FailedStep,
    FlowDefinitionError,
    FlowError,
    FlowRunError,
    MaxStepsExceeded,
    RunTimeout,
    StepFailures,
    StepTimeout,
    UnknownEventError,
    UnpicklableError,
    UnpicklableStep,
)
from .events import EventInput, ReturnBehavior, WorkflowEvent


def _draw_with_viz(source: object, include: object, exclude: object) -> dict[str, str]:
    # Imported the first time a notebook displays a flow, never by `import notebook_flow`.
    from .viz import mimebundle

    return mimebundle(source, include, exclude)


display_hook.set_drawer(_draw_with_viz)

__version__ = "0.1.0"


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext notebook_flow`` registers the %flow / %%flow magics (loads IPython code now)."""
    from .jupyter.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: _Any) -> None:
    from .jupyter.magic import unload_ipython_extension as unload

    unload(ipython)

__all__ = [
    # drive-flow style
    "Flow",
    "EventEngineCls",
    "default_drive",
    "BaseEvent",
    "Event",
    "EventGroup",
    "EventInput",
    "ReturnBehavior",
    "goto_events",
    "abort_this",
    "DEFAULT_MAX_STEPS",
    # reliability
    "Retry",
    # where steps run (notebook_flow.dask has DaskExecutor)
    "StepExecutor",
    "ThreadExecutor",
    "StepCall",
    # microflow style
    "WorkflowEvent",
    "WorkflowManager",
    "EventHandler",
    # runs and their records
    "progress",
    "RunHandle",
    "RunFeed",
    "observe_runs",
    "Trace",
    "RunLog",
    "LogEntry",
    # the typed records of a run (RunStarted, StepFinished, ...)
    "records",
    # errors
    "FlowError",
    "FlowDefinitionError",
    "EventTypeError",
    "FlowRunError",
    "UnknownEventError",
    "MaxStepsExceeded",
    "StepTimeout",
    "RunTimeout",
    "StepFailures",
    "FailedStep",
    "UnpicklableError",
    "UnpicklableStep",
    "__version__",
]
