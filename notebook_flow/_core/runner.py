"""The one asyncio shell both styles run on: it starts what a machine makes ready.

A step runs inline, with no task of its own, when it is the only thing to do (a chain); else it
gets a task, tracked here and awaited or cancelled before the run returns. Before each start the
runner asks the debugger's gate (the run's ``gate=`` option), and publishes ``StepHeld`` /
``StepReleased`` when the gate held the step. What a step does is the style's ``StepBody``: it
returns an outcome (result, goto, abort) or raises; the runner publishes the step's end record,
tells the machine, and queues what the machine made ready.

A step that swallows its cancellation still ends as cancelled (the runner checks the task's
``cancelling()`` count after it returns); one that refuses to stop at all is abandoned after
``grace`` seconds with a ``StepAbandoned`` record, so a cancelled run always ends.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .feed import RunFeed
from .machines import Abort, Failure, Goto, Outcome, Ready, Result

__all__ = ["GRACE", "Machine", "Runner", "StepBody"]

#: Seconds a cancelled step may take to stop before the run goes on without it.
GRACE = 1.0
# A chain of steps that never suspend would hold the event loop for the whole run: no Stop
# button, no kernel interrupt, no other run could get in. Yield once per this many steps.
_YIELD_EVERY = 256

StepBody = Callable[[Ready], Awaitable[Outcome]]


class Machine(Protocol):
    """What the runner needs of a style's machine (DriveMachine, PipelineMachine)."""

    def start(self, root_id: str, root_input: Any) -> list[Ready]: ...
    def has_ready(self) -> bool: ...
    def next_ready(self) -> Ready | None: ...
    def begin(self) -> Ready: ...
    def finish(self, step_id: int, outcome: Outcome) -> list[Ready]: ...
    def cancel(self, step_id: int) -> None: ...
    def result(self) -> Any: ...
    def partial(self) -> Any: ...
    @property
    def running(self) -> dict[int, Ready]: ...
    @property
    def failures(self) -> list[Any]: ...


class _Interrupted(Exception):
    """Carries a KeyboardInterrupt/SystemExit out of a step's task to the run's own task.

    Raised as such inside a task it would stop the event loop at once, before the run could
    cancel its other steps; the run's task re-raises the original after cleaning up.
    """

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(repr(interrupt))
        self.interrupt = interrupt


class Runner:
    """Runs one machine's steps to the end of the run.

    Args:
        machine: the style's rules and the run's state.
        feed: where every record goes.
        body: runs one step and returns its outcome.
        cap: at most this many steps at once (None: no cap).
        keep_going: ``on_error="continue"``: a failure is told to the machine, the run goes on.
        grace: seconds a cancelled step may take to stop.
    """

    def __init__(
        self,
        machine: Machine,
        feed: RunFeed,
        body: StepBody,
        *,
        cap: int | None = None,
        keep_going: bool = False,
        grace: float = GRACE,
    ) -> None:
        self.machine = machine
        self.feed = feed
        self.body = body
        self.cap = cap or None
        self.keep_going = keep_going
        self.grace = grace
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: deque[asyncio.Task[None]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._cancelled: list[str] = []  # event ids of the steps the end of the run cancelled
        self._started = 0

    def failures(self) -> list[Any]:
        """The failed steps kept so far (``on_error="continue"``)."""
        return list(self.machine.failures)

    def partial(self) -> Any:
        """What the run produced so far (a drive run's results, a pipeline's last event)."""
        return self.machine.partial()

    def cancelled_events(self) -> list[str]:
        """Event ids of the steps cancelled at the end of the run, each once, in order."""
        return list(dict.fromkeys(self._cancelled))

    def abandon_all(self) -> list[tuple[int, str]]:
        """Give up on every step still running (they did not stop); returns (step id, event id)."""
        machine = self.machine
        given_up = [(step_id, ready.event_id) for step_id, ready in machine.running.items()]
        for step_id, _ in given_up:
            machine.cancel(step_id)
        for task in self._tasks:
            task.add_done_callback(_retrieve)
        return given_up

    # -- the run ----------------------------------------------------------------------------
    async def run(self, root_id: str, root_input: Any) -> Any:
        """Run from ``root_id`` until nothing is left; return the machine's result."""
        machine, tasks, done, cap = self.machine, self._tasks, self._done, self.cap
        self._queued(machine.start(root_id, root_input))
        gate = self.feed.gate
        loop = asyncio.get_running_loop()
        # One bound method and one context for every task's done callback (it reads no
        # context variable): no new objects per parallel step.
        on_done, callback_context = self._on_task_done, contextvars.copy_context()
        try:
            while True:
                while machine.has_ready() and (cap is None or len(tasks) < cap):
                    if gate is not None:
                        await self._admit(gate)
                    ready = machine.begin()
                    self._started += 1
                    if not tasks and not machine.has_ready():
                        await self._step(ready, True)  # inline: the only thing to do
                        if not self._started % _YIELD_EVERY:
                            await asyncio.sleep(0)
                    else:
                        task = loop.create_task(self._step(ready, False))
                        tasks.add(task)
                        task.add_done_callback(on_done, context=callback_context)
                if not tasks:
                    break
                if not done:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                    self._wakeup = None
                while done:
                    task = done.popleft()
                    tasks.discard(task)
                    if task.cancelled():
                        raise asyncio.CancelledError()
                    error = task.exception()
                    if error is not None:
                        raise error.interrupt if type(error) is _Interrupted else error
        except BaseException as error:
            interrupt = await self._stop_tasks()
            if interrupt is not None and isinstance(error, Exception):
                raise interrupt from None  # an interrupt outranks the error it met on its way
            raise
        return machine.result()

    async def _admit(self, gate: Any) -> None:
        """Ask the gate before the head of the queue starts (it may hold it, or edit its input)."""
        ready = self.machine.next_ready()
        assert ready is not None
        feed = self.feed
        held: list[str] = []

        def on_held(reason: str) -> None:
            held.append(reason)
            feed.step_held(ready.step_id, ready.event_id, reason)

        ready.input = await gate.admit(ready.step_id, ready.event_id, ready.input, on_held)
        if held:
            feed.step_released(ready.step_id, ready.event_id, ready.input)

    def _queued(self, made: list[Ready]) -> None:
        feed = self.feed
        if feed.listened:
            for ready in made:
                feed.step_pending(ready.step_id, ready.event_id, ready.input)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self._done.append(task)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    # -- one step ---------------------------------------------------------------------------
    async def _step(self, ready: Ready, inline: bool) -> None:
        feed, machine = self.feed, self.machine
        step_id, event_id = ready.step_id, ready.event_id
        t0 = feed.step_started(step_id, event_id, ready.input)
        try:
            outcome = await self.body(ready)
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise asyncio.CancelledError("the step swallowed its cancellation")
        except asyncio.CancelledError:
            machine.cancel(step_id)
            feed.step_cancelled(step_id, event_id, t0)
            self._cancelled.append(event_id)
            raise
        except Exception as error:
            feed.step_failed(step_id, event_id, error, t0)
            if not self.keep_going:
                raise
            self._queued(machine.finish(step_id, Failure(error)))
        except BaseException as error:  # KeyboardInterrupt, SystemExit: the whole run stops
            # It can land anywhere, even in the publishing of this step's end record after the
            # trace got it; with a trace the run ends every step the trace saw start and not end
            # (RunHandle closes them), so the trace never sees a second end for this step.
            if feed.trace is None:
                feed.step_cancelled(step_id, event_id, t0)
            if inline:
                raise
            raise _Interrupted(error) from None
        else:
            # The end record first; what follows (queueing listeners or goto targets) runs
            # outside the handlers above, so an interrupt landing here cannot end it twice.
            kind = type(outcome)
            if kind is Result:
                feed.step_finished(step_id, event_id, outcome.value, t0)  # type: ignore[union-attr]
            elif kind is Goto:
                feed.step_goto(step_id, event_id, outcome.targets, outcome.payload, t0)  # type: ignore[union-attr]
            else:
                assert kind is Abort, f"a step body returned {outcome!r}, not an outcome"
                feed.step_aborted(step_id, event_id, t0)
            self._queued(machine.finish(step_id, outcome))

    # -- the end ----------------------------------------------------------------------------
    async def _stop_tasks(self) -> BaseException | None:
        """Cancel every running step and wait (at most ``grace`` s) until each has ended.

        A step still running then is abandoned: a ``StepAbandoned`` and a ``StepCancelled``
        record say so and its task is left to end on its own. Returns a KeyboardInterrupt /
        SystemExit one of the steps ended with, if any.
        """
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        interrupted = False
        pending = [t for t in tasks if not t.done()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while pending:
            left = deadline - loop.time()
            if left <= 0:
                self._abandon()
                break
            try:
                await asyncio.wait(pending, timeout=left)
            except asyncio.CancelledError:
                interrupted = True  # cancelled while stopping: finish stopping first
            pending = [t for t in pending if not t.done()]
        interrupt = None
        for task in tasks:
            if task.done() and not task.cancelled():
                error = task.exception()  # mark retrieved: the first error is the one raised
                if type(error) is _Interrupted and interrupt is None:
                    interrupt = error.interrupt
        self._tasks.clear()
        self._done.clear()
        if interrupted:
            raise asyncio.CancelledError()
        return interrupt

    def _abandon(self) -> None:
        """Give up on the steps that did not stop (the run's end closes the feed after this,
        so whatever they do later reaches no one)."""
        feed = self.feed
        for step_id, event_id in self.abandon_all():
            self._cancelled.append(event_id)
            feed.step_abandoned(step_id, event_id, self.grace)
            feed.step_cancelled(step_id, event_id, feed.started_at)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
