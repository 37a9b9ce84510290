"""Helper processes paramedic runs to their end (catalog commands, restic, PostgreSQL's and
pgBackRest's tools, a scratch redis-server verifying a snapshot).

Each runs in a session of its own, and while it runs its process group is noted here, so
that an agent standing down (it lost its lease: another agent may already be redoing the same
step) kills them all before it re-executes. Owned services (``supervise.OwnedProcess``) are
never noted: they are meant to outlive the agent.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

_RUNNING: set[int] = set()
"""Process group ids of the helpers running now."""


@contextlib.contextmanager
def tracked(pgid: int) -> Iterator[None]:
    """Note the helper whose process group is ``pgid`` while inside the block."""
    _RUNNING.add(pgid)
    try:
        yield
    finally:
        _RUNNING.discard(pgid)


def running() -> int:
    """How many helpers run now."""
    return len(_RUNNING)


def kill_all() -> int:
    """SIGKILL every running helper's process group; returns how many were still there."""
    killed = 0
    for pgid in sorted(_RUNNING):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
            killed += 1
    _RUNNING.clear()
    return killed
