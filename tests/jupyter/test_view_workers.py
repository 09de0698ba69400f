"""The live view shows where remote steps ran: a worker badge per node, the dashboard link.

A small executor of our own stands in for a cluster: it runs the step here and reports a
placement, as any executor that sends steps to other machines does through ``StepCall.placed``.
The Dask executor's real placements are tested against a real LocalCluster in test_dask_executor.
"""

import asyncio

from notebook_flow import Flow, StepExecutor
from notebook_flow.jupyter import FlowView
from notebook_flow.jupyter.run_state import worker_badge

DASHBOARD = "http://127.0.0.1:8787/status"


class Placing(StepExecutor):
    """Runs each step on the loop and says it ran on worker ``n`` of a cluster, in turn."""

    name = "cluster"

    def __init__(self):
        self.turn = 0

    async def run(self, call):
        self.turn += 1
        worker = self.turn % 2
        call.placed(self.name, f"tcp://127.0.0.1:{4000 + worker}", str(worker), DASHBOARD)
        return call.func(call.event_input, call.ctx)


def test_the_view_badges_each_node_with_its_worker_and_links_the_dashboard():
    flow = Flow("remote")
    cluster = Placing()

    @flow.make_event
    async def start(event, ctx):
        return 1

    @flow.listen_group([start], executor=cluster)
    def left(event, ctx):
        return "l"

    @flow.listen_group([start], executor=cluster)
    def right(event, ctx):
        return "r"

    live = FlowView(flow)
    asyncio.run(flow.invoke_event(start))
    ids = {info["id"]: svg_id for svg_id, info in live.nodes.items()}
    assert sorted(live.workers.values()) == ["w0", "w1"]
    assert set(live.workers) == {ids[left.id], ids[right.id]}  # the local step has no badge
    assert live.status["dashboard"] == DASHBOARD and live.status["dashboard_of"] == "cluster"
    details = live._state.detail_dict(left.id)
    assert details["worker"].startswith("cluster worker ") and "tcp://127.0.0.1:400" in details["worker"]
    lines = [line for line in live._state.all_log_lines() if "runs on cluster worker" in line[3]]
    assert len(lines) == 2
    live.close()


def test_worker_badges_are_short():
    assert worker_badge("0", "tcp://127.0.0.1:40123") == "w0"
    assert worker_badge("gpu-a", "tcp://10.0.0.5:40123") == "gpu-a"
    assert worker_badge("", "tcp://127.0.0.1:40123") == ":40123"
    assert worker_badge("a-very-long-worker-name-42", "tcp://node7:40123") == "node7"
