"""The step cache: its key follows the step's code and input and nothing else; ttl; two processes."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from notebook_flow._core.store import (
    Cache,
    SqliteStore,
    StepCache,
    StoreTypeError,
    StoreWarning,
    as_cache,
    code_digest,
    step_cache_key,
    value_digest,
)


def define(source: str, name: str = "step", **namespace: Any) -> Callable[..., Any]:
    """A function made from source, as a notebook cell makes it."""
    exec(compile(textwrap.dedent(source), "<cell>", "exec"), namespace)
    func: Callable[..., Any] = namespace[name]
    return func


BASE = """
async def step(event, ctx):
    \"\"\"Double the numbers.\"\"\"
    return [n * 2 for n in event]
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "runs.sqlite") as opened:
        yield opened


def test_the_code_digest_changes_with_what_the_step_computes() -> None:
    base = code_digest(define(BASE))
    changed = {
        "the body": BASE.replace("n * 2", "n + 2"),
        "a constant": BASE.replace("n * 2", "n * 3"),
        "a name it uses": BASE.replace("for n in event", "for n in ctx"),
        "a default value": BASE.replace("(event, ctx)", "(event, ctx=1)"),
        "sync instead of async": BASE.replace("async def", "def"),
    }
    digests = {what: code_digest(define(src)) for what, src in changed.items()}
    for what, digest in digests.items():
        assert digest != base, what
    assert len(set(digests.values())) == len(digests)


def test_the_code_digest_ignores_line_numbers_docstrings_and_the_object() -> None:
    base = code_digest(define(BASE))
    assert code_digest(define("\n\n\n# a comment\n" + BASE)) == base
    assert code_digest(define(BASE.replace("Double the numbers.", "Twice each number."))) == base
    assert code_digest(define(BASE)) == base  # a cell run again: a new function object


def test_the_code_digest_follows_closures_partials_and_wrappers() -> None:
    source = """
    def make(factor):
        def step(event, ctx):
            return event * factor
        return step
    """
    make = define(source, "make")
    assert code_digest(make(2)) == code_digest(make(2))
    assert code_digest(make(2)) != code_digest(make(3))
    assert code_digest(make(threading.Lock())) == code_digest(make(threading.Lock()))  # by type

    def scale(event: int, ctx: object, factor: int) -> int:
        return event * factor

    assert code_digest(functools.partial(scale, factor=2)) != code_digest(
        functools.partial(scale, factor=3)
    )

    @functools.wraps(scale)
    def logged(*args: Any) -> Any:
        return scale(*args)

    assert code_digest(logged) == code_digest(scale)


def test_the_value_digest_follows_content_not_order_or_identity() -> None:
    assert value_digest({"a": 1, "b": [1, 2]}) == value_digest({"b": [1, 2], "a": 1})
    assert value_digest({"x", "y", "z"}) == value_digest({"z", "y", "x"})
    distinct = [1, True, 1.0, "1", b"1", [1], (1,), {1}, frozenset({1}), {1: 1}, None, ""]
    assert len({value_digest(v) for v in distinct}) == len(distinct)
    assert value_digest(("a", "bc")) != value_digest(("ab", "c"))
    assert value_digest(threading.Lock()) is None
    assert value_digest([1, threading.Lock()]) is None


def test_the_key_has_the_event_the_code_and_the_input(store: SqliteStore) -> None:
    step = define(BASE)
    key = step_cache_key("double", step, [1, 2], Cache())
    assert key is not None and key.startswith("double:")
    assert step_cache_key("double", step, [1, 2], Cache()) == key
    assert step_cache_key("triple", step, [1, 2], Cache()) != key
    assert step_cache_key("double", step, [1, 3], Cache()) != key
    assert step_cache_key("double", define(BASE.replace("2", "4")), [1, 2], Cache()) != key
    by_url = Cache(key=lambda inp: inp["url"])
    assert step_cache_key("fetch", step, {"url": "u", "at": 1}, by_url) == step_cache_key(
        "fetch", step, {"url": "u", "at": 2}, by_url
    )


def test_a_hit_returns_the_stored_result_and_ttl_expires_it(store: SqliteStore) -> None:
    now = [1000.0]
    cache = StepCache(store, clock=lambda: now[0])
    step = define(BASE)
    policy = Cache(ttl=60)
    key = cache.key("double", step, [1, 2], policy)
    assert key is not None
    assert cache.lookup(key) == (False, None)
    assert cache.save(key, "double", [2, 4], policy)
    assert cache.lookup(key) == (True, [2, 4])
    now[0] += 59.0
    assert cache.lookup(key) == (True, [2, 4])
    now[0] += 2.0
    assert cache.lookup(key) == (False, None)
    forever = Cache()
    assert cache.save(key, "double", [2, 4], forever)
    now[0] += 10**9
    assert cache.lookup(key) == (True, [2, 4])


def test_an_input_that_cannot_be_hashed_runs_the_step_with_one_warning(store: SqliteStore) -> None:
    cache = StepCache(store)
    step = define(BASE)
    with pytest.warns(StoreWarning) as caught:
        for _ in range(3):
            assert cache.key("locked", step, {"lock": threading.Lock()}, Cache()) is None
    assert len(caught) == 1
    assert "'locked'" in str(caught[0].message) and "dict" in str(caught[0].message)
    with pytest.warns(StoreWarning, match="Cache\\(key=...\\) function raised KeyError"):
        assert cache.key("fetch", step, {}, Cache(key=lambda inp: inp["url"])) is None
    with pytest.warns(StoreWarning, match="result, a _thread.lock, cannot be pickled"):
        assert not cache.save("k", "locked", threading.Lock(), Cache())


def test_cache_options_are_checked() -> None:
    assert as_cache(True) == Cache() and as_cache(None) is None and as_cache(False) is None
    policy = Cache(ttl=5)
    assert as_cache(policy) is policy
    for ttl in (0, -1, "5", True):
        with pytest.raises(ValueError, match="ttl"):
            Cache(ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key"):
        Cache(key="url")  # type: ignore[arg-type]
    with pytest.raises(StoreTypeError, match="cache= takes"):
        as_cache(60)  # type: ignore[arg-type]


# The same cell run in another kernel: another process, another string-hash salt.
_OTHER_KERNEL = textwrap.dedent(
    """
    import json, sys, textwrap
    from notebook_flow._core.store import Cache, SqliteStore, StepCache

    source, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    namespace = {}
    exec(compile(source, "<cell>", "exec"), namespace)
    step = namespace["step"]
    the_input = {"tags": {"alpha", "beta", "gamma", "delta"}, "n": [1, 2, 3]}
    with SqliteStore(path) as store:
        cache = StepCache(store)
        key = cache.key("double", step, the_input, Cache())
        if mode == "save":
            cache.save(key, "double", {"doubled": [2, 4, 6]}, Cache())
        print(json.dumps({"key": key, "hit": cache.lookup(key)}))
    """
)


def test_a_cached_result_is_found_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    source = textwrap.dedent(BASE)
    outs = []
    for seed, mode in (("1", "save"), ("2", "look"), ("3", "look")):
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_KERNEL, source, str(path), mode],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert done.returncode == 0, done.stderr
        outs.append(json.loads(done.stdout))
    assert outs[0]["key"] == outs[1]["key"] == outs[2]["key"]
    assert outs[1]["hit"] == outs[2]["hit"] == [True, {"doubled": [2, 4, 6]}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        changed = textwrap.dedent(BASE.replace("n * 2", "n * 2 + 0"))
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_KERNEL, changed, str(path), "look"],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hit"] == [False, None]  # changed code: no stale result


def test_a_method_of_an_unhashable_object_gets_a_key(store: SqliteStore) -> None:
    class Agent:
        __hash__ = None  # type: ignore[assignment]

        def step(self, event: int, ctx: object) -> int:
            return event + 1

    cache = StepCache(store)
    key = cache.key("agent", Agent().step, 1, Cache())
    assert key is not None and key == cache.key("agent", Agent().step, 1, Cache())


def test_a_listening_events_input_digests_by_its_results_not_its_task_id() -> None:
    from notebook_flow.events import EventInput, ReturnBehavior

    first = EventInput("fetch_all", {"a": [1, 2], "b": {"x"}})
    second = EventInput("fetch_all", {"b": {"x"}, "a": [1, 2]})
    assert first.task_id != second.task_id
    assert value_digest(first) == value_digest(second)
    assert value_digest(first) != value_digest(EventInput("fetch_all", {"a": [1, 3], "b": {"x"}}))
    assert value_digest(first) != value_digest(EventInput("other", {"a": [1, 2], "b": {"x"}}))
    goto = EventInput("fetch_all", {"a": [1, 2], "b": {"x"}}, ReturnBehavior.GOTO)
    assert value_digest(first) != value_digest(goto)


def test_builtins_and_callable_objects_digest_by_name_and_content() -> None:
    class Scale:
        def __init__(self, factor: int) -> None:
            self.factor = factor

        def __call__(self, event: int, ctx: object) -> int:
            return event * self.factor

    assert code_digest(len) != code_digest(abs)
    assert code_digest(Scale(2)) == code_digest(Scale(2))
    assert code_digest(Scale(2)) != code_digest(Scale(3))
