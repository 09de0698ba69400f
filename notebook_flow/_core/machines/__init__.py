"""The pure rules of each style: what runs next, given what has finished. No asyncio inside.

A machine is driven by the runner: ``start`` queues the root, ``begin`` takes the head of the
queue when the runner starts it, ``finish`` reports how a step ended and queues what follows.
Its state is plain data (:meth:`state` / ``from_state``), so a run can be saved and resumed.
"""

from .drive import DriveMachine, DriveState
from .outcomes import Abort, Failure, Goto, Outcome, Ready, Result
from .pipeline import PipelineMachine, PipelineState

__all__ = [
    "Abort",
    "DriveMachine",
    "DriveState",
    "Failure",
    "Goto",
    "Outcome",
    "PipelineMachine",
    "PipelineState",
    "Ready",
    "Result",
]
