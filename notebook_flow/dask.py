"""DaskExecutor: run chosen steps on a Dask cluster while the run's control stays in the notebook.

Needs the ``notebook_flow[dask]`` extra (``dask[distributed]``); ``import notebook_flow`` never
imports this module. Steps go to the cluster as Dask tasks; the scheduler, the listen groups,
``goto_events``, retries, time limits, the trace and the live view stay here. Example::

    from notebook_flow.dask import DaskExecutor

    dask = DaskExecutor()                       # a LocalCluster for this session, started on first use
    # dask = DaskExecutor("tcp://10.0.0.5:8786")  # or an existing cluster

    @flow.make_event(executor=dask)             # this step runs on the cluster
    def count_primes(event, ctx): ...

    await flow.invoke_event(start, executor=dask)  # or: every step of this run
    await dask.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

try:
    import cloudpickle
    import distributed
except ImportError as error:  # pragma: no cover - the extra is installed where this is tested
    raise ImportError(
        "notebook_flow.dask needs Dask's distributed scheduler, which is not installed: "
        "pip install 'notebook_flow[dask]'"
    ) from error

from ._core.event import SpecialReturn
from ._core.pickling import find_unpicklable
from ._core.placement import StepCall, StepExecutor, call_to_end
from ._core.progress import current_step
from .errors import (
    EventTypeError,
    FlowDefinitionError,
    FlowRunError,
    UnpicklableError,
    UnpicklableStep,
)
from .events import ReturnBehavior

__all__ = ["DaskExecutor"]

logger = logging.getLogger("notebook_flow")

#: Attribute the worker sets on an exception its step raised: ``(address, name)`` of the worker.
_WORKER_MARK = "__notebook_flow_worker__"
#: A step reports progress to the notebook at most this often (the latest report is kept).
_PROGRESS_INTERVAL = 0.05


class DaskExecutor(StepExecutor):
    """Runs steps as tasks on a Dask cluster, through a ``distributed.Client`` in asynchronous mode.

    Results, exceptions (with the worker's traceback), retries, time limits and cancellation
    behave as for local steps: a timeout or a Stop cancels the step's Dask future. A step's
    function, its input, the run's ``global_ctx`` and its result travel pickled (cloudpickle,
    so functions defined in a notebook cell work); the step gets copies, so what it changes in
    them stays on the worker: return what the next steps need. ``progress()`` inside a step
    reaches the notebook's log and live view.

    Args:
        address: a scheduler address ("tcp://host:8786") to use an existing cluster; None starts
            a ``LocalCluster`` on 127.0.0.1 for this session, on first use.
        n_workers, threads_per_worker, processes: the LocalCluster's shape (ignored with an
            address). One thread per worker process suits CPU-bound Python steps.
        **cluster_options: more keyword arguments for ``LocalCluster``.

    The executor belongs to the event loop it first runs on (the notebook kernel's). Close it
    with ``await executor.close()`` or use it as ``async with DaskExecutor() as dask:``.
    """

    name = "dask"
    remote = True

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        processes: bool = True,
        **cluster_options: Any,
    ) -> None:
        if address is not None and not isinstance(address, str):
            raise EventTypeError(
                f"DaskExecutor(address=...) is a scheduler address such as "
                f"\"tcp://127.0.0.1:8786\", or None for a LocalCluster; got "
                f"{type(address).__name__} {address!r}"
            )
        for option, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise FlowDefinitionError(
                    f"DaskExecutor({option}=...) must be an int >= 1, got {value!r}"
                )
        self.address = address
        self.cluster_options = dict(
            n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
            **cluster_options,
        )
        self.client: distributed.Client | None = None
        self.cluster: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Task[distributed.Client] | None = None
        self._topic = f"notebook_flow-{uuid.uuid4().hex}"
        self._calls: dict[str, StepCall] = {}  # attempts under way, by task key

    def __repr__(self) -> str:
        where = self.address or "LocalCluster"
        state = "running" if self.client is not None else "not started"
        return f"<DaskExecutor {where} ({state})>"

    # -- the cluster ------------------------------------------------------------------------
    @property
    def dashboard_link(self) -> str | None:
        """The link to Dask's dashboard of the cluster (None until the executor has started)."""
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:  # a cluster without a dashboard
            return None

    async def start(self) -> distributed.Client:
        """Connect (and start the LocalCluster) now; steps do it on first use otherwise."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            ended = self._loop.is_closed()
            raise FlowRunError(
                "this DaskExecutor was started in another event loop"
                + (" that has ended (an earlier asyncio.run)" if ended else "")
                + "; a Dask client in asynchronous mode belongs to one loop. Make a new "
                "DaskExecutor in this one, e.g. `async with DaskExecutor() as dask:` inside the "
                "coroutine you run"
            )
        if self.client is not None:
            return self.client
        if self._starting is None:
            self._loop = loop
            self._starting = loop.create_task(self._start(), name="notebook_flow dask start")
        try:
            # Shielded: a run cancelled while the cluster starts leaves it starting, not half-made.
            return await asyncio.shield(self._starting)
        finally:
            if self._starting.done() and (
                self._starting.cancelled() or self._starting.exception() is not None
            ):
                self._starting = None  # a failed start may be tried again
                self._loop = None if self.client is None else self._loop

    async def _start(self) -> distributed.Client:
        cluster = None
        try:
            if self.address is None:
                options = dict(host="127.0.0.1", protocol="tcp://", dashboard_address="127.0.0.1:0")
                options.update(self.cluster_options)
                cluster = await distributed.LocalCluster(asynchronous=True, **options)
            client = await distributed.Client(
                cluster if cluster is not None else self.address,
                asynchronous=True, set_as_default=False,
            )
        except BaseException:
            if cluster is not None:
                await cluster.close()
            raise
        client.subscribe_topic(self._topic, self._on_worker_event)
        self.cluster, self.client = cluster, client
        return client

    async def close(self) -> None:
        """Close the client (and the LocalCluster this executor started)."""
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            with contextlib.suppress(BaseException):
                await starting
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        self._loop = None
        if client is not None:
            await client.close()
        if cluster is not None:
            await cluster.close()

    async def __aenter__(self) -> DaskExecutor:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # -- steps ------------------------------------------------------------------------------
    def check_step(self, event_id: str, func: Callable[..., Any]) -> None:
        try:
            cloudpickle.dumps(func)
        except Exception as error:
            where, value = _locate(func, _short_name(func))
            raise UnpicklableStep(
                f"step {event_id} cannot be sent to the Dask cluster: {where} is "
                f"{_a(value)}, which cannot be pickled ({error}). Make it inside the step (on "
                f"the worker) or pass plain data in the input, or keep this step in the "
                f"notebook with executor=\"local\"",
                event_id=event_id, what="the function", value_type=type(value).__name__,
            ) from error

    async def run(self, call: StepCall) -> Any:
        client = await self.start()
        key = f"{call.name}-{uuid.uuid4().hex[:16]}"
        try:
            future = client.submit(
                _run_on_worker, call.func, call.kind, call.event_input, call.ctx, self._topic,
                key, call.step_id, call.event_id, key=key, pure=False,
            )
        except Exception as error:
            clear = _unsendable(call, error)
            if clear is error:
                raise
            raise clear from error
        self._calls[key] = call
        try:
            address, name, result = await future
        except asyncio.CancelledError:
            # A Stop, a timeout or a failing sibling: the task leaves the cluster too.
            try:
                await client.cancel([future], force=True)
            except Exception:  # the cluster is gone: nothing is left there to cancel
                logger.warning("could not cancel Dask task %s of step %s", key, call.event_id,
                               exc_info=True)
            raise
        except Exception as error:
            mark = getattr(error, _WORKER_MARK, None)
            if mark is None:  # not raised by the step: the trip there or back failed
                clear = _lost(call, error)
                if clear is error:
                    raise
                raise clear from error
            call.placed(self.name, mark[0], mark[1], self.dashboard_link or "")
            raise
        finally:
            self._calls.pop(key, None)
            future.release()  # an exception's traceback must not keep the task on the cluster
        call.placed(self.name, address, name, self.dashboard_link or "")
        return _restore(result, call)

    def _on_worker_event(self, event: Any) -> None:
        """A worker's message about a step (runs on the client's loop, the run's loop)."""
        _, message = event
        call = self._calls.get(message.get("key")) if isinstance(message, dict) else None
        if call is None:
            return  # the attempt has ended: a late report has nothing to update
        report = message.get("progress")
        if report is not None:
            call.progress(*report)
        else:
            call.placed(self.name, message["worker"], message["name"], self.dashboard_link or "")


# -- on the worker ---------------------------------------------------------------------------


def _run_on_worker(
    func: Callable[..., Any], kind: str, event_input: Any, ctx: Any, topic: str, key: str,
    step_id: int, event_id: str,
) -> tuple[str, str, Any]:
    """The Dask task of one attempt: runs the step, reports where and how far, returns its result."""
    worker = distributed.get_worker()
    address, name = worker.address, str(worker.name)
    worker.log_event(topic, {"key": key, "worker": address, "name": name})
    reporter = _WorkerReporter(worker, topic, key)
    token = current_step.set((reporter, step_id, event_id))
    try:
        result = call_to_end(func, kind, event_input, ctx)
    except Exception as error:
        with contextlib.suppress(Exception):
            setattr(error, _WORKER_MARK, (address, name))
        error.add_note(
            f"notebook_flow: step {event_id} raised this on Dask worker {name} ({address}); the "
            f"frames above ran there"
        )
        raise
    finally:
        current_step.reset(token)
        reporter.flush()
    return address, name, result


class _WorkerReporter:
    """Stands in for the run's feed on a worker: progress travels to the notebook as Dask events."""

    __slots__ = ("worker", "topic", "key", "sent_at", "held")

    def __init__(self, worker: Any, topic: str, key: str) -> None:
        self.worker = worker
        self.topic = topic
        self.key = key
        self.sent_at = 0.0
        self.held: list[Any] | None = None

    def step_progress(
        self, step_id: int, event_id: str, step: str, description: str, fraction: Any
    ) -> None:
        report = [step, description, None if fraction is None else float(fraction)]
        now = time.monotonic()
        if now - self.sent_at < _PROGRESS_INTERVAL:
            self.held = report  # a flood of reports: the latest goes out with the next one
            return
        self.sent_at = now
        self.held = None
        self.worker.log_event(self.topic, {"key": self.key, "progress": report})

    def flush(self) -> None:
        if self.held is not None:
            self.worker.log_event(self.topic, {"key": self.key, "progress": self.held})
            self.held = None


# -- errors and results ----------------------------------------------------------------------


def _restore(result: Any, call: StepCall) -> Any:
    """A goto from a worker names copies of events: map them back to the flow's own, by id."""
    if type(result) is SpecialReturn and result.behavior is ReturnBehavior.GOTO:
        events = getattr(call.source, "_events", None) or {}
        targets, payload = result.returns
        result = SpecialReturn(
            ReturnBehavior.GOTO, ([events.get(t.id, t) for t in targets], payload)
        )
    return result


def _unsendable(call: StepCall, error: Exception) -> Exception:
    """The error for a step whose call could not be pickled for the cluster."""
    for value, label in ((call.event_input, "the input"), (call.ctx, "global_ctx"),
                         (call.func, "the function")):
        found = find_unpicklable(value, cloudpickle.dumps, label)
        if found is not None:
            where, bad = found
            return UnpicklableError(
                f"step {call.event_id} cannot be sent to the Dask cluster: {where} is "
                f"{_a(bad)}, which cannot be pickled. Pass plain data (numbers, str, lists, "
                f"dicts, arrays) between steps that run on Dask, or keep this step in the "
                f"notebook with executor=\"local\"",
                event_id=call.event_id, what=label, value_type=type(bad).__name__,
            )
    return error


def _lost(call: StepCall, error: Exception) -> Exception:
    """The error for a step whose result (or worker) did not come back."""
    text = str(error)
    if isinstance(error, TypeError) and "serialize" in text:
        return UnpicklableError(
            f"the result of step {call.event_id} cannot be sent back from its Dask worker: "
            f"{text.splitlines()[0] if text else error!r}. Return plain data (numbers, str, "
            f"lists, dicts, arrays), not generators, open files, locks or clients",
            event_id=call.event_id, what="the result", value_type="",
        )
    error.add_note(f"notebook_flow: step {call.event_id} was sent to Dask and did not come back")
    return error


def _locate(value: Any, where: str) -> tuple[str, Any]:
    found = find_unpicklable(value, cloudpickle.dumps, where)
    return found if found is not None else (where, value)


def _short_name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def _a(value: Any) -> str:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"a {name}"
