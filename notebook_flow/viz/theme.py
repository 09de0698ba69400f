"""The look of node states, shared by the static picture (paint.py) and the widget's CSS.

``flow_view.css`` repeats these colours for the live view; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "StateStyle", "STATE_STYLES", "NODE_STATES", "FONT", "EDGE_COLOUR", "INFERRED_EDGE_COLOUR",
    "SEEN_EDGE_COLOUR", "GOTO_COLOUR",
]

FONT: Final = "Arial"


class StateStyle(NamedTuple):
    fill: str
    stroke: str
    label: str  # the word the legend and the log use


#: Every state a node can show, in legend order. "idle": not run (yet) in this run;
#: "recovered": an attempt failed, a retry succeeded; "skipped": never ran because a step
#: upstream of it failed or aborted; "cancelled": the run was stopped while it waited or ran.
STATE_STYLES: Final[dict[str, StateStyle]] = {
    "idle": StateStyle("#ffffff", "#9aa5b1", "not run"),
    "pending": StateStyle("#fff7e0", "#e0a100", "pending"),
    "paused": StateStyle("#fff1c2", "#b7791f", "paused"),
    "running": StateStyle("#e3f0ff", "#1f6feb", "running"),
    "done": StateStyle("#e6f4ea", "#2f8a3e", "done"),
    "recovered": StateStyle("#fdf0c4", "#c77700", "done after a retry"),
    "failed": StateStyle("#fde8e8", "#c62828", "failed"),
    "aborted": StateStyle("#fff0e0", "#d9730d", "aborted"),
    "skipped": StateStyle("#f1f3f5", "#a3adb8", "skipped"),
    "cancelled": StateStyle("#e4e7eb", "#616e7c", "cancelled"),
}

NODE_STATES: Final = tuple(STATE_STYLES)

#: Edges: declared, inferred from source (lighter until a run takes one), and taken by a run.
EDGE_COLOUR: Final = "#8a96a3"
INFERRED_EDGE_COLOUR: Final = "#b8c2cc"
SEEN_EDGE_COLOUR: Final = "#52606d"
GOTO_COLOUR: Final = "#8e44ad"
