"""Run a list of cells in a real IPython kernel (nbclient) and read their outputs back."""

from __future__ import annotations

from typing import Any

import nbformat
from nbclient import NotebookClient


class Cells:
    """The executed cells, with helpers to read what each one printed, showed or raised."""

    def __init__(self, nb: Any) -> None:
        self.nb = nb

    def outputs(self, i: int) -> list[Any]:
        return list(self.nb.cells[i].outputs)

    def stdout(self, i: int) -> str:
        return "".join(o.text for o in self.outputs(i) if o.output_type == "stream" and o.name == "stdout")

    def stderr(self, i: int) -> str:
        return "".join(o.text for o in self.outputs(i) if o.output_type == "stream" and o.name == "stderr")

    def error(self, i: int) -> str:
        errors = [f"{o.ename}: {o.evalue}" for o in self.outputs(i) if o.output_type == "error"]
        return "\n".join(errors)

    def data(self, i: int, mime: str) -> list[str]:
        return [o.data[mime] for o in self.outputs(i) if mime in o.get("data", {})]

    def result(self, i: int) -> str:
        (text,) = [o.data["text/plain"] for o in self.outputs(i) if o.output_type == "execute_result"]
        return str(text)


def run_cells(*sources: str, timeout: int = 60) -> Cells:
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]  # nbformat is untyped
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]  # type: ignore[no-untyped-call]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True).execute()
    return Cells(nb)
