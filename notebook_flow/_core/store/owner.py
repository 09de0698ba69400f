"""Which process runs a durable run, and whether that process is still alive.

A run row keeps its owner as ``host:pid:start`` (``start`` is the process's start time from
``/proc`` on Linux, "" elsewhere), so a resume can refuse to take over a run that another live
kernel is running, and a process id reused after a restart is not mistaken for the old one.
"""

from __future__ import annotations

import os
import socket

__all__ = ["this_owner", "owner_alive"]


def this_owner() -> str:
    """The owner string of the calling process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def owner_alive(owner: str) -> bool | None:
    """True if that process still runs, False if it is gone, None if it cannot be told
    (another host, or no owner recorded)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if not host or not pid_text.isdigit() or host != socket.gethostname():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return not (start and _start_time(pid) != start)  # else the pid was reused


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return ""
    return fields[19] if len(fields) > 19 else ""  # field 22 of stat(5): starttime
