"""drive-flow's names on notebook_flow's engine."""

from __future__ import annotations

from .._core.flow import Flow

#: drive-flow's engine class is notebook_flow's Flow.
EventEngineCls = Flow

#: The module-level engine that drive-flow's examples decorate with.
default_drive = Flow("default")
