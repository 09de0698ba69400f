"""The notebook's interrupt button during `%flow run`, in a real JupyterLab: the run is
cancelled (its live view says CANCELLED, its waiting steps are drawn cancelled), the cell shows
one line saying what was stopped, and the kernel is idle again. Screenshot in
tests/browser/artifacts/interrupt.png."""

import pytest

from .lab_helpers import ARTIFACTS, open_notebook, run_cell

pytestmark = pytest.mark.timeout(240)

SETUP = '''
%load_ext notebook_flow
import asyncio
from notebook_flow import Flow

orders = Flow("orders")

@orders.make_event
async def receive(event, ctx):
    return {"item": "lamp", "qty": 2}

@orders.listen_group([receive])
async def price(event, ctx):
    await asyncio.sleep(600)  # a slow pricing API

@orders.listen_group([receive])
async def stock(event, ctx):
    await asyncio.sleep(600)

@orders.listen_group([price, stock])
async def confirm(event, ctx):
    return "confirmed"
'''

KERNEL_STATUS = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"


def test_interrupting_flow_run_in_jupyterlab(lab, page):
    name = lab.write_notebook("interrupt.ipynb", SETUP, "%flow run orders")
    open_notebook(page, lab, name)
    run_cell(page, 0)
    run_cell(page, 1)
    page.wait_for_selector(".nf-badge.nf-run-running", timeout=30_000)
    page.wait_for_selector("g#ev_price.nf-running", timeout=20_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')")
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    error.first.wait_for(timeout=30_000)
    text = error.first.inner_text().strip()
    assert text.startswith("notebook_flow: run ") and text.endswith(
        "of 'orders' cancelled by a kernel interrupt (2 steps stopped)"
    ), text
    assert "\n" not in text and "Traceback" not in page.locator(".jp-Cell").nth(1).inner_text()
    page.wait_for_selector(".nf-badge.nf-run-cancelled", timeout=20_000)
    page.wait_for_selector("g#ev_price.nf-cancelled", timeout=20_000)
    page.wait_for_selector("g#ev_stock.nf-cancelled", timeout=20_000)
    page.wait_for_function(f"() => ({KERNEL_STATUS})() === 'idle'", timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Cell").nth(1).screenshot(path=str(ARTIFACTS / "interrupt.png"))
