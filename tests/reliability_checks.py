"""Checks shared by the reliability tests: a run left nothing behind and closed every step."""

import asyncio

from notebook_flow.records import STEP_END_KINDS


def assert_trace_closed(trace, status=None):
    """Every started step has exactly one end record, and the run itself ended."""
    assert trace.open_steps == {}, f"steps never closed: {trace.open_steps}"
    assert trace.unmatched_ends == 0, "an end record closed no open step (a second end?)"
    ends = sum(trace.counts.get(kind, 0) for kind in STEP_END_KINDS)
    assert ends == trace.counts.get("step_started", 0)
    for stats in trace.events.values():
        assert sum(stats.ended.values()) == stats.started
    assert trace.status in {"finished", "failed", "cancelled"}
    if status is not None:
        assert trace.status == status


def assert_no_task_left():
    """No task but the caller's is alive on the loop."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert not others, f"tasks left behind: {others}"


def kinds(trace, kind):
    return [r for r in trace.records if r.kind == kind]


def run_expecting(error, flow, root, *args, **options):
    """Run ``flow`` from ``root``; it must raise ``error``. Checks that the run left nothing
    behind; returns the handle and the exception."""
    import pytest

    async def main():
        handle = flow.run(root, *args, **options)
        with pytest.raises(error) as info:
            await handle
        assert_no_task_left()
        return handle, info.value

    handle, raised = asyncio.run(main())
    assert_trace_closed(handle.trace)
    return handle, raised
