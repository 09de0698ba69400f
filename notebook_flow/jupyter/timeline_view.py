"""A Gantt-style timeline of a finished run: which events ran when, and what ran in parallel.

One row per event (extra lanes when the same event ran several times at once), one bar per
step coloured by how it ended. Plain SVG, built here: no Graphviz, no JavaScript.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..records import STEP_END_KINDS
from ..viz import STATE_STYLES
from ..viz.theme import FONT

__all__ = ["MAX_ROWS", "Timeline", "timeline", "timeline_svg", "intervals_from_records", "max_parallel"]

Interval = tuple[str, float, float, str]  # (event id, start, end, outcome)

_OUTCOME = {
    "step_finished": "done",
    "step_goto": "done",
    "step_failed": "failed",
    "step_aborted": "aborted",
    "step_cancelled": "cancelled",
}


def intervals_from_records(records: Iterable[Any]) -> list[Interval]:
    """Step intervals from run records (a trace): each started step with its end and outcome."""
    starts: dict[int, tuple[str, float]] = {}
    out: list[Interval] = []
    for r in records:
        if r.kind == "step_started":
            starts[r.step_id] = (r.event_id, r.time)
        elif r.kind in STEP_END_KINDS:
            event_id, t0 = starts.pop(r.step_id, (r.event_id, r.time - r.duration))
            out.append((event_id, t0, r.time, _OUTCOME[r.kind]))
    return out


def max_parallel(intervals: Sequence[Interval]) -> int:
    """The largest number of steps that ran at the same moment."""
    points = sorted([(t0, 1) for _, t0, _, _ in intervals] + [(t1, -1) for _, _, t1, _ in intervals])
    best = now = 0
    for _, delta in points:  # an end at t sorts before a start at t: touching is not overlapping
        now += delta
        best = max(best, now)
    return best


def _lanes(intervals: Sequence[Interval]) -> dict[str, list[list[Interval]]]:
    rows: dict[str, list[list[Interval]]] = {}
    for iv in sorted(intervals, key=lambda iv: (iv[1], iv[2])):
        lanes = rows.setdefault(iv[0], [])
        for lane in lanes:
            if lane[-1][2] <= iv[1]:
                lane.append(iv)
                break
        else:
            lanes.append([iv])
    return rows


#: Rows drawn at most: the busiest events; a 10,000-step chain would otherwise be 2.5 MB of SVG.
MAX_ROWS = 200


def _busiest(
    rows: dict[str, list[list[Interval]]], limit: int
) -> tuple[dict[str, list[list[Interval]]], int]:
    """The ``limit`` rows with the most busy time, in their first-start order; and how many not."""
    if len(rows) <= limit:
        return rows, 0
    busy = {event_id: sum(t1 - t0 for lane in lanes for _, t0, t1, _ in lane)
            for event_id, lanes in rows.items()}
    keep = set(sorted(busy, key=busy.__getitem__, reverse=True)[:limit])
    return {event_id: lanes for event_id, lanes in rows.items() if event_id in keep}, len(rows) - limit


def _tick_step(span: float, target: int = 6) -> float:
    raw = span / target if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def tick_label(t: float, step: float, span: float) -> str:
    """A time-axis label in one unit for the whole axis: ms when it spans under a second
    (``250 ms``), s under two minutes (``1.5 s``), else minutes; never ``2e-05 s``."""

    def decimals(unit_step: float) -> int:
        return max(0, -math.floor(math.log10(unit_step))) if unit_step < 1 else 0

    if span < 1:
        return f"{t * 1000:.{decimals(step * 1000)}f} ms"
    if span < 120:
        return f"{t:.{decimals(step)}f} s"
    return f"{int(t // 60)} min {t % 60:02.0f} s"


def timeline_svg(
    intervals: Sequence[Interval],
    labels: Mapping[str, str] | None = None,
    *,
    width: int = 680,
    title: str = "",
    max_rows: int = MAX_ROWS,
) -> str:
    """The timeline as SVG text. ``labels`` maps event ids to the names shown on the rows."""
    labels = labels or {}
    if not intervals:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="24">'
            f'<text x="6" y="16" font-family="{FONT}" font-size="11" fill="#7b8794">'
            "no step has ended yet: nothing to draw</text></svg>"
        )
    t_min = min(iv[1] for iv in intervals)
    t_max = max(iv[2] for iv in intervals)
    span = max(t_max - t_min, 1e-6)
    left, right, row_h, top = 150, 20, 18, 34
    plot_w = width - left - right
    rows, left_out = _busiest(_lanes(intervals), max_rows)
    n_lanes = sum(len(lanes) for lanes in rows.values())
    height = top + n_lanes * row_h + 24

    def x(t: float) -> float:
        return left + (t - t_min) / span * plot_w

    heading = title or (
        f"{len(intervals)} steps in {span:.3f} s, at most {max_parallel(intervals)} in parallel"
    )
    if left_out:
        heading += f" (the {len(rows)} busiest events drawn, {left_out} more not)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nf-timeline-svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="6" y="15" font-size="11" font-weight="bold" fill="#1f2933">{html.escape(heading)}</text>',
    ]
    step = _tick_step(span)
    tick = 0.0
    while tick <= span + 1e-9:
        tx = x(t_min + tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 20}" stroke="#e4e7eb"/>'
            f'<text x="{tx:.1f}" y="{height - 7}" font-size="11" fill="#616e7c" '
            f'text-anchor="middle">{tick_label(tick, step, span)}</text>'
        )
        tick += step
    y = top
    for event_id, lanes in rows.items():
        name = labels.get(event_id, event_id)
        name = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + row_h - 5}" font-size="11" fill="#3e4c59" '
            f'text-anchor="end">{html.escape(name)}</text>'
        )
        for lane in lanes:
            parts.extend(_bars(lane, x, y, row_h, labels, t_min))
            y += row_h
    parts.append("</svg>")
    return "".join(parts)


def _bars(
    lane: list[Interval], x: Any, y: float, row_h: int, labels: Mapping[str, str], t_min: float
) -> list[str]:
    """One lane's bars; bars closer than a pixel with the same outcome are merged."""
    merged: list[list[Any]] = []
    for _event_id, t0, t1, outcome in lane:
        if merged and merged[-1][3] == outcome and x(t0) - x(merged[-1][1]) < 1.0:
            merged[-1][1] = t1
            merged[-1][2] += 1
            continue
        merged.append([t0, t1, 1, outcome])
    out = []
    for t0, t1, n, outcome in merged:
        style = STATE_STYLES.get(outcome, STATE_STYLES["done"])
        x0, x1 = x(t0), x(t1)
        what = f"{n} steps" if n > 1 else outcome
        name = labels.get(lane[0][0], lane[0][0])
        out.append(
            f'<rect x="{x0:.1f}" y="{y + 2:.1f}" width="{max(x1 - x0, 1.5):.1f}" height="{row_h - 4}" '
            f'rx="2" fill="{style.fill}" stroke="{style.stroke}" stroke-width="1">'
            f"<title>{html.escape(name)}: {t0 - t_min:.3f} to {t1 - t_min:.3f} s, "
            f"{html.escape(what)}</title></rect>"
        )
    return out


class Timeline:
    """A displayable timeline (``_repr_svg_``); ``.svg`` is its text."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<Timeline: {len(self.svg)} characters of SVG>"


def timeline(run: Any, *, width: int = 680) -> Timeline:
    """The timeline of a run: a ``RunHandle`` (from its trace) or a ``FlowView``'s last run."""
    intervals_of = getattr(run, "step_intervals", None)
    if callable(intervals_of):  # a FlowView
        shown, names = intervals_of()
        return Timeline(timeline_svg(shown, names, width=width))
    feed = getattr(run, "feed", run)
    trace = getattr(feed, "trace", None)
    if trace is None:
        raise ValueError(
            "this run keeps no trace (trace=False), so its steps' times are unknown; run it "
            "with a trace, or attach a live view and call timeline(view)"
        )
    labels: dict[str, str] = {}
    try:
        from ..viz import FlowGraph

        labels = {n.id: n.label for n in FlowGraph.of(feed.source).nodes}
    except Exception:
        pass
    note = f" (the trace kept the last {len(trace)} records)" if trace.dropped else ""
    intervals = intervals_from_records(trace.records)
    title = (
        f"{len(intervals)} steps, at most {max_parallel(intervals)} in parallel{note}"
        if intervals
        else ""
    )
    return Timeline(timeline_svg(intervals, labels, width=width, title=title))
