"""The %flow magics' words: help text, argument parsers, and a Python-aware line splitter."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

__all__ = ["HELP", "line_parser", "cell_parser", "run_options", "split_arguments"]

HELP = """Show, run and debug notebook_flow flows.

  %flow show FLOW                         draw FLOW's DAG (a Flow or a WorkflowManager)
  %flow run FLOW [EVENT] [--input EXPR] [--ctx EXPR] [--background] [--max-steps N]
                 [--timeout SECONDS] [--on-error raise|continue]
                                          run with the live view; the results are the value
  %flow debug FLOW [EVENT] [--input EXPR] [--ctx EXPR] [--break EV,...] [--break-on-error]
                   [--timeout SECONDS] [--on-error raise|continue]
                                          start a paused background run with the debugger
                                          (a live debug session of FLOW is stopped first)
  %flow step | continue | pause | stop    drive the current debug session
  %flow stop FLOW | --all                 stop every live debug session of FLOW (or all of them)
  %flow break EV [--remove]               add (or remove) a breakpoint on an event
  %flow log [--errors]                    progress and error lines of the last run
  %flow trace [--json]                    the last run's timeline and counters (or its JSON)

  %%flow [--debug] [--break EV,...]       run the cell; every run it starts gets a live view
                                          (with --debug: the cell runs in the background and
                                          each run starts paused under the debugger)

FLOW is a name (or expression) in the notebook's namespace. EVENT is an event's name or id;
for a Flow it defaults to its only root event, for a WorkflowManager it is the name of the
first event (EXPR for --input then gives its data, or a whole WorkflowEvent). Inside %%flow,
asyncio.run(...) works as in a script.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports problems as one-line UsageErrors instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%flow: {message} (see %flow?)")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or HELP)


def line_parser() -> _Parser:
    parser = _Parser(prog="%flow", add_help=False)
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    show = sub.add_parser("show", add_help=False)
    show.add_argument("flow")
    for name in ("run", "debug"):
        p = sub.add_parser(name, add_help=False)
        p.add_argument("flow")
        p.add_argument("event", nargs="?")
        p.add_argument("--input", dest="input_expr")
        p.add_argument("--ctx", dest="ctx_expr")
        p.add_argument("--timeout", type=float)
        p.add_argument("--on-error", choices=("raise", "continue"))
        if name == "run":
            p.add_argument("--background", action="store_true")
            p.add_argument("--max-steps", type=int)
        else:
            p.add_argument("--break", dest="breaks", default="")
            p.add_argument("--break-on-error", action="store_true")
    for name in ("step", "continue", "pause"):
        sub.add_parser(name, add_help=False)
    stop = sub.add_parser("stop", add_help=False)
    stop.add_argument("flow", nargs="?")
    stop.add_argument("--all", action="store_true")
    brk = sub.add_parser("break", add_help=False)
    brk.add_argument("event")
    brk.add_argument("--remove", action="store_true")
    log = sub.add_parser("log", add_help=False)
    log.add_argument("--errors", action="store_true")
    trace = sub.add_parser("trace", add_help=False)
    trace.add_argument("--json", action="store_true")
    return parser


def cell_parser() -> _Parser:
    parser = _Parser(prog="%%flow", add_help=False)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--break", dest="breaks", default="")
    return parser


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.on_error is not None:
        options["on_error"] = args.on_error
    return options


def split_arguments(line: str) -> list[str]:
    """Split a magic's line on spaces that are outside brackets and quotes.

    Arguments are Python-ish: ``--input {'who': 'Ada'}`` stays one token, and quotes are kept,
    because --input and --ctx are evaluated as Python expressions.
    """
    words: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    escaped = False
    for char in line:
        if quote:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char.isspace() and depth == 0:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
    if quote:
        raise UsageError(f"%flow: a {quote} quote is not closed in: {line.strip()}")
    if current:
        words.append("".join(current))
    return words
