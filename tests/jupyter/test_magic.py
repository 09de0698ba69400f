"""Every %flow form in a real kernel: the outputs a user sees."""

import pytest
from kernel_cells import Cells, run_cells

SETUP = '''
%load_ext notebook_flow
import asyncio
from notebook_flow import Flow, WorkflowManager, WorkflowEvent

flow = Flow("demo")

@flow.make_event
async def start(event, ctx):
    return event or 1

@flow.listen_group([start])
async def left(event, ctx):
    await asyncio.sleep(0.05)
    from notebook_flow import progress
    progress("left", "halfway", 0.5)
    return 2

@flow.listen_group([start])
async def right(event, ctx):
    return 3

@flow.listen_group([left, right])
async def join(event, ctx):
    if ctx == "fail":
        raise ValueError("join refused")
    return sum(event.results.values())

chat = WorkflowManager(name="chat")

async def ask(event, ctx):
    yield WorkflowEvent.progress("ask", "thinking")
    yield WorkflowEvent("answer", data={"text": "hi " + event.data["who"]})

chat.register("ask", ask)
'''


@pytest.fixture(scope="module")
def cells() -> Cells:
    return run_cells(
        SETUP,  # 0
        "%flow show flow",  # 1
        "r = %flow run flow\nprint(r[join.id])",  # 2
        "%flow run flow start --input 10 --ctx None --max-steps 50",  # 3
        "events = %flow run chat --input {'who': 'Ada'}\nprint([e.name for e in events])",  # 4
        "%flow log",  # 5
        "%flow trace",  # 6
        "%flow run flow --ctx 'fail'",  # 7
        "%flow log --errors",  # 8
        "%flow debug flow --break join",  # 9
        "rec = %flow step\nprint(rec.kind, rec.event_id.rsplit('.', 1)[-1])",  # 10
        "status = %flow continue\nprint(status)",  # 11
        "%flow stop",  # 12
        "%%flow\nres = asyncio.run(flow.invoke_event(start))\nres[join.id]",  # 13
        "h = %flow run flow --background\nres = await h\nprint(res[join.id])",  # 14
        "%flow bogus flow",  # 15
        "%flow run nope",  # 16
        "%flow run flow --input 1/0",  # 17
        "%flow run flow nothere",  # 18
        "%flow run chat --input 3",  # 19
        "%flow step",  # 20 (the session was stopped: step returns None)
        "%flow --help\nprint('DOC', get_ipython().find_line_magic('flow').__doc__)",  # 21
        "%flow trace --json",  # 22
    )


def test_show_displays_the_dag(cells: Cells) -> None:
    assert cells.error(1) == ""
    assert cells.data(1, "image/svg+xml") or cells.data(1, "text/plain")


def test_run_shows_a_live_view_and_returns_results(cells: Cells) -> None:
    assert cells.stdout(2).strip() == "5"
    # the live view, replaced by the picture of the final states once the run ended
    assert any('class="node nf-done"' in svg for svg in cells.data(2, "image/svg+xml"))
    assert "10" in cells.result(3) and "'__main__.join': 5" in cells.result(3)


def test_run_a_workflow_manager(cells: Cells) -> None:
    assert cells.stdout(4).strip() == "['ask', 'progress', 'answer']"


def test_log_and_trace_of_the_last_run(cells: Cells) -> None:
    assert "ask - thinking" in cells.stdout(5)
    assert "finished" in cells.stdout(6) and cells.data(6, "image/svg+xml")


def test_a_failing_run_raises_and_its_log_shows_the_error(cells: Cells) -> None:
    assert cells.error(7) == "ValueError: join refused"
    assert "ERROR ValueError: join refused" in cells.stdout(8)
    assert "halfway" not in cells.stdout(8)


def test_debug_step_continue_stop(cells: Cells) -> None:
    assert cells.data(9, "application/vnd.jupyter.widget-view+json")
    assert cells.stdout(10).strip() == "step_finished start"
    assert cells.stdout(11).strip().startswith("paused before") and "join" in cells.stdout(11)
    assert cells.result(12) == "'stopped'"
    assert cells.outputs(20) == []  # stepping a stopped session runs nothing


def test_cell_magic_runs_asyncio_run_and_shows_views(cells: Cells) -> None:
    assert cells.error(13) == ""
    assert cells.result(13) == "5"
    # a view per run, each replaced by the picture of its final states when the run ended
    assert any('class="node nf-done"' in svg for svg in cells.data(13, "image/svg+xml"))


def test_background_run_returns_a_handle(cells: Cells) -> None:
    assert cells.stdout(14).strip() == "5"


@pytest.mark.parametrize(
    "index, words",
    [
        (15, "invalid choice: 'bogus'"),
        (16, "FLOW 'nope' is not defined"),
        (17, "could not evaluate --input"),
        (18, "'nothere' is not an event of 'demo'"),
        (19, "must be a dict"),
    ],
)
def test_bad_arguments_give_one_line_usage_errors(cells: Cells, index: int, words: str) -> None:
    text = cells.stderr(index) + cells.error(index)
    assert "UsageError" in text and words in text
    assert "Traceback" not in text


def test_help_is_printed_and_is_the_docstring_that_flow_question_mark_shows(cells: Cells) -> None:
    text = cells.stdout(21)
    printed, doc = text.split("DOC ", 1)
    assert "%flow debug FLOW" in printed and "%flow debug FLOW" in doc


def test_trace_json(cells: Cells) -> None:
    import json

    data = json.loads(cells.stdout(22))
    assert data["status"] == "finished" and data["records"]


@pytest.fixture(scope="module")
def misuse() -> Cells:
    """A fresh kernel: no run and no debug session yet."""
    return run_cells(
        "%load_ext notebook_flow\n" + SETUP.replace("%load_ext notebook_flow\n", ""),  # 0
        "%flow step",  # 1
        "%flow log",  # 2
        "number = 3\n%flow run number",  # 3
        "two = Flow('two')\n@two.make_event\nasync def a(e, c): pass\n@two.make_event\nasync def b(e, c): pass",  # 4
        "%flow run two",  # 5
        "%flow run chat nothere",  # 6
        "%flow run chat --ctx {}",  # 7
        "%%flow --break join\npass",  # 8
        "%%flow\ndef broken(:\n    pass",  # 9
        "%flow run flow --input 'unclosed",  # 10
        "%flow run flow --max-steps 0",  # 11
        "%flow run flow --timeout -1",  # 12
        "%flow run flow --on-error sometimes",  # 13
        "%flow debug flow --break nothere",  # 14
        "%flow trace",  # 15
        "%flow run flow --timeout 5 --on-error continue",  # 16 (valid)
    )


@pytest.mark.parametrize(
    "index, words",
    [
        (1, "no debug session; start one with %flow debug FLOW"),
        (2, "run a flow first"),
        (3, "'number' is a int, not a Flow or WorkflowManager"),
        (5, "has 2 root events; name the event to start from (one of: a, b)"),
        (6, "has no handler for 'nothere'; events: ask"),
        (7, "--ctx is for a Flow"),
        (8, "--break needs --debug"),
        (9, "the cell has a syntax error"),
        (10, "quote is not closed"),
        (11, "max_steps must be a positive int"),
        (12, "timeout"),
        (13, "invalid choice: 'sometimes'"),
        (14, "'nothere' is not an event of 'demo'; known events: join, left, right, start"),
        (15, "run a flow first"),
    ],
)
def test_magic_misuse_is_one_line_usage_error(misuse: Cells, index: int, words: str) -> None:
    text = misuse.stderr(index) + misuse.error(index)
    assert "UsageError" in text and words in text, text
    assert "Traceback" not in text


def test_run_options_reach_the_run(misuse: Cells) -> None:
    assert misuse.error(16) == "" and "'__main__.join': 5" in misuse.result(16)
