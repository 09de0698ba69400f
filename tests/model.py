"""A small, pure reference model of drive-flow semantics (shared/notes/seed-decisions.md).

Given a random flow (which events listen to which groups, and what each execution of each event
does) the model says which executions happen, with which inputs, in which order, how each one
ends, and what the run returns or raises. The property test runs the same flow on the engine,
under a virtual clock that makes its timing exact, and compares.

Time: each execution takes ``ticks`` units of virtual time (0 = it never waits). Ordering rules,
all taken from the semantics, not from the scheduler's code:

- Ready events start in queue order, as many as the concurrency cap allows, at once.
- Executions that end at the same moment end in the order they started; each one, as it ends,
  queues its listeners (registration order, then group order) or its goto targets (list order).
- New executions start only after every execution ending at that moment has ended.
- "all" groups fire when every member has a result and each has a new one since the last firing;
  "any" groups fire on every member result once every member has one. Aborted, goto-ing and
  failed executions produce no result.
- on_error="raise": at the first moment a failure is seen, the run stops; executions still
  running are cancelled, queued ones never start. "continue": failures are collected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

ROOT_INPUT = ("root",)


@dataclass(frozen=True)
class Behaviour:
    """What one execution of an event does."""

    ticks: int = 0
    outcome: str = "value"  # "value" | "abort" | "goto" | "fail"
    targets: tuple[int, ...] = ()  # goto targets (event indexes)
    flaky: int = 0  # attempts that raise ConnectionError at once before the real one


@dataclass(frozen=True)
class GroupSpec:
    members: tuple[int, ...]
    retrigger: str  # "all" | "any"


@dataclass(frozen=True)
class EventSpec:
    groups: tuple[GroupSpec, ...]
    script: tuple[Behaviour, ...]  # execution k follows script[k]; later ones return values
    default_ticks: int = 0
    streaming: bool = False
    attempts: int = 1  # Retry(attempts=...) on ConnectionError; 1 = no retry policy

    def behaviour(self, k: int) -> Behaviour:
        return self.script[k] if k < len(self.script) else Behaviour(self.default_ticks)


@dataclass(frozen=True)
class FlowSpec:
    events: tuple[EventSpec, ...]  # event 0 is the root
    cap: int | None = None
    on_error: str = "raise"


def value_of(i: int, k: int) -> tuple[int, int]:
    """The result (and goto payload) of execution k of event i."""
    return (i, k)


def fail_message(i: int, k: int) -> str:
    return f"e{i}.{k} failed"


def flaky_message(i: int, k: int, attempt: int) -> str:
    return f"e{i}.{k} flaky attempt {attempt}"


@dataclass
class Execution:
    event: int
    input: Any  # ROOT_INPUT, ("dispatch", group index, ((member, value), ...)), ("goto", goer, payload)
    k: int
    seq: int
    ends_at: int
    behaviour: Behaviour
    end: str = ""  # "finished" | "aborted" | "goto" | "failed" | "cancelled"
    error: tuple[str, str] | None = None  # (exception type name, message)
    retried: int = 0


@dataclass
class Outcome:
    executions: list[Execution] = field(default_factory=list)  # in start order
    results: dict[int, Any] = field(default_factory=dict)
    error: tuple[str, str] | None = None  # the exception of a run with on_error="raise"
    failures: list[tuple[int, tuple[str, str]]] = field(default_factory=list)  # "continue"


class TooLong(Exception):
    """The flow runs more executions than the test wants to check."""


def simulate(spec: FlowSpec, limit: int = 300) -> Outcome:
    events = spec.events
    out = Outcome()
    queue: deque[tuple[int, Any]] = deque([(0, ROOT_INPUT)])
    running: list[Execution] = []
    count = [0] * len(events)
    version = [0] * len(events)  # results produced so far, per event
    last_sent: dict[tuple[int, int], list[int]] = {}  # "all" groups: member versions sent
    now = 0

    def start(i: int, inp: Any) -> Execution:
        k = count[i]
        count[i] += 1
        b = events[i].behaviour(k)
        ex = Execution(i, inp, k, len(out.executions), now + b.ticks, b)
        if b.flaky:
            ex.retried = min(b.flaky, events[i].attempts - 1)
            if b.flaky >= events[i].attempts:  # every attempt fails, at once
                ex.ends_at = now
                ex.error = ("ConnectionError", flaky_message(i, k, events[i].attempts))
        if len(out.executions) >= limit:
            raise TooLong()
        out.executions.append(ex)
        return ex

    def dispatch(e: int) -> None:
        for listener, ev in enumerate(events):
            for g, group in enumerate(ev.groups):
                if e not in group.members:
                    continue
                if any(version[m] == 0 for m in group.members):
                    continue
                if group.retrigger == "all":
                    sent = last_sent.get((listener, g), [0] * len(group.members))
                    if any(version[m] <= s for m, s in zip(group.members, sent, strict=False)):
                        continue
                    last_sent[(listener, g)] = [version[m] for m in group.members]
                results = tuple((m, out.results[m]) for m in group.members)
                queue.append((listener, ("dispatch", g, results)))

    def end(ex: Execution) -> None:
        b = ex.behaviour
        if ex.error is None and b.outcome == "fail":
            ex.error = ("ValueError", fail_message(ex.event, ex.k))
        if ex.error is not None:
            ex.end = "failed"
            out.failures.append((ex.event, ex.error))
        elif b.outcome == "abort":
            ex.end = "aborted"
        elif b.outcome == "goto":
            ex.end = "goto"
            for target in b.targets:
                queue.append((target, ("goto", ex.event, value_of(ex.event, ex.k))))
        else:
            ex.end = "finished"
            out.results[ex.event] = value_of(ex.event, ex.k)
            version[ex.event] += 1
            dispatch(ex.event)

    while True:
        started = []
        while queue and (spec.cap is None or len(running) < spec.cap):
            ex = start(*queue.popleft())
            running.append(ex)
            started.append(ex)
        if not running:
            return out
        batch = [ex for ex in started if ex.ends_at == now]  # executions that never wait
        if not batch:
            now = min(ex.ends_at for ex in running)
            batch = [ex for ex in running if ex.ends_at == now]
        batch.sort(key=lambda ex: ex.seq)
        for ex in batch:
            running.remove(ex)
            end(ex)
        if spec.on_error == "raise" and out.failures:
            out.error = out.failures[0][1]
            for ex in running:
                ex.end = "cancelled"
            return out


# -- microflow: a pipeline of handlers per event name ----------------------------------------
#
# A workflow is a dict: event name -> handlers (each a tuple of scripts, one per call; a call
# past the scripts does nothing). A script is a tuple of actions: ("emit", name), ("progress",),
# ("error", name) (an event with a truthy error: it stops that handler), ("raise",) (the
# handler raises: the workflow ends with one error event). The rules (seed-decisions.md):
# handlers of a name run in sequence, each on the last non-progress event so far; then that
# event is dispatched by name; a silent pass, an unhandled name or max_steps passes ends it.


@dataclass(frozen=True)
class PipelineSpec:
    handlers: tuple[tuple[str, tuple[tuple[tuple[tuple[str, ...], ...], ...], ...]], ...]
    max_steps: int | None = None
    root: str = "n0"


@dataclass
class PipelineOutcome:
    events: list[tuple[str, str]] = field(default_factory=list)  # (name, what) seen by the consumer
    calls: list[tuple[str, int, str]] = field(default_factory=list)  # (name, position, input name)


def handler_event(name: str, owner: str, position: int, k: int) -> tuple[str, str]:
    return (name, f"{owner}.{position}.{k}")


def simulate_pipeline(spec: PipelineSpec, limit: int = 300) -> PipelineOutcome:
    handlers = dict(spec.handlers)
    out = PipelineOutcome()
    calls: dict[tuple[str, int], int] = {}
    current = (spec.root, "root")
    out.events.append(current)
    passes = 0
    while True:
        pass_name = current[0]
        scripts_of = handlers.get(pass_name, ())
        if not scripts_of:
            return out
        passes += 1
        if spec.max_steps is not None and passes > spec.max_steps:
            out.events.append(("error", "max_steps"))
            return out
        produced = False
        for position, scripts in enumerate(scripts_of):
            k = calls.get((pass_name, position), 0)
            calls[(pass_name, position)] = k + 1
            out.calls.append((pass_name, position, current[0]))
            if len(out.calls) > limit:
                raise TooLong()
            script = scripts[k] if k < len(scripts) else ()
            for action in script:
                if action[0] == "progress":
                    out.events.append(("progress", f"{pass_name}.{position}.{k}"))
                elif action[0] == "raise":
                    out.events.append(("error", f"{pass_name}.{position}.{k} raised"))
                    return out
                else:
                    event = handler_event(action[1], pass_name, position, k)
                    out.events.append(event if action[0] == "emit" else (event[0], "error event"))
                    current, produced = event, True
                    if action[0] == "error":
                        break
        if not produced:
            return out
