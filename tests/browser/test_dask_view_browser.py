"""Steps on a Dask LocalCluster, watched in a real JupyterLab: worker badges and the dashboard link.

The screenshot goes to tests/browser/artifacts/dask_view.png (and dask_view_running.png while the
steps run); look at it after a change to the widget.
"""

import time

import pytest

from .lab_helpers import ARTIFACTS, open_notebook, run_cell

pytestmark = pytest.mark.timeout(240)

CELL = '''
import asyncio
from notebook_flow import Flow, progress
from notebook_flow.dask import DaskExecutor
from notebook_flow.jupyter import view

cluster = DaskExecutor(n_workers=2, threads_per_worker=1)

def is_prime(n):
    if n < 2 or n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True

flow = Flow("primes_on_dask")

@flow.make_event
async def split(event, ctx):
    return event

def counter(i):
    def count(event, ctx):
        (first,) = event.results.values()
        lo = first + i * 150_000
        found = 0
        for k, n in enumerate(range(lo, lo + 150_000)):
            found += is_prime(n)
            if k % 15_000 == 0:
                progress("count", f"{n:,}", k / 150_000)
        return found
    count.__qualname__ = f"count_{i}"
    return flow.listen_group([split], executor=cluster)(count)

counters = [counter(i) for i in range(4)]

release = asyncio.Event()  # the test looks at the live view, then lets the run end

@flow.listen_group(counters)
async def total(event, ctx):
    await release.wait()
    return sum(event.results.values())

live = view(flow)
flow.run(split, 1_000_000).start()
'''


def test_worker_badges_and_the_dashboard_link_in_jupyterlab(lab, page):
    started = time.monotonic()
    name = lab.write_notebook("dask_view.ipynb", CELL, "release.set()\nawait cluster.close()")
    open_notebook(page, lab, name)
    run_cell(page, 0)

    output = page.locator(".jp-OutputArea-output").first
    page.wait_for_selector(".nf-view g.node.nf-running g.nf-worker", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    output.screenshot(path=str(ARTIFACTS / "dask_view_running.png"))
    page.wait_for_selector(".nf-view g#ev_total.nf-running", timeout=60_000)  # the counts are done

    badges = page.locator(".nf-view g.nf-worker text").all_text_contents()
    assert len(badges) == 4, badges  # one per step that ran on the cluster, none on the others
    assert set(badges) == {"⚙ w0", "⚙ w1"}, badges  # both workers did some
    link = page.locator(".nf-view a.nf-dashboard")
    assert link.is_visible() and link.inner_text() == "Dask dashboard ↗"
    assert link.get_attribute("href").startswith("http://127.0.0.1:")
    assert link.get_attribute("target") == "_blank"
    page.locator(".nf-view g.node.nf-done", has_text="count_1").first.click()
    page.wait_for_selector(".nf-details .nf-field-name:has-text('worker')", timeout=10_000)
    worker = page.locator(".nf-details .nf-field", has_text="worker").first.inner_text()
    assert "dask worker" in worker and "tcp://127.0.0.1:" in worker
    output.screenshot(path=str(ARTIFACTS / "dask_view.png"))

    run_cell(page, 1)  # close the cluster: its worker processes end with the kernel's session
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
        " && document.querySelectorAll('.jp-InputArea-prompt')[1].textContent.includes('2')",
        timeout=60_000,
    )
    assert time.monotonic() - started < 200
