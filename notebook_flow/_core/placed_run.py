"""A run with an executor of its own: every step without one runs there ("a whole run").

``RunPlacement`` swaps each event that has no executor of its own for a per-run view whose
``func_inst`` is a placement shim to the run's executor. Runs without ``executor=`` never come here. Before any run that sends steps to
another process, ``check_sendable`` pickles each step it may reach, so an unpicklable step is
refused before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .graph import FlowGraph
from .placement import StepExecutor, executor_of, shim

if TYPE_CHECKING:
    from .event import Event
    from .flow import Flow


class _RunView:
    """An event as one run sees it: same id and options, ``func_inst`` on the run's executor."""

    __slots__ = ("id", "repr_name", "func_inst", "is_generator", "policy", "step")

    def __init__(self, event: Event, executor: StepExecutor) -> None:
        step = event._step
        self.id = event.id
        self.repr_name = event.repr_name
        self.policy = event.policy
        self.step = step
        self.func_inst = shim(event.id, event.name, step.func, step.kind, executor)
        self.is_generator = False

    def __repr__(self) -> str:
        return f"Node(source={self.repr_name})"


class RunPlacement:
    """Where a run with ``executor=`` runs each event: its own place, or the run's executor."""

    def __init__(self, executor: StepExecutor) -> None:
        self.executor = executor
        self._views: dict[str, _RunView] = {}

    def place(self, event: Event) -> Any:
        """The event as this run runs it (a view on the run's executor, or the event itself)."""
        if not has_own_place(event):
            view = self._views.get(event.id)
            if view is None or view.step is not event._step:  # new, or redefined mid-run
                view = self._views[event.id] = _RunView(event, self.executor)
            return view
        return event


def has_own_place(event: Event) -> bool:
    """Whether the event's options say where it runs (then a run's executor leaves it alone)."""
    policy = event.policy
    return policy is not None and policy.executor is not None


def place_of(event: Event, run_executor: StepExecutor | None) -> StepExecutor | None:
    """The executor an event's steps run on in a run with ``run_executor`` (None: the loop)."""
    if run_executor is not None and not has_own_place(event):
        return run_executor
    return executor_of(event)


def check_sendable(flow: Flow, root: Event, run_executor: StepExecutor | None) -> None:
    """Pickle every step the run may reach that runs in another process; raise if one can't go.

    A step is reachable along the flow's listen groups and the ``goto_events`` targets its
    source names; a step reached only through a goto the source did not show is checked when
    it is sent.
    """
    for event in _reachable(flow, root):
        executor = place_of(event, run_executor)
        if executor is not None and executor.remote:
            executor.check_step(event.id, event._step.func)


def _reachable(flow: Flow, root: Event) -> list[Event]:
    graph = FlowGraph.of(flow)
    after: dict[str, list[str]] = {}
    for edge in graph.edges:
        after.setdefault(edge.source, []).append(edge.target)
    events = flow._events
    seen = {root.id}
    todo = [root.id]
    while todo:
        for target in after.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return [event for event_id, event in events.items() if event_id in seen]
