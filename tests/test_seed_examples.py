"""Every code example of the two seed documents, run on notebook_flow.

The examples are read from the seed documents themselves (``shared/seeds/`` beside the repo, or
``$NOTEBOOK_FLOW_SEEDS``), so nothing of them is copied here; only their import lines are
rewritten to import the same names from ``notebook_flow``. Names an example uses but does not
define (``perform_search``, a second handler ...) are supplied by the test, never the example's
own code.
"""

import asyncio
import contextlib
import io
import os
import re
import time
import typing
from datetime import datetime
from pathlib import Path

import pytest

import notebook_flow
from notebook_flow import WorkflowEvent, WorkflowManager

SEEDS = Path(os.environ.get("NOTEBOOK_FLOW_SEEDS", Path(__file__).parents[2] / "shared" / "seeds"))
DRIVE = SEEDS / "drive-flow-README.md"
MICRO = SEEDS / "microflow-pypi-page.txt"

pytestmark = pytest.mark.skipif(
    not (DRIVE.exists() and MICRO.exists()),
    reason=f"seed documents not found in {SEEDS} (set NOTEBOOK_FLOW_SEEDS)",
)

IMPORT = re.compile(r"^from (drive_flow|microflow)(\.\w+)* import ", re.M)


def to_notebook_flow(code: str) -> str:
    return IMPORT.sub("from notebook_flow import ", code)


def drive_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DRIVE.read_text(encoding="utf-8"), re.S)


def drive_block(needle: str) -> str:
    (block,) = [b for b in drive_blocks() if needle in b]
    return to_notebook_flow(block)


def micro_block(first_line: str, stop_before: str, after: str = "") -> str:
    """The lines from ``first_line`` (the first one after the heading ``after``) to ``stop_before``."""
    lines = MICRO.read_text(encoding="utf-8").splitlines()
    begin = lines.index(after) if after else 0
    start = next(i for i in range(begin, len(lines)) if lines[i].startswith(first_line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(stop_before))
    return to_notebook_flow("\n".join(lines[start:end]))


def run_example(code: str, name: str, **extra) -> tuple[dict, str]:
    """Run an example as a module named ``name``; return its namespace and what it printed."""
    ns = {"__name__": name, **extra}
    out = io.StringIO()
    notebook_flow.default_drive.reset()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"<{name}>", "exec"), ns)
    return ns, out.getvalue()


def test_all_drive_flow_examples_are_covered():
    # The one block left out is the signature template `await default_drive.invoke_event(EVENT, ...)`.
    runnable = [b for b in drive_blocks() if "EVENT_INPUT" not in b]
    assert len(runnable) == 5


def test_drive_hello_world():
    ns, out = run_example(drive_block("print(\"hello\")"), "__main__")
    lines = out.splitlines()
    assert lines[:3] == ["__main__.world", "└─ <0>", "    └─ __main__.hello"]
    assert lines[-2:] == ["hello", "world"]


def test_drive_multi_recv():
    code = "import asyncio\nfrom notebook_flow import EventInput, default_drive\n" + drive_block(
        "assert results[adding.id] == 3"
    )
    ns, out = run_example(code, "multi_recv")
    assert "start" in out and "adding" in out
    assert ns["results"][ns["adding"].id] == 3


def test_drive_parallel():
    code = (
        "import asyncio\nfrom datetime import datetime\nfrom notebook_flow import EventInput, "
        "default_drive\n" + drive_block("hello done")
    )
    t0 = time.perf_counter()
    ns, out = run_example(code, "parallel")
    elapsed = time.perf_counter() - t0
    stamps = {}
    for line in out.splitlines()[1:]:
        date, clock, word = line.split(" ", 2)
        stamps[word] = datetime.fromisoformat(f"{date} {clock}")
    assert out.splitlines()[0] == "start"
    assert abs((stamps["hello"] - stamps["world"]).total_seconds()) < 0.05
    assert 0.18 < (stamps["hello done"] - stamps["hello"]).total_seconds() < 0.3
    assert elapsed < 0.35


def test_drive_abort_this():
    code = "import asyncio\nfrom notebook_flow import EventInput, default_drive\n" + drive_block(
        "abort_this is not exiting"
    )
    ns, _ = run_example(code, "abort_example")  # b's `assert False` would raise if it ran


def test_drive_goto():
    code = "import asyncio\nfrom notebook_flow import EventInput, default_drive\n" + drive_block(
        "call_a_count"
    )
    ns, _ = run_example(code, "goto_example")
    assert ns["call_a_count"] == 1  # a ran twice: once as root, once from b's goto (then aborted)


def test_microflow_quick_start():
    code = micro_block("import asyncio", "Features")
    ns, out = run_example(code, "__main__")
    assert out.splitlines() == [
        "Progress: greeting - Processing greeting for Alice",
        "Result: Hello, Alice!",
    ]


def _collect(manager, event):
    async def main():
        return [e async for e in manager.process(event)]

    return asyncio.run(main())


def test_microflow_registering_handlers():
    async def passthrough(event, ctx):
        yield event

    code = micro_block(
        "workflow = WorkflowManager()", "Creating Event Handlers", after="Registering Handlers"
    )
    ns, _ = run_example(
        code,
        "registering",
        WorkflowManager=WorkflowManager,
        start_handler=passthrough,
        validation_handler=passthrough,
        transformation_handler=passthrough,
        handler1=passthrough,
        handler2=passthrough,
    )
    workflow = ns["workflow"]
    assert list(workflow.handlers) == ["start", "process_data", "event1", "event2"]
    assert len(workflow.handlers["process_data"]) == 2


def test_microflow_search_handler():
    async def perform_search(query):
        return [f"result for {query}"]

    code = micro_block("async def search_handler", "Chaining Handlers")
    ns, _ = run_example(
        code,
        "search",
        WorkflowEvent=WorkflowEvent,
        Dict=dict,
        Any=object,
        AsyncGenerator=typing.AsyncGenerator,
        perform_search=perform_search,
    )
    wm = WorkflowManager().register("search", ns["search_handler"])
    out = _collect(wm, WorkflowEvent("search", data={"query": "q"}, metadata={"id": 7}))
    assert [e.name for e in out] == ["search", "progress", "search_completed"]
    assert out[-1].data == {"search_results": ["result for q"]} and out[-1].metadata == {"id": 7}


def test_microflow_complex_handler():
    code = micro_block("async def complex_handler", "Error Handling")
    ns, _ = run_example(code, "complex", WorkflowEvent=WorkflowEvent, Dict=dict, Any=object)
    wm = WorkflowManager().register("start", ns["complex_handler"])
    out = _collect(wm, WorkflowEvent("start"))
    assert [e.name for e in out] == ["start", "progress", "progress", "next_step"]
    assert out[-1].data == {"result": "success"}


@pytest.mark.parametrize("fails", [False, True])
def test_microflow_risky_handler(fails):
    async def risky_operation():
        if fails:
            raise ConnectionError("service down")
        return 42

    code = micro_block("async def risky_handler", "Example Workflow")
    ns, _ = run_example(
        code, "risky", WorkflowEvent=WorkflowEvent, Dict=dict, Any=object,
        risky_operation=risky_operation,
    )
    wm = WorkflowManager().register("go", ns["risky_handler"])
    out = _collect(wm, WorkflowEvent("go", metadata={"m": 1}))
    if fails:
        assert out[-1] == WorkflowEvent("error", error="service down", metadata={"m": 1})
    else:
        assert out[-1] == WorkflowEvent("success", data={"result": 42})
