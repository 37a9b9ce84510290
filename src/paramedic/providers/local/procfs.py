"""What /proc says about a process: its identity, its state, its command line.

A process paramedic owns is known by what cannot change across ``execve``: its pid, its
start time (clock ticks since boot) and its session id (paramedic starts every owned process
as the leader of a new session). A launcher (``sh -c 'exec …'``, ``env``, a start script, a
pyenv shim) keeps all three when it execs the daemon; only the command line changes, so the
command line is a hint for people, never part of the identity. Linux only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat paramedic uses (see proc(5))."""

    state: str
    """``R``, ``S``, ``D``, ``T`` (stopped by a signal), ``t`` (traced), ``Z``…"""
    pgid: int
    sid: int
    start_time: int
    """Clock ticks since boot: with the pid, an identity."""

    @property
    def stopped(self) -> bool:
        """True when the process is stopped (SIGSTOP, SIGTSTP) and cannot act on a signal."""
        return self.state in ("T", "t")

    @property
    def gone(self) -> bool:
        """True for a zombie or a dead process: it no longer runs."""
        return self.state in ("Z", "X")


def proc_stat(pid: int) -> ProcStat | None:
    """/proc/<pid>/stat of ``pid``; None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return ProcStat(
        state=fields[0], pgid=int(fields[2]), sid=int(fields[3]), start_time=int(fields[19])
    )


def proc_start_time(pid: int) -> int | None:
    """Start time of a live ``pid`` in clock ticks since boot; None when gone or a zombie."""
    stat = proc_stat(pid)
    return None if stat is None or stat.gone else stat.start_time


def proc_cmdline(pid: int) -> list[str] | None:
    """argv of ``pid`` as /proc shows it; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    raw = raw.rstrip(b"\0")
    return [part.decode(errors="surrogateescape") for part in raw.split(b"\0")] if raw else []


def seconds_since_start(start_ticks: int) -> float:
    """How long ago a process that started at ``start_ticks`` (clock ticks since boot) began."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return max(0.0, uptime - start_ticks / _CLK_TCK)


def is_same_process(pid: int, start_time: int, sid: int | None = None) -> bool:
    """True when ``pid`` is alive and is the process that started at ``start_time``.

    With ``sid``, its session id must match as well (an owned process leads its own session).
    """
    stat = proc_stat(pid)
    if stat is None or stat.gone or stat.start_time != start_time:
        return False
    return sid is None or stat.sid == sid


def stopped_in_group(pgid: int) -> list[int]:
    """Pids of the processes of group ``pgid`` in state T (stopped): they ignore SIGTERM."""
    stopped = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is not None and stat.pgid == pgid and stat.stopped:
            stopped.append(int(entry.name))
    return sorted(stopped)


def stopped_family(pid: int) -> list[int]:
    """``pid`` and its direct children that are in state T (a postmaster and its backends)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    family = [pid, *(int(child) for child in children)]
    return [p for p in family if (stat := proc_stat(p)) is not None and stat.stopped]


def find_by_environ(token: str) -> int | None:
    """Pid of the session leader whose environment holds ``token`` (``NAME=value``); else None.

    What finds a process paramedic started when the agent died before it could write its pid:
    the token goes into the child's environment before ``execve``, and launchers keep it.
    """
    needle = token.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # another user's process, or gone
        if needle in environ.split(b"\0"):
            stat = proc_stat(pid)
            if stat is not None and not stat.gone and stat.sid == pid:
                return pid
    return None


__all__ = [
    "ProcStat",
    "find_by_environ",
    "is_same_process",
    "proc_cmdline",
    "proc_start_time",
    "proc_stat",
    "seconds_since_start",
    "stopped_family",
    "stopped_in_group",
]
