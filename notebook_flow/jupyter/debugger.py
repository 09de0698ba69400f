"""DebuggerView: Step / Continue / Pause / Stop buttons, pending inputs and context, beside the live DAG.

Every button only calls a plain method of the run's gate or task (``Button.click()`` from Python
does exactly what a click does). Nothing here blocks: the paused run is a background task
awaiting an ``asyncio.Event`` in the gate, so the kernel stays idle between clicks.

The panel is bound to its session's run: its live view shows that run and no other, whatever
runs of the same flow start later.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .._core.debug import DebugSession
from . import cell_outputs, sessions
from .coalesce import Coalescer
from .flow_view import FlowView
from .follow import follow, follower_of, unfollow
from .formatting import bounded_repr, cut, describe_input, short_name
from .input_editor import editable_text, parse_edit

__all__ = ["DebuggerView", "debug", "current_session"]

_current: list[DebugSession] = []  # the session %flow step / continue / stop drive
#: The reason a debug session's run gives when a new session of its flow replaced it.
REPLACED = "a new debug session of this flow replaced it"


def current_session() -> DebugSession | None:
    """The debug session started last in this kernel (by ``debug()`` or ``%flow debug``)."""
    return _current[-1] if _current else None


def set_current_session(session: DebugSession) -> None:
    sessions.register(session)  # so %flow stop and a new session of its flow can reach it
    _current[:] = [session]


def debug(
    target: Any,
    event: Any = None,
    event_input: Any = None,
    global_ctx: Any = None,
    *,
    breakpoints: Any = (),
    break_on_error: bool = False,
    namespace: dict[str, Any] | None = None,
    **run_options: Any,
) -> DebugSession:
    """Start a paused background run of ``target`` under the debugger, show it, return the session.

    ``target`` is a Flow (``event`` is the event to start from) or a WorkflowManager (``event``
    is the initial WorkflowEvent). The cell returns at once; drive the run with the buttons, with
    ``%flow step / continue / stop``, or with the session's methods from another cell. A live
    session of the same ``target`` is stopped: it would otherwise stay paused for ever.
    """
    sessions.cancel_sessions(sessions.sessions_of(target), REPLACED)
    if hasattr(target, "handlers"):
        if run_options:
            raise TypeError(
                f"run options {sorted(run_options)} are for a Flow; a WorkflowManager's handlers "
                "take their own retry/timeout in register(...)"
            )
        session = DebugSession.for_manager(
            target, event, breakpoints=breakpoints, break_on_error=break_on_error
        )
    else:
        session = DebugSession.for_flow(
            target, event, event_input, global_ctx, breakpoints=breakpoints,
            break_on_error=break_on_error, **run_options,
        )
    session.task.add_done_callback(_retrieve)  # type: ignore[union-attr]
    set_current_session(session)
    if namespace is None:
        namespace = _user_namespace()
    widget = DebuggerView(session, namespace=namespace)
    try:
        from IPython.display import display

        display(widget)  # type: ignore[no-untyped-call]
    except Exception:  # displaying must never break the run
        pass
    return session


def _retrieve(task: Any) -> None:
    if not task.cancelled():
        task.exception()  # the failure is in the view's log and the trace


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell.user_ns if shell is not None else {}
    except Exception:
        return {}


def _bound_view(session: DebugSession) -> FlowView:
    """A live view of the session's run only (never of the flow's later runs)."""
    if session.feed is not None:
        return FlowView(session.feed, stop_button=False)  # the panel has its own Stop
    # A WorkflowManager's run is made when its task starts: draw the graph now, attach the run
    # when it appears, and leave whichever view followed the manager following it.
    before = follower_of(session.source)
    view = FlowView(session.source, stop_button=False)
    unfollow(session.source, view)
    if before is not None:
        follow(session.source, before)
    return view


class DebuggerView(widgets.VBox):  # type: ignore[misc]
    """The debugger of one run: controls, what is pending, the shared context, the live view.

    Args:
        session: the DebugSession to drive.
        namespace: where the input editor evaluates expressions (the notebook's user namespace).
    """

    def __init__(self, session: DebugSession, *, namespace: dict[str, Any] | None = None) -> None:
        self.session = session
        self.namespace = namespace if namespace is not None else {}
        self.view = _bound_view(session)
        self._attached = session.feed is not None
        self.step_button = self._button("Step", "step-forward", "Start the next pending event, then hold", self._on_step)
        self.continue_button = self._button("Continue", "play", "Run to the next breakpoint", self._on_continue)
        self.pause_button = self._button("Pause", "pause", "Hold before the next event", self._on_pause)
        self.stop_button = self._button("Stop", "stop", "Cancel the run", self._on_stop, style="danger")
        self.status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.pending_html = widgets.HTML()
        self.ctx_html = widgets.HTML()
        self.edit_target = widgets.Dropdown(description="Input of", layout=widgets.Layout(width="320px"))
        self.edit_text = widgets.Textarea(
            placeholder='what the step receives, e.g. {"receive": {"qty": 5}}: a Python '
                        "expression, evaluated in the notebook's namespace",
            layout=widgets.Layout(width="460px", height="64px"),
        )
        self.edit_button = self._button("Set input", "pencil", "Give the chosen pending event this input", self._on_edit)
        self.message = widgets.HTML()
        controls = widgets.HBox(
            [self.step_button, self.continue_button, self.pause_button, self.stop_button, self.status],
            layout=widgets.Layout(align_items="center"),
        )
        editor = widgets.HBox([self.edit_target, self.edit_text, self.edit_button])
        super().__init__(
            [controls, self.view, self.pending_html, editor, self.message, self.ctx_html],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("nf-debugger")
        self._paused_node: str | None = None
        self._prefilled_for: int | None = None
        self._message_moment: tuple[int, int | None, bool] | None = None
        self.edit_target.observe(self._on_target_chosen, names="value")
        self._coalescer = Coalescer(self._refresh, 0.05)
        self._remove_listener = session.gate.add_listener(lambda _gate: self._coalescer.poke())
        if session.task is not None:
            session.task.add_done_callback(self._on_run_done)
        self._refresh()

    @staticmethod
    def _button(
        label: str, icon: str, tooltip: str, handler: Callable[[Any], None], style: str = ""
    ) -> widgets.Button:
        button = widgets.Button(
            description=label, icon=icon, tooltip=tooltip, button_style=style,
            layout=widgets.Layout(width="auto", min_width="96px"),
        )
        button.on_click(handler)
        return button

    # -- button handlers: dispatch only ----------------------------------------------------
    def _on_step(self, _button: Any = None) -> None:
        self.session.gate.step()

    def _on_continue(self, _button: Any = None) -> None:
        self.session.gate.resume()

    def _on_pause(self, _button: Any = None) -> None:
        self.session.gate.pause()

    def _on_stop(self, _button: Any = None) -> None:
        if self.session.task is not None:
            self.session.task.cancel()

    def _on_edit(self, _button: Any = None) -> None:
        step_id = self.edit_target.value
        chosen = next((p for p in self.session.pending if p.step_id == step_id), None)
        if chosen is None:
            self._say("Nothing is pending: there is no input to edit.", error=True)
            return
        try:
            value = eval(self.edit_text.value, self.namespace)  # the user's own expression
        except Exception as error:
            self._say(f"Could not evaluate the input: {type(error).__name__}: {error}", error=True)
            return
        try:
            new_input = parse_edit(chosen.input, value)
            self.session.edit_input(chosen.step_id, new_input)
        except Exception as error:
            self._say(str(error), error=True)
            return
        self._say(f"{short_name(chosen.event_id)} (step #{chosen.step_id}) will receive "
                  f"{describe_input(new_input, safe=False)}")

    def _on_target_chosen(self, change: dict[str, Any]) -> None:
        self._prefill(change.get("new"))

    def _on_run_done(self, _task: Any) -> None:
        self._coalescer.flush_now()

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop updating, close the live view and the controls (the run itself goes on)."""
        if hasattr(self, "_coalescer"):
            self._coalescer.cancel()
            self._remove_listener()
            if self.session.task is not None:
                self.session.task.remove_done_callback(self._on_run_done)
            self.view.close()
        super().close()

    def _ipython_display_(self, **_kwargs: Any) -> None:
        from IPython.display import display

        cell_outputs.shown(self)
        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]

    # -- display ---------------------------------------------------------------------------
    def _moment(self) -> tuple[int, int | None, bool]:
        """Where the run is: a message about an earlier moment is stale."""
        gate = self.session.gate
        waiting = gate.waiting
        return len(gate.released), waiting.step_id if waiting else None, self._over()

    def _over(self) -> bool:
        return self.session.done or self.session.gate.run_over

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b42318" if error else "#1f6f43"
        self.message.value = f'<span style="color:{colour}">{html.escape(cut(text, 2_000), quote=False)}</span>'
        self._message_moment = self._moment()

    def _prefill(self, step_id: int | None) -> None:
        chosen = next((p for p in self.session.pending if p.step_id == step_id), None)
        self._prefilled_for = step_id
        self.edit_text.value = editable_text(chosen.input) if chosen is not None else ""

    def _refresh(self) -> None:
        session, gate = self.session, self.session.gate
        if not self._attached and session.feed is not None:
            self._attached = True
            self.view.attach(session.feed)
        over = self._over()
        held = gate.waiting is not None and not over
        self.status.value = f"<b>{html.escape(self._short_status())}</b>"
        for button in (self.step_button, self.continue_button, self.pause_button, self.stop_button):
            button.disabled = over
        self.edit_button.disabled = over
        waiting = gate.waiting
        node = waiting.event_id if waiting is not None else None
        if node != self._paused_node:
            if node is not None:
                self.view.mark_node(node, "paused")
            self.view.mark_held(node is not None and not over)
            self._paused_node = node
        if self._message_moment is not None and self._message_moment != self._moment():
            self.message.value = ""  # it spoke of a moment the run has left
            self._message_moment = None
        pending = session.pending
        self.pending_html.value = _pending_table(pending, waiting, safe=not held)
        options = [(f"#{p.step_id} {short_name(p.event_id)}", p.step_id) for p in pending]
        if [o[1] for o in self.edit_target.options] != [o[1] for o in options]:
            chosen = self.edit_target.value
            ids = [o[1] for o in options]
            self.edit_target.options = options
            self.edit_target.value = chosen if chosen in ids else (ids[0] if ids else None)
        if self.edit_target.value != self._prefilled_for:
            self._prefill(self.edit_target.value)
        if held or over or not self.ctx_html.value:  # a user's repr only while nothing runs
            self.ctx_html.value = (
                "<div class='nf-dbg-ctx'><b>Shared context</b> "
                f"<code>{html.escape(bounded_repr(session.ctx, 2_000), quote=False)}</code></div>"
            )

    def _short_status(self) -> str:
        waiting = self.session.gate.waiting
        if waiting is not None and not self.session.done:
            label = short_name(waiting.event_id)
            why = self.session.gate.reason.replace(waiting.event_id, label)
            why = "" if why in ("step", "start", "") else f" ({why})"
            return f"paused before {label}{why}"
        return self.session.status


def _pending_table(pending: list[Any], waiting: Any, *, safe: bool) -> str:
    if not pending:
        return "<div class='nf-dbg-pending'><i>No event is pending.</i></div>"
    rows = []
    for p in pending[:50]:
        held = waiting is not None and p.step_id == waiting.step_id
        marker = "&#9654; next" if held else ""
        row_style = ' style="background:#fff4ce"' if held else ""
        cell = "style='padding:2px 10px 2px 0;text-align:left'"
        shown = cut(describe_input(p.input, safe=safe), 1_000)
        rows.append(
            f"<tr{row_style}><td {cell}>{marker}</td>"
            f"<td {cell}>#{p.step_id}</td>"
            f"<td {cell}><b>{html.escape(short_name(p.event_id))}</b></td>"
            f"<td {cell}><code>{html.escape(shown, quote=False)}</code></td></tr>"
        )
    more = len(pending) - 50
    if more > 0:
        rows.append(f"<tr><td colspan='4'><i>... and {more} more pending</i></td></tr>")
    head = "style='padding:2px 10px 2px 0;text-align:left;color:#52606d;font-weight:600'"
    return (
        "<div class='nf-dbg-pending'><b>Pending events</b> (released in this order; "
        "each receives the results shown)"
        "<table style='border-collapse:collapse;font-size:12px;margin-top:4px'>"
        f"<tr><th {head}></th><th {head}>step</th><th {head}>event</th><th {head}>receives</th></tr>"
        + "".join(rows)
        + "</table></div>"
    )
