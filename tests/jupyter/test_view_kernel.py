"""The live view in a real kernel: the comm messages it sends while a real run goes on.

A kernel is started with jupyter_client; cells run as in a notebook; the test reads the iopub
messages a browser would receive (and sends the request a click on a node would send).
"""

import textwrap

import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code, timeout=120):
    """Run a cell; return every iopub message up to the kernel going idle again."""
    msg_id = kc.execute(textwrap.dedent(code))
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        messages.append(msg)
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            break
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    return messages


def comm_of(messages, target="jupyter.widget"):
    """The id of the FlowView comm opened by these messages."""
    for m in messages:
        if m["msg_type"] == "comm_open" and m["content"]["target_name"] == target:
            state = m["content"]["data"]["state"]
            if "states" in state and "svg" in state:
                return m["content"]["comm_id"]
    raise AssertionError("no FlowView comm was opened")


def view_messages(messages, comm_id):
    return [m["content"]["data"] for m in messages if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id]


def node_sequences(updates):
    """For each node, the states it was sent in, in order, repeats and "pending" left out."""
    seqs = {}
    for data in updates:
        states = data.get("state", {}).get("states") if data.get("method") == "update" else None
        if not states:
            continue
        for node, state in states.items():
            seq = seqs.setdefault(node, [])
            if state != "pending" and (not seq or seq[-1] != state):
                seq.append(state)
    return seqs


def test_a_real_run_sends_running_then_done_and_failed(kernel):
    opened = execute(
        kernel,
        """
        import asyncio
        from notebook_flow import Flow
        from notebook_flow.jupyter import view

        flow = Flow("kernel")

        @flow.make_event
        async def start(event, ctx):
            await asyncio.sleep(0.3)
            return 1

        @flow.listen_group([start])
        async def ok(event, ctx):
            await asyncio.sleep(0.3)
            return "fine"

        @flow.listen_group([ok])
        async def bad(event, ctx):
            await asyncio.sleep(0.3)
            raise ValueError("no such file")

        live = view(flow)
        """,
    )
    comm_id = comm_of(opened)
    displayed = [m for m in opened if m["msg_type"] == "display_data"]
    assert displayed and "application/vnd.jupyter.widget-view+json" in displayed[0]["content"]["data"]
    display_id = displayed[0]["content"]["transient"]["display_id"]

    ran = execute(
        kernel,
        """
        try:
            await flow.invoke_event(start)
        except ValueError as error:
            print("failed as planned:", error)
        """,
    )
    updates = view_messages(ran, comm_id)
    assert node_sequences(updates) == {
        "ev_start": ["running", "done"],
        "ev_ok": ["running", "done"],
        "ev_bad": ["running", "failed"],
    }
    statuses = [d["state"]["status"] for d in updates if "status" in d.get("state", {})]
    assert statuses[-1]["state"] == "failed" and statuses[-1]["failures"] == 1
    logs = [d["content"] for d in updates if d.get("method") == "custom"]
    lines = [line for msg in logs for line in msg["lines"]]
    assert ["bad", "error", "ValueError: no such file"] in [line[1:4] for line in lines]
    # The cell's output is now a static picture of the final states (no widget: a saved notebook
    # shows it without a kernel).
    final = [m for m in ran if m["msg_type"] == "update_display_data"]
    assert final and final[-1]["content"]["transient"]["display_id"] == display_id
    data = final[-1]["content"]["data"]
    assert "image/svg+xml" in data and 'class="node nf-failed"' in data["image/svg+xml"]
    assert "application/vnd.jupyter.widget-view+json" not in data

    # A click on a node asks the kernel for its details; the answer comes back on the comm.
    click = kernel.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"type": "details", "node": "ev_ok"}}},
    )
    kernel.shell_channel.send(click)
    while True:
        msg = kernel.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("method") == "custom":
            answer = msg["content"]["data"]["content"]
            if answer.get("type") == "details":
                break
    assert answer["node"] == "ev_ok"
    assert answer["data"]["output"] == "'fine'" and answer["data"]["state"] == "done"
    assert answer["data"]["runs"] == 1 and answer["data"]["duration"] >= 0.3


def test_100000_progress_events_send_a_few_hundred_messages(kernel):
    opened = execute(
        kernel,
        """
        import asyncio
        from notebook_flow import Flow, progress
        from notebook_flow.jupyter import view

        busy = Flow("busy")

        @busy.make_event
        async def crunch(event, ctx):
            for i in range(100_000):
                progress("crunch", f"item {i}", (i + 1) / 100_000)
                if i % 100 == 0:
                    await asyncio.sleep(0)
            return "done"

        busy_view = view(busy)
        """,
    )
    comm_id = comm_of(opened)
    ran = execute(kernel, "await busy.invoke_event(crunch)")
    sent = view_messages(ran, comm_id)
    print(f"{len(sent)} messages for 100,000 progress events")
    assert 3 <= len(sent) <= 300, len(sent)
    logs = [d["content"] for d in sent if d.get("method") == "custom"]
    assert logs[-1]["total"] == 100_003  # every record counted
    assert all(len(msg["lines"]) <= 100 for msg in logs[:-1])  # samples while the flood lasts,
    last = logs[-1]  # then the whole window once it ended
    assert last["reset"] and len(last["lines"]) == 500
    assert last["lines"][-3][3] == "crunch: item 99999 (100%)"
    assert last["lines"][-2][3].startswith("done in") and last["lines"][-1][3].startswith("finished after")
    final_status = [d["state"]["status"] for d in sent if "status" in d.get("state", {})][-1]
    assert final_status["state"] == "finished" and final_status["steps_done"] == 1
