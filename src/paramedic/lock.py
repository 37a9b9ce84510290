"""One agent per catalog: a lock file in the run dir, and a way for the CLI to see it held."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from paramedic.errors import Refused


@contextlib.contextmanager
def held_lock(path: Path, refusal: Callable[[str], str]) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (which records our pid) while inside the block.

    When another process holds it, ``Refused(refusal(holder_pid))`` is raised at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise Refused(refusal(holder)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield path
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def agent_lock(run_dir: Path) -> contextlib.AbstractContextManager[Path]:
    """Hold ``run_dir/agent.lock`` for the agent's lifetime; Refused when another agent holds it."""
    path = run_dir / "agent.lock"
    return held_lock(
        path,
        lambda holder: (
            f"another paramedic agent (pid {holder}) is running for this catalog ({path}); "
            "stop it first"
        ),
    )


@contextlib.contextmanager
def named_agent_lock(run_dir: Path, name: str) -> Iterator[Path]:
    """One of several agents of this catalog on one host (``paramedic run --name``).

    It holds ``agent.lock`` shared, so ``agent_running`` sees it and an unnamed agent is
    refused, and its own ``agents/<name>.lock`` exclusively, so a name runs once.
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    path = run_dir / "agent.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise Refused(
            f"an unnamed paramedic agent runs for this catalog ({path}); stop it first"
        ) from None
    try:
        own = run_dir / "agents" / f"{safe}.lock"
        with held_lock(
            own, lambda holder: f"agent {name} already runs (pid {holder}, {own}); stop it first"
        ):
            yield own
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def agent_running(run_dir: Path) -> bool:
    """True when an agent holds the lock of this run dir."""
    path = run_dir / "agent.lock"
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
