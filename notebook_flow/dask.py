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
import math
import time
import uuid
from collections.abc import Awaitable, Callable
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
        connect_timeout: seconds to wait for the scheduler to answer (default 30, Dask's own
            default). A scheduler that accepts the connection but never answers, or an address
            where nothing listens, fails the step (and so the run) with a ``FlowRunError`` then.
        close_timeout: seconds ``close()`` waits for the client and the LocalCluster to shut
            down (default 10); past it, close() gives up on them, logs a warning and returns.
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
        connect_timeout: float = 30.0,
        close_timeout: float = 10.0,
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
        self.connect_timeout = _seconds(connect_timeout, "connect_timeout")
        self.close_timeout = _seconds(close_timeout, "close_timeout")
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
            link = self.client.dashboard_link
        except Exception:  # a cluster without a dashboard
            return None
        return link if isinstance(link, str) else None

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
        starting = self._starting
        if starting is None:
            self._loop = loop
            starting = self._starting = loop.create_task(
                self._start(), name="notebook_flow dask start"
            )
        try:
            # Shielded: a run cancelled while the cluster starts leaves it starting, not half-made
            # (the start is bounded by connect_timeout, and close() cancels it).
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if starting.cancelled() and task is not None and not task.cancelling():
                raise FlowRunError(  # close() cancelled the start; this step was not cancelled
                    "the DaskExecutor was closed while it was connecting to the scheduler; "
                    "start another DaskExecutor for this run"
                ) from None
            raise
        finally:
            if starting.done() and (starting.cancelled() or starting.exception() is not None):
                if self._starting is starting:
                    self._starting = None  # a failed start may be tried again
                self._loop = None if self.client is None else self._loop

    async def _start(self) -> distributed.Client:
        cluster: Any = None
        try:
            if self.address is None:
                options = dict(host="127.0.0.1", protocol="tcp://", dashboard_address="127.0.0.1:0")
                options.update(self.cluster_options)
                cluster = await distributed.LocalCluster(asynchronous=True, **options)  # type: ignore[no-untyped-call]
            client = await self._connect(cluster if cluster is not None else self.address)
        except BaseException:
            if cluster is not None:
                await self._bounded(cluster.close(), "the LocalCluster")
            raise
        client.subscribe_topic(self._topic, self._on_worker_event)  # type: ignore[no-untyped-call]
        self.cluster, self.client = cluster, client
        return client

    async def _connect(self, target: Any) -> distributed.Client:
        """A connected client, or a FlowRunError once ``connect_timeout`` has passed.

        Dask's own ``timeout=`` does not cover a server that accepts and then stays silent (the
        handshake waits for ever), so the whole connection is bounded here.
        """
        client = distributed.Client(  # type: ignore[no-untyped-call]
            target, asynchronous=True, set_as_default=False, timeout=self.connect_timeout
        )
        where = self.address or "the LocalCluster's scheduler"
        try:
            async with asyncio.timeout(self.connect_timeout):
                await client
        except (TimeoutError, OSError) as error:
            await self._bounded(client.close(), "the client")  # type: ignore[no-untyped-call]
            silent = isinstance(error, TimeoutError)
            raise FlowRunError(
                f"could not connect to the Dask scheduler at {where} within "
                f"{self.connect_timeout:g} s: "
                + ("it accepted the connection but never answered (is it a Dask scheduler, and "
                   "is it running?)" if silent else f"{type(error).__name__}: {error}")
                + ". Check the address, or give a slow scheduler longer with "
                "DaskExecutor(..., connect_timeout=SECONDS)"
            ) from error
        except BaseException:
            await self._bounded(client.close(), "the client")  # type: ignore[no-untyped-call]
            raise
        return client

    async def close(self) -> None:
        """Close the client (and the LocalCluster this executor started), in bounded time.

        A start still under way is cancelled. Each part gets ``close_timeout`` seconds; one that
        does not shut down by then (a scheduler that is gone or never answers) is left behind
        with a warning, so close() never hangs.
        """
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            await asyncio.wait([starting], timeout=self.close_timeout)
        if starting is not None and starting.done() and not starting.cancelled():
            starting.exception()  # retrieved: the step that waited for it has reported it
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        self._loop = None
        if client is not None:
            closing = client.close(timeout=self.close_timeout)  # type: ignore[no-untyped-call]
            await self._bounded(closing, "the client")
        if cluster is not None:
            await self._bounded(cluster.close(timeout=self.close_timeout), "the LocalCluster")

    async def _bounded(self, closing: Awaitable[Any], what: str) -> None:
        """Await ``closing`` for at most ``close_timeout`` seconds; log, never raise, a failure."""
        try:
            async with asyncio.timeout(self.close_timeout):
                await closing
        except TimeoutError:
            logger.warning("DaskExecutor: %s did not close within %g s; left behind", what,
                           self.close_timeout)
        except Exception:
            logger.warning("DaskExecutor: closing %s failed", what, exc_info=True)

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
                await client.cancel([future], force=True)  # type: ignore[no-untyped-call]
            except Exception:  # the cluster is gone: nothing is left there to cancel
                logger.warning("could not cancel Dask task %s of step %s", key, call.event_id,
                               exc_info=True)
            raise
        except Exception as error:
            mark = getattr(error, _WORKER_MARK, None)
            if mark is None:  # not raised by the step: the trip there or back failed
                clear = _lost(call, error, self.address or "the LocalCluster's scheduler")
                if clear is error:
                    raise
                raise clear from error
            call.placed(self.name, mark[0], mark[1], self.dashboard_link or "")
            raise
        finally:
            self._calls.pop(key, None)
            # An exception's traceback must not keep the task on the cluster.
            future.release()  # type: ignore[no-untyped-call]
        call.placed(self.name, address, name, self.dashboard_link or "")
        return _restore(result, call)

    def _on_worker_event(self, event: Any) -> None:
        """A worker's message about a step (runs on the client's loop, the run's loop)."""
        _, message = event
        key = message.get("key") if isinstance(message, dict) else None
        call = self._calls.get(key) if isinstance(key, str) else None
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


def _lost(call: StepCall, error: Exception, where: str) -> Exception:
    """The error for a step whose result (or worker) did not come back."""
    if getattr(error, "reason", None) == "scheduler-connection-lost":
        return FlowRunError(
            f"step {call.event_id} was lost on Dask: the connection to the scheduler at {where} "
            f"broke while it ran (the scheduler stopped, or the network failed). Start the "
            f"scheduler again and re-run, or run the step in the notebook with executor=\"local\""
        )
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


def _seconds(value: Any, option: str) -> float:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not math.isfinite(value) or value <= 0
    ):
        raise FlowDefinitionError(
            f"DaskExecutor({option}=...) is a number of seconds > 0, got {value!r}"
        )
    return float(value)


def _locate(value: Any, where: str) -> tuple[str, Any]:
    found = find_unpicklable(value, cloudpickle.dumps, where)
    return found if found is not None else (where, value)


def _short_name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def _a(value: Any) -> str:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"a {name}"
