"""Run keys: short, unique in practice, and sorted by when the run started."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_run_key"]


def new_run_key(now: float | None = None) -> str:
    """A new run key such as ``20261201-230512-3f9a1c0b``: the start (UTC) and 32 random bits.

    Readable enough to type in ``%flow resume KEY``; two processes starting runs in the same
    second collide with a chance of one in four billion per pair, and the store refuses a
    duplicate key anyway (the caller then draws again).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(4)}"
