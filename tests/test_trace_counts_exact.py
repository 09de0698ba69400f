"""The trace's counters stay exact however records enter and leave its window (random runs)."""

import random

import pytest

try:  # the error a step's time limit raises, which the trace counts as a timeout
    from notebook_flow.errors import StepTimeout

    def _timeout(message):
        return StepTimeout(message, event_id="e", timeout=1.0, attempt=1)
except ImportError:  # before the reliability work
    _timeout = TimeoutError

from notebook_flow import Trace
from notebook_flow.records import (
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    StepPending,
    StepProgress,
    StepRetried,
    StepStarted,
)


def _records(rng, n):
    yield RunStarted(1, 0.0, "f", "root", 0.0)
    open_steps, next_id = [], 1
    for i in range(n):
        t = float(i + 1)
        roll = rng.random()
        if roll < 0.3 or not open_steps:
            event_id = f"e{rng.randrange(5)}"
            yield StepPending(1, t, next_id, event_id, None)
            yield StepStarted(1, t, next_id, event_id, None)
            open_steps.append((next_id, event_id))
            next_id += 1
        elif roll < 0.5:
            step_id, event_id = rng.choice(open_steps)
            yield StepProgress(1, t, step_id, event_id, "s", "d", None)
        elif roll < 0.6:
            step_id, event_id = rng.choice(open_steps)
            yield StepRetried(1, t, step_id, event_id, 1, _timeout("slow"), 0.0)
        else:
            step_id, event_id = open_steps.pop(rng.randrange(len(open_steps)))
            if rng.random() < 0.2:
                yield StepFailed(1, t, step_id, event_id, _timeout("late"), 0.5)
            else:
                yield StepFinished(1, t, step_id, event_id, i, 0.25)
    yield RunFinished(1, float(n + 1), next_id - 1, float(n + 1))


def _expected(records):
    """Counters computed the plain way, over every record."""
    counts, started, ended, open_steps, retried, timeouts = {}, {}, {}, {}, 0, 0
    for r in records:
        counts[r.kind] = counts.get(r.kind, 0) + 1
        if r.kind == "step_started":
            open_steps[r.step_id] = r.event_id
            started[r.event_id] = started.get(r.event_id, 0) + 1
        elif r.kind in ("step_finished", "step_failed"):
            event_id = open_steps.pop(r.step_id)
            key = (event_id, r.kind)
            ended[key] = ended.get(key, 0) + 1
            timeouts += isinstance(r.error, TimeoutError) if r.kind == "step_failed" else 0
        elif r.kind == "step_retried":
            retried += 1
            timeouts += 1
    return counts, started, ended, open_steps, retried, timeouts


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("maxlen", [1, 7, 100, 10_000])
def test_counters_are_exact_at_every_read(seed, maxlen):
    rng = random.Random(seed)
    trace, seen = Trace(maxlen=maxlen), []
    for record in _records(rng, 600):
        trace(record)
        seen.append(record)
        if rng.random() < 0.05 or record.kind == "run_finished":
            counts, started, ended, open_steps, retried, timeouts = _expected(seen)
            assert trace.counts == counts  # read first: before anything trims the window
            assert trace.total == len(seen)
            assert list(trace.records) == seen[-maxlen:]
            assert len(trace) == min(maxlen, len(seen)) and trace.dropped == len(seen) - len(trace)
            assert {k: v.started for k, v in trace.events.items()} == started
            assert {(k, kind): c for k, v in trace.events.items() for kind, c in v.ended.items()} == ended
            assert trace.open_steps == open_steps
            assert (trace.retried, trace.timeouts, trace.unmatched_ends) == (retried, timeouts, 0)
    assert trace.status == "finished" and trace.start_time == 0.0


def test_the_run_log_has_no_line_for_the_kinds_the_feed_does_not_send_it():
    from notebook_flow._core.runlog import _FORMATS, RunLog

    assert not RunLog.IGNORED_KINDS & set(_FORMATS)


def test_the_hot_kinds_reach_every_subscriber_but_the_log():
    import asyncio

    from notebook_flow import Flow

    flow = Flow("routes")

    @flow.make_event
    async def a(event, ctx):
        return 1

    @flow.listen_group([a])
    async def b(event, ctx):
        return 2

    async def main():
        plain = flow.run(a)
        await plain  # trace and log only: the trace's window takes the hot kinds directly
        seen = []
        handle = flow.run(a)
        unsubscribe = handle.subscribe(seen.append)
        await handle
        unsubscribe()
        return plain, handle, seen

    plain, handle, seen = asyncio.run(main())
    kinds = [r.kind for r in handle.trace.records]
    assert [r.kind for r in seen] == kinds
    assert [r.kind for r in plain.trace.records] == kinds
    assert kinds.count("step_pending") == kinds.count("step_started") == 2
    assert handle.trace.counts["step_finished"] == 2 and not handle.trace.open_steps
