"""The step cache: a step whose code and input are unchanged returns its stored result.

The key of one call of a step is ``"<event id>:<code digest>:<input digest>"``:

* the event id (the flow's stable id of the step);
* :func:`~.fingerprint.code_digest` of the step's function: bytecode, constants, names,
  default values and closure values (not line numbers or the docstring; not the code of other
  functions it calls by name);
* :func:`~.fingerprint.value_digest` of the step's input, or of ``Cache.key(input)`` when the
  cache has a ``key`` function (e.g. ``key=lambda inp: inp["url"]`` to ignore the rest).

An input (or key) that cannot be pickled has no digest: the step simply runs, with one warning
per step and run. Entries last ``ttl`` seconds (for ever when None) and survive kernel restarts,
as they live in the run store.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .errors import StoreTypeError, StoreWarning
from .fingerprint import code_digest, value_digest
from .protocol import RunStore
from .values import dumps_value, loads_value, type_name

__all__ = ["Cache", "as_cache", "StepCache", "step_cache_key"]

_MAX_REMEMBERED: Final = 4096  # code digests and warned steps kept per StepCache


@dataclass(frozen=True, slots=True)
class Cache:
    """How a step's results are cached (``cache=Cache(...)``; ``cache=True`` is ``Cache()``).

    Args:
        ttl: seconds a cached result stays valid; None (the default) keeps it until the
            step's code changes.
        key: a function of the step's input whose value decides, in place of the whole input,
            whether a cached result applies; it must return something picklable.
    """

    ttl: float | None = None
    key: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.ttl is not None and (
            isinstance(self.ttl, bool) or not isinstance(self.ttl, (int, float)) or self.ttl <= 0
        ):
            raise ValueError(
                f"Cache(ttl=...) is a number of seconds > 0 or None (no expiry), got {self.ttl!r}"
            )
        if self.key is not None and not callable(self.key):
            raise TypeError(
                f"Cache(key=...) is a function of the step's input, got a {type_name(self.key)}"
            )


def as_cache(cache: bool | Cache | None) -> Cache | None:
    """The :class:`Cache` that ``cache=`` asks for, or None for no caching."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return Cache()
    if isinstance(cache, Cache):
        return cache
    raise StoreTypeError(
        f"cache= takes True, False, None or a Cache(ttl=..., key=...), not a {type_name(cache)}"
    )


def step_cache_key(event_id: str, func: Callable[..., Any], input: Any, cache: Cache) -> str | None:
    """The cache key of one call of a step, or None when its input has no digest.

    Raises whatever ``cache.key`` raises.
    """
    keyed = input if cache.key is None else cache.key(input)
    input_part = value_digest(keyed)
    if input_part is None:
        return None
    return f"{event_id}:{code_digest(func)}:{input_part}"


class StepCache:
    """The runner's step cache for one run: keys, look-ups and saves in a :class:`RunStore`.

    ``clock`` is ``time.time`` unless a test gives its own (ttl is in the clock's seconds).
    """

    __slots__ = ("store", "_clock", "_code", "_warned")

    def __init__(self, store: RunStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._code: dict[Callable[..., Any], str] = {}
        self._warned: set[tuple[str, str]] = set()

    def key(self, event_id: str, func: Callable[..., Any], input: Any, cache: Cache) -> str | None:
        """The key of this call, or None (the step must run; a warning said why, once)."""
        try:
            keyed = input if cache.key is None else cache.key(input)
        except Exception as exc:
            self._warn_once(
                event_id,
                "key",
                f"step {event_id!r}: its Cache(key=...) function raised {type(exc).__name__}: "
                f"{exc}, so the step runs without the cache; fix the key function",
            )
            return None
        input_part = value_digest(keyed)
        if input_part is None:
            what = "input" if cache.key is None else "cache key"
            self._warn_once(
                event_id,
                "input",
                f"step {event_id!r}: its {what}, a {type_name(keyed)}, cannot be pickled, so it "
                "cannot be hashed and the step runs without the cache; give "
                "Cache(key=...) a function of the input that returns plain data",
            )
            return None
        return f"{event_id}:{self._code_digest(func)}:{input_part}"

    def lookup(self, key: str) -> tuple[bool, Any]:
        """``(True, result)`` on a hit, ``(False, None)`` on a miss or an expired entry."""
        blob = self.store.cache_get(key, self._clock())
        if blob is None:
            return False, None
        ok, value = loads_value(blob)
        return (True, value) if ok else (False, None)

    def save(self, key: str, event_id: str, result: Any, cache: Cache) -> bool:
        """Cache ``result`` under ``key``; a result that cannot be pickled is not (one warning)."""
        blob = dumps_value(result)
        if blob is None:
            self._warn_once(
                event_id,
                "result",
                f"step {event_id!r}: its result, a {type_name(result)}, cannot be pickled, so it "
                "is not cached; return plain data to cache it",
            )
            return False
        return self.store.cache_put(key, event_id, blob, self._clock(), cache.ttl)

    def _code_digest(self, func: Callable[..., Any]) -> str:
        try:
            digest = self._code.get(func)
        except TypeError:  # a method of an unhashable instance: not remembered
            return code_digest(func)
        if digest is None:
            if len(self._code) >= _MAX_REMEMBERED:
                self._code.clear()
            digest = self._code[func] = code_digest(func)
        return digest

    def _warn_once(self, event_id: str, what: str, message: str) -> None:
        if (event_id, what) in self._warned:
            return
        if len(self._warned) >= _MAX_REMEMBERED:
            self._warned.clear()
        self._warned.add((event_id, what))
        warnings.warn(message, StoreWarning, stacklevel=3)
