"""The notebook's interrupt button during `%flow run`, in a real JupyterLab: the run is
cancelled (the live view, once the run ended, becomes the picture of its final states: its title
says cancelled by the kernel interrupt, its waiting steps are drawn cancelled), the cell shows one
line saying what was stopped, and the kernel is idle again. Screenshot in
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
    # the run ended: the live widget gave way to the picture of its final states
    cell = page.locator(".jp-Cell").nth(1)
    picture = cell.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']").first
    picture.wait_for(timeout=20_000)
    assert cell.locator(".nf-view").count() == 0
    alt = picture.get_attribute("alt")
    assert alt.startswith("orders · run ") and " cancelled (kernel interrupt) · " in alt, alt
    svg = page.evaluate("""() => atob(document.querySelectorAll('.jp-Cell')[1]
        .querySelector('.jp-OutputArea-output img[src^="data:image/svg+xml"]').src.split(',')[1])""")
    assert "cancelled (kernel interrupt)" in svg  # the picture's title line
    assert 'id="ev_price" class="node nf-cancelled"' in svg
    assert 'id="ev_stock" class="node nf-cancelled"' in svg
    assert 'id="ev_receive" class="node nf-done"' in svg
    assert 'id="ev_confirm" class="node nf-done"' not in svg  # the join never ran
    assert 'class="node nf-running"' not in svg
    page.wait_for_function(f"() => ({KERNEL_STATUS})() === 'idle'", timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Cell").nth(1).screenshot(path=str(ARTIFACTS / "interrupt.png"))
