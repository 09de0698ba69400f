"""In a real JupyterLab: the debugger panel keeps its own run through Run All of notebook 07, and a
failing ``%flow run`` shows the user's frame, not the framework's. Screenshots go to
tests/browser/artifacts (view_binding_debugger.png, view_binding_traceback.png).
"""

import json
from pathlib import Path

import pytest

from .lab_helpers import ARTIFACTS, open_notebook

pytestmark = pytest.mark.timeout(300)

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "07_debugging.ipynb"

RUN_ALL_AND_WAIT = """async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await app.commands.execute('notebook:run-all-cells');
  const code = panel.content.widgets.filter((c) => c.model.type === 'code');
  while (!code.every((c) => c.model.executionCount !== null)
         || panel.sessionContext.session.kernel.status !== 'idle') await sleep(200);
}"""


def test_the_debugger_panel_keeps_its_run_through_run_all(lab, page):
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    name = lab.write_notebook("binding.ipynb", *cells)
    open_notebook(page, lab, name)
    page.evaluate(RUN_ALL_AND_WAIT)
    panel = page.locator(".nf-debugger").first  # the one `%flow debug orders ...` showed
    # Later cells ran orders again (one run failed): the panel still shows its own, finished run.
    panel.locator(".nf-badge.nf-run-finished").wait_for(timeout=20_000)
    assert panel.locator(".nf-badge.nf-run-failed").count() == 0
    panel.locator("g#ev_confirm").click()
    details = panel.locator(".nf-details")
    details.get_by_text("200 EUR", exact=False).wait_for(timeout=20_000)
    assert "confirmed: 200 EUR, 7 left in stock" in details.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "view_binding_debugger.png"))


FAILING = '''%load_ext notebook_flow
from notebook_flow import Flow
shop = Flow("shop")

@shop.make_event
async def start(event, ctx):
    return 1

@shop.listen_group([start])
async def bad(event, ctx):
    order = {"item": "lamp"}
    return order["qty"]
'''


def test_a_failing_flow_run_shows_the_users_frame(lab, page):
    name = lab.write_notebook("traceback.ipynb", FAILING, "%flow run shop")
    open_notebook(page, lab, name)
    page.evaluate(RUN_ALL_AND_WAIT)
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").last
    error.wait_for(timeout=20_000)
    text = error.inner_text()
    assert "Cell In[1], line 12" in text and 'return order["qty"]' in text
    assert "KeyError: 'qty'" in text
    for framework in ("nest_asyncio", "asyncio/", "scheduler.py", "notebook_flow/"):
        assert framework not in text, text
    assert len(text.strip().splitlines()) <= 20, text
    ARTIFACTS.mkdir(exist_ok=True)
    error.screenshot(path=str(ARTIFACTS / "view_binding_traceback.png"))
