"""One agent per catalog: a lock file in the run dir, a note of each running agent's catalog,
and a way for the CLI to see them.

Besides ``RUN_DIR/agent.lock`` (held with ``flock`` for the agent's lifetime), a running agent
leaves ``agent.json`` in its run dir and an entry in the per-user agents folder
(``agents_dir()``) naming its catalog, so that a command given no catalog can use the one agent
running from the current folder (``agents_here``). An entry is trusted only while its run dir's
lock is held by the pid it names: an agent killed by SIGKILL leaves a stale entry, ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paramedic.errors import Refused

AGENTS_DIR_ENV = "PARAMEDIC_AGENTS_DIR"


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


@contextlib.asynccontextmanager
async def waited_lock(path: Path, every_s: float = 0.02) -> AsyncIterator[Path]:
    """Hold an exclusive ``flock`` on ``path``, waiting (without blocking the event loop) while
    another process holds it: several agents of one host serialise a start through it.

    Polled with ``LOCK_NB`` rather than waited for in a thread, so a cancelled wait leaves no
    thread behind that would take the lock later.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(every_s)
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


@contextlib.contextmanager
def agent_lock(run_dir: Path, catalog: str | None = None) -> Iterator[Path]:
    """Hold ``run_dir/agent.lock`` for the agent's lifetime; Refused when another agent holds it.

    With ``catalog`` (the catalog file), the agent is also noted as running it (``agents_here``).
    """
    path = run_dir / "agent.lock"

    def refusal(holder: str) -> str:
        return (
            f"another paramedic agent (pid {holder}) is running for this catalog ({path}); "
            "stop it first"
        )

    with held_lock(path, refusal):
        if catalog is None or not Path(catalog).is_file():
            yield path
            return
        entry = RunningAgent(os.getpid(), Path(catalog).resolve(), run_dir.resolve(), Path.cwd())
        notes = [run_dir / "agent.json", _entry_path(entry)]
        for note in notes:
            with contextlib.suppress(OSError):  # a note is a convenience, never a reason to stop
                _write_json(note, entry.to_json())
        try:
            yield path
        finally:
            for note in notes:
                with contextlib.suppress(OSError):
                    note.unlink()


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
    return _holder(run_dir) is not None


def _holder(run_dir: Path) -> int | None:
    """Pid of the agent holding ``run_dir/agent.lock``; None when nobody holds it."""
    path = run_dir / "agent.lock"
    if not path.exists():
        return None
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


@dataclass(frozen=True)
class RunningAgent:
    """What a running agent notes about itself: its pid, catalog, run dir and working folder."""

    pid: int
    catalog: Path
    run_dir: Path
    cwd: Path

    def to_json(self) -> dict[str, object]:
        """The note as JSON."""
        return {
            "pid": self.pid,
            "catalog": str(self.catalog),
            "run_dir": str(self.run_dir),
            "cwd": str(self.cwd),
        }

    def runs_from(self, folder: Path) -> bool:
        """True when the agent was started in ``folder`` or runs a catalog inside it."""
        folder = folder.resolve()
        return self.cwd == folder or self.catalog.is_relative_to(folder)


def agents_dir() -> Path:
    """The per-user folder of running agents' notes (``$PARAMEDIC_AGENTS_DIR`` overrides it)."""
    if os.environ.get(AGENTS_DIR_ENV):
        return Path(os.environ[AGENTS_DIR_ENV])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "paramedic" / "agents"
    return Path(tempfile.gettempdir()) / f"paramedic-{os.getuid()}" / "agents"


def running_agents() -> list[RunningAgent]:
    """Agents running now, as their notes say and their locks confirm (stale notes ignored)."""
    folder = agents_dir()
    found = []
    for note in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        agent = _read_note(note)
        if agent is not None and _holder(agent.run_dir) == agent.pid:
            found.append(agent)
        elif agent is not None and not _alive(agent.pid):
            with contextlib.suppress(OSError):  # left by an agent killed with SIGKILL
                note.unlink()
    return found


def agents_here(folder: Path) -> list[RunningAgent]:
    """The running agents started in ``folder`` or running a catalog inside it."""
    return [a for a in running_agents() if a.runs_from(folder)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _entry_path(agent: RunningAgent) -> Path:
    digest = hashlib.sha256(str(agent.run_dir).encode()).hexdigest()[:12]
    return agents_dir() / f"{agent.pid}-{digest}.json"


def _read_note(path: Path) -> RunningAgent | None:
    try:
        data = json.loads(path.read_text())
        return RunningAgent(
            int(data["pid"]), Path(data["catalog"]), Path(data["run_dir"]), Path(data["cwd"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a half-written or foreign file: not an agent we can use


def _write_json(path: Path, data: dict[str, object]) -> None:
    """Write atomically (a reader never sees half a note); the folder is private to the user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    tmp.replace(path)
