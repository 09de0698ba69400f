"""RunState: what the live view knows about one run, kept up to date by the run's feed.

It is the view's subscriber: every record costs O(1) (a few dict and deque operations; nothing
is formatted here). Formatting happens when the view flushes, at most ~20 times a second, and
only for what changed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..events import EventInput, WorkflowEvent
from ..records import RunRecord
from ..viz import FlowGraph
from .describe import LogLine, log_line, node_details
from .formatting import cut
from .run_numbers import run_number

__all__ = ["RunState", "NodeDetail"]

_END_STATE = {
    "step_finished": "done",
    "step_goto": "done",
    "step_failed": "failed",
    "step_aborted": "aborted",
    "step_cancelled": "cancelled",
}

def worker_badge(name: str, address: str) -> str:
    """A worker's short label for a node badge: its name, else its port or host."""
    if name and len(name) <= 12:
        return f"w{name}" if name.isdigit() else name
    host, _, port = address.rpartition("://")[2].rpartition(":")
    return f":{port}" if host in ("127.0.0.1", "localhost") else (host or address)[:14]


@dataclass(slots=True)
class NodeDetail:
    """The latest facts about one node in this run (raw objects; formatted on request)."""

    runs: int = 0
    last_input: Any = None
    last_output: Any = None
    has_output: bool = False
    outcome: str = ""
    error: BaseException | None = None
    error_tb: Any = None  # the error's traceback when the step failed
    started: float | None = None
    duration: float | None = None
    busy: float = 0.0
    worker: str = ""  # the remote worker its latest attempt ran on (a StepPlaced record)
    executor: str = ""


@dataclass
class RunState:
    """Node states, counts, details, log, progress bars and status of the run being watched.

    Args:
        graph: the flow's graph (node labels; edges a run may take).
        log_limit: how many log lines are kept; older ones are counted as dropped.
        interval_limit: how many step intervals are kept for the timeline.
    """

    graph: FlowGraph
    log_limit: int = 500
    interval_limit: int = 10_000
    run_id: int | None = None
    run_number: int | None = None  # among the runs of its flow (1 for the flow's first run)
    flow_name: str = ""
    status: str = "waiting"
    t_start: float | None = None
    t_end: float | None = None
    wall_start: float | None = None
    error: BaseException | None = None
    steps_started: int = 0
    steps_done: int = 0
    failures: int = 0
    node_state: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    details: dict[str, NodeDetail] = field(default_factory=dict)
    open_steps: dict[int, float] = field(default_factory=dict)
    bars: dict[int, Any] = field(default_factory=dict)
    runtime_edges: list[tuple[str, str, str]] = field(default_factory=list)
    seen_edges: set[tuple[str, str, str]] = field(default_factory=set)
    structure_changed: bool = False
    log_total: int = 0
    log_sent: int = 0
    log_gaps: bool = False  # a flush skipped lines that are still in the window
    workers: dict[str, str] = field(default_factory=dict)  # node -> short name of its worker
    dashboard: str = ""  # the link to a remote executor's own dashboard, once a step went there
    dashboard_of: str = ""  # that executor's name ("dask")

    def __post_init__(self) -> None:
        self.held = False  # a debugger holds the run before its next step
        self.log: deque[RunRecord] = deque(maxlen=self.log_limit)
        self.intervals: deque[tuple[str, float, float, str]] = deque(maxlen=self.interval_limit)
        self.intervals_total = 0
        self.tracebacks: dict[int, Any] = {}  # step id -> its error's traceback at failure time
        self.last_step_error: BaseException | None = None
        self._index_graph()
        self.handlers = {
            "step_pending": self._pending,
            "step_started": self._started,
            "step_progress": self._progress,
            "step_retried": self._retried,
            "step_placed": self._placed,
            "run_started": self._run_started,
            "run_finished": self._run_ended,
            "run_failed": self._run_ended,
            "run_cancelled": self._run_ended,
        }
        for kind in _END_STATE:
            self.handlers[kind] = self._ended

    # -- graph ------------------------------------------------------------------------------
    def _index_graph(self) -> None:
        graph = self.graph
        self.labels = {n.id: n.label for n in graph.nodes}
        self.edge_set: set[tuple[str, str, str]] = {(e.source, e.target, e.kind) for e in graph.edges}
        # (listener, group name) -> the edges a firing of that group travels
        self.group_edges: dict[tuple[str, str | None], tuple[tuple[str, str, str], ...]] = {}
        listeners = {j.id: j.listener for j in graph.joins}
        for e in graph.edges:
            if e.kind in ("listen", "member", "fire"):
                listener = e.target if e.kind == "listen" else listeners.get(
                    e.target if e.kind == "member" else e.source, ""
                )
                slot = (listener, e.group)
                key = (e.source, e.target, e.kind)
                self.group_edges[slot] = self.group_edges.get(slot, ()) + (key,)

    def set_graph(self, graph: FlowGraph) -> None:
        self.graph = graph
        self._index_graph()

    def label(self, node_id: str) -> str:
        return self.labels.get(node_id, node_id)

    # -- the subscriber ---------------------------------------------------------------------
    def __call__(self, record: RunRecord) -> None:
        handler = self.handlers.get(record.kind)
        if handler is not None:
            handler(record)

    def _log(self, record: RunRecord) -> None:
        self.log.append(record)
        self.log_total += 1

    def _run_started(self, r: Any) -> None:
        self.run_id = r.run_id
        self.run_number = run_number(r.run_id)
        self.flow_name = r.flow_name
        self.status = "running"
        self.t_start = r.time
        self.wall_start = r.wall_time
        self._log(r)

    def _pending(self, r: Any) -> None:
        if not self.running.get(r.event_id):
            self.node_state[r.event_id] = "pending"

    def _started(self, r: Any) -> None:
        event_id = r.event_id
        self.running[event_id] = self.running.get(event_id, 0) + 1
        self.counts[event_id] = self.counts.get(event_id, 0) + 1
        self.node_state[event_id] = "running"
        self.open_steps[r.step_id] = r.time
        self.steps_started += 1
        detail = self.details.get(event_id)
        if detail is None:
            detail = self.details[event_id] = NodeDetail()
        detail.runs += 1
        detail.last_input = r.input
        detail.started = r.time
        inp = r.input
        if type(inp) is EventInput:  # mark the edges of the group that fired
            edges = self.group_edges.get((event_id, inp.group_name))
            if edges:
                self.seen_edges.update(edges)

    def _keep_traceback(self, r: Any) -> Any:
        """Remember where the step's error was when it failed: O(1), formatted only if shown."""
        tb_head = r.error.__traceback__
        self.tracebacks[r.step_id] = tb_head
        if len(self.tracebacks) > self.log_limit:
            self.tracebacks.pop(next(iter(self.tracebacks)))
        return tb_head

    def _retried(self, r: Any) -> None:
        self._keep_traceback(r)
        self._log(r)

    def _placed(self, r: Any) -> None:
        detail = self.details.get(r.event_id)
        if detail is None:
            detail = self.details[r.event_id] = NodeDetail()
        detail.worker = f"{r.worker_name} ({r.worker})" if r.worker_name else r.worker
        detail.executor = r.executor
        self.workers[r.event_id] = worker_badge(r.worker_name, r.worker)
        if r.dashboard:
            self.dashboard = r.dashboard
            self.dashboard_of = r.executor
        self._log(r)

    def _progress(self, r: Any) -> None:
        self.log.append(r)
        self.log_total += 1
        if r.fraction is not None:
            self.bars[r.step_id] = r

    def _ended(self, r: Any) -> None:
        event_id = r.event_id
        kind = r.kind
        outcome = _END_STATE[kind]
        left = self.running.get(event_id, 1) - 1
        self.running[event_id] = left
        if left <= 0 and not (outcome == "cancelled" and self.node_state.get(event_id) == "failed"):
            self.node_state[event_id] = outcome
        elif outcome == "failed":
            self.node_state[event_id] = "failed"
        self.steps_done += 1
        self.bars.pop(r.step_id, None)
        t0 = self.open_steps.pop(r.step_id, r.time - r.duration)
        self.intervals.append((event_id, t0, r.time, outcome))
        self.intervals_total += 1
        detail = self.details.get(event_id)
        if detail is None:
            detail = self.details[event_id] = NodeDetail()
        detail.outcome = outcome
        detail.duration = r.duration
        detail.busy += r.duration
        if kind == "step_finished":
            detail.last_output = r.result
            detail.has_output = True
            result = r.result
            if self.graph.style == "workflow" and type(result) is WorkflowEvent and result.name:
                self._took((event_id, result.name, "emit"))
        elif kind == "step_failed":
            self.failures += 1
            detail.error = r.error
            detail.error_tb = self._keep_traceback(r)
            self.last_step_error = r.error
        elif kind == "step_goto":
            detail.last_output = r.payload
            detail.has_output = True
            for target in r.targets:
                self._took((event_id, target, "goto"))
        self.log.append(r)
        self.log_total += 1

    def _took(self, key: tuple[str, str, str]) -> None:
        self.seen_edges.add(key)
        if key not in self.edge_set:
            self.edge_set.add(key)
            self.runtime_edges.append(key)
            self.structure_changed = True

    def _run_ended(self, r: Any) -> None:
        self.status = r.kind[len("run_"):]
        self.t_end = r.time
        if r.kind == "run_failed":
            self.error = r.error
        for event_id, state in self.node_state.items():
            if state == "pending":  # queued, never started: the run ended first
                self.node_state[event_id] = "cancelled"
        self.bars.clear()
        self._log(r)

    # -- reading (called by the view when it flushes) ---------------------------------------
    @property
    def ended(self) -> bool:
        return self.status in ("finished", "failed", "cancelled")

    def run_label(self) -> str:
        """Which run this is, as people count: "run 1" for its flow's first run."""
        if self.run_id is None:
            return "no run yet"
        return f"run {self.run_number if self.run_number is not None else self.run_id}"

    def elapsed(self, now: float | None = None) -> float:
        if self.t_start is None:
            return 0.0
        end = self.t_end
        if end is None:
            end = now if now is not None else time.perf_counter()
        return max(0.0, end - self.t_start)

    def status_dict(self) -> dict[str, Any]:
        return {
            "state": "paused" if self.held and self.status == "running" else self.status,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "run": self.run_label(),
            "flow": self.flow_name or self.graph.name,
            "elapsed": round(self.elapsed(), 3),
            "steps_started": self.steps_started,
            "steps_done": self.steps_done,
            "failures": self.failures,
            "running": sum(1 for n in self.running.values() if n > 0),
            "error": "" if self.error is None else cut(f"{type(self.error).__name__}: {self.error}"),
            "dashboard": self.dashboard,
            "dashboard_of": self.dashboard_of,
        }

    def bar_list(self, node_ids: dict[str, str], limit: int = 6) -> list[dict[str, Any]]:
        bars = list(self.bars.values())[-limit:]
        return [
            {
                "id": r.step_id,
                "node": node_ids.get(r.event_id, ""),
                "label": self.label(r.event_id),
                "step": cut(r.step, 200),
                "description": cut(r.description, 400),
                "fraction": r.fraction,
            }
            for r in bars
        ]

    def new_log_lines(self, cap: int | None = None) -> list[LogLine]:
        """Lines logged since the last call: the newest ``cap`` of them (default ``log_limit``).

        Lines skipped by the cap while they are still in the window set ``log_gaps``: a flood
        of progress is sent as samples while it lasts, and whole (``all_log_lines``) at the end.
        """
        fresh = min(self.log_total - self.log_sent, len(self.log))
        self.log_sent = self.log_total
        if fresh <= 0:
            return []
        take = fresh if cap is None else min(fresh, cap)
        if take < fresh:
            self.log_gaps = True
        log = self.log
        records = [log[i] for i in range(len(log) - take, len(log))]
        return [log_line(self, r) for r in records]

    def all_log_lines(self) -> list[LogLine]:
        """Every line in the window (and no gaps from now on)."""
        self.log_sent = self.log_total
        self.log_gaps = False
        return [log_line(self, r) for r in self.log]

    def detail_dict(self, node_id: str) -> dict[str, Any]:
        """What a click on ``node_id`` shows (see ``describe.node_details``)."""
        return node_details(self, node_id)
