"""Keeping the garbage collector out of a run's way (process-wide, restored afterwards).

Both measures were measured on the benchmarks (see the notes at each) and are undone when the
last run that needed them ends, however it ends.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

__all__ = ["freeze_for_run", "thaw_after_run", "relief_enter", "relief_exit", "RELIEF_AT"]

# While runs are active, every object that existed when the first of them started (the declared
# flows, the notebook's data) sits in the collector's permanent generation (gc.freeze()), so the
# full collections a run's many short-lived records trigger do not scan it all again: measured,
# the collector took most of W1's time at 10,000 steps and W2's at 10,000 parallel steps. Those
# objects are still freed by reference counting; only cyclic garbage among them waits until the
# last active run ends (gc.unfreeze()). Objects created during a run are collected as usual.
# An application that uses gc.freeze() itself (a server before it forks, say) is left alone.
_frozen = {"runs": 0, "ours": False}
_frozen_lock = threading.Lock()


def freeze_for_run() -> None:
    with _frozen_lock:
        _frozen["runs"] += 1
        if _frozen["runs"] == 1 and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.freeze()
            _frozen["ours"] = True


def thaw_after_run() -> None:
    with _frozen_lock:
        if _frozen["runs"] == 0:
            return  # an interrupt landed before this run froze anything
        _frozen["runs"] -= 1
        if _frozen["runs"] == 0 and _frozen["ours"]:
            _frozen["ours"] = False
            gc.unfreeze()


# A wide fan-out keeps thousands of steps alive at once; each young-generation collection then
# promotes them and soon triggers full collections over every object of the process. While at
# least this many steps run in parallel, the youngest generation collects less often.
RELIEF_AT = 512
RELIEF_GEN0 = 50_000
# Process wide and counted across concurrent runs (runs on other threads' loops too); the
# threshold is restored when the last wide run ends, however it ends. Measured: W2 N=10,000 with
# gc.freeze (run.py) 20.6 -> 15.3 us per step; no change at N <= 1,000 or in peak memory.
_gc_relief: dict[str, Any] = {"users": 0, "saved": None}
_gc_relief_lock = threading.Lock()


def relief_enter(run: Any) -> None:
    with _gc_relief_lock:
        if _gc_relief["users"] == 0:
            saved = gc.get_threshold()
            _gc_relief["saved"] = saved
            gc.set_threshold(max(saved[0], RELIEF_GEN0), *saved[1:])
        _gc_relief["users"] += 1
        run.relieved = True  # with the count: no interrupt can land between the two


def relief_exit(run: Any) -> None:
    with _gc_relief_lock:
        if not run.relieved:
            return
        run.relieved = False
        _gc_relief["users"] -= 1
        if _gc_relief["users"] == 0 and _gc_relief["saved"] is not None:
            gc.set_threshold(*_gc_relief["saved"])
            _gc_relief["saved"] = None
