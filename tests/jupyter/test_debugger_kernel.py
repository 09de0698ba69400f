"""The debugger in a real kernel, driven by clicking its buttons from Python."""

import pytest
from kernel_cells import run_cells

SETUP = '''
import asyncio
from notebook_flow import Flow, EventInput
from notebook_flow._core.debug import DebugSession
from notebook_flow.jupyter.debugger import DebuggerView

log = []
flow = Flow("dbg")

@flow.make_event
async def start(event, ctx):
    log.append("start")
    return 1

@flow.listen_group([start])
async def left(event, ctx):
    log.append(("left", event.results[start.id]))
    return "L"

@flow.listen_group([start])
async def right(event, ctx):
    log.append("right")
    await asyncio.sleep(30)

@flow.listen_group([left, right])
async def join(event, ctx):
    log.append("join")

session = DebugSession.for_flow(flow, start, global_ctx={"user": "ada"})
dbg = DebuggerView(session, namespace=globals())
display(dbg)

def shown():
    dbg._coalescer.flush_now()
    dbg.view._coalescer.flush_now()
    return dbg.pending_html.value
'''


@pytest.fixture(scope="module")
def cells():
    return run_cells(
        SETUP,  # 0
        "await session.wait_paused()\nprint(session.status)\nprint(shown())\nprint(dbg.ctx_html.value)\n"
        "print(sorted(set(dbg.view.states.values())))\nprint(dbg.view.status['state'])",  # 1
        "dbg.step_button.click()\nawait session.wait_paused()\nprint(log)\nprint(shown())",  # 2
        "print(repr(dbg.edit_text.value))\n"  # pre-filled with what `left` would receive
        "dbg.edit_text.value = '{\"start\": 99}'\n"
        "dbg.edit_button.click()\nprint(dbg.message.value)\nprint(shown())",  # 3
        "dbg.step_button.click()\nawait session.wait_paused()\nprint(log)\nshown()\n"
        "print(repr(dbg.message.value))",  # 4
        "dbg.step_button.click()\nawait asyncio.sleep(0.1)\nprint(log, list(session.gate.running.values()))",  # 5
        "dbg.stop_button.click()\nawait asyncio.sleep(0.1)\nprint(session.status)\n"
        "left_over = [t for t in asyncio.all_tasks() if 'notebook_flow' in repr(t.get_coro())]\n"
        "print('left over:', left_over)\n"
        "print(session.feed.trace.status, session.feed.trace.open_steps)\n"
        "print(dbg.step_button.disabled)",  # 6
    )


def test_paused_at_the_root_with_its_input_and_the_context(cells):
    out = cells.stdout(1)
    assert "paused before" in out and "start" in out
    assert "Pending events" in out and "&#9654; next" in out
    assert "ada" in out
    assert "'paused'" in out.splitlines()[-2]  # the held node
    assert out.splitlines()[-1] == "paused"  # and the status line says why nothing moves


def test_step_runs_one_event_and_shows_the_next_pending_inputs(cells):
    log_line, pending = cells.stdout(2).split("\n", 1)
    assert log_line == "['start']"
    assert pending.index("left") < pending.index("right")  # released in this order
    assert pending.count("<code>{'start': 1}</code>") == 2  # the results each receives, by name


def test_the_editor_is_prefilled_and_speaks_in_event_names(cells):
    prefilled, message, pending = cells.stdout(3).split("\n", 2)
    assert prefilled == repr("{'start': 1}")
    assert message.endswith(">left (step #2) will receive {'start': 99}</span>")
    assert "EventInput" not in message and "__main__" not in message
    assert "<code>{'start': 99}</code>" in pending and "<code>{'start': 1}</code>" in pending


def test_edited_input_reaches_the_step_and_the_old_message_clears(cells):
    ran, message = cells.stdout(4).strip().split("\n")
    assert ran == "['start', ('left', 99)]"
    assert message == "''"  # "left will receive ..." spoke of a moment the run has left


def test_fan_out_releases_one_at_a_time(cells):
    assert cells.stdout(5).strip() == "['start', ('left', 99), 'right'] ['__main__.right']"


def test_stop_cancels_and_leaves_no_task(cells):
    lines = cells.stdout(6).splitlines()
    assert lines[0] == "stopped"
    assert lines[1] == "left over: []"
    assert lines[2] == "cancelled {}"
    assert lines[3] == "True"  # the buttons are disabled once the run is over
