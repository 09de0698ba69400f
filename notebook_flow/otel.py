"""Runs as OpenTelemetry traces: a run is a span, each attempt of a step a child span.

Install the extra (``pip install 'notebook_flow[otel]'``) and an exporter for your back end
(Jaeger, Grafana Tempo, Langfuse, Phoenix ... all take OTLP), then either trace every run:

    from notebook_flow import otel
    otel.instrument()                 # every run from now on; otel.uninstrument() stops it

or one run:

    handle = flow.run(start)
    otel.trace_run(handle)
    await handle

What a run becomes:

* the **run span** (``run <flow name>``), with the flow's name, the root event, the run's id,
  the number of steps and, for a durable run, its key (``notebook_flow.run_key``). It ends with
  an error status when the run failed (the exception recorded) or was cancelled (the reason as
  its description).
* one **child span per attempt of a step**, named after the event, with the step's id, the
  attempt number and how it ended (``notebook_flow.outcome``: finished, failed, cancelled,
  aborted or goto). A failed attempt that is retried ends with its exception recorded and a
  ``retry`` event (the delay); the next attempt is a new span that starts when the delay is
  over. Progress is a ``progress`` event, a goto a ``goto`` event naming its targets, and an
  attempt on a Dask worker carries the worker's address and name and the dashboard link.
* records this module does not know yet (e.g. a question a step asks) become events named
  after their kind, on the step's span or the run's.

Times are the records' own (``perf_counter`` anchored to the run's wall-clock start), so a
span lasts exactly what the trace says. A subscriber runs on the event loop; spans are handed
to the tracer provider's span processors, so use a batching one in production.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Protocol

try:
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "notebook_flow.otel needs the OpenTelemetry API: pip install 'notebook_flow[otel]' "
        "(and an exporter, e.g. opentelemetry-exporter-otlp-proto-http)"
    ) from error

from . import EventTypeError, FlowRunError, RunFeed, __version__, observe_runs
from .records import (
    RunCancelled,
    RunFailed,
    RunFinished,
    RunRecord,
    RunStarted,
    StepAborted,
    StepCancelled,
    StepFailed,
    StepFinished,
    StepGoto,
    StepPending,
    StepPlaced,
    StepProgress,
    StepRetried,
    StepStarted,
)

__all__ = ["instrument", "uninstrument", "trace_run", "RunSpans", "ATTRIBUTE_PREFIX"]

#: Every attribute this module sets starts with this.
ATTRIBUTE_PREFIX = "notebook_flow."

_shorten = reprlib.Repr()
_shorten.maxstring = 200
_shorten.maxother = 200

_END_OUTCOME: dict[type[RunRecord], str] = {
    StepFinished: "finished",
    StepFailed: "failed",
    StepCancelled: "cancelled",
    StepAborted: "aborted",
    StepGoto: "goto",
}

AttributeValue = str | bool | int | float | list[str]


class _Subscribable(Protocol):
    def subscribe(self, subscriber: Callable[[RunRecord], Any]) -> Callable[[], None]: ...


def _attr(name: str) -> str:
    return ATTRIBUTE_PREFIX + name


class RunSpans:
    """The subscriber that turns the records of one run into spans.

    Made by `trace_run` and `instrument`; call it with each record of the run.
    It keeps only the spans still open (at most the steps running at once), and nothing once
    the run has ended.

    Args:
        tracer: where the spans go.
        source: the run handle or feed, asked for ``run_key`` (a durable run's key) when the
            run starts and ends.
        values: also record each step's input and result as shortened ``repr`` attributes
            (off by default: they may hold data that must not leave the notebook).
    """

    def __init__(self, tracer: Tracer, source: object = None, *, values: bool = False) -> None:
        self._tracer = tracer
        self._source = source
        self._values = values
        self._run: Span | None = None
        self._wall_offset = 0.0  # wall-clock seconds minus perf_counter seconds
        self._steps: dict[int, Span] = {}  # open attempt spans by step id
        self._attempts: dict[int, int] = {}  # attempt number of each open step
        self._names: dict[int, str] = {}  # event id of each open step

    def _ns(self, perf_time: float) -> int:
        return int((perf_time + self._wall_offset) * 1e9)

    def __call__(self, record: RunRecord) -> None:
        if isinstance(record, RunStarted):
            self._start_run(record)
        elif self._run is None:
            return  # subscribed after the run started: nothing to hang the steps on
        elif isinstance(record, StepStarted):
            self._start_attempt(record.step_id, record.event_id, 1, record.time, record.input)
        elif isinstance(record, StepProgress):
            attributes: dict[str, AttributeValue] = {
                _attr("description"): record.description,
                _attr("step"): record.step,
            }
            if record.fraction is not None:
                attributes[_attr("fraction")] = float(record.fraction)
            self._step_event(record.step_id, "progress", attributes, record.time)
        elif isinstance(record, StepPlaced):
            span = self._steps.get(record.step_id)
            if span is not None:
                span.set_attribute(_attr("executor"), record.executor)
                span.set_attribute(_attr("worker"), record.worker)
                if record.worker_name:
                    span.set_attribute(_attr("worker_name"), record.worker_name)
                if record.dashboard:
                    span.set_attribute(_attr("dashboard"), record.dashboard)
        elif isinstance(record, StepRetried):
            self._retry(record)
        elif type(record) in _END_OUTCOME:
            self._end_attempt(record)
        elif isinstance(record, RunFinished | RunFailed | RunCancelled):
            self._end_run(record)
        elif not isinstance(record, StepPending):
            self._other(record)

    # -- the run ---------------------------------------------------------------------------
    def _start_run(self, record: RunStarted) -> None:
        self._wall_offset = record.wall_time - record.time
        attributes: dict[str, AttributeValue] = {
            _attr("flow"): record.flow_name,
            _attr("root"): record.root,
            _attr("run_id"): record.run_id,
        }
        self._run = self._tracer.start_span(
            f"run {record.flow_name}", attributes=attributes, start_time=self._ns(record.time)
        )
        self._add_run_key()

    def _add_run_key(self) -> None:
        key = getattr(self._source, "run_key", None)
        if key is not None and self._run is not None:
            self._run.set_attribute(_attr("run_key"), str(key))

    def _end_run(self, record: RunFinished | RunFailed | RunCancelled) -> None:
        run = self._run
        assert run is not None
        end = self._ns(record.time)
        for step_id in list(self._steps):  # the engine closes every step; this is a guard
            self._close(step_id, "cancelled", end)
        run.set_attribute(_attr("steps"), record.steps)
        self._add_run_key()
        if isinstance(record, RunFailed):
            run.record_exception(record.error, timestamp=end)
            run.set_status(Status(StatusCode.ERROR, f"{type(record.error).__name__}: {record.error}"))
            run.set_attribute(_attr("outcome"), "failed")
        elif isinstance(record, RunCancelled):
            run.set_status(Status(StatusCode.ERROR, f"cancelled: {record.reason}"))
            run.set_attribute(_attr("outcome"), "cancelled")
            run.set_attribute(_attr("cancel_reason"), record.reason)
        else:
            run.set_attribute(_attr("outcome"), "finished")
        run.end(end_time=end)
        self._run = None

    # -- the attempts of a step ------------------------------------------------------------
    def _start_attempt(
        self, step_id: int, event_id: str, attempt: int, start: float, value: Any
    ) -> None:
        assert self._run is not None
        attributes: dict[str, AttributeValue] = {
            _attr("event"): event_id,
            _attr("step_id"): step_id,
            _attr("attempt"): attempt,
        }
        if self._values and attempt == 1:  # a retry runs on the same input
            attributes[_attr("input")] = _shorten.repr(value)
        self._steps[step_id] = self._tracer.start_span(
            event_id,
            context=otel_trace.set_span_in_context(self._run),
            attributes=attributes,
            start_time=self._ns(start),
        )
        self._attempts[step_id] = attempt
        self._names[step_id] = event_id

    def _retry(self, record: StepRetried) -> None:
        span = self._steps.get(record.step_id)
        if span is None:
            return
        at = self._ns(record.time)
        span.add_event(
            "retry",
            {_attr("attempt"): record.attempt, _attr("delay"): float(record.delay)},
            timestamp=at,
        )
        span.record_exception(record.error, timestamp=at)
        span.set_status(Status(StatusCode.ERROR, f"{type(record.error).__name__}: {record.error}"))
        span.set_attribute(_attr("outcome"), "retried")
        span.end(end_time=at)
        # the next attempt begins when the back-off is over
        self._start_attempt(
            record.step_id, self._names[record.step_id], record.attempt + 1,
            record.time + record.delay, None,
        )

    def _end_attempt(self, record: RunRecord) -> None:
        step_id: int = getattr(record, "step_id")  # noqa: B009 - every end record has one
        span = self._steps.get(step_id)
        if span is None:
            return
        end = self._ns(record.time)
        if isinstance(record, StepFailed):
            span.record_exception(record.error, timestamp=end)
            span.set_status(Status(StatusCode.ERROR, f"{type(record.error).__name__}: {record.error}"))
        elif isinstance(record, StepGoto):
            attributes: dict[str, AttributeValue] = {_attr("targets"): list(record.targets)}
            if self._values:
                attributes[_attr("payload")] = _shorten.repr(record.payload)
            span.add_event("goto", attributes, timestamp=end)
        elif isinstance(record, StepAborted):
            span.add_event("abort", timestamp=end)
        elif isinstance(record, StepFinished) and self._values:
            span.set_attribute(_attr("result"), _shorten.repr(record.result))
        self._close(step_id, _END_OUTCOME[type(record)], end)

    def _close(self, step_id: int, outcome: str, end: int) -> None:
        span = self._steps.pop(step_id)
        del self._attempts[step_id], self._names[step_id]
        span.set_attribute(_attr("outcome"), outcome)
        span.end(end_time=end)

    def _step_event(
        self, step_id: int, name: str, attributes: dict[str, AttributeValue], time: float
    ) -> None:
        span = self._steps.get(step_id, self._run)
        if span is not None:
            span.add_event(name, attributes, timestamp=self._ns(time))

    def _other(self, record: RunRecord) -> None:
        """A record of a kind this module does not know: an event with its plain fields."""
        attributes: dict[str, AttributeValue] = {}
        for field in fields(record):
            value = getattr(record, field.name)
            if field.name in ("run_id", "time"):
                continue
            if isinstance(value, str | bool | int | float):
                attributes[_attr(field.name)] = value
            elif value is not None:
                attributes[_attr(field.name)] = _shorten.repr(value)
        step_id = getattr(record, "step_id", None)
        target = self._steps.get(step_id, self._run) if isinstance(step_id, int) else self._run
        if target is not None:
            target.add_event(record.kind, attributes, timestamp=self._ns(record.time))


def _tracer(provider: TracerProvider | None) -> Tracer:
    if provider is None:
        return otel_trace.get_tracer("notebook_flow", __version__)
    return provider.get_tracer("notebook_flow", __version__)


def trace_run(
    run: _Subscribable, *, tracer_provider: TracerProvider | None = None, values: bool = False
) -> Callable[[], None]:
    """Trace one run: subscribe to ``run`` (a `RunHandle`) before it starts.

    Args:
        run: the handle ``flow.run(...)`` returned (or a run's feed), not started yet.
        tracer_provider: the provider to use; the global one (``opentelemetry.trace``) if None.
        values: also record inputs, results and goto payloads as shortened reprs.

    Returns:
        A function that stops tracing this run.

    Raises:
        EventTypeError: ``run`` is not a run handle.
        FlowRunError: the run has already started (its first records would be missing).
    """
    if not callable(getattr(run, "subscribe", None)):
        raise EventTypeError(
            f"trace_run takes a run handle (what flow.run(...) returns), got "
            f"{type(run).__name__}; write handle = flow.run(start); otel.trace_run(handle)"
        )
    status = getattr(run, "status", "created")
    if status != "created":
        raise FlowRunError(
            f"trace_run needs a run that has not started, and this one is {status}: call it "
            f"right after flow.run(...), before awaiting or starting the handle (or use "
            f"otel.instrument() to trace every run)"
        )
    return run.subscribe(RunSpans(_tracer(tracer_provider), run, values=values))


_stop_observing: Callable[[], None] | None = None


def instrument(
    *, tracer_provider: TracerProvider | None = None, values: bool = False
) -> Callable[[], None]:
    """Trace every run created from now on (drive-flow and microflow styles alike).

    Calling it again replaces the earlier instrumentation (a re-run notebook cell does not
    trace each run twice).

    Args:
        tracer_provider: the provider to use; the global one (``opentelemetry.trace``) if None.
        values: also record inputs, results and goto payloads as shortened reprs.

    Returns:
        A function that stops it (the same as `uninstrument`).
    """
    global _stop_observing
    uninstrument()
    tracer = _tracer(tracer_provider)

    def attach(feed: RunFeed) -> None:
        feed.subscribe(RunSpans(tracer, feed, values=values))

    _stop_observing = observe_runs(attach)
    return uninstrument


def uninstrument() -> None:
    """Stop tracing new runs (runs already going keep their spans until they end)."""
    global _stop_observing
    if _stop_observing is not None:
        _stop_observing()
        _stop_observing = None
