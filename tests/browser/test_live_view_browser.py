"""The live view in a real JupyterLab, in headless Chromium: states, log, node details, screenshot.

Screenshots go to tests/browser/artifacts/ (live_view_running.png, live_view.png); look at them
after a change to the widget. NOTEBOOK_FLOW_UPDATE_SCREENSHOTS=1 also writes the finished one to
notebooks/images/live_view.png, the picture the README shows.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from .lab_helpers import ARTIFACTS, open_notebook, run_cell

pytestmark = pytest.mark.timeout(240)

SCREENSHOT = Path(__file__).parents[2] / "notebooks" / "images" / "live_view.png"

DEMO = '''
import asyncio
from notebook_flow import Flow, goto_events, progress
from notebook_flow.jupyter import view

flow = Flow("research")
release = asyncio.Event()  # the test looks at the live view, then lets the run end

@flow.make_event
async def plan(event, ctx):
    progress("plan", "two sources to read")
    return ["docs", "web"]

@flow.listen_group([plan])
async def fetch_docs(event, ctx):
    for page in range(1, 6):
        progress("fetch", f"page {page} of 5", page / 5)
        await asyncio.sleep(0.6)
    return {"pages": 5}

@flow.listen_group([plan])
async def fetch_web(event, ctx):
    await asyncio.sleep(0.8)
    return {"hits": 12}

@flow.listen_group([fetch_docs, fetch_web])
async def combine(event, ctx):
    return {"sources": len(event.results)}

@flow.listen_group([fetch_docs, fetch_web], retrigger_type="any")
async def first_answer(event, ctx):
    return "draft"

@flow.listen_group([combine])
async def review(event, ctx):
    ctx["reviews"] += 1
    if ctx["reviews"] < 2:
        return goto_events([combine], "needs another pass")
    return "approved"

@flow.listen_group([review])
async def publish(event, ctx):
    await release.wait()
    return "published"

live = view(flow)
flow.run(plan, global_ctx={"reviews": 0}).start()  # in the background: the next cell can run
'''


def test_live_view_in_jupyterlab(lab, page):
    started = time.monotonic()
    name = lab.write_notebook("live_view.ipynb", DEMO, "release.set()")
    open_notebook(page, lab, name)
    run_cell(page, 0)

    output = page.locator(".jp-OutputArea-output").first
    page.wait_for_selector(".nf-view g#ev_fetch_docs.nf-running", timeout=30_000)
    assert page.locator(".nf-view .nf-badge").inner_text().lower() == "running"
    page.wait_for_selector(".nf-view .nf-bar-label:has-text('fetch_docs')", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    output.screenshot(path=str(ARTIFACTS / "live_view_running.png"))  # to look at, not kept
    page.wait_for_selector(".nf-view g#ev_publish.nf-running", timeout=30_000)
    assert page.locator(".nf-view").count() == 1  # view(flow) on the last line shows it once

    # every node ran; review twice (the goto loop), combine twice
    for node in ["plan", "fetch_docs", "fetch_web", "combine", "first_answer", "review"]:
        assert "nf-done" in page.locator(f".nf-view g#ev_{node}").get_attribute("class")
    assert page.locator(".nf-view g#ev_review .nf-count text").text_content() == "×2"

    # the log
    log = page.locator(".nf-view .nf-log")
    page.wait_for_selector(".nf-view .nf-log .nf-row:has-text('page 5 of 5')", timeout=10_000)
    assert log.locator(".nf-row:has-text('goto combine')").count() == 1
    page.fill(".nf-view .nf-filter", "page 3")
    assert log.locator(".nf-row:visible").count() == 1
    page.fill(".nf-view .nf-filter", "")

    # click a node: its details
    page.click(".nf-view g#ev_fetch_docs")
    details = page.locator(".nf-view .nf-details")
    details.locator("text={'pages': 5}").wait_for(timeout=10_000)
    text = details.inner_text()
    assert "fetch_docs" in text and "DONE" in text.upper() and "took" in text
    assert "input\n{'plan': ['docs', 'web']}" in text  # its last input, by event name
    # the qualified name may wrap only between its parts (after a dot, before an underscore)
    ident = details.locator(".nf-details-id")
    assert ident.inner_text() == "__main__.fetch_docs" and ident.locator("wbr").count() == 3

    output.screenshot(path=str(ARTIFACTS / "live_view.png"))
    if os.environ.get("NOTEBOOK_FLOW_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(ARTIFACTS / "live_view.png", SCREENSHOT)

    # the run ends: the output becomes the picture of the final states, the timeline folded under it
    run_cell(page, 1)
    picture = page.locator(".jp-OutputArea-output img[alt^='research · run ']").first
    picture.wait_for(timeout=30_000)
    assert "finished" in picture.get_attribute("alt") and page.locator(".nf-view").count() == 0
    page.click(".jp-OutputArea-output details summary:has-text('Timeline of the run')")
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output details img')[0].naturalWidth > 0")
    page.locator(".jp-OutputArea").first.screenshot(path=str(ARTIFACTS / "live_view_picture.png"))
    assert time.monotonic() - started < 120


FAILING = '''
import asyncio
from notebook_flow import Flow
from notebook_flow.jupyter import view

broken = Flow("broken")

@broken.make_event
async def load(event, ctx):
    await asyncio.sleep(0.3)
    return {"path": "settings.toml"}

@broken.listen_group([load])
async def parse(event, ctx):
    await asyncio.sleep(0.3)
    raise ValueError("line 3 is not key = value")

release = asyncio.Event()

@broken.listen_group([parse])
async def never(event, ctx):
    return "skipped"

@broken.listen_group([load])
async def audit(event, ctx):
    await release.wait()  # keeps the run (and the live view) going while the test looks

view(broken)
broken.run(load, on_error="continue").start()
'''


def test_a_failure_shows_red_with_its_traceback(lab, page):
    name = lab.write_notebook("failing_view.ipynb", FAILING, "release.set()")
    open_notebook(page, lab, name)
    run_cell(page, 0)
    page.wait_for_selector(".nf-view g#ev_parse.nf-failed", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('.nf-view .nf-meta').innerText.includes('1 failure')", timeout=10_000
    )

    error_row = page.locator(".nf-view .nf-log details.nf-cat-error").first
    error_row.wait_for(timeout=10_000)
    assert "ValueError: line 3 is not key = value" in error_row.inner_text()
    error_row.locator("summary").click()  # the traceback opens under the line
    assert 'raise ValueError("line 3 is not key = value")' in error_row.locator("pre.nf-tb").inner_text()

    page.uncheck(".nf-view .nf-toggle-error input")  # hide errors: only the other lines remain
    assert page.locator(".nf-view .nf-log .nf-cat-error:visible").count() == 0
    page.check(".nf-view .nf-toggle-error input")

    page.click(".nf-view g#ev_parse")
    details = page.locator(".nf-view .nf-details")
    details.locator(".nf-field-error").wait_for(timeout=10_000)
    assert "ValueError: line 3 is not key = value" in details.inner_text()
    page.locator(".jp-OutputArea-output").first.screenshot(path=str(ARTIFACTS / "live_view_failed.png"))
    run_cell(page, 1)  # the run ends failed: the picture shows the failure and what it skipped
    picture = page.locator(".jp-OutputArea-output img[alt^='broken · run ']").first
    picture.wait_for(timeout=30_000)
    assert "failed" in picture.get_attribute("alt")


TEXT_ONLY = '''
import asyncio
from notebook_flow import Flow, progress
from notebook_flow.jupyter import view

plain = Flow("plain")

@plain.make_event
async def first(event, ctx):
    progress("first", "no Graphviz needed")
    return 1

@plain.listen_group([first])
async def second(event, ctx):
    return 2

release = asyncio.Event()

@plain.listen_group([second])
async def third(event, ctx):
    await release.wait()

view(plain, renderer="text")  # what a machine without any Graphviz shows
plain.run(first).start()
'''


def test_without_graphviz_the_view_shows_a_text_outline(lab, page):
    name = lab.write_notebook("text_view.ipynb", TEXT_ONLY, "release.set()")
    open_notebook(page, lab, name)
    run_cell(page, 0)
    page.wait_for_function(
        "() => document.querySelector('.nf-view .nf-meta')?.innerText.includes('2 steps done')", timeout=30_000
    )
    outline = page.locator(".nf-view pre.nf-text-graph").inner_text()
    assert outline.splitlines()[:3] == ["flow 'plain': 3 events", "  first", "      -> second"]
    page.wait_for_selector(".nf-view .nf-log .nf-row:has-text('no Graphviz needed')", timeout=10_000)
    run_cell(page, 1)  # the run ends: without an SVG the output keeps the outline, as text
    page.wait_for_selector(".jp-OutputArea-output pre:has-text('plain · run ')", timeout=30_000)
