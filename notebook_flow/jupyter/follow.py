"""Which live view follows the runs of which Flow or WorkflowManager.

One ``observe_runs`` hook for the whole process hands each new run to the view following its
source. The newest view of a source takes over from older ones (re-running the cell that made a
view must not leave the old one updating too); old views keep showing their last run.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from .. import RunFeed, observe_runs

__all__ = ["follow", "unfollow", "follower_of"]


class _Follower(Protocol):
    def attach(self, run: Any) -> Any: ...


_followers: weakref.WeakKeyDictionary[Any, _Follower] = weakref.WeakKeyDictionary()
_hook: list[Any] = []


def _on_new_run(feed: RunFeed) -> None:
    try:
        view = _followers.get(feed.source)
    except TypeError:  # a source that cannot be weakly referenced is never followed
        return
    if view is not None:
        view.attach(feed)


def follow(source: Any, view: _Follower) -> None:
    """From now on, every new run of ``source`` is attached to ``view`` (replacing older views)."""
    if not _hook:
        _hook.append(observe_runs(_on_new_run))
    _followers[source] = view


def unfollow(source: Any, view: _Follower) -> None:
    """Stop ``view`` following ``source`` (no-op if another view follows it now)."""
    try:
        if _followers.get(source) is view:
            del _followers[source]
    except TypeError:
        pass


def follower_of(source: Any) -> _Follower | None:
    try:
        return _followers.get(source)
    except TypeError:
        return None
