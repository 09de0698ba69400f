"""The canvas in real JupyterLab 4 and Notebook 7 (headless Chromium): a big flow fits its box,
zoom / fit / layout toggle work, true states (skipped, cancelled, recovered), the Stop button,
the dark theme, and a saved notebook reopened without a kernel.

Screenshots go to tests/browser/artifacts/canvas_*.png; look at them after a change to the
widget. NOTEBOOK_FLOW_UPDATE_SCREENSHOTS=1 also refreshes notebooks/images/live_view_dark.png.
"""

import os
import shutil
from pathlib import Path

import pytest

from .canvas_helpers import HOSTS, contrast, open_in, save_and_shut_down, set_theme
from .lab_helpers import ARTIFACTS, run_cell

pytestmark = pytest.mark.timeout(300)

IMAGES = Path(__file__).parents[2] / "notebooks" / "images"

# 16 events, two parallel lanes and a join: about 1,500 px wide when drawn at 100 %.
# The run waits for `release` so the test can look at the live widget.
SIXTEEN = '''
import asyncio
from notebook_flow import Flow, progress
from notebook_flow.jupyter import view

big = Flow("orders")
release = asyncio.Event()

@big.make_event
async def receive_order(event, ctx):
    return {"order": 17}

def stage(name, after):
    async def step(event, ctx):
        progress(name, "working", 0.5)
        await asyncio.sleep(0.05)
        return name
    step.__name__ = step.__qualname__ = name
    return big.listen_group([after])(step)

a = stage("validate_address", receive_order)
b = stage("check_stock", a)
c = stage("reserve_items", b)
d = stage("compute_taxes", c)

@big.listen_group([d])
async def wait_for_payment(event, ctx):
    await release.wait()
    return "paid"

e = stage("capture_payment", wait_for_payment)
f = stage("pick_items", e)
g = stage("pack_parcel", f)
h = stage("print_label", g)
i = stage("book_courier", h)
j = stage("send_invoice", e)
k = stage("update_ledger", j)
l = stage("notify_customer", k)

@big.listen_group([i, l])
async def close_order(event, ctx):
    return "closed"

handle = big.run(receive_order)
live = view(handle)
handle.start()
'''


def _graph_box(page):
    return page.evaluate(
        """() => {
      const g = document.querySelector('.nf-view .nf-graph');
      const s = g.querySelector('svg').getBoundingClientRect();
      const b = g.getBoundingClientRect();
      return {box: [b.left, b.top, b.width, b.height], svg: [s.left, s.top, s.width, s.height],
              zoom: parseFloat(g.dataset.zoom)};
    }"""
    )


@pytest.mark.parametrize("host", HOSTS)
def test_a_16_event_flow_fits_and_zooms_and_its_saved_picture_shows_without_a_kernel(lab, page, host):
    name = lab.write_notebook(f"sixteen_{host}.ipynb", SIXTEEN, "release.set()\nawait handle")
    open_in(page, lab, host, name)
    run_cell(page, 0)
    page.wait_for_selector(".nf-view g#ev_wait_for_payment.nf-running", timeout=60_000)
    page.wait_for_timeout(300)

    m = _graph_box(page)
    box, svg = m["box"], m["svg"]
    assert 0.2 < m["zoom"] < 1  # fitted: drawn smaller than 100 %
    assert svg[0] >= box[0] - 1 and svg[0] + svg[2] <= box[0] + box[2] + 1, m  # the whole width shows
    assert svg[2] >= 0.9 * (box[2] - 4), m  # and fills it
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".nf-view").screenshot(path=str(ARTIFACTS / f"canvas_sixteen_fit_{host}.png"))

    page.click(".nf-view .nf-zoom-in")
    page.click(".nf-view .nf-zoom-in")
    zoomed = _graph_box(page)
    assert zoomed["zoom"] == pytest.approx(m["zoom"] * 1.5625, rel=0.01)
    assert zoomed["svg"][2] > box[2]  # wider than the box now: the rest is reached by panning
    graph = page.locator(".nf-view .nf-graph")
    # The mouse reaches only what is on screen; where the notebook is scrolled to after the run
    # started varies (Notebook 7 may leave the graph below the window's bottom edge, under the
    # zoom bar that was just clicked), so bring the graph into the window first.
    graph.scroll_into_view_if_needed()
    gb = graph.bounding_box()
    window = page.viewport_size
    assert 0 <= gb["y"] + gb["height"] / 2 <= window["height"], (gb, window)  # the drag starts on it
    page.mouse.move(gb["x"] + gb["width"] / 2, gb["y"] + gb["height"] / 2)
    page.mouse.down()
    page.mouse.move(gb["x"] + gb["width"] / 2 - 200, gb["y"] + gb["height"] / 2, steps=5)
    page.mouse.up()
    panned = _graph_box(page)
    assert panned["svg"][0] == pytest.approx(zoomed["svg"][0] - 200, abs=2)
    page.keyboard.down("Control")  # Ctrl + wheel zooms out around the pointer
    page.mouse.wheel(0, 300)
    page.keyboard.up("Control")
    assert _graph_box(page)["zoom"] < panned["zoom"]
    page.click(".nf-view .nf-fit")
    assert _graph_box(page)["zoom"] == pytest.approx(m["zoom"], rel=0.01)

    wide = page.evaluate("() => document.querySelector('.nf-view .nf-graph svg').getAttribute('width')")
    page.click(".nf-view .nf-rankdir")  # top-down: a tall, narrow graph
    page.wait_for_function(
        "(w) => document.querySelector('.nf-view .nf-graph svg').getAttribute('width') !== w", arg=wide,
        timeout=30_000,
    )
    tall = page.evaluate("""() => { const s = document.querySelector('.nf-view .nf-graph svg');
        return [parseFloat(s.getAttribute('width')), parseFloat(s.getAttribute('height'))]; }""")
    assert tall[1] > tall[0]
    assert "top-down" in page.locator(".nf-view .nf-rankdir").inner_text()
    page.locator(".nf-view").screenshot(path=str(ARTIFACTS / f"canvas_sixteen_topdown_{host}.png"))
    page.click(".nf-view .nf-rankdir")

    run_cell(page, 1)  # release the run: it finishes, the output becomes the picture
    output = page.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']").first
    output.wait_for(timeout=60_000)
    assert page.locator(".nf-view").count() == 0
    page.wait_for_function(
        "() => document.querySelector('.jp-OutputArea-output img[src^=\"data:image/svg+xml\"]').naturalWidth > 0"
    )
    img = output.bounding_box()
    area = page.locator(".jp-OutputArea-output").first.bounding_box()
    assert img["width"] <= area["width"] + 1  # the static picture fits too
    page.locator(".jp-OutputArea").first.screenshot(path=str(ARTIFACTS / f"canvas_sixteen_done_{host}.png"))

    save_and_shut_down(page)
    open_in(page, lab, host, name, kernel=False)
    page.wait_for_selector(".jp-OutputArea-output img[src^='data:image/svg+xml']", timeout=60_000)
    page.wait_for_timeout(1500)  # the widget manager has had time to give up on models
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text and "Loading widget" not in text
    alt = page.locator(".jp-OutputArea-output img").first.get_attribute("alt")
    assert alt.startswith("orders · run ") and "finished" in alt
    page.locator(".jp-OutputArea").first.screenshot(path=str(ARTIFACTS / f"canvas_saved_reopened_{host}.png"))


STATES = '''
import asyncio
from notebook_flow import Flow, Retry
from notebook_flow.jupyter import view

shop = Flow("shop")
tries = {"n": 0}

@shop.make_event
async def load(event, ctx):
    return "cart"

@shop.listen_group([load], retry=Retry(attempts=2, backoff=0.05))
async def price(event, ctx):
    tries["n"] += 1
    if tries["n"] == 1:
        raise ConnectionError("price service busy")
    return 10

@shop.listen_group([load])
async def check_fraud(event, ctx):
    await asyncio.sleep(0.2)
    raise ValueError("card flagged")

@shop.listen_group([check_fraud])
async def charge(event, ctx):
    return "charged"

@shop.listen_group([charge])
async def ship(event, ctx):
    return "shipped"

view(shop)
try:
    await shop.invoke_event(load, on_error="continue")
except Exception as failures:  # StepFailures: check_fraud failed, the other branch finished
    print(type(failures).__name__)
'''

STOPPED = '''
import asyncio
from notebook_flow import Flow
from notebook_flow.jupyter import view

slow = Flow("slow")

@slow.make_event
async def begin(event, ctx):
    return 1

@slow.listen_group([begin])
async def crunch(event, ctx):
    await asyncio.sleep(60)

@slow.listen_group([crunch])
async def report(event, ctx):
    return "never"

run = slow.run(begin)
stopped = view(run)
run.start()
'''


@pytest.mark.parametrize("host", HOSTS)
def test_true_states_skipped_recovered_and_a_stop_that_says_why(lab, page, host):
    name = lab.write_notebook(f"states_{host}.ipynb", STATES, STOPPED)
    open_in(page, lab, host, name)
    run_cell(page, 0)
    picture = page.locator(".jp-Cell").nth(0).locator("img[src^='data:image/svg+xml']").first
    picture.wait_for(timeout=60_000)
    svg = page.evaluate("""() => atob(document.querySelector('.jp-Cell img[src^="data:image/svg+xml"]')
        .src.split(',')[1])""")
    assert 'id="ev_price" class="node nf-recovered"' in svg
    assert 'id="ev_check_fraud" class="node nf-failed"' in svg
    assert 'id="ev_charge" class="node nf-skipped"' in svg and 'id="ev_ship" class="node nf-skipped"' in svg
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Cell").nth(0).locator(".jp-OutputArea").screenshot(
        path=str(ARTIFACTS / f"canvas_states_{host}.png"))

    run_cell(page, 1)
    page.wait_for_selector(".nf-view g#ev_crunch.nf-running", timeout=60_000)
    stop = page.locator(".nf-view .nf-stop")
    assert stop.is_visible()
    page.locator(".nf-view").screenshot(path=str(ARTIFACTS / f"canvas_stop_running_{host}.png"))
    stop.click()
    picture = page.locator(".jp-Cell").nth(1).locator("img[src^='data:image/svg+xml']").first
    picture.wait_for(timeout=60_000)
    alt = picture.get_attribute("alt")
    assert "cancelled (Stop button of the live view)" in alt
    svg = page.evaluate("""() => atob(document.querySelectorAll('.jp-Cell')[1]
        .querySelector('img[src^="data:image/svg+xml"]').src.split(',')[1])""")
    assert 'id="ev_crunch" class="node nf-cancelled"' in svg
    assert 'id="ev_begin" class="node nf-done"' in svg
    assert 'class="node nf-paused"' not in svg and 'class="node nf-running"' not in svg
    page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea").screenshot(
        path=str(ARTIFACTS / f"canvas_stopped_{host}.png"))


THEMED = '''
import asyncio
from notebook_flow import Flow, progress
from notebook_flow.jupyter import view

research = Flow("research")
release = asyncio.Event()

@research.make_event
async def plan(event, ctx):
    progress("plan", "two sources to read")
    return ["docs", "web"]

@research.listen_group([plan])
async def fetch_docs(event, ctx):
    for page in range(1, 4):
        progress("fetch", f"page {page} of 3", page / 3)
        await asyncio.sleep(0.05)
    await release.wait()
    return {"pages": 3}

@research.listen_group([plan])
async def fetch_web(event, ctx):
    return {"hits": 12}

@research.listen_group([fetch_docs, fetch_web])
async def combine(event, ctx):
    return {"sources": len(event.results)}

@research.listen_group([combine])
async def review(event, ctx):
    return "approved"

run = research.run(plan)
live = view(run)
run.start()
'''


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_the_view_takes_the_theme_colours(lab, page, theme):
    slug = "dark" if "Dark" in theme else "light"
    name = lab.write_notebook(f"themed_{slug}.ipynb", THEMED, "release.set()")
    open_in(page, lab, "lab", name)
    set_theme(page, theme)
    run_cell(page, 0)
    page.wait_for_selector(".nf-view g#ev_fetch_docs.nf-running", timeout=60_000)
    page.wait_for_selector(".nf-view .nf-log .nf-row:has-text('page 3 of 3')", timeout=30_000)
    colours = page.evaluate(
        """() => {
      const css = (sel, prop, pseudo) => getComputedStyle(document.querySelector(sel), pseudo || null)[prop];
      return {
        page: css('.jp-Notebook', 'backgroundColor'),
        card: css('.nf-view', 'backgroundColor'),
        canvas: css('.nf-view .nf-graph', 'backgroundColor'),
        ink: css('.nf-view', 'color'),
        title: css('.nf-view .nf-title', 'color'),
        log: css('.nf-view .nf-log .nf-msg', 'color'),
        filterBg: css('.nf-view .nf-filter', 'backgroundColor'),
        placeholder: css('.nf-view .nf-filter', 'color', '::placeholder'),
        edge: css('.nf-view .nf-graph g.edge > path', 'stroke'),
        layout1: getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim(),
      };
    }"""
    )
    from .canvas_helpers import luminance

    dark = slug == "dark"
    assert (luminance(colours["card"]) < 0.1) == dark, colours  # the card follows the theme
    assert (luminance(colours["canvas"]) < 0.1) == dark, colours
    assert contrast(colours["ink"], colours["card"]) >= 7, colours
    assert contrast(colours["log"], colours["card"]) >= 4.5, colours
    assert contrast(colours["placeholder"], colours["filterBg"]) >= 3, colours  # the placeholder shows
    assert contrast(colours["edge"], colours["canvas"]) >= 2.5, colours  # edges are not faint
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"canvas_theme_{slug}.png"
    page.locator(".nf-view").screenshot(path=str(shot))
    run_cell(page, 1)
    page.wait_for_selector(".jp-OutputArea-output img[src^='data:image/svg+xml']", timeout=60_000)
    page.locator(".jp-Cell").first.locator(".jp-OutputArea").screenshot(
        path=str(ARTIFACTS / f"canvas_theme_{slug}_picture.png"))
    if dark and os.environ.get("NOTEBOOK_FLOW_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, IMAGES / "live_view_dark.png")  # the light one: test_live_view_browser
    if dark:
        set_theme(page, "JupyterLab Light")  # the next test starts from the default
