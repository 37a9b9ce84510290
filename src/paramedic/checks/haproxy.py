"""The ``haproxy`` check: HAProxy's runtime API answers, and a backend has enough servers UP.

It also holds the small runtime API client (``runtime_api``) and the ``show stat`` reading the
haproxy provider shares. The runtime API is the ``stats socket`` of the config: in its default
non-interactive mode it answers one command and closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import errno
from dataclasses import dataclass

from paramedic.catalog.model import HaproxyCheck
from paramedic.checks.probe import (
    ProbeContext,
    Verdict,
    failed,
    first_line,
    is_timeout,
    passed,
    timeout_detail,
)
from paramedic.checks.result import FailureClass

_UP = ("UP", "no check")
"""Statuses HAProxy routes traffic to (a server without ``check`` is taken as up)."""


@dataclass(frozen=True)
class ServerState:
    """One server of a backend as ``show stat`` lists it."""

    name: str
    status: str
    """``UP``, ``DOWN``, ``MAINT``, ``UP 1/2`` (going down), ``no check``, …"""
    address: str

    @property
    def up(self) -> bool:
        """True when HAProxy sends this server traffic."""
        return self.status in _UP or self.status.startswith("UP ")


async def runtime_api(socket_path: str, command: str) -> str:
    """Send one ``command`` to the stats socket; its whole answer, or OSError if unreachable."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        answer = await reader.read()  # the socket closes after one command
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return answer.decode(errors="replace")


def info_fields(answer: str) -> dict[str, str]:
    """``show info`` as a mapping (``Name``, ``Version``, ``Pid``, ``Uptime``, …)."""
    fields: dict[str, str] = {}
    for line in answer.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def backend_servers(stat_csv: str, backend: str) -> list[ServerState] | None:
    """The servers of ``backend`` in a ``show stat`` answer; None when no such backend is listed."""
    lines = stat_csv.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        return None
    found = False
    servers: list[ServerState] = []
    for row in csv.DictReader([lines[0][2:], *lines[1:]]):
        if row.get("pxname") != backend:
            continue
        found = True
        name = row.get("svname") or ""
        if name not in ("FRONTEND", "BACKEND"):
            servers.append(ServerState(name, row.get("status") or "", row.get("addr") or ""))
    return servers if found else None


def backend_names(stat_csv: str) -> list[str]:
    """Names of the backends in a ``show stat`` answer."""
    lines = stat_csv.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        return []
    rows = csv.DictReader([lines[0][2:], *lines[1:]])
    return sorted({row["pxname"] for row in rows if row.get("svname") == "BACKEND"})


def unreachable(exc: OSError, socket_path: str, timeout_s: float) -> Verdict:
    """Classify a stats socket that could not be used: refused, timeout or error."""
    if exc.errno == errno.ENOENT:
        return failed(
            FailureClass.refused, f"no stats socket at {socket_path} (is haproxy running?)"
        )
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return failed(FailureClass.refused, f"connection refused on {socket_path}")
    if is_timeout(exc):
        return failed(FailureClass.timeout, timeout_detail(timeout_s))
    reason = exc.strerror or first_line(exc)
    return failed(FailureClass.error, f"cannot use stats socket {socket_path}: {reason}")


async def probe_haproxy(check: HaproxyCheck, ctx: ProbeContext) -> Verdict:
    """``show info`` must answer; with ``backend``, ``show stat`` must show ``min_up`` UP."""
    path = check.stats_socket
    try:
        info = info_fields(await runtime_api(path, "show info"))
        stat = await runtime_api(path, "show stat") if check.backend is not None else ""
    except OSError as exc:  # TimeoutError is an OSError: unreachable tells them apart
        return unreachable(exc, path, ctx.timeout_s)
    if info.get("Name") != "HAProxy":
        return failed(FailureClass.bad_response, f"{path} answered show info without Name: HAProxy")
    version = info.get("Version", "?")
    if check.backend is None:
        return passed(f"HAProxy {version} answers on {path} (worker pid {info.get('Pid', '?')})")
    servers = backend_servers(stat, check.backend)
    if servers is None:
        known = ", ".join(backend_names(stat)) or "none"
        return failed(
            FailureClass.bad_response,
            f"backend {check.backend} is not in show stat; backends: {known}",
        )
    up = [server for server in servers if server.up]
    listed = ", ".join(f"{s.name} {s.status}" for s in servers) or "no servers"
    summary = f"backend {check.backend}: {len(up)} of {len(servers)} server(s) UP"
    if len(up) < check.min_up:
        return failed(FailureClass.bad_response, f"{summary}, needs {check.min_up}: {listed}")
    return passed(f"{summary} ({listed})")
