"""What this host shows about its listening services: sockets, processes, systemd units, config files.

Read through psutil (``/proc``). A process another user owns may hide its
command line, working folder or even which socket is its own unless we are
root: every such gap becomes a note, never an error.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Listener:
    """One process listening on TCP, with what could be read of it."""

    pid: int
    ports: list[int]
    address: str
    """Where to reach it from this host: 127.0.0.1, [::1] or the one address it binds."""
    name: str = ""
    exe: str = ""
    cmdline: list[str] = field(default_factory=list)
    cwd: str = ""
    user: str = ""
    unit: str | None = None
    hidden: list[str] = field(default_factory=list)
    """What could not be read of it (``cmdline``, ``cwd``…)."""


def listeners(notes: list[str]) -> list[Listener]:
    """Every listening TCP process that can be seen, parent-most per port; gaps added to ``notes``."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        notes.append(
            "listening sockets not readable (psutil AccessDenied): run as root to see them"
        )
        return []
    by_pid: dict[int, set[int]] = {}
    addresses: dict[int, str] = {}
    unowned: set[int] = set()
    for conn in conns:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr:
            continue
        port = conn.laddr.port
        if conn.pid is None:
            unowned.add(port)
            continue
        by_pid.setdefault(conn.pid, set()).add(port)
        addresses.setdefault(conn.pid, _reach(conn.laddr.ip))
    owned_ports = {p for ports in by_pid.values() for p in ports}
    hidden = sorted(unowned - owned_ports)
    if hidden:
        shown = ", ".join(str(p) for p in hidden)
        notes.append(
            f"ports {shown}: their process is not readable (another user's); run as root to see them"
        )
    found: list[Listener] = []
    for pid, ports in sorted(by_pid.items()):
        if pid == os.getpid() or _worker_of_listener(pid, ports, by_pid):
            continue  # a worker of a listening parent (HAProxy, a pre-forking server)
        found.append(_describe(pid, sorted(ports), addresses[pid], notes))
    return found


def _worker_of_listener(pid: int, ports: set[int], by_pid: dict[int, set[int]]) -> bool:
    """True when ``pid``'s parent listens on the same ports (a pre-forked worker sharing them).

    A child that listens on ports of its own (a server a supervisor or a test started) is a
    listener in its own right.
    """
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid).ppid()
        return parent in by_pid and ports <= by_pid[parent]
    return False


def _reach(ip: str) -> str:
    if ip in ("0.0.0.0", "127.0.0.1", "::", ""):
        return "127.0.0.1"
    if ip == "::1":
        return "[::1]"
    return f"[{ip}]" if ":" in ip else ip


def _describe(pid: int, ports: list[int], address: str, notes: list[str]) -> Listener:
    found = Listener(pid=pid, ports=ports, address=address)
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        found.hidden.append("process")
        return found
    for attr in ("name", "exe", "cmdline", "cwd", "username"):
        try:
            value = getattr(proc, attr)()
        except psutil.Error:
            found.hidden.append(attr)
            continue
        setattr(found, "user" if attr == "username" else attr, value)
    found.unit = systemd_unit(pid)
    if found.hidden:
        notes.append(
            f"pid {pid} (ports {', '.join(map(str, ports))}): {', '.join(found.hidden)} not "
            "readable (another user's process); its draft holds what could be seen"
        )
    return found


def systemd_unit(pid: int) -> str | None:
    """The system service ``pid`` runs in (``nginx.service``), from ``/proc/PID/cgroup``."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        path = line.rsplit(":", 1)[-1]
        match = re.search(r"/system\.slice/(?:[^/]+\.slice/)*([^/]+\.service)(?:/|$)", path)
        if match:
            return match.group(1)
    return None


def postmaster_pid(data_dir: str) -> tuple[int | None, str | None]:
    """Port and first socket directory from ``DATA_DIR/postmaster.pid`` (lines 4 and 5)."""
    try:
        lines = Path(data_dir, "postmaster.pid").read_text().splitlines()
    except OSError:
        return None, None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    socket_dir = lines[4].strip() if len(lines) > 4 and lines[4].strip() else None
    return port, socket_dir


def option(cmdline: list[str], *flags: str) -> str | None:
    """The value after ``-D`` / ``--dir`` (or ``-D=VALUE``) in a command line."""
    for index, arg in enumerate(cmdline):
        for flag in flags:
            if arg == flag and index + 1 < len(cmdline):
                return cmdline[index + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def haproxy_stats_socket(config: str) -> str | None:
    """The ``stats socket PATH`` an HAProxy configuration declares, if any."""
    try:
        text = Path(config).read_text()
    except OSError:
        return None
    match = re.search(r"^\s*stats\s+socket\s+(?:unix@)?(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None
