"""The package as people get it: `python -m build` makes a wheel and an sdist with the right
metadata and no warning, and a fresh venv with the wheel's [dask] and [otel] extras runs those
extras' tests against the installed copy (not this checkout).

The wheel alone in a fresh venv, in a real kernel and in JupyterLab, is
tests/browser/test_install_browser.py.
"""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import notebook_flow

pytestmark = [pytest.mark.timeout(900), pytest.mark.install]

REPO = Path(__file__).parents[1]
PACKAGE = REPO / "notebook_flow"
# Printed because of this machine, not the project: pip's configured find-links folders that do
# not exist, and PYTHONDONTWRITEBYTECODE=1 in the environment.
MACHINE_NOTICES = ("WARNING: Location '", "byte-compiling is disabled")
EXTRAS_MODULES = {"dask.py": "dask", "otel.py": "otel"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[Path, Path, str]:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist, proc.stdout + proc.stderr


def test_the_build_prints_no_warning(dist):
    *_, output = dist
    warnings = [
        line for line in output.splitlines()
        if "warn" in line.lower() and not any(n in line for n in MACHINE_NOTICES)
    ]
    assert warnings == []


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(z.read(name).decode()), z.namelist()


def test_the_wheel_says_what_it_is(dist):
    wheel, _, _ = dist
    meta, names = wheel_metadata(wheel)
    assert meta["Name"] == "notebook_flow"
    assert meta["Version"] == notebook_flow.__version__  # the one source of the version
    assert "version" not in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    classifiers = meta.get_all("Classifier")
    for wanted in (
        "Framework :: Jupyter", "Framework :: AsyncIO", "Typing :: Typed",
        "Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ):
        assert wanted in classifiers
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Changelog"}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "notebook_flow/py.typed" in names
    assert "notebook_flow/jupyter/static/flow_view.js" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "notebooks/"))]


def _third_party_imports(source: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "notebook_flow"}


def _requirement_name(requirement: str) -> tuple[str, str | None]:
    name = requirement.split(";")[0]
    for stop in "<>=!~[ ":
        name = name.split(stop)[0]
    extra = requirement.split('extra == "')[1].rstrip('"') if "extra ==" in requirement else None
    return name.strip().lower().replace("_", "-"), extra


def test_every_imported_package_is_declared(dist):
    wheel, _, _ = dist
    meta, _ = wheel_metadata(wheel)
    declared: dict[str | None, set[str]] = {}
    for requirement in meta.get_all("Requires-Dist"):
        name, extra = _requirement_name(requirement)
        declared.setdefault(extra, set()).add(name)
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for source in PACKAGE.rglob("*.py"):
        extra = EXTRAS_MODULES.get(str(source.relative_to(PACKAGE)))
        allowed = declared[None] | declared.get(extra, set())
        if extra == "dask":  # dask[distributed] brings distributed
            allowed |= {"distributed"}
        for module in _third_party_imports(source):
            names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not names & allowed:
                missing.append(f"{source.relative_to(REPO)} imports {module} ({names})")
    assert missing == []


def test_the_sdist_ships_no_half_test_suite(dist):
    _, sdist, _ = dist
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO"} <= set(names)
    assert "notebook_flow/py.typed" in names
    assert not [n for n in names if n.startswith(("tests", "benchmarks", "notebooks", ".ci"))]


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *args],
        capture_output=True, text=True, timeout=800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_dask_and_otel_extras_run_their_tests_from_the_wheel(dist, tmp_path):
    wheel, _, _ = dist
    python = make_venv(tmp_path / "venv")
    pip_install(
        python, f"notebook_flow[dask,otel] @ {wheel.as_uri()}", "pytest>=8", "pytest-timeout>=2.3",
        "opentelemetry-exporter-otlp-proto-http>=1.25",
    )
    # the tests, away from this checkout, so that they import the installed package
    tests = tmp_path / "tests"
    tests.mkdir()
    helpers = [p.name for p in (REPO / "tests").glob("*.py") if not p.name.startswith("test_")]
    for name in [*helpers, "test_dask_executor.py", "test_otel.py"]:
        shutil.copy(REPO / "tests" / name, tests / name)
    where = subprocess.run(
        [str(python), "-c", "import notebook_flow; print(notebook_flow.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv"))
    proc = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True, text=True, cwd=tmp_path, timeout=800,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
