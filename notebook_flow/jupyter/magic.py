"""The ``%flow`` / ``%%flow`` magics: show, run, debug and inspect flows from a cell.

Load with ``%load_ext notebook_flow``. Every sub-command is a thin call into the public API
(FlowView, DebugSession, run_sync, the trace), so what a magic does, code can do too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from .. import Flow, RunFeed, Trace, WorkflowEvent, WorkflowManager, observe_runs
from .._core.debug import DebugSession, resolve_events
from .._core.gate import Gate
from ..errors import FlowError
from ..records import RunFailed, StepFailed, StepProgress
from .cell_runner import compile_cell
from .debugger import REPLACED, DebuggerView, current_session, debug, set_current_session
from .flow_view import FlowView
from .formatting import show_records_readably
from .loop import STOP_GRACE, allow_nested_runs, run_sync, start_background
from .magic_args import HELP, cell_parser, line_parser, run_options, split_arguments
from .sessions import cancel_sessions, live_sessions, sessions_of
from .timeline_view import timeline
from .tracebacks import without_framework

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
        __tracebackhide__ = True  # IPython leaves this frame out of the traceback it shows
        try:
            return self._cell(line, cell) if cell is not None else self._line(line)
        except Exception as error:  # the user's code failed: show their frames, not ours
            raise without_framework(error)  # noqa: B904 - the same exception, trimmed

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
            _show(self._source(args.flow))
            return None
        if action == "run":
            return self._run(args)
        if action == "debug":
            return self._debug(args)
        if action == "log":
            return self._log(errors_only=args.errors)
        if action == "trace":
            return self._trace(as_json=args.json)
        if action == "stop" and (args.flow is not None or args.all):
            return self._stop_many(args)
        session = self._require_session()
        if action == "step":
            return run_sync(session.step())
        if action == "continue":
            return run_sync(session.resume())
        if action == "pause":
            session.pause()
            return None
        if action == "stop":
            self._stop_and_wait([session], "%flow stop")  # bounded, as for %flow stop FLOW
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

    def _shell(self) -> Any:
        shell = self.shell
        if shell is None:
            raise UsageError("%flow: these magics are not attached to an IPython shell")
        return shell

    def _eval(self, expr: str, what: str) -> Any:
        try:
            return eval(expr, self._shell().user_ns)
        except NameError:
            raise UsageError(f"%flow: {what} {expr!r} is not defined in this notebook") from None
        except Exception as error:
            raise UsageError(
                f"%flow: could not evaluate {what} {expr!r}: {type(error).__name__}: {error}"
            ) from None

    def _root(self, source: Any, name: str | None) -> Any:
        if isinstance(source, WorkflowManager):
            if name is None:
                handlers = list(source.handlers)
                if not handlers:
                    raise UsageError(f"%flow: {source.name!r} has no handlers registered")
                return handlers[0]
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
            _show(view)
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
        _show(FlowView(handle))
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
        # The paused session of this flow started before would wait for ever: stop it first.
        replaced = self._stop_and_wait(sessions_of(source), REPLACED)
        if replaced:
            print(f"%flow debug: stopped the earlier debug session of {args.flow}"
                  f"{_listed(replaced)}")
        try:
            debug(
                source, initial if isinstance(source, WorkflowManager) else root,
                None if isinstance(source, WorkflowManager) else initial, ctx,
                breakpoints=breaks, break_on_error=args.break_on_error,
                namespace=self._shell().user_ns, **run_options(args),
            )
        except FlowError as error:
            raise UsageError(f"%flow debug: {error}") from None

    def _stop_many(self, args: argparse.Namespace) -> None:
        """``%flow stop FLOW`` / ``%flow stop --all``: every live debug session named."""
        if args.flow is not None and args.all:
            raise UsageError("%flow stop: name a FLOW or give --all, not both")
        named = live_sessions() if args.all else sessions_of(self._source(args.flow))
        stopped = self._stop_and_wait(named, "%flow stop")
        what = "every live debug session" if args.all else f"the debug sessions of {args.flow}"
        print(f"%flow stop: {_count(stopped, 'run')} stopped{_listed(stopped)}" if stopped
              else f"%flow stop: no live debug session to stop ({what})")

    def _stop_and_wait(self, named: list[DebugSession], reason: str) -> list[DebugSession]:
        """Cancel the runs of ``named`` and wait (bounded) until they have ended."""
        tasks = cancel_sessions(named, reason)
        if tasks:
            run_sync(asyncio.wait(tasks, timeout=STOP_GRACE))
        return [s for s in named if s.task is not None and s.task in tasks]

    def _require_session(self) -> DebugSession:
        session = current_session()
        if session is None:
            raise UsageError("%flow: no debug session; start one with %flow debug FLOW")
        return session

    def _log(self, *, errors_only: bool) -> None:
        _, trace = self._require_last_run()
        start = trace.start_time or 0.0
        lines = []
        for record in trace.records:
            if isinstance(record, StepProgress) and not errors_only:
                fraction = "" if record.fraction is None else f" ({record.fraction:.0%})"
                lines.append(
                    f"{record.time - start:8.3f}s  {_short(record.event_id)}: "
                    f"{record.step} - {record.description}{fraction}"
                )
            elif isinstance(record, (StepFailed, RunFailed)):
                where = _short(record.event_id) if isinstance(record, StepFailed) else "run"
                error = record.error
                lines.append(f"{record.time - start:8.3f}s  {where}: ERROR {type(error).__name__}: {error}")
        if trace.dropped:
            lines.insert(0, f"({trace.dropped} older records are no longer kept)")
        print("\n".join(lines) if lines else "(no progress or error lines in the last run)")

    def _trace(self, *, as_json: bool) -> Any:
        feed, trace = self._require_last_run()
        if as_json:
            print(trace.to_json(indent=1))
            return None
        counts = ", ".join(f"{k}={v}" for k, v in trace.counts.items())
        print(f"run {feed.run_id} of {feed.flow_name!r}: {trace.status}; {counts}")
        return timeline(feed)

    def _require_last_run(self) -> tuple[RunFeed, Trace]:
        feed = self.last_run
        if feed is None or feed.trace is None:
            raise UsageError("%flow: no run with a trace yet in this kernel; run a flow first")
        return feed, feed.trace

    # -- cell magic ------------------------------------------------------------------------
    def _cell(self, line: str, cell: str) -> Any:
        args = cell_parser().parse_args(split_arguments(line))
        breaks = [b for b in args.breaks.split(",") if b]
        if breaks and not args.debug:
            raise UsageError("%%flow: --break needs --debug")
        code = self._shell().transform_cell(cell)
        try:
            body = compile_cell(code)
        except SyntaxError as error:
            raise UsageError(f"%%flow: the cell has a syntax error: {error}") from None
        namespace = self._shell().user_ns
        allow_nested_runs()  # so asyncio.run(...) in the cell works as in a script
        if not args.debug:
            stop = observe_runs(lambda feed: _show(FlowView(feed)))
            try:
                return run_sync(body(namespace))
            finally:
                stop()
        task_box: list[asyncio.Task[Any]] = []
        started_here: list[DebugSession] = []

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
            # A session of this flow left by an earlier cell would stay paused for ever.
            cancel_sessions(sessions_of(feed.source, besides=started_here), REPLACED)
            started_here.append(session)
            set_current_session(session)
            _show(DebuggerView(session, namespace=namespace))

        stop = observe_runs(debug_each_run)
        task = asyncio.get_running_loop().create_task(body(namespace))
        task_box.append(task)
        def cell_ended(task: asyncio.Task[Any]) -> None:
            stop()
            _report(task)

        task.add_done_callback(cell_ended)
        return None


async def _consume(manager: WorkflowManager, initial: WorkflowEvent) -> list[WorkflowEvent]:
    return [event async for event in manager.process(initial)]


def _show(value: object) -> None:
    display(value)  # type: ignore[no-untyped-call]  # IPython is untyped


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _listed(stopped: list[DebugSession]) -> str:
    runs = [f"run {s.feed.run_id} of {s.feed.flow_name!r}" for s in stopped if s.feed is not None]
    return f" ({', '.join(runs)})" if runs else ""


def _short(event_id: str) -> str:
    return event_id.rsplit(".", 1)[-1]


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _report(task: asyncio.Task[Any]) -> None:
    """The end of a ``%%flow --debug`` cell's code: its failure is printed in that cell."""
    if task.cancelled():
        return
    error = task.exception()  # retrieving it also silences "exception was never retrieved"
    if error is not None:
        print(f"%%flow: the cell failed: {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext notebook_flow``: register the %flow magics."""
    ipython.register_magics(FlowMagics)
    show_records_readably(ipython)  # `%flow step` shows "price done in 0.001 s -> 80", not a repr


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("FlowMagics")
    if magics is not None:
        magics._stop_observing()
