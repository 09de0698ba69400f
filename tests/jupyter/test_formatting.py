"""The one formatter: readable, cut to size, and never held up by a user's __repr__."""

import asyncio
import time

import pytest

from notebook_flow import EventInput, WorkflowEvent
from notebook_flow.errors import EventTypeError
from notebook_flow.events import ReturnBehavior
from notebook_flow.jupyter import FlowView
from notebook_flow.jupyter.formatting import (
    REPR_BUDGET,
    TEXT_LIMIT,
    bounded_repr,
    cut,
    describe_input,
    describe_record,
    preview,
)
from notebook_flow.jupyter.input_editor import editable_text, parse_edit
from notebook_flow.records import StepFinished, StepPending


class Counted:
    """An object whose __repr__ counts its calls (and could be slow or broken)."""

    calls = 0

    def __init__(self, seconds=0.0, busy=False):
        self.seconds, self.busy = seconds, busy

    def __repr__(self):
        Counted.calls += 1
        if self.busy:  # holds the GIL the whole time, as a heavy pure-Python repr does
            end = time.perf_counter() + self.seconds
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(self.seconds)
        return "Counted()"


def test_cut_says_how_much_it_left_out():
    assert cut("x" * 10, 10) == "x" * 10
    assert cut("x" * 25, 10) == "x" * 10 + "... (15 more characters)"
    big = bounded_repr("y" * (20 * 1024 * 1024))
    assert big.endswith(f"... ({20 * 1024 * 1024 - TEXT_LIMIT} more characters)")
    assert len(big) < TEXT_LIMIT + 40


def test_preview_runs_no_user_code_and_reads_well():
    Counted.calls = 0
    text = preview({"a": [1, 2, Counted()], "event": WorkflowEvent("reply", {"to": "ada"})})
    assert Counted.calls == 0
    assert text == "{'a': [1, 2, <test_formatting.Counted>], 'event': event 'reply' {'to': 'ada'}}"
    assert preview(ReturnBehavior.GOTO) == "ReturnBehavior.GOTO"
    assert "WorkflowEvent(" not in preview(WorkflowEvent("x", None))


def test_records_and_inputs_read_as_lines_not_reprs():
    inp = EventInput("0", {"__main__.receive": {"qty": 2}})
    assert describe_input(inp) == "{'receive': {'qty': 2}}"
    line = describe_record(StepFinished(9, 2539.8, 3, "__main__.price", 80, 0.0042))
    assert line == "price done in 4.2 ms -> 80"
    pending = describe_record(StepPending(9, 1.0, 4, "__main__.confirm", inp))
    assert pending == "confirm pending with {'receive': {'qty': 2}}"
    assert "StepFinished(" not in line and "run_id" not in line


def test_bounded_repr_waits_at_most_its_budget():
    assert bounded_repr(Counted()) == "Counted()"
    t0 = time.perf_counter()
    text = bounded_repr(Counted(seconds=1.0))
    waited = time.perf_counter() - t0
    assert text == f"<Counted: its repr took longer than {REPR_BUDGET:g} s; not shown>"
    assert waited < REPR_BUDGET + 0.2
    # while that one still runs, another slow object is not even started
    assert "still running" in bounded_repr(Counted(seconds=1.0))
    time.sleep(1.0)

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr today")

    assert bounded_repr(Broken()) == "<Broken: repr failed: RuntimeError: no repr today>"


def test_the_editor_speaks_in_event_names_and_says_what_it_wants():
    original = EventInput("0", {"__main__.receive": {"qty": 2}, "__main__.stock": 7})
    assert editable_text(original) == "{'receive': {'qty': 2},\n 'stock': 7}"
    edited = parse_edit(original, {"receive": {"qty": 5}})
    assert edited.results == {"__main__.receive": {"qty": 5}, "__main__.stock": 7}
    assert edited.group_name == "0" and edited.behavior is original.behavior
    with pytest.raises(EventTypeError, match="'price' is not an event whose result this step receives; it receives: 'receive', 'stock'"):
        parse_edit(original, {"price": 1})
    with pytest.raises(EventTypeError, match="as a dict by event name"):
        parse_edit(original, 5)
    event = WorkflowEvent("reply", {"to": "ada"})
    assert editable_text(event) == "{'to': 'ada'}"
    assert parse_edit(event, {"to": "bob"}) == WorkflowEvent("reply", {"to": "bob"})


def test_a_slow_repr_holds_the_loop_at_most_the_budget(flow):
    """A result whose repr takes 2 s of CPU: the run, its log and a click on its node."""
    Counted.calls = 0

    @flow.make_event
    async def start(event, ctx):
        return Counted(seconds=2.0, busy=True)

    live = FlowView(flow)
    gaps = []

    async def scenario():
        async def ticker():
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        await flow.invoke_event(start)
        await asyncio.sleep(0.1)  # the view flushes its log: no repr there
        calls_in_run = Counted.calls
        answers = []
        live.send = answers.append  # what the browser would receive
        node = next(iter(live.states))
        live._on_front_message(live, {"type": "details", "node": node}, [])  # a click on the node
        await asyncio.sleep(0.3)
        tick.cancel()
        return calls_in_run, answers

    calls_in_run, answers = asyncio.run(scenario())
    assert calls_in_run == 0  # the hot path never called the user's repr
    assert Counted.calls == 1  # the click did, once, in a helper thread
    assert answers[0]["data"]["output"].endswith("took longer than 0.1 s; not shown>")
    longest = max(gaps)
    print(f"longest loop stall: {longest * 1000:.0f} ms (repr takes 2000 ms, budget {REPR_BUDGET * 1000:.0f} ms)")
    assert longest < REPR_BUDGET + 0.25  # the budget plus scheduling slack on a busy machine
    time.sleep(2.0)  # let the helper thread finish before the next test


def test_every_text_sent_to_the_browser_is_cut(flow):
    """A 15 MB progress message, a 5 MB error and a 5 MB result reach the browser cut."""
    from notebook_flow import progress

    @flow.make_event
    async def chatty(event, ctx):
        progress("chatty", "m" * 15_000_000, 0.5)
        return "r" * 5_000_000

    @flow.listen_group([chatty])
    async def angry(event, ctx):
        raise ValueError("e" * 5_000_000)

    live = FlowView(flow)
    sent = []
    live.send = sent.append
    with pytest.raises(ValueError):
        asyncio.run(flow.invoke_event(chatty))
    for node in live.states:
        live._on_front_message(live, {"type": "details", "node": node}, [])
    live.send = lambda message: None
    texts = [line[3] for message in sent if message["type"] == "log" for line in message["lines"]]
    texts += [line[4] for message in sent if message["type"] == "log" for line in message["lines"]]
    texts += [v for message in sent if message["type"] == "details"
              for v in message["data"].values() if isinstance(v, str)]
    texts += [live.status["error"]] + [bar["description"] for bar in live.bars]
    assert texts and max(len(t) for t in texts) <= TEXT_LIMIT + 60  # the limit, plus its note
    cut_ones = [t for t in texts if t.endswith(" more characters)")]
    assert len(cut_ones) >= 4  # the progress line, the result, the error in the log and details
    assert any("... (14996" in t for t in cut_ones)  # the 15 MB progress message, cut to its head


def test_the_timeline_of_a_long_run_draws_its_busiest_rows():
    from notebook_flow.jupyter.timeline_view import MAX_ROWS, timeline_svg

    intervals = [(f"e{i}", i * 1e-3, i * 1e-3 + (0.5e-3 if i % 50 else 0.9e-3), "done")
                 for i in range(10_000)]
    svg = timeline_svg(intervals, {f"e{i}": f"step {i}" for i in range(10_000)})
    assert f"(the {MAX_ROWS} busiest events drawn, {10_000 - MAX_ROWS} more not)" in svg
    assert svg.count("<rect x=") == MAX_ROWS and len(svg) < 80_000  # was 2.5 MB
    assert ">step 0<" in svg and ">step 50<" in svg and ">step 1<" not in svg  # the longest steps
