"""Text for people about one run: its log lines and the details of a clicked node.

Called only when the view flushes or answers a click, never per record. Log lines run no user
code (``formatting.preview``); a node's details, which a person asked for, show the values' own
reprs, each allowed at most ``formatting.REPR_BUDGET`` seconds. Every text is cut to
``formatting.TEXT_LIMIT`` characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .formatting import bounded_repr, cut, describe_input, describe_record, preview, seconds
from .tracebacks import user_traceback

if TYPE_CHECKING:
    from .run_state import RunState

__all__ = ["LogLine", "log_line", "node_details"]

#: [seconds since the run started, event label, category, text, detail (traceback) or ""];
#: categories: "progress", "step", "error", "run".
LogLine = list[Any]


def log_line(state: RunState, r: Any) -> LogLine:
    """The log line of record ``r`` of the run ``state`` watches."""
    t = round(r.time - state.t_start, 3) if state.t_start is not None else 0.0
    kind = r.kind
    event = state.label(r.event_id) if hasattr(r, "event_id") else ""
    if kind == "step_progress":
        fraction = f" ({r.fraction:.0%})" if r.fraction is not None else ""
        text = f"{r.step}: {r.description}{fraction}" if r.step else f"{r.description}{fraction}"
        return [t, event, "progress", cut(text), ""]
    if kind == "step_finished":
        return [t, event, "step", f"done in {seconds(r.duration)} -> {preview(r.result)}", ""]
    if kind in ("step_failed", "step_retried"):
        err = r.error
        text = f"{type(err).__name__}: {err}"
        if kind == "step_retried":
            text = f"attempt {r.attempt} failed ({text}); retrying in {r.delay:.3g} s"
        detail = user_traceback(err, state.tracebacks.get(r.step_id))
        return [t, event, "error", cut(text), detail]
    if kind == "run_failed":
        err = r.error
        # the step that raised it has the traceback already
        detail = "" if err is state.last_step_error else user_traceback(err)
        return [t, "", "error", cut(describe_record(r, state.labels)), detail]
    # every other kind: the shared one-line text, without the event's name (it has a column)
    text = describe_record(r, state.labels)
    if event and text.startswith(event + " "):
        text = text[len(event) + 1:]
    elif kind in ("run_finished", "run_cancelled"):
        text = text[len("run "):]
    category = "run" if kind.startswith("run_") else "step"
    return [t, event, category, cut(text), ""]


def node_details(state: RunState, node_id: str) -> dict[str, Any]:
    """What a click on node ``node_id`` shows: state, runs, timing, input, output, error."""
    detail = state.details.get(node_id)
    out: dict[str, Any] = {
        "id": node_id,
        "label": state.label(node_id),
        "state": state.node_state.get(node_id, "idle"),
        "runs": 0,
    }
    node = state.graph.node(node_id)
    if node is not None and node.handlers:
        out["handlers"] = list(node.handlers)
    if detail is None:
        return out
    t0 = state.t_start or 0.0
    out.update(
        runs=detail.runs,
        input=describe_input(detail.last_input, state.labels, safe=False),
        output=bounded_repr(detail.last_output) if detail.has_output else None,
        outcome=detail.outcome,
        started=None if detail.started is None else round(detail.started - t0, 3),
        duration=None if detail.duration is None else round(detail.duration, 4),
        busy=round(detail.busy, 4),
    )
    if detail.worker:
        out["worker"] = f"{detail.executor} worker {detail.worker}"
    if detail.error is not None:
        out["error"] = cut(f"{type(detail.error).__name__}: {detail.error}")
        out["traceback"] = user_traceback(detail.error, detail.error_tb)
    return out
