"""The benchmark runner keeps working: one tiny run of every workload, every answer checked.

No timing is asserted: figures of a tiny run mean nothing, only that each workload ran and gave
the right answer for each implementation it fits.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")


def test_tiny_benchmark_run_checks_every_answer(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "latest.md").read_text().startswith("## notebook_flow benchmarks")
    results = json.loads((tmp_path / "latest.json").read_text())
    assert [t["key"] for t in results["tables"]] == list(WORKLOADS)
    for table in results["tables"]:
        assert table["rows"], table["key"]
        for row in table["rows"]:
            for label, cell in row["cells"].items():
                where = f"{table['key']} {row['label']} {label}"
                assert not cell["wrong"], where
                # a figure, or a stated reason (outside that implementation's model, not built yet)
                assert cell["median"] is not None or cell["note"], where
                assert cell["median"] is not None or not cell["note"].startswith("error"), where
            ours = row["cells"]["notebook_flow" if table["key"] != "W6" else "trace on"]
            assert ours["median"] is not None, f"{table['key']} {row['label']}: {ours['note']}"
