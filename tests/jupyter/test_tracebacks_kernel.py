"""A failing step's traceback shows the user's code, in a real kernel.

In the cell's output (``%flow run``, ``%%flow``, a background run), in the view's log and in
the node's details: the frames of notebook_flow, asyncio, nest_asyncio2 and IPython are left out,
and the step's code is named as IPython names a cell (``Cell In[1], line 13``).
"""

import re

import pytest
from kernel_cells import run_cells

pytestmark = pytest.mark.timeout(180)

SETUP = '''%load_ext notebook_flow
import asyncio
from notebook_flow import Flow
from notebook_flow.jupyter import view
f = Flow("tb")

@f.make_event
async def start(event, ctx):
    return 1

@f.listen_group([start])
async def bad(event, ctx):
    order = {"item": "lamp"}
    return order["qty"]
'''

FRAMEWORK = ("notebook_flow/", "asyncio/", "nest_asyncio", "IPython/", "ipykernel", "scheduler")


@pytest.fixture(scope="module")
def cells():
    return run_cells(
        SETUP,  # 0
        "%flow run f",  # 1
        "%%flow\nawait f.invoke_event(start)\n",  # 2
        "handle = %flow run f --background\nawait asyncio.sleep(0.5)",  # 3 (prints while it runs)
        "print(handle.status)",  # 4
        "v = view(f)\ntry:\n    await f.invoke_event(start)\nexcept KeyError:\n    pass\n"
        "v._coalescer.flush_now()\n"
        "print(v._state.detail_dict(bad.id)['traceback'])\nprint('-----')\n"
        "print([line for line in v._state.all_log_lines() if line[2] == 'error'][0][4])",  # 5
        "%flow debug f start",  # 6
        "%flow step",  # 7
    )


def shown_traceback(cells, i):
    (error,) = [o for o in cells.outputs(i) if o.output_type == "error"]
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))


@pytest.mark.parametrize("cell", [1, 2], ids=["%flow run", "%%flow"])
def test_the_cell_shows_the_users_frame_and_few_lines(cells, cell):
    text = shown_traceback(cells, cell)
    assert "Cell In[1], line 14, in bad" in text
    assert '---> 14     return order["qty"]' in text
    assert text.rstrip().endswith("KeyError: 'qty'")
    assert not [word for word in FRAMEWORK if word in text], text
    assert len(text.splitlines()) <= 20, text  # it was 108 lines, 17 of them the framework's


def test_a_background_run_prints_the_users_frame(cells):
    text = cells.stderr(3)
    assert cells.stdout(4) == "failed\n"
    assert "background run failed: KeyError: 'qty'" in text
    assert "Cell In[1], line 14, in bad" in text and 'return order["qty"]' in text
    assert not [word for word in FRAMEWORK if word in text], text


def test_the_log_and_the_details_show_the_users_frame(cells):
    details, log = cells.stdout(5).split("-----\n")
    for text in (details, log):
        lines = text.strip().splitlines()
        assert lines[-3:] == ["  Cell In[1], line 14, in bad", '    return order["qty"]', "KeyError: 'qty'"]
        assert "frames of the framework not shown" in lines[1] or "frame of the framework" in lines[1]
        assert not [word for word in FRAMEWORK if word in text], text


def test_flow_step_shows_a_readable_line_not_a_repr(cells):
    (shown,) = cells.data(7, "text/plain")
    assert re.fullmatch(r"start done in [\d.]+ (µs|ms|s) -> 1", shown), shown
