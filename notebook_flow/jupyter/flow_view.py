"""FlowView: the live DAG of a run inside the notebook cell (one anywidget).

The SVG is laid out in the kernel and sent once per graph structure; node states, fire counts,
status and progress bars travel as small traits, and log lines as deltas, at most ~20 times a
second however fast the run goes.

What a saved notebook shows: while a run goes, the cell's output is the widget; when the run
ends, the output is replaced by a picture of the final states (``output_bundle``), and when a
followed flow runs again it becomes the widget again. Measured in JupyterLab 4.6 and Notebook
7.6: an output that holds the widget mimetype shows "Error displaying widget: model not found"
(or "Loading widget...") once its kernel is gone, whatever other data it carries, because the
widget renderer outranks every other one and never falls back; only saved widget state (off by
default) avoids that. So the output of a finished run holds no widget: an HTML image of the SVG
(shown trusted or not), the SVG, and the summary as text (see ``viz.picture_bundle``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import Flow, RunFeed
from ..records import RUN_END_KINDS, RunRecord
from ..viz import (
    NODE_STATES,
    FlowGraph,
    Layout,
    framed_svg,
    layout,
    paint_svg,
    picture_bundle,
    shown_states,
)
from . import cell_outputs
from .coalesce import Coalescer
from .follow import follow, unfollow
from .run_state import RunState
from .timeline_view import timeline_svg

__all__ = ["FlowView", "view"]

logger = logging.getLogger("notebook_flow")
_STATIC = Path(__file__).parent / "static"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Log lines sent per live update; a faster flood is sampled, then sent whole when the run ends.
LIVE_LINES_PER_UPDATE = 100
_RANKDIRS = ("LR", "TB")
_STOP_REASON = "Stop button of the live view"


class FlowView(anywidget.AnyWidget):
    """The live view of a flow's runs: DAG with node states, log, status, bars, node details.

    Args:
        target: a ``Flow`` or ``WorkflowManager`` (the view follows each of its next runs), or a
            ``RunHandle`` / ``RunFeed`` (the view shows that run, even if it already started).
        log_limit: log lines kept; the view says how many older ones it dropped.
        renderer: "pure", "dot" or "text" (default: ``$NOTEBOOK_FLOW_RENDERER`` or the first found).
        rankdir: "LR" (left to right) or "TB" (top to bottom); the view's toggle changes it.
        interval: seconds between two updates sent to the browser (0.05: at most 20 a second).
        stop_button: show a Stop button while a run goes (a debugger panel has its own).
    """

    # The files' text, not their paths: for a path anywidget connects every instance to a
    # class-level file-change signal, which then holds every view ever made (measured: none freed).
    _esm = (_STATIC / "flow_view.js").read_text(encoding="utf-8")
    _css = (_STATIC / "flow_view.css").read_text(encoding="utf-8")

    svg = traitlets.Unicode("").tag(sync=True)
    text_graph = traitlets.Unicode("").tag(sync=True)
    renderer = traitlets.Unicode("").tag(sync=True)
    nodes = traitlets.Dict().tag(sync=True)
    states = traitlets.Dict().tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)
    edges_seen: traitlets.List[str] = traitlets.List().tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    bars: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    timeline = traitlets.Unicode("").tag(sync=True)
    workers = traitlets.Dict().tag(sync=True)  # node -> the remote worker that ran it last
    selected = traitlets.Unicode("").tag(sync=True)
    log_limit = traitlets.Int(500).tag(sync=True)
    rankdir = traitlets.Unicode("LR").tag(sync=True)
    stop_button = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        target: Any = None,
        *,
        log_limit: int = 500,
        renderer: str | None = None,
        rankdir: str = "LR",
        interval: float = 0.05,
        stop_button: bool = True,
    ) -> None:
        if target is not None:
            _check_target(target)  # before the widget exists: no half-made view in the output
        if rankdir not in _RANKDIRS:
            raise ValueError(f"rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
        super().__init__(log_limit=log_limit, stop_button=stop_button)
        self._renderer = renderer
        self._source: Any = None
        self._layout: Layout | None = None
        self._state: RunState | None = None
        self._runtime_edges: list[tuple[str, str, str]] = []
        self._unsubscribe: Any = None
        self._coalescer = Coalescer(self._flush, interval)
        self._display_ids: list[str] = []
        self._shown_in: Any = None
        self._shows_picture = False  # the outputs hold the final picture, not the widget
        self._canceller: Any = None  # stops the run shown: RunHandle.cancel(msg)
        self._retried: set[str] = set()  # events of which an attempt failed and ran again
        self._cancel_reason = ""
        self.rankdir = rankdir
        self.on_msg(self._on_front_message)
        if target is not None:
            self.watch(target)

    def __repr__(self) -> str:
        st = self._state
        run = f"{st.run_label()} {st.status}" if st and st.run_id is not None else "no run yet"
        name = getattr(self._source, "name", "?")
        return f"<FlowView of {name!r}: {run}>"

    # -- what to show -----------------------------------------------------------------------
    def watch(self, target: Any) -> FlowView:
        """Show ``target``: follow a Flow / WorkflowManager's runs, or show one run."""
        feed = getattr(target, "feed", target)
        if isinstance(feed, RunFeed):
            self.attach(target)  # the handle itself: its cancel() is the Stop button's
            return self
        self._set_source(target)
        self._state = self._new_state()
        follow(target, self)
        return self

    def attach(self, run: Any) -> FlowView:
        """Show ``run`` (a RunHandle or RunFeed) from now on; a run already going is caught up."""
        feed: RunFeed = getattr(run, "feed", run)
        self.detach()
        self._set_source(feed.source)
        state = self._state = self._new_state()
        self._retried, self._cancel_reason = set(), ""
        self._canceller = getattr(run, "cancel", None)  # a RunHandle's (a RunFeed has none)
        if feed.started_at and feed.trace is not None:
            for record in list(feed.trace.records):
                state(record)
                if record.kind in _NOTED_KINDS:
                    self._note(record)
        self._unsubscribe = feed.subscribe(self._subscriber(state))
        if state.ended:
            self._run_ended()
        else:
            self._coalescer.flush_now()
            if self._shows_picture:  # a new run of a followed flow: the widget again
                self._update_displays()
        return self

    def stop(self, reason: str = _STOP_REASON) -> bool:
        """Cancel the run shown (what the Stop button does); False if there is none to stop."""
        st, cancel = self._state, self._canceller
        if cancel is None or st is None or st.ended:
            return False
        return bool(cancel(reason))

    def _note(self, record: RunRecord) -> None:
        """Facts the node states need beyond RunState's: retried steps, why a run was stopped."""
        if record.kind == "step_retried":
            self._retried.add(record.event_id)  # type: ignore[attr-defined]
        elif record.kind == "run_cancelled":
            self._cancel_reason = record.reason  # type: ignore[attr-defined]

    def detach(self) -> None:
        """Stop listening to the current run (the view keeps showing what it saw)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            self._coalescer.flush_now()

    def close(self) -> None:
        """Stop following and listening, and close the widget (its outputs go blank)."""
        if hasattr(self, "_coalescer"):  # not when __init__ refused the target
            self.detach()
            self._coalescer.cancel()
            if self._source is not None:
                unfollow(self._source, self)
        super().close()

    def _new_state(self) -> RunState:
        assert self._layout is not None  # drawn by _set_source
        return RunState(self._layout.graph, log_limit=self.log_limit)

    def _set_source(self, source: Any) -> None:
        if source is not self._source:
            self._runtime_edges = []
        self._source = source
        graph = FlowGraph.of(source, runtime_edges=self._runtime_edges)
        self._draw(graph)

    @traitlets.observe("rankdir")
    def _rankdir_changed(self, change: Any) -> None:
        if change["new"] not in _RANKDIRS:
            logger.warning("live view: rankdir %r ignored; use LR or TB", change["new"])
            self.rankdir = change["old"]
            return
        if self._layout is not None:
            graph, self._layout = self._layout.graph, None
            self._draw(graph)

    def _draw(self, graph: FlowGraph) -> None:
        if self._layout is not None and self._layout.graph == graph:
            return
        drawn = self._layout = layout(graph, renderer=self._renderer, rankdir=self.rankdir)
        with self.hold_sync():
            self.svg = drawn.svg or ""
            self.text_graph = drawn.text + (f"\n\n({drawn.note})" if drawn.note else "")
            self.renderer = drawn.renderer
            self.nodes = {
                sid: {"id": node_id, "label": graph.node(node_id).label}  # type: ignore[union-attr]
                for node_id, sid in drawn.ids.nodes.items()
            }

    # -- the subscriber: O(1) per record ----------------------------------------------------
    def _subscriber(self, state: RunState) -> Any:
        coalescer = self._coalescer
        ends = RUN_END_KINDS
        noted = _NOTED_KINDS
        note = self._note
        handlers = state.handlers
        log_append = state.log.append
        bars = state.bars

        def on_record(record: RunRecord) -> None:
            kind = record.kind
            if kind == "step_progress":  # the flood case, inlined: RunState._progress
                log_append(record)
                state.log_total += 1
                if record.fraction is not None:  # type: ignore[attr-defined]
                    bars[record.step_id] = record  # type: ignore[attr-defined]
            else:
                handler = handlers.get(kind)
                if handler is not None:
                    handler(record)
                if kind in noted:
                    note(record)
                if kind in ends:
                    self._run_ended()
                    return
            if coalescer._handle is None:
                coalescer.poke()

        return on_record

    def mark_node(self, event_id: str, state: str) -> None:
        """Show ``event_id`` in ``state`` (e.g. "paused" while a debugger holds it)."""
        if state not in NODE_STATES:
            raise ValueError(f"unknown node state {state!r}; use one of {', '.join(NODE_STATES)}")
        if self._state is not None:
            self._state.node_state[event_id] = state
            self._coalescer.poke()

    def mark_held(self, held: bool) -> None:
        """Say in the status line that a debugger holds the run ("paused") or let it go."""
        if self._state is not None and self._state.held != held:
            self._state.held = held
            self._coalescer.poke()

    # -- flushing ---------------------------------------------------------------------------
    def _flush(self) -> None:
        st, drawn = self._state, self._layout
        if st is None or drawn is None:
            return
        unknown = [n for n in st.node_state if n not in drawn.ids.nodes]
        if st.structure_changed or unknown:
            st.structure_changed = False
            self._runtime_edges = list(st.runtime_edges)
            graph = drawn.graph.with_edges(st.runtime_edges).with_nodes(unknown)
            self._draw(graph)
            st.set_graph(graph)
            drawn = self._layout
            assert drawn is not None  # just drawn
        ids = drawn.ids
        with self.hold_sync():
            self.states = {ids.nodes[n]: s for n, s in self._node_states().items() if n in ids.nodes}
            self.counts = {ids.nodes[n]: c for n, c in st.counts.items() if n in ids.nodes}
            self.edges_seen = sorted(ids.edges[k] for k in st.seen_edges if k in ids.edges)
            self.status = self._status()
            self.bars = st.bar_list(ids.nodes)
            self.workers = {ids.nodes[n]: w for n, w in st.workers.items() if n in ids.nodes}
        if st.ended and st.log_gaps:
            self._send_log(reset=True)
            return
        lines = st.new_log_lines(None if st.ended else LIVE_LINES_PER_UPDATE)
        if lines:
            self.send({"type": "log", "lines": lines, "total": st.log_total, "run": st.run_id})

    def _node_states(self) -> dict[str, str]:
        """Each node's state as drawn: the records' states made true (see ``viz.shown_states``)."""
        st, drawn = self._state, self._layout
        if st is None or drawn is None:
            return {}
        emitted = [target for _s, target, kind in st.seen_edges if kind == "emit"]
        return shown_states(
            drawn.graph, st.node_state, st.status, retried=self._retried, emitted=emitted
        )

    def _status(self) -> dict[str, Any]:
        """The status line: RunState's, plus why the run was stopped and whether Stop can."""
        st = self._state
        assert st is not None
        status = st.status_dict()
        status["reason"] = self._cancel_reason if st.status == "cancelled" else ""
        status["can_stop"] = self._canceller is not None and not st.ended
        return status

    def _send_log(self, reset: bool) -> None:
        st = self._state
        if st is not None:
            self.send({"type": "log", "reset": reset, "lines": st.all_log_lines(),
                       "total": st.log_total, "run": st.run_id})

    def _run_ended(self) -> None:
        self._coalescer.flush_now()
        try:
            intervals, labels = self.step_intervals()
            self.timeline = timeline_svg(intervals, labels) if intervals else ""
            self._update_displays()
        except Exception:
            logger.warning("could not draw the final state of the run", exc_info=True)

    # -- static output ----------------------------------------------------------------------
    def step_intervals(self) -> tuple[list[tuple[str, float, float, str]], dict[str, str]]:
        """(event id, start, end, outcome) of the steps of the run shown, and event labels."""
        st = self._state
        if st is None:
            return [], {}
        return list(st.intervals), dict(st.labels)

    def static_svg(self) -> str | None:
        """One SVG of the final states, status line and legend (None without an SVG layout)."""
        _st, drawn = self._state, self._layout
        if drawn is None or drawn.svg is None:
            return None
        painted = paint_svg(drawn.svg, self.states, self.counts, self.edges_seen)
        present = [s for s in NODE_STATES if s in set(self.states.values())]
        return framed_svg(painted, self.summary(), present)

    def summary(self) -> str:
        st = self._state
        name = getattr(self._source, "name", "flow")
        if st is None or st.run_id is None:
            return f"{name}: no run yet"
        failures = f"{st.failures} failure{'s' if st.failures != 1 else ''}"
        why = f" ({self._cancel_reason})" if st.status == "cancelled" and self._cancel_reason else ""
        return (
            f"{name} · {st.run_label()} {st.status}{why} · {st.elapsed():.2f} s · "
            f"{st.steps_done} steps done · {failures}"
        )

    def _widget_bundle(self) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        return {str(k): v for k, v in (data or {}).items()}

    def output_bundle(self) -> dict[str, Any]:
        """What the cell's output holds: the widget while a run goes (or none did yet), the
        final picture once it ended (no widget: see the module's docstring)."""
        st = self._state
        if st is not None and st.ended:
            svg = self.static_svg()
            if svg is not None:
                folded = [("Timeline of the run", self.timeline)] if self.timeline else []
                return picture_bundle(svg, self.summary(), folded=folded)
            return {"text/plain": self.summary() + "\n" + self.text_graph}
        data = self._widget_bundle()
        data["text/plain"] = self.summary()
        return data

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        cell = getattr(shell, "execution_count", None)
        if cell is not None and cell == self._shown_in:
            return  # view(x) as a cell's last line: already shown by view()
        self._shown_in = cell
        cell_outputs.shown(self)  # closes what an earlier run of this cell showed
        bundle = self.output_bundle()
        self._shows_picture = _WIDGET_MIME not in bundle
        handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        if handle is not None:
            self._display_ids = (self._display_ids + [handle.display_id])[-8:]

    def _update_displays(self) -> None:
        if not self._display_ids:
            return
        from IPython.display import update_display

        bundle = self.output_bundle()
        self._shows_picture = _WIDGET_MIME not in bundle
        for display_id in self._display_ids:
            update_display(bundle, display_id=display_id, raw=True)  # type: ignore[no-untyped-call]

    # -- the browser's requests -------------------------------------------------------------
    def _on_front_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            st = self._state
            if kind == "hello":
                self._send_log(reset=True)
            elif kind == "stop":
                self.stop()
            elif kind == "details" and st is not None and self._layout is not None:
                svg_id = str(content.get("node", ""))
                node_id = self._layout.ids.node_of(svg_id)
                if node_id is not None:
                    self.send({"type": "details", "node": svg_id, "data": st.detail_dict(node_id)})
        except Exception:
            logger.warning("live view: could not answer %r", content, exc_info=True)


_NOTED_KINDS = frozenset({"step_retried", "run_cancelled"})


def _check_target(target: Any) -> None:
    if isinstance(getattr(target, "feed", target), RunFeed) or isinstance(target, Flow):
        return
    if isinstance(getattr(target, "handlers", None), dict) and hasattr(target, "register"):
        return  # a WorkflowManager
    raise TypeError(
        f"a live view shows a Flow, a WorkflowManager or a run (RunHandle), got "
        f"{type(target).__name__} {target!r:.60}; pass the flow, or flow.run(...)"
    )


def view(target: Any, **options: Any) -> FlowView:
    """Show a live view of ``target`` in this cell and return it.

    ``target`` is a Flow or WorkflowManager (the view follows its next runs) or a RunHandle
    (that run). Options are those of ``FlowView``. Outside IPython nothing is displayed.
    """
    widget = FlowView(target, **options)
    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            widget._ipython_display_()
    except Exception:
        logger.warning("could not display the live view", exc_info=True)
    return widget
