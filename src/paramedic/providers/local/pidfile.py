"""The pid file of a process paramedic owns (``ProcessRecord``) and the small JSON files
the local providers keep in their run dir.

A record holds what identifies the process across agent runs and a launcher's exec: pid,
start time and session (see ``procfs``), with argv and the last command line seen as hints.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paramedic.providers.local.procfs import (
    find_by_environ,
    is_same_process,
    proc_cmdline,
    proc_stat,
)

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------- small files


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one).

    The temporary name is this process's and thread's own: agents sharing a run dir (several
    agents on one host) never rename each other's half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when it is missing or unreadable (logged)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _log.warning("ignoring unreadable state file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- the pid file


INSTANCE_ENV = "PARAMEDIC_INSTANCE"
"""Set in every owned process's environment to the token of its pid file (see ``spawn``)."""


@dataclass
class ProcessRecord:
    """What the pid file of an owned process says about it."""

    pid: int
    """0 while the process is being started (only ``token`` finds it then)."""
    start_time: int
    """Clock ticks since boot (field 22 of /proc/<pid>/stat): with the pid, an identity."""
    argv: list[str]
    """The argv paramedic launched."""
    cmdline: list[str]
    """/proc/<pid>/cmdline as last seen (differs from argv once ``sh -c`` execs its command):
    a hint for people, not part of the identity (a launcher's exec changes it)."""
    port: int | None
    started_at: str
    sid: int | None = None
    """Session id (paramedic starts it as a session leader: its pid); None in older files."""
    reason: str = ""
    """Why paramedic started it: ``agent start``, ``restart_service for incident …``."""
    token: str = ""
    """The value of ``PARAMEDIC_INSTANCE`` in its environment, written before it started."""

    def save(self, path: Path) -> None:
        """Write the record to ``path``."""
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        """The record in ``path``; None when missing or not a record."""
        data = read_json(path)
        try:
            return cls(**data) if data else None
        except TypeError:
            _log.warning("ignoring pid file %s: not a paramedic process record", path)
            return None

    def is_running(self) -> bool:
        """True when this very process is alive: same pid, start time and session.

        The command line is not compared: a launcher that execs its daemon changes it while
        pid, start time and session stay (see ``procfs``).
        """
        return self.pid > 0 and is_same_process(self.pid, self.start_time, self.sid)

    def identity(self) -> dict[str, int]:
        """What tells this process from any other later: pid, start time (and session)."""
        found = {"pid": self.pid, "start_time": self.start_time}
        return found if self.sid is None else {**found, "sid": self.sid}

    def found_again(self) -> bool:
        """Look for the process by its token when the agent died before recording its pid.

        True (and the record filled in from /proc) when a session leader carries the token.
        Only a record still at pid 0 is looked for: once the pid is written, it is the identity.
        """
        if not self.token or self.pid != 0:
            return False
        pid = find_by_environ(f"{INSTANCE_ENV}={self.token}")
        stat = None if pid is None else proc_stat(pid)
        if pid is None or stat is None:
            return False
        self.pid, self.start_time, self.sid = pid, stat.start_time, stat.sid
        self.cmdline = proc_cmdline(pid) or self.cmdline
        return True


__all__ = ["INSTANCE_ENV", "ProcessRecord", "read_json", "write_json"]
