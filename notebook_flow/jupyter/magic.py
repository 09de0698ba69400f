"""The ``%flow`` / ``%%flow`` magics: show, run, debug and inspect flows from a cell.

Load with ``%load_ext notebook_flow``. Every sub-command is a thin call into the public API
(FlowView, DebugSession, run_sync, the trace), so what a magic does, code can do too.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from .. import Flow, RunFeed, WorkflowEvent, WorkflowManager, observe_runs
from .._core.debug import DebugSession, resolve_events
from .._core.gate import Gate
from ..errors import FlowError
from .cell_runner import compile_cell
from .debugger import DebuggerView, current_session, debug, set_current_session
from .loop import allow_nested_runs, run_sync, start_background
from .magic_args import HELP, cell_parser, line_parser, run_options, split_arguments
from .timeline import timeline
from .view import FlowView

__all__ = ["FlowMagics", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class FlowMagics(Magics):
    """The ``%flow`` magics; one instance per IPython shell."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.last_run: RunFeed | None = None
        self._stop_observing = observe_runs(self._remember)

    def _remember(self, feed: RunFeed) -> None:
        self.last_run = feed

    @line_cell_magic
    def flow(self, line: str, cell: str | None = None) -> Any:
        return self._cell(line, cell) if cell is not None else self._line(line)

    flow.__doc__ = HELP

    # -- line magic ------------------------------------------------------------------------
    def _line(self, line: str) -> Any:
        words = split_arguments(line)
        if not words or words[0] in ("-h", "--help", "help"):
            print(HELP)
            return None
        args = line_parser().parse_args(words)
        action = args.action
        if action == "show":
            display(self._source(args.flow))
            return None
        if action == "run":
            return self._run(args)
        if action == "debug":
            return self._debug(args)
        if action == "log":
            return self._log(errors_only=args.errors)
        if action == "trace":
            return self._trace(as_json=args.json)
        session = self._require_session()
        if action == "step":
            return run_sync(session.step())
        if action == "continue":
            return run_sync(session.resume())
        if action == "pause":
            session.pause()
            return None
        if action == "stop":
            run_sync(session.stop())
            return session.status
        if action == "break":
            try:
                (session.remove_breakpoint if args.remove else session.add_breakpoint)(args.event)
            except FlowError as error:
                raise UsageError(f"%flow break: {error}") from None
            return None
        raise UsageError(f"%flow: unknown action {action!r}")  # pragma: no cover - argparse checks

    def _source(self, expr: str) -> Any:
        value = self._eval(expr, "FLOW")
        if not isinstance(value, (Flow, WorkflowManager)):
            raise UsageError(
                f"%flow: {expr!r} is a {type(value).__name__}, not a Flow or WorkflowManager"
            )
        return value

    def _eval(self, expr: str, what: str) -> Any:
        try:
            return eval(expr, self.shell.user_ns)
        except NameError:
            raise UsageError(f"%flow: {what} {expr!r} is not defined in this notebook") from None
        except Exception as error:
            raise UsageError(
                f"%flow: could not evaluate {what} {expr!r}: {type(error).__name__}: {error}"
            ) from None

    def _root(self, source: Any, name: str | None) -> Any:
        if isinstance(source, WorkflowManager):
            if name is None:
                names = list(source.handlers)
                if not names:
                    raise UsageError(f"%flow: {source.name!r} has no handlers registered")
                return names[0]
            if name not in source.handlers:
                raise UsageError(
                    f"%flow: {source.name!r} has no handler for {name!r}; events: "
                    f"{', '.join(source.handlers)}"
                )
            return name
        if name is None:
            roots = [e for e in source.events.values() if not e.parent_groups]
            if len(roots) != 1:
                names = ", ".join(e.name for e in (roots or source.events.values()))
                raise UsageError(
                    f"%flow: flow {source.name!r} has {len(roots)} root events; name the event to "
                    f"start from (one of: {names or 'no events'})"
                )
            return roots[0]
        try:
            (event_id,) = resolve_events(source, [name])
        except FlowError as error:
            raise UsageError(f"%flow: {error}") from None
        return source.events[event_id]

    def _initial(self, source: Any, root: Any, input_expr: str | None) -> Any:
        value = self._eval(input_expr, "--input") if input_expr else None
        if isinstance(source, WorkflowManager):
            if isinstance(value, WorkflowEvent):
                return value
            if value is not None and not isinstance(value, dict):
                raise UsageError(
                    f"%flow: --input for a WorkflowManager must be a dict (the event's data) or a "
                    f"WorkflowEvent, got {type(value).__name__}"
                )
            return WorkflowEvent(name=root, data=value if value is not None else {})
        return value

    def _run(self, args: argparse.Namespace) -> Any:
        source = self._source(args.flow)
        root = self._root(source, args.event)
        initial = self._initial(source, root, args.input_expr)
        ctx = self._eval(args.ctx_expr, "--ctx") if args.ctx_expr else None
        if isinstance(source, WorkflowManager):
            if ctx is not None:
                raise UsageError("%flow: --ctx is for a Flow; a WorkflowManager has its own ctx")
            if run_options(args):
                raise UsageError(
                    "%flow: --timeout and --on-error are for a Flow; give a WorkflowManager's "
                    "handlers their own timeout with register(..., timeout=...)"
                )
            view = FlowView(source)
            display(view)
            body = _consume(source, initial)
            if args.background:
                task = asyncio.get_running_loop().create_task(body)
                task.add_done_callback(_retrieve)
                return task
            return run_sync(body)
        options = run_options(args)
        if args.max_steps is not None:
            options["max_steps"] = args.max_steps
        try:
            handle = source.run(root, initial, ctx, **options)
        except FlowError as error:
            raise UsageError(f"%flow run: {error}") from None
        display(FlowView(handle))
        if args.background:
            return start_background(handle)
        return run_sync(handle)

    def _debug(self, args: argparse.Namespace) -> None:
        source = self._source(args.flow)
        root = self._root(source, args.event)
        initial = self._initial(source, root, args.input_expr)
        breaks = [b for b in args.breaks.split(",") if b]
        ctx = self._eval(args.ctx_expr, "--ctx") if args.ctx_expr else None
        if ctx is not None and isinstance(source, WorkflowManager):
            raise UsageError("%flow: --ctx is for a Flow; a WorkflowManager has its own ctx")
        try:
            debug(
                source, initial if isinstance(source, WorkflowManager) else root,
                None if isinstance(source, WorkflowManager) else initial, ctx,
                breakpoints=breaks, break_on_error=args.break_on_error,
                namespace=self.shell.user_ns, **run_options(args),
            )
        except FlowError as error:
            raise UsageError(f"%flow debug: {error}") from None

    def _require_session(self) -> DebugSession:
        session = current_session()
        if session is None:
            raise UsageError("%flow: no debug session; start one with %flow debug FLOW")
        return session

    def _log(self, *, errors_only: bool) -> None:
        feed = self._require_last_run()
        start = feed.trace.start_time or 0.0
        lines = []
        for record in feed.trace.records:
            if record.kind == "step_progress" and not errors_only:
                fraction = "" if record.fraction is None else f" ({record.fraction:.0%})"
                lines.append(
                    f"{record.time - start:8.3f}s  {_short(record.event_id)}: "
                    f"{record.step} - {record.description}{fraction}"
                )
            elif record.kind in ("step_failed", "run_failed"):
                where = _short(getattr(record, "event_id", "run"))
                error = record.error
                lines.append(f"{record.time - start:8.3f}s  {where}: ERROR {type(error).__name__}: {error}")
        if feed.trace.dropped:
            lines.insert(0, f"({feed.trace.dropped} older records are no longer kept)")
        print("\n".join(lines) if lines else "(no progress or error lines in the last run)")

    def _trace(self, *, as_json: bool) -> Any:
        feed = self._require_last_run()
        if as_json:
            print(feed.trace.to_json(indent=1))
            return None
        counts = ", ".join(f"{k}={v}" for k, v in feed.trace.counts.items())
        print(f"run {feed.run_id} of {feed.flow_name!r}: {feed.trace.status}; {counts}")
        return timeline(feed)

    def _require_last_run(self) -> RunFeed:
        if self.last_run is None or self.last_run.trace is None:
            raise UsageError("%flow: no run with a trace yet in this kernel; run a flow first")
        return self.last_run

    # -- cell magic ------------------------------------------------------------------------
    def _cell(self, line: str, cell: str) -> Any:
        args = cell_parser().parse_args(split_arguments(line))
        breaks = [b for b in args.breaks.split(",") if b]
        if breaks and not args.debug:
            raise UsageError("%%flow: --break needs --debug")
        code = self.shell.transform_cell(cell)
        try:
            body = compile_cell(code)
        except SyntaxError as error:
            raise UsageError(f"%%flow: the cell has a syntax error: {error}") from None
        namespace = self.shell.user_ns
        allow_nested_runs()  # so asyncio.run(...) in the cell works as in a script
        if not args.debug:
            stop = observe_runs(lambda feed: display(FlowView(feed)))
            try:
                return run_sync(body(namespace))
            finally:
                stop()
        task_box: list[asyncio.Task[Any]] = []

        def debug_each_run(feed: RunFeed) -> None:
            try:
                ids = resolve_events(feed.source, breaks)
            except FlowError as error:
                print(f"%%flow: {error}")
                ids = set()
            gate = Gate(breakpoints=ids, paused=True)
            feed.hold_with(gate)
            session = DebugSession(feed.source, gate, None)
            session.feed = feed
            session.task = task_box[0]
            set_current_session(session)
            display(DebuggerView(session, namespace=namespace))

        stop = observe_runs(debug_each_run)
        task = asyncio.get_running_loop().create_task(body(namespace))
        task_box.append(task)
        task.add_done_callback(lambda t: (stop(), _report(t)))
        return None


async def _consume(manager: WorkflowManager, initial: WorkflowEvent) -> list[WorkflowEvent]:
    return [event async for event in manager.process(initial)]


def _short(event_id: str) -> str:
    return event_id.rsplit(".", 1)[-1]


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _report(task: asyncio.Task[Any]) -> None:
    from .loop import _report_failure

    _report_failure(task)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext notebook_flow``: register the %flow magics."""
    ipython.register_magics(FlowMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("FlowMagics")
    if magics is not None:
        magics._stop_observing()
