"""notebook_flow.otel: the span tree of real runs, read back from the SDK and over OTLP/HTTP.

One flow has everything a tree must show: a fan-out of three steps from one root, a step that
fails once and is retried (with progress), a step that goes to another event, and a step that
fails. The same checks run on the spans the SDK's in-memory exporter keeps and on the spans a
real OTLP/HTTP receiver on 127.0.0.1 decodes from the protobuf the exporter sent it.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from notebook_flow import (
    EventTypeError,
    Flow,
    FlowRunError,
    Retry,
    StepFailures,
    WorkflowEvent,
    WorkflowManager,
    goto_events,
    otel,
    progress,
)


@dataclass
class SeenSpan:
    """A span as either exporter hands it over, reduced to what the checks read."""

    name: str
    span_id: int
    parent_id: int | None
    trace_id: int
    start: int
    end: int
    error: str | None  # the status description when the status is ERROR
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def from_sdk(spans: Any) -> list[SeenSpan]:
    out = []
    for s in spans:
        error = s.status.description if s.status.status_code.name == "ERROR" else None
        out.append(SeenSpan(
            s.name, s.context.span_id, s.parent.span_id if s.parent else None, s.context.trace_id,
            s.start_time, s.end_time, error, dict(s.attributes),
            [(e.name, dict(e.attributes)) for e in s.events],
        ))
    return out


def _any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(_any_value(x) for x in v.array_value.values)
    return getattr(v, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def from_otlp(request: ExportTraceServiceRequest) -> list[SeenSpan]:
    out = []
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            assert scope.scope.name == "notebook_flow"
            for s in scope.spans:
                error = s.status.message if s.status.code == 2 else None  # STATUS_CODE_ERROR
                out.append(SeenSpan(
                    s.name, int.from_bytes(s.span_id, "big"),
                    int.from_bytes(s.parent_span_id, "big") if s.parent_span_id else None,
                    int.from_bytes(s.trace_id, "big"), s.start_time_unix_nano,
                    s.end_time_unix_nano, error, _attributes(s.attributes),
                    [(e.name, _attributes(e.attributes)) for e in s.events],
                ))
    return out


def research_flow() -> tuple[Flow, Any]:
    flow = Flow("otel_research")
    calls = {"fetch": 0}

    @flow.make_event
    async def plan(event, ctx):
        return "topic"

    @flow.listen_group([plan], retry=Retry(attempts=2, backoff=0.02, on=(ConnectionError,)))
    async def fetch(event, ctx):
        calls["fetch"] += 1
        progress("fetch", f"attempt {calls['fetch']}", 0.5)
        await asyncio.sleep(0.05)
        if calls["fetch"] == 1:
            raise ConnectionError("the API hung up")
        return "pages"

    @flow.make_event
    async def fixup(event, ctx):
        return event.group_name

    @flow.listen_group([plan])
    async def route(event, ctx):
        await asyncio.sleep(0.05)
        return goto_events([fixup], "needs a fix")

    @flow.listen_group([plan])
    async def broken(event, ctx):
        await asyncio.sleep(0.05)
        raise ValueError("bad input")

    return flow, plan


def run_research(instrumented: bool, provider: TracerProvider) -> None:
    flow, plan = research_flow()

    async def main() -> None:
        handle = flow.run(plan, on_error="continue")
        if not instrumented:
            otel.trace_run(handle, tracer_provider=provider)
        with pytest.raises(StepFailures):
            await handle

    asyncio.run(main())


def check_research_tree(spans: list[SeenSpan]) -> None:
    (run,) = [s for s in spans if s.parent_id is None]
    assert run.name == "run otel_research"
    assert run.attributes["notebook_flow.flow"] == "otel_research"
    assert run.attributes["notebook_flow.outcome"] == "failed"
    assert run.attributes["notebook_flow.steps"] == 5
    assert run.error and "StepFailures" in run.error
    assert ("exception", ) == tuple(name for name, _ in run.events)

    steps = [s for s in spans if s is not run]
    assert len(steps) == 6  # plan, two attempts of fetch, route, fixup, broken
    assert all(s.parent_id == run.span_id and s.trace_id == run.trace_id for s in steps)
    assert all(run.start <= s.start <= s.end <= run.end for s in steps)
    by_name: dict[str, list[SeenSpan]] = {}
    for s in steps:
        by_name.setdefault(s.name.rsplit(".", 1)[-1], []).append(s)
    assert sorted(by_name) == ["broken", "fetch", "fixup", "plan", "route"]

    # the retry: two attempt spans of one step, the first failed with a retry event
    first, second = sorted(by_name["fetch"], key=lambda s: s.attributes["notebook_flow.attempt"])
    assert first.attributes["notebook_flow.step_id"] == second.attributes["notebook_flow.step_id"]
    assert (first.attributes["notebook_flow.attempt"], second.attributes["notebook_flow.attempt"]) == (1, 2)
    assert first.error == "ConnectionError: the API hung up"
    assert [n for n, _ in first.events] == ["progress", "retry", "exception"]
    assert first.events[1][1]["notebook_flow.delay"] == pytest.approx(0.02)
    assert second.error is None and second.attributes["notebook_flow.outcome"] == "finished"
    assert second.start >= first.end + 0.02e9 * 0.9  # the next attempt starts after the back-off
    assert [(n, a["notebook_flow.description"]) for n, a in second.events] == [("progress", "attempt 2")]
    assert second.events[0][1]["notebook_flow.fraction"] == 0.5

    # the goto: an event naming its target, then the target's own span
    (route,) = by_name["route"]
    (fixup,) = by_name["fixup"]
    assert route.attributes["notebook_flow.outcome"] == "goto"
    ((name, attributes),) = route.events
    assert name == "goto" and tuple(attributes["notebook_flow.targets"]) == (fixup.name,)
    assert fixup.start >= route.end and fixup.error is None

    # the failure
    (broken,) = by_name["broken"]
    assert broken.error == "ValueError: bad input"
    assert broken.attributes["notebook_flow.outcome"] == "failed"
    assert [n for n, _ in broken.events] == ["exception"]

    # the fan-out: the three listeners of plan ran at the same time
    (plan,) = by_name["plan"]
    fan = [first, route, broken]
    assert all(s.start >= plan.end for s in fan)
    assert max(s.start for s in fan) < min(s.end for s in fan)


@pytest.fixture
def memory() -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    otel.uninstrument()
    provider.shutdown()


def test_one_run_traced_by_its_handle(memory):
    provider, exporter = memory
    run_research(instrumented=False, provider=provider)
    check_research_tree(from_sdk(exporter.get_finished_spans()))


def test_instrument_traces_every_run_until_uninstrument(memory):
    provider, exporter = memory
    otel.instrument(tracer_provider=provider)
    otel.instrument(tracer_provider=provider)  # a re-run cell replaces, it does not double
    run_research(instrumented=True, provider=provider)
    check_research_tree(from_sdk(exporter.get_finished_spans()))

    otel.uninstrument()
    exporter.clear()
    run_research(instrumented=True, provider=provider)
    assert exporter.get_finished_spans() == ()


def test_a_microflow_workflow_and_a_cancelled_run(memory):
    provider, exporter = memory
    otel.instrument(tracer_provider=provider, values=True)
    manager = WorkflowManager()

    async def greet(event, ctx):
        yield WorkflowEvent.progress("greet", "greeting")
        yield WorkflowEvent("done", data={"text": "hi"})

    manager.register("greet", greet)
    flow = Flow("otel_slow")

    @flow.make_event
    async def slow(event, ctx):
        await asyncio.sleep(30)

    async def main() -> None:
        [e async for e in manager.process(WorkflowEvent("greet", data={"name": "Ada"}))]
        handle = flow.run(slow, "the input").start()
        await asyncio.sleep(0.05)
        handle.cancel("the Stop button")
        with pytest.raises(asyncio.CancelledError):
            await handle

    asyncio.run(main())
    spans = from_sdk(exporter.get_finished_spans())
    runs = {s.name: s for s in spans if s.parent_id is None}
    assert set(runs) == {"run otel_slow", next(n for n in runs if n != "run otel_slow")}
    micro = next(s for n, s in runs.items() if n != "run otel_slow")
    greet_span = next(s for s in spans if s.parent_id == micro.span_id)
    assert ("progress", "greeting") in [
        (n, a.get("notebook_flow.description")) for n, a in greet_span.events
    ]
    cancelled = runs["run otel_slow"]
    assert cancelled.error == "cancelled: the Stop button"
    (step,) = [s for s in spans if s.parent_id == cancelled.span_id]
    assert step.attributes["notebook_flow.outcome"] == "cancelled"
    assert step.attributes["notebook_flow.input"] == "'the input'"


def test_trace_run_refuses_what_is_not_a_run_and_a_run_already_going():
    with pytest.raises(EventTypeError, match=r"trace_run takes a run handle .* got Flow"):
        otel.trace_run(Flow("not_a_run"))  # type: ignore[arg-type]
    flow, plan = research_flow()

    async def main() -> None:
        handle = flow.run(plan, on_error="continue").start()
        await asyncio.sleep(0)  # the run begins: its first records are out
        with pytest.raises(FlowRunError, match="needs a run that has not started, and this one is running"):
            otel.trace_run(handle)
        with pytest.raises(StepFailures):
            await handle

    asyncio.run(main())


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on 127.0.0.1: decodes and keeps every export request."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.server.content_types.append(self.headers["Content-Type"])
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_spans_reach_a_real_otlp_http_receiver(monkeypatch):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    receiver = Receiver()
    serving = threading.Thread(target=receiver.serve_forever, daemon=True)
    serving.start()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
    try:
        otel.instrument(tracer_provider=provider)
        run_research(instrumented=True, provider=provider)
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        otel.uninstrument()
        provider.shutdown()
        receiver.shutdown()
        serving.join(5)
        receiver.server_close()
    assert receiver.requests and set(receiver.content_types) == {"application/x-protobuf"}
    spans = [s for r in receiver.requests for s in from_otlp(r)]
    check_research_tree(spans)


def square(event, ctx):
    return event * event


def test_a_step_on_a_dask_worker_names_the_worker(memory):
    from notebook_flow.dask import DaskExecutor

    provider, exporter = memory
    flow = Flow("otel_dask")

    async def main() -> tuple[Any, str]:
        dask = DaskExecutor(n_workers=1, processes=False)  # in-process: quick to start
        try:
            step = flow.make_event(executor=dask)(square)
            handle = flow.run(step, 7)
            otel.trace_run(handle, tracer_provider=provider)
            results = await handle
            return results, dask.dashboard_link
        finally:
            await dask.close()

    results, dashboard = asyncio.run(main())
    assert list(results.values()) == [49]
    (step,) = [s for s in from_sdk(exporter.get_finished_spans()) if s.parent_id is not None]
    assert step.attributes["notebook_flow.executor"]
    assert step.attributes["notebook_flow.worker"].startswith(("tcp://", "inproc://"))
    assert step.attributes["notebook_flow.dashboard"] == dashboard
