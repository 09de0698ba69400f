"""Text for people: log lines, node details, short reprs and tracebacks of a run's records.

Called only when the view flushes or answers a click, never per record.
"""

from __future__ import annotations

import reprlib
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..events import EventInput, ReturnBehavior

if TYPE_CHECKING:
    from .run_state import RunState

__all__ = ["LogLine", "short_repr", "format_error", "describe_input", "log_line", "node_details"]

#: [seconds since the run started, event label, category, text, detail (traceback) or ""];
#: categories: "progress", "step", "error", "run".
LogLine = list[Any]

_short = reprlib.Repr()
_short.maxstring = 160
_short.maxother = 160
_short.maxlevel = 3
_short.maxdict = 8
_short.maxlist = 8


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a readable length; never raises."""
    try:
        return _short.repr(value)
    except Exception as error:  # a broken __repr__ must not break the view
        return f"<{type(value).__name__}: repr failed: {error}>"


_ENGINE_DIR = str(Path(__file__).resolve().parents[1])  # the notebook_flow package


def format_error(error: BaseException, limit: int = 40, tb_head: Any = None) -> str:
    """The traceback of ``error``, without notebook_flow's own frames (the user's code is what
    matters); all frames are kept when the error was raised inside notebook_flow itself.

    ``tb_head``: the exception's ``__traceback__`` as it was when the step failed (an exception
    that propagates further collects the outer frames too; those are not the step's story).
    """
    head = tb_head if tb_head is not None else error.__traceback__
    tb = traceback.TracebackException(type(error), error, head)
    own = [f for f in tb.stack if not (f.filename or "").startswith(_ENGINE_DIR)]
    hidden = len(tb.stack) - len(own)
    if own and hidden:
        tb.stack = traceback.StackSummary.from_list(own)
    rows = "".join(tb.format()).splitlines()
    if own and hidden:
        plural = "s" if hidden != 1 else ""
        rows.insert(1, f"  ({hidden} frame{plural} of notebook_flow not shown)")
    if len(rows) > limit:
        rows = rows[:4] + [f"  ... {len(rows) - limit} lines ..."] + rows[-(limit - 5):]
    return "\n".join(rows)


def describe_input(value: Any, labels: dict[str, str]) -> str:
    """A short text for a step's input; an EventInput shows its group and results by label."""
    if type(value) is not EventInput:
        return short_repr(value)
    results = ", ".join(
        f"{labels.get(k, k)}: {short_repr(v)}" for k, v in value.results.items()
    )
    if value.behavior is ReturnBehavior.GOTO:
        return f"goto from {results}"
    if value.behavior is ReturnBehavior.INPUT:
        return f"user input {short_repr(value.results)}"
    return f"group {value.group_name!r} fired with {{{results}}}"



def log_line(state: RunState, r: Any) -> LogLine:
    """The log line of record ``r`` of the run ``state`` watches."""
    t = round(r.time - state.t_start, 3) if state.t_start is not None else 0.0
    kind = r.kind
    event = state.label(r.event_id) if hasattr(r, "event_id") else ""
    if kind == "step_progress":
        fraction = f" ({r.fraction:.0%})" if r.fraction is not None else ""
        text = f"{r.step}: {r.description}{fraction}" if r.step else f"{r.description}{fraction}"
        return [t, event, "progress", text, ""]
    if kind == "step_finished":
        return [t, event, "step", f"done in {r.duration:.3f} s -> {short_repr(r.result)}", ""]
    if kind == "step_goto":
        targets = ", ".join(state.label(x) for x in r.targets) or "nothing"
        return [t, event, "step", f"goto {targets} after {r.duration:.3f} s", ""]
    if kind == "step_aborted":
        return [t, event, "step", f"aborted after {r.duration:.3f} s", ""]
    if kind == "step_cancelled":
        return [t, event, "step", f"cancelled after {r.duration:.3f} s", ""]
    if kind in ("step_failed", "step_retried"):
        err = r.error
        text = f"{type(err).__name__}: {err}"
        if kind == "step_retried":
            text = f"attempt {r.attempt} failed ({text}); retrying in {r.delay:.3g} s"
        return [t, event, "error", text, format_error(err, tb_head=state.tracebacks.get(r.step_id))]
    if kind == "step_placed":
        name = f"{r.worker_name} ({r.worker})" if r.worker_name else r.worker
        return [t, event, "step", f"runs on {r.executor} worker {name}", ""]
    if kind == "run_started":
        text = f"run {r.run_id} of {r.flow_name!r} started at {state.label(r.root)}"
        return [t, "", "run", text, ""]
    if kind == "run_failed":
        err = r.error
        # the step that raised it has the traceback already
        detail = "" if err is state.last_step_error else format_error(err)
        text = f"run failed after {r.duration:.3f} s: {type(err).__name__}: {err}"
        return [t, "", "error", text, detail]
    reason = getattr(r, "reason", "")
    why = f" ({reason})" if reason and reason != "cancelled" else ""
    text = f"{kind[len('run_'):]}{why} after {r.duration:.3f} s, {r.steps} steps"
    return [t, "", "run", text, ""]


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
        input=describe_input(detail.last_input, state.labels),
        output=short_repr(detail.last_output) if detail.has_output else None,
        outcome=detail.outcome,
        started=None if detail.started is None else round(detail.started - t0, 3),
        duration=None if detail.duration is None else round(detail.duration, 4),
        busy=round(detail.busy, 4),
    )
    if detail.worker:
        out["worker"] = f"{detail.executor} worker {detail.worker}"
    if detail.error is not None:
        out["error"] = f"{type(detail.error).__name__}: {detail.error}"
        out["traceback"] = format_error(detail.error, tb_head=detail.error_tb)
    return out
