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


def test_no_module_is_shadowed_by_a_name_its_package_exports():
    # `import notebook_flow.jupyter.flow_view` must give the module, not a function of that name.
    import importlib
    import pkgutil

    import notebook_flow

    shadowed = []
    for info in pkgutil.walk_packages(notebook_flow.__path__, "notebook_flow."):
        if info.name.endswith(("notebook_flow.dask", "notebook_flow.otel")):
            continue  # optional extras; their names are checked by their own tests
        package_name, _, leaf = info.name.rpartition(".")
        package = importlib.import_module(package_name)
        module = importlib.import_module(info.name)
        if getattr(package, leaf, module) is not module:
            shadowed.append(info.name)
    assert shadowed == []
