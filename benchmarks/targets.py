"""The targets of issue 6, checked against the medians of one run.

Each target gives a figure and met / not met (None when a figure is missing, e.g. in a tiny run).
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import TableResult

Results = dict[str, TableResult]
NF = "notebook_flow"
FLOOR = "asyncio floor"


@dataclass
class Verdict:
    target: str
    figure: str
    met: bool | None


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f} {unit}".strip()


def _at_most(results: Results, key: str, row: str, limit: float, unit: str, what: str) -> Verdict:
    value = results[key].median(row, NF) if key in results else None
    met = None if value is None else value <= limit
    return Verdict(f"{what} ≤ {limit:g} {unit}", _fmt(value, unit), met)


def _at_least(
    results: Results, key: str, row: str, limit: float, unit: str, what: str, digits: int = 2
) -> Verdict:
    value = results[key].median(row, NF) if key in results else None
    met = None if value is None else value >= limit
    return Verdict(f"{what} ≥ {limit:,.0f} {unit}", _fmt(value, unit, digits), met)


def _ratio_at_most(
    results: Results, key: str, row_a: str, col_a: str, row_b: str, col_b: str, limit: float,
    what: str,
) -> Verdict:
    if key not in results:
        return Verdict(what, "—", None)
    a, b = results[key].median(row_a, col_a), results[key].median(row_b, col_b)
    if a is None or b is None:
        return Verdict(what, "—", None)
    return Verdict(what, f"{a / b:.2f}×", a / b <= limit)


def _ratio_at_least(
    results: Results, key: str, row: str, col_a: str, col_b: str, limit: float, what: str
) -> Verdict:
    if key not in results:
        return Verdict(what, "—", None)
    a, b = results[key].median(row, col_a), results[key].median(row, col_b)
    if a is None or b is None:
        return Verdict(what, "—", None)
    return Verdict(what, f"{a / b:.2f}×", a / b >= limit)


def _beats(results: Results, key: str, row: str, peer: str, better: str, what: str) -> Verdict:
    if key not in results:
        return Verdict(what, "—", None)
    nf, other = results[key].median(row, NF), results[key].median(row, peer)
    if nf is None or other is None:
        cell = results[key].cells.get((row, peer))
        return Verdict(what, (cell.note if cell and cell.note else "—"), None)
    advantage = other / nf if better == "lower" else nf / other
    return Verdict(what, f"{advantage:.2f}× better", advantage > 1)


def evaluate(results: Results) -> list[Verdict]:
    verdicts = [
        _at_most(results, "W1", "N = 1,000", 2.0, "µs", "W1 per step, N = 1,000, trace on"),
        _at_most(results, "W1", "N = 10,000", 2.0, "µs", "W1 per step, N = 10,000, trace on"),
        _ratio_at_most(
            results, "W1", "N = 10,000", NF, "N = 1,000", NF, 1.2,
            "W1 same cost per step at 10,000 as at 1,000 (ratio ≤ 1.2)",
        ),
        _at_most(results, "W3", "N = 10,000", 2.0, "µs", "W3 per re-trigger, trace on"),
        _at_least(results, "W2", "N = 1,000", 80.0, "%", "W2 efficiency at N = 1,000", 1),
    ]
    for n in ("10", "100", "1,000", "10,000"):
        verdicts.append(_ratio_at_least(
            results, "W2", f"N = {n}", NF, FLOOR, 0.9,
            f"W2 N = {n}: ≥ 90% of the floor's efficiency",
        ))
    verdicts.append(_at_least(
        results, "W5", "N = 100,000", 1_000_000, "events/s",
        "W5 progress to the caller (Flow.run records)", 0,
    ))
    for row in ("W1 chain N = 1,000", "W1 chain N = 10,000", "W2 fan-out N = 10",
                "W2 fan-out N = 100", "W2 fan-out N = 1,000", "W2 fan-out N = 10,000"):
        label = f"{row}, peak RSS"
        verdicts.append(_ratio_at_most(
            results, "W4", label, NF, label, FLOOR, 1.2, f"W4 {row}: peak RSS ≤ 1.2× the floor"
        ))
    peers: list[tuple[str, str, str, str]] = [
        ("W1", "N = 1,000", "drive-flow", "lower"), ("W1", "N = 1,000", "microflow", "lower"),
        ("W1", "N = 10,000", "drive-flow", "lower"), ("W1", "N = 10,000", "microflow", "lower"),
        ("W2", "N = 1,000", "drive-flow", "higher"), ("W3", "N = 10,000", "drive-flow", "lower"),
        ("W3", "N = 10,000", "microflow", "lower"), ("W5", "N = 100,000", "microflow", "higher"),
    ]
    for key, row, peer, better in peers:
        verdicts.append(_beats(results, key, row, peer, better, f"beats {peer} on {key} {row}"))
    return verdicts

