"""No debug session is left paused for ever: a new one of the same flow stops the old one, and
``%flow stop FLOW`` / ``--all`` reach every live session. Real kernels, both styles."""

import json

import pytest
from kernel_cells import Cells, run_cells

SETUP = '''
%load_ext notebook_flow
import asyncio, json
from notebook_flow import Flow, WorkflowManager, WorkflowEvent
from notebook_flow.jupyter import current_session, debug

flow = Flow("demo")

@flow.make_event
async def start(event, ctx):
    return 1

@flow.listen_group([start])
async def join(event, ctx):
    return 2

chat = WorkflowManager(name="chat")

async def ask(event, ctx):
    yield WorkflowEvent("answer", data={"text": "hi"})

chat.register("ask", ask)

def state(session):
    """What is left of a session's run: is it over, is its trace closed, is any task alive."""
    alive = [t for t in asyncio.all_tasks() if t is session.task]
    trace = session.feed.trace
    end = [r for r in trace.records if r.kind.startswith("run_")][-1]
    return dict(status=session.status, trace=trace.status, open=len(trace.open_steps),
                reason=getattr(end, "reason", None), alive=len(alive))

def flow_tasks():
    return [repr(t) for t in asyncio.all_tasks()
            if "notebook_flow" in repr(t) and t is not asyncio.current_task()]
'''

REPLACED = "a new debug session of this flow replaced it"


@pytest.fixture(scope="module")
def cells() -> Cells:
    return run_cells(
        SETUP,  # 0
        "%flow debug flow --break join",  # 1
        "first = current_session()\n%flow debug flow",  # 2: the first is stopped
        "print(json.dumps(state(first)))",  # 3
        "second = current_session()\nprint(second.status)",  # 4: the new one is paused
        "%flow debug chat --input {'who': 'Ada'}",  # 5
        "chat1 = current_session()\n%flow debug chat --input {'who': 'Bo'}",  # 6
        "print(json.dumps(state(chat1)))",  # 7
        "code1 = debug(flow, start)",  # 8: from code, the same rule
        "code2 = debug(flow, start)",  # 9
        "print(json.dumps(state(code1)))\nprint(code2.status)",  # 10
        "%%flow --debug\nh = flow.run(start)\nawait h",  # 11
        "cell1 = current_session()",  # 12
        "%%flow --debug\nh = flow.run(start)\nawait h",  # 13: the same cell run again
        "print(json.dumps(state(cell1)))",  # 14
        "live = [s for s in [second, code2, current_session()] if not s.done]\nprint(len(live))",  # 15
        "%flow stop flow",  # 16
        "print([s.status for s in live], current_session().status, state(live[0])['reason'])",  # 17
        "%flow stop --all",  # 18: the chat session
        "print(json.dumps(flow_tasks()))",  # 19
        "%flow stop --all",  # 20: nothing left
        "%flow stop flow --all",  # 21
    )


def _state(cells: Cells, i: int) -> dict[str, object]:
    state: dict[str, object] = json.loads(cells.stdout(i).splitlines()[0])
    return state


def test_running_flow_debug_again_stops_the_paused_session(cells: Cells) -> None:
    assert cells.error(2) == ""
    assert "stopped the earlier debug session of flow (run " in cells.stdout(2)
    assert "of 'demo')" in cells.stdout(2)
    assert _state(cells, 3) == dict(status="stopped", trace="cancelled", open=0,
                                    reason=REPLACED, alive=0)
    assert cells.stdout(4).startswith("paused before")


def test_a_workflow_manager_session_is_stopped_the_same_way(cells: Cells) -> None:
    assert cells.error(6) == "" and "of 'chat')" in cells.stdout(6)
    assert _state(cells, 7) == dict(status="stopped", trace="cancelled", open=0,
                                    reason=REPLACED, alive=0)


def test_a_new_session_from_code_stops_the_old_one(cells: Cells) -> None:
    assert cells.error(9) == ""
    assert _state(cells, 10) == dict(status="stopped", trace="cancelled", open=0,
                                     reason=REPLACED, alive=0)
    assert cells.stdout(10).splitlines()[1].startswith("paused before")


def test_a_flow_debug_cell_run_again_stops_the_sessions_of_its_first_run(cells: Cells) -> None:
    assert cells.error(13) == ""
    assert _state(cells, 14) == dict(status="stopped", trace="cancelled", open=0,
                                     reason=REPLACED, alive=0)


def test_flow_stop_reaches_every_live_session_it_names(cells: Cells) -> None:
    # `second` was stopped by code1's start (same flow), code1 by code2, code2 by the %%flow run.
    assert cells.stdout(15).strip() == "1"
    assert cells.stdout(16).startswith("%flow stop: 1 run stopped (run ")
    assert cells.stdout(17).strip() == "['stopped'] stopped %flow stop"  # the run's reason
    assert cells.stdout(18).startswith("%flow stop: 1 run stopped (run ") and "'chat'" in cells.stdout(18)
    assert json.loads(cells.stdout(19)) == []  # no task of any debug run is left
    assert cells.stdout(20).strip() == "%flow stop: no live debug session to stop (every live debug session)"
    assert "name a FLOW or give --all, not both" in cells.error(21) + cells.stderr(21)
