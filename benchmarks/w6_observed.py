"""W6: W1 (chain) and W5 (stream) on notebook_flow with the trace off, on, and with a live view.

The trace-on cells are the same measurements as W1 and W5 (same options, so the same samples).
The live view (``FlowView``) is built kernel-side with no browser before the run and follows it
(see live_view.py); its build time is listed under the table, not in the figures.
"""

from __future__ import annotations

from . import live_view
from .harness import options
from .tables import EVENTS_PER_SECOND, PER_EVENT_US, Column, Ratio, Row, Table

COLUMNS = (
    Column("trace off", "notebook_flow", options(trace=False)),
    Column("trace on", "notebook_flow", options(trace=True)),
    Column(
        "trace on + live view", "notebook_flow", options(trace=True, view=True),
        unavailable=live_view.unavailable_reason,
    ),
)


def table(scale: str) -> Table:
    tiny = scale == "tiny"
    chain_sizes = (10,) if tiny else (1_000, 10_000)
    stream_size = 100 if tiny else 100_000
    rows = [Row(f"W1 chain N = {n:,}", "chain", n, PER_EVENT_US) for n in chain_sizes]
    rows.append(Row(f"W5 stream N = {stream_size:,}", "stream", stream_size, EVENTS_PER_SECOND))
    return Table(
        key="W6",
        title="W6 observers: W1 and W5 with the trace off / on / with a live view (notebook_flow)",
        what="W1 rows: µs per step (lower is better); W5 row: events/s (higher is better).",
        columns=COLUMNS,
        rows=tuple(rows),
        ratios=(
            Ratio("trace on costs (× off)", "trace on", "trace off", "cost"),
            Ratio("live view costs (× on)", "trace on + live view", "trace on", "cost"),
        ),
        setup=(("view_seconds", "Building the live view (graph layout, before the run)"),),
    )
