"""The trace's JSON export carries a schema version, and its docstring documents every key."""

import asyncio
import json
import re

from notebook_flow import Flow, Retry, Trace


def traced_run() -> Trace:
    flow = Flow("schema")
    calls = []

    @flow.make_event(retry=Retry(attempts=2, backoff=0, on=(ConnectionError,)))
    async def flaky(event, ctx):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("once")
        return ("a", "b")

    @flow.listen_group([flaky])
    async def broken(event, ctx):
        raise ValueError("nope")

    async def main() -> Trace:
        handle = flow.run(flaky, "x")
        try:
            await handle
        except ValueError:
            pass
        assert handle.trace is not None
        return handle.trace

    return asyncio.run(main())


def documented_keys() -> set[str]:
    doc = Trace.to_dict.__doc__ or ""
    return set(re.findall(r"^\s*- ``(\w+)``", doc, re.M)) | set(
        re.findall(r"``(\w+)`` \(int\)", doc)
    )


def test_the_export_names_its_schema_version():
    data = json.loads(traced_run().to_json())
    assert data["schema_version"] == Trace.SCHEMA_VERSION == 1
    assert next(iter(data)) == "schema_version"  # the first key: a reader checks it first


def test_every_key_of_the_export_is_documented():
    data = traced_run().to_dict()
    assert set(data) <= documented_keys(), set(data) - documented_keys()
    kinds = {r["kind"] for r in data["records"]}
    assert {"run_started", "step_retried", "step_failed", "run_failed"} <= kinds
    for record in data["records"]:
        assert isinstance(record["t"], float) and record["t"] >= 0
        for value in record.values():  # plain JSON values only, as the docstring says
            assert value is None or isinstance(value, (str, int, float, bool, list, dict))
    retried = next(r for r in data["records"] if r["kind"] == "step_retried")
    assert retried["error"] == {"type": "ConnectionError", "message": "once"}
