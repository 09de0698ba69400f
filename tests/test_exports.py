import subprocess
import sys
import types

import notebook_flow


def test_all_names_exist_once():
    assert len(notebook_flow.__all__) == len(set(notebook_flow.__all__))
    for name in notebook_flow.__all__:
        assert hasattr(notebook_flow, name), name


def test_every_public_object_is_exported():
    public = {
        name
        for name, value in vars(notebook_flow).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations"}
        and not name.endswith("_ipython_extension")  # IPython's hooks, not API
    }
    assert public <= set(notebook_flow.__all__), public - set(notebook_flow.__all__)


def test_import_loads_no_display_code():
    code = (
        "import sys, notebook_flow\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'anywidget', 'graphviz', 'traitlets', "
        "'dask', 'distributed', 'cloudpickle') "
        "if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_seed_names_are_public():
    for name in [
        "EventEngineCls", "default_drive", "EventInput", "ReturnBehavior", "goto_events",
        "abort_this", "WorkflowEvent", "WorkflowManager",
    ]:
        assert name in notebook_flow.__all__
