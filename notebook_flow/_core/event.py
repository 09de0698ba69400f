"""An event (a step of a drive-flow style flow) and the groups it listens to."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ..errors import EventTypeError
from ..events import ReturnBehavior, WorkflowEvent
from .callables import StepCallable
from .policy import StepPolicy

RETRIGGER_TYPES = ("all", "any", "first")


@dataclass(eq=False)
class EventGroup:
    """A set of events another event listens to; it fires when they all have results.

    ``retrigger_type`` says when it fires again: "all" once every member has a new result,
    "any" on each member's new result (with the latest results of all members).
    """

    name: str
    events_hash: str
    events: dict[str, Event]
    retrigger_type: str = "all"

    def hash(self) -> str:
        return self.events_hash


class Event:
    """A registered event function. Created by ``Flow.make_event`` / ``Flow.listen_group``.

    Attributes:
        id: stable per flow and module-qualified name, so a re-run notebook cell replaces the
            event's function and keeps everything wired to it.
        repr_name: the readable name used in ``debug_string`` and messages.
        func_inst: the async function (or async generator function) that runs.
        parent_groups: the groups this event listens to, by group hash, in the order added.
        policy: its retry policy and time limit (``retry=`` / ``timeout=`` given to
            ``make_event`` or ``listen_group``), or None.
    """

    __slots__ = (
        "id", "repr_name", "func_inst", "is_generator", "parent_groups", "meta", "policy", "_step"
    )

    def __init__(self, step: StepCallable, event_id: str) -> None:
        self.id = event_id
        self.parent_groups: dict[str, EventGroup] = {}
        self.meta: dict[str, Any] = {}
        self.policy: StepPolicy | None = None
        self._set_callable(step)
        self.repr_name = event_id

    def _set_callable(self, step: StepCallable) -> None:
        self._step = step
        self.func_inst = step.func
        self.is_generator = step.is_generator
        self.meta["func_body"] = step.key

    @property
    def name(self) -> str:
        """The function's own name (``hello`` for ``__main__.hello``)."""
        return self._step.qualname.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return f"Node(source={self.repr_name})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise EventTypeError(
            f"an event is not called directly: {self.repr_name} is registered in a flow. Run the "
            f"flow with `await flow.invoke_event({self.name})`, or try this one step alone with "
            f"`await {self.name}.solo_run(event_input, global_ctx)`"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to another process (a step on a Dask worker names it in goto_events) an event
        # travels as a reference, its id and names, not its function and groups; the run maps
        # it back to the registered event by id.
        return (_event_reference, (self.id, self.repr_name, self._step.module, self._step.qualname))

    def __copy__(self) -> Event:
        return self  # an event is a registry entry: a copy would be a stranger to its flow

    def __deepcopy__(self, memo: dict[int, Any]) -> Event:
        return self

    def debug_string(self, exclude_events: Iterable[str] | None = None) -> str:
        """The tree of groups this event listens to, recursively; cycles end in ``<loop>``."""
        path = set(exclude_events or ()) | {self.id}
        return self.repr_name + "\n" + "\n".join(_format_parents(self, path, ""))

    async def solo_run(self, event_input: Any, global_ctx: Any = None) -> Any:
        """Run this event's function alone and return its result (no listeners fire)."""
        if self.is_generator:
            result = None
            async with aclosing(self.func_inst(event_input, global_ctx)) as items:
                async for item in items:
                    if not is_progress(item):
                        result = item
            return result
        return await self.func_inst(event_input, global_ctx)


def _event_reference(event_id: str, repr_name: str, module: str, qualname: str) -> Event:
    """An event received from another process: it names the event, it cannot run it."""

    def elsewhere(*_: Any) -> Any:
        raise EventTypeError(
            f"{repr_name} is a reference to an event of a flow in another process; it can be "
            f"a goto_events target, but it runs only in the flow that registered it"
        )

    ref = Event.__new__(Event)
    ref.id = event_id
    ref.repr_name = repr_name
    ref.parent_groups = {}
    ref.meta = {"func_body": f"{module}.{qualname}"}
    ref.policy = None
    ref._set_callable(StepCallable(elsewhere, False, module, qualname, None, None))
    return ref


def is_progress(item: Any) -> bool:
    return type(item) is WorkflowEvent and item.name == "progress"


def _format_parents(event: Event, path: set[str], indent: str) -> list[str]:
    lines: list[str] = []
    groups = list(event.parent_groups.values())
    for gi, group in enumerate(groups):
        last_group = gi == len(groups) - 1
        lines.append(f"{indent}{'└─ ' if last_group else '├─ '}<{group.name}>")
        child_indent = indent + ("    " if last_group else "│   ")
        members = list(group.events.values())
        for mi, member in enumerate(members):
            last_member = mi == len(members) - 1
            branch = "└─ " if last_member else "├─ "
            if member.id in path:
                lines.append(f"{child_indent}{branch}{member.repr_name} <loop>")
                continue
            lines.append(f"{child_indent}{branch}{member.repr_name}")
            sub_indent = child_indent + ("   " if last_member else "│  ")
            lines.extend(_format_parents(member, path | {member.id}, sub_indent))
    return lines


@dataclass
class SpecialReturn:
    """What ``goto_events`` / ``abort_this`` return: a request to re-route the run."""

    behavior: Any  # ReturnBehavior
    returns: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.behavior, ReturnBehavior):
            raise EventTypeError(
                f"behavior must be a ReturnBehavior member, got {self.behavior!r}; "
                "use goto_events(...) or abort_this()"
            )
