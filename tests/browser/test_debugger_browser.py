"""The debugger in a real JupyterLab: Step twice (the held node moves, the kernel stays idle),
Continue to a breakpoint, Continue to the end. The screenshot goes to tests/browser/artifacts;
NOTEBOOK_FLOW_UPDATE_SCREENSHOTS=1 also copies it to notebooks/images/debugger.png (the README's).
"""

import os
import shutil
from pathlib import Path

import pytest

from .lab_helpers import ARTIFACTS, open_notebook, run_cell

pytestmark = pytest.mark.timeout(240)

SCREENSHOT = Path(__file__).parents[2] / "notebooks" / "images" / "debugger.png"

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
    return event.results[receive.id]["qty"] * 40

@orders.listen_group([receive])
async def stock(event, ctx):
    await asyncio.sleep(0.2)
    return 7

@orders.listen_group([price, stock])
async def confirm(event, ctx):
    return f"{event.results[price.id]} EUR, {event.results[stock.id]} left"
'''

KERNEL_STATUS = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"


def held(page, node):
    page.wait_for_selector(f".nf-debugger g#ev_{node}.nf-paused", timeout=20_000)


def test_step_continue_in_jupyterlab(lab, page):
    name = lab.write_notebook("debugger.ipynb", SETUP, "%flow debug orders receive --break confirm")
    open_notebook(page, lab, name)
    run_cell(page, 0)
    run_cell(page, 1)
    debugger = page.locator(".nf-debugger")
    debugger.wait_for(timeout=30_000)
    held(page, "receive")
    assert "paused before receive" in debugger.inner_text()
    page.wait_for_selector(".nf-debugger .nf-badge.nf-run-paused")

    page.click(".nf-debugger button:has-text('Step')")
    held(page, "price")
    page.wait_for_selector(".nf-debugger g#ev_receive.nf-done")
    assert page.evaluate(KERNEL_STATUS) == "idle"  # paused in the background, not in a cell
    assert "{'receive': {'item': 'lamp', 'qty': 2}}" in debugger.inner_text()  # by event name

    page.click(".nf-debugger button:has-text('Step')")
    held(page, "stock")
    page.wait_for_selector(".nf-debugger g#ev_price.nf-done")
    assert page.evaluate(KERNEL_STATUS) == "idle"

    page.click(".nf-debugger button:has-text('Continue')")
    held(page, "confirm")  # the breakpoint
    assert "paused before confirm (breakpoint on confirm)" in debugger.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    debugger.screenshot(path=str(ARTIFACTS / "debugger.png"))
    if os.environ.get("NOTEBOOK_FLOW_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(ARTIFACTS / "debugger.png", SCREENSHOT)

    page.click(".nf-debugger button:has-text('Continue')")
    page.wait_for_selector(".nf-debugger g#ev_confirm.nf-done", timeout=20_000)
    page.wait_for_selector(".nf-debugger b:has-text('finished')", timeout=20_000)
    page.wait_for_selector(".nf-debugger .nf-badge.nf-run-finished", timeout=20_000)
    assert page.locator(".nf-debugger button:has-text('Step')").is_disabled()
