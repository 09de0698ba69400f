"""Run numbers per flow: "quickstart · run 1" on that flow's first run, whatever ran before it.

A run's ``run_id`` counts every run of the process; people count the runs of one flow. The
number is given when the run is made (an ``observe_runs`` hook, installed when
``notebook_flow.jupyter`` is imported), so runs made before that import are not counted.
The flows are held weakly, and only the numbers of the last ``KEPT_RUNS`` runs are kept.
"""

from __future__ import annotations

import weakref
from typing import Any, Final

from .. import RunFeed, observe_runs

__all__ = ["KEPT_RUNS", "run_number", "start_counting"]

#: How many runs' numbers are remembered (a view asks for its run's number when the run starts).
KEPT_RUNS: Final = 10_000

_runs_of: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # source -> runs
_number_of: dict[int, int] = {}  # run_id -> number among its flow's runs (insertion ordered)
_hook: list[Any] = []


def _count(feed: RunFeed) -> None:
    try:
        number = _runs_of.get(feed.source, 0) + 1
        _runs_of[feed.source] = number
    except TypeError:  # a source that cannot be weakly referenced: its runs are not numbered
        return
    _number_of[feed.run_id] = number
    if len(_number_of) > KEPT_RUNS:
        del _number_of[next(iter(_number_of))]


def start_counting() -> None:
    """Number every run made from now on (idempotent)."""
    if not _hook:
        _hook.append(observe_runs(_count))


def run_number(run_id: int) -> int | None:
    """The number of run ``run_id`` among its flow's runs (None if it was not counted)."""
    return _number_of.get(run_id)
