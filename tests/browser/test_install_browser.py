"""The wheel alone in a fresh venv: it imports, `%load_ext notebook_flow` works in a real kernel,
and a live view shows in JupyterLab (installed after it, as a user's environment would have it)
in headless Chromium.

Nothing here imports this checkout: the venv gets the wheel built from it, the kernel and the
lab run that venv's Python, and each step checks the package came from the venv.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from .conftest import serve_lab
from .lab_helpers import ARTIFACTS, open_notebook, run_cell

pytestmark = [pytest.mark.timeout(900), pytest.mark.install]

REPO = Path(__file__).parents[2]


def run(*cmd: str | Path, **kwargs) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=800, **kwargs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A venv with the wheel and nothing else; what importing it loaded; then JupyterLab too."""
    base = tmp_path_factory.mktemp("fresh")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", base / "dist", REPO)
    (wheel,) = (base / "dist").glob("*.whl")
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel)
    imported = json.loads(run(python, "-c", (
        "import json, sys, importlib.util; import notebook_flow; "
        "print(json.dumps({'file': notebook_flow.__file__, 'version': notebook_flow.__version__, "
        "'loaded': sorted(m for m in ('IPython', 'ipywidgets', 'graphviz', 'anywidget') if m in sys.modules), "
        "'ipykernel': importlib.util.find_spec('ipykernel') is not None}))"
    ), cwd=base))
    # the user's Jupyter: JupyterLab >= 4 (it brings ipykernel), installed next to the package
    run(python, "-m", "pip", "install", "--quiet", "jupyterlab>=4")
    return python, imported


def test_the_wheel_alone_imports_and_loads_nothing_of_jupyter(fresh):
    python, imported = fresh
    assert imported["file"].startswith(str(python.parents[1]))
    assert imported["loaded"] == []  # `import notebook_flow` loads no IPython, widget or Graphviz
    assert imported["ipykernel"] is False  # the wheel alone: no kernel, no extras


CELL = """
from notebook_flow import Flow
flow = Flow("installed")

@flow.make_event
async def start(event, ctx):
    return 20

@flow.listen_group([start])
async def double(event, ctx):
    return event.results[start.id] * 2
"""


def test_load_ext_in_a_real_kernel_of_the_venv(fresh, tmp_path):
    python, _ = fresh
    spec = tmp_path / "kernels" / "fresh"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = KernelManager(kernel_name="fresh", kernel_spec_manager=specs)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        outputs: list[dict] = []

        def execute(code: str) -> dict:
            reply = kc.execute_interactive(
                code, timeout=60, output_hook=lambda msg: outputs.append(msg)
            )
            assert reply["content"]["status"] == "ok", reply["content"]
            return reply

        execute("%load_ext notebook_flow")
        execute(CELL)
        execute("results = %flow run flow\nimport notebook_flow\nprint(results[double.id], notebook_flow.__file__)")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    kinds = [(m["msg_type"], m["content"]) for m in outputs]
    widgets = [c for t, c in kinds if t == "display_data"
               and "application/vnd.jupyter.widget-view+json" in c.get("data", {})]
    assert widgets, kinds  # %flow run showed the live view
    printed = "".join(c["text"] for t, c in kinds if t == "stream" and c["name"] == "stdout")
    value, where = printed.split()
    assert value == "40" and where.startswith(str(python.parents[1]))


def test_a_live_view_in_the_venvs_jupyterlab(fresh, tmp_path_factory, page):
    python, _ = fresh
    serving = serve_lab(tmp_path_factory, python)
    lab = next(serving)
    try:
        name = lab.write_notebook(
            "installed.ipynb",
            "import notebook_flow\nprint(notebook_flow.__file__)\n" + CELL
            + "\nimport asyncio\nfrom notebook_flow.jupyter import view\nlive = view(flow)"
            + "\nawait asyncio.sleep(3)  # the live widget is on screen until the run ends"
            + "\nawait flow.invoke_event(start)",
        )
        open_notebook(page, lab, name)
        run_cell(page, 0)
        # the live widget, drawn by this venv's JupyterLab from the wheel's own front-end files
        page.wait_for_selector(".nf-view g#ev_double", timeout=60_000)
        # then the run's final picture replaces it, with both steps done
        picture = page.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']").first
        picture.wait_for(timeout=60_000)
        alt = picture.get_attribute("alt") or ""
        assert alt.startswith("installed · run 1 finished"), alt
        svg = page.evaluate("""() => atob(document
            .querySelector('.jp-OutputArea-output img[src^="data:image/svg+xml"]').src.split(',')[1])""")
        for node in ("ev_start", "ev_double"):
            assert f'id="{node}" class="node nf-done"' in svg, node
        printed = page.locator(".jp-OutputArea-output").first.inner_text()
        assert printed.strip().startswith(str(python.parents[1]))
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".jp-Cell-outputArea").first.screenshot(path=str(ARTIFACTS / "installed_view.png"))
    finally:
        serving.close()
