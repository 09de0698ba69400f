"""Helpers for the browser tests: a JupyterLab handle, opening notebooks, running cells."""

import os
import socket
from pathlib import Path

import nbformat

CHROMIUM = os.environ.get("NOTEBOOK_FLOW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: write notebooks into ``root``, open them with ``url(name)``."""

    def __init__(self, root, port, token):
        self.root, self.port, self.token = root, port, token

    def url(self, notebook):
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?token={self.token}&reset"

    def write_notebook(self, name, *cells):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(nb, self.root / name)
        return name


WAIT_FOR_KERNEL = """async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  while (!window.jupyterapp) await sleep(100);
  const app = window.jupyterapp;
  await app.restored;
  let w = app.shell.currentWidget;
  while (!w || !w.sessionContext) { await sleep(100); w = app.shell.currentWidget; }
  await w.context.ready;
  await w.sessionContext.ready;
  while (w.sessionContext.session?.kernel?.connectionStatus !== 'connected'
         || w.sessionContext.session?.kernel?.status !== 'idle') await sleep(100);
}"""

# Starts the cell and returns at once (awaiting the command would wait for the cell to finish).
RUN_CELL = """(i) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = i;
  app.commands.execute('notebook:run-cell');
}"""


def open_notebook(page, lab, name):
    page.goto(lab.url(name))
    page.evaluate(WAIT_FOR_KERNEL)


def run_cell(page, index):
    page.evaluate(RUN_CELL, index)
