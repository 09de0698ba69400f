"""A saved notebook keeps the picture: executed without widget state (JupyterLab's default),
exported by nbconvert, each live view's output shows a static SVG of the run's final states,
and no widget (a widget output shows an error in JupyterLab once its kernel is gone)."""

import base64
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = pytest.mark.timeout(120)

CELL = '''
import asyncio
from notebook_flow import Flow
from notebook_flow.jupyter import view

flow = Flow("saved")

@flow.make_event
async def fetch(event, ctx):
    await asyncio.sleep(0.1)
    return "data"

@flow.listen_group([fetch])
async def parse(event, ctx):
    raise ValueError("bad data")

view(flow)
try:
    await flow.invoke_event(fetch)
except ValueError:
    pass
'''


def test_saved_notebook_shows_the_final_states_in_nbconvert(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=False).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]  # shown once, then updated
    data = outputs[0].data
    assert set(data) == {"text/html", "image/svg+xml", "text/plain"}  # the widget was replaced
    svg = data["image/svg+xml"]
    assert 'id="ev_fetch" class="node nf-done"' in svg and 'id="ev_parse" class="node nf-failed"' in svg
    assert data["text/plain"].startswith("saved · run ") and "1 failure" in data["text/plain"]
    # the HTML is an <img> of the same SVG: hosts show it in untrusted notebooks too
    src = re.match(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', data["text/html"])
    assert src and base64.b64decode(src.group(1)).decode() == svg
    assert src.group(2).startswith("saved · run ")
    assert "<details><summary>Timeline of the run</summary><img" in data["text/html"]
    assert len(nbformat.writes(nb)) < 60_000  # a small file: no widget state, one picture

    nbformat.write(nb, tmp_path / "saved.ipynb")
    html, _ = HTMLExporter().from_filename(str(tmp_path / "saved.ipynb"))
    assert "data:image/svg+xml;base64," in html  # nbconvert shows the picture ...
    assert "application/vnd.jupyter.widget-view+json" not in html  # ... not a dead widget
