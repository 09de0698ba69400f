"""The seeds' README examples, pasted into notebook cells under %%flow (imports changed only),
run in a real kernel, and every run they start shows a live view."""

import sys
from pathlib import Path

import pytest
from kernel_cells import run_cells

sys.path.insert(0, str(Path(__file__).parents[1]))
import test_seed_examples as seeds

pytestmark = seeds.pytestmark

WIDGET = "application/vnd.jupyter.widget-view+json"
IMPORTS = "import asyncio\nfrom datetime import datetime\nfrom notebook_flow import EventInput, default_drive\n"


def examples():
    drive = [b for b in seeds.drive_blocks() if "EVENT_INPUT" not in b]
    micro = seeds.micro_block("import asyncio", "Features")
    return [seeds.to_notebook_flow(b) for b in drive] + [micro]


@pytest.fixture(scope="module")
def cells():
    sources = ["%load_ext notebook_flow\n" + IMPORTS]
    for code in examples():
        sources.append("default_drive.reset()")  # each example starts from an empty engine
        sources.append("%%flow\n" + code)
    return run_cells(*sources, timeout=120)


def test_every_example_runs_and_shows_a_live_view(cells):
    count = len(examples())
    assert count == 6
    for k in range(count):
        i = 2 + 2 * k
        assert cells.error(i) == "", (i, cells.error(i))
        # a live view, replaced by the picture of the final states once the run ended
        views = cells.data(i, WIDGET) + cells.data(i, "image/svg+xml")
        assert views, f"example {k} showed no live view"


def test_the_examples_print_what_their_documents_say(cells):
    assert cells.stdout(2).splitlines()[-2:] == ["hello", "world"]
    assert "adding" in cells.stdout(4)
    assert cells.stdout(12).splitlines() == [
        "Progress: greeting - Processing greeting for Alice",
        "Result: Hello, Alice!",
    ]
