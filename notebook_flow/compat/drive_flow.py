"""drive-flow's names on notebook_flow's engine."""

from __future__ import annotations

from .._core.event import Event
from .._core.flow import Flow

#: drive-flow's engine class is notebook_flow's Flow.
EventEngineCls = Flow

#: The module-level engine that drive-flow's examples decorate with.
default_drive = Flow("default")

#: drive-flow's name for an event (what ``make_event`` / ``listen_group`` return).
BaseEvent = Event
