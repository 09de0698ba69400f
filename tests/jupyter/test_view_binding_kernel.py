"""Every view stays on what it was made for, in a real kernel.

Notebook 07 runs cell by cell (as Run All does) while the test reads the debugger panel's comm:
its view must show its own session's run to the end ("200 EUR"), not the later runs of the same
flow. Then plain views: the newest view of a flow follows its next runs, an older one keeps its
run, a view of a handle shows that run, and run numbers count per flow.
"""

import json
import textwrap
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.timeout(240)

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "07_debugging.ipynb"


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60, cwd=str(NOTEBOOK.parent))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code, timeout=120):
    msg_id = kc.execute(textwrap.dedent(code))
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        messages.append(msg)
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            break
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    return messages


def stdout(messages):
    return "".join(m["content"]["text"] for m in messages
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def view_comms(messages):
    return [m["content"]["comm_id"] for m in messages
            if m["msg_type"] == "comm_open" and "states" in m["content"]["data"]["state"]
            and "svg" in m["content"]["data"]["state"]]


def last_status(messages, comm_id):
    statuses = [m["content"]["data"]["state"]["status"] for m in messages
                if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
                and "status" in m["content"]["data"].get("state", {})]
    return statuses[-1] if statuses else None


def ask_details(kc, comm_id, node):
    kc.shell_channel.send(kc.session.msg("comm_msg", {
        "comm_id": comm_id,
        "data": {"method": "custom", "content": {"type": "details", "node": node}},
    }))
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            answer = msg["content"]["data"].get("content", {})
            if answer.get("type") == "details":
                return answer["data"]


def test_the_debugger_panel_keeps_its_own_run_through_run_all_of_notebook_07(kernel):
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    debug_cell = next(i for i, c in enumerate(cells) if c.startswith("%flow debug orders"))
    everything = []
    panel = None
    for i, code in enumerate(cells):
        ran = execute(kernel, code)
        everything += ran
        if i == debug_cell:
            (panel,) = view_comms(ran)
    status = last_status(everything, panel)
    assert status["state"] == "finished" and status["flow"] == "orders"
    assert status["run_number"] == 1 and status["run"] == "run 1"  # orders' first run
    assert status["steps_done"] == 4 and status["failures"] == 0
    confirm = ask_details(kernel, panel, "ev_confirm")
    assert confirm["output"] == "'confirmed: 200 EUR, 7 left in stock'"  # its own, after the edit
    price = ask_details(kernel, panel, "ev_price")
    assert price["input"] == "{'receive': {'item': 'lamp', 'qty': 5}}" and price["output"] == "200"


def test_a_flow_view_follows_while_newest_a_handle_view_keeps_its_run(kernel):
    execute(kernel, """
        from notebook_flow import Flow
        from notebook_flow.jupyter import view

        numbered = Flow("numbered")

        @numbered.make_event
        async def only(event, ctx):
            return event

        older = view(numbered)
    """)
    ran = execute(kernel, "r1 = await numbered.invoke_event(only, 1)\nprint(older.status['run'])")
    assert stdout(ran) == "run 1\n"  # the flow's first run, though the kernel ran others before
    out = execute(kernel, """
        newer = view(numbered)
        handle = numbered.run(only, 2)
        pinned = view(handle)
        await handle
        await numbered.invoke_event(only, 3)
        print(older.status["run"], older.summary())
        print(newer.status["run"], newer.summary())
        print(pinned.status["run"], pinned.summary())
        print(repr(older), repr(pinned))
    """)
    older_line, newer_line, pinned_line, reprs = stdout(out).strip().splitlines()
    assert older_line.startswith("run 1 numbered · run 1 finished")  # superseded: keeps its run
    assert newer_line.startswith("run 3 numbered · run 3 finished")  # the newest follows
    assert pinned_line.startswith("run 2 numbered · run 2 finished")  # a handle's view: that run
    assert "run 1 finished" in reprs and "run 2 finished" in reprs
