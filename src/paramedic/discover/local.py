"""``paramedic discover local``: this host's listening services as draft components.

PostgreSQL (data directory and socket directory from its ``postmaster.pid``),
Redis (its ``dir`` and config from the server itself), HAProxy (the stats
socket its config declares), and every other listener as plain HTTP (when a
GET on loopback answers HTTP) or TCP. A service under systemd is restarted
with ``systemctl restart UNIT``; a data service outside systemd gets its own
provider, with a backup proposal under ``backup_dir``. The host is the
location of all of them.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import httpx

from paramedic.discover.finding import Discovery, Finding, component_name
from paramedic.discover.local_proc import (
    Listener,
    haproxy_stats_socket,
    listeners,
    option,
    postmaster_pid,
)

CRITICALITY = "no way to tell on a host: important assumed; set it"


def discover_local(*, backup_dir: str, host: str | None = None) -> Discovery:
    """Every listening service this user can see, as findings (the host is their location)."""
    where = host or socket.gethostname()
    discovery = Discovery(scope=f"local {where}")
    if os.geteuid() != 0:
        discovery.notes.append("not root: other users' processes show only what they let us read")
    for found in listeners(discovery.notes):
        finding = _classify(found, where, backup_dir, discovery.notes)
        if finding is not None:
            discovery.add(finding)
    return discovery


def _classify(found: Listener, host: str, backup_dir: str, notes: list[str]) -> Finding | None:
    name = (found.name or Path(found.exe).name or "").lower()
    if name in ("postgres", "postmaster"):
        return _postgres(found, host, backup_dir)
    if name.startswith("redis-server"):
        return _redis(found, host, backup_dir)
    if name == "haproxy":
        return _haproxy(found, host)
    return _plain(found, host, notes)


def _base(found: Listener, host: str, kind: str, label: str, ftype: str) -> Finding:
    port = found.ports[0]
    unit_name = found.unit.removesuffix(".service") if found.unit else None
    ports = ", ".join(map(str, found.ports))
    constraint = f"{label} on {host} (pid {found.pid}, ports {ports}): bound to this host"
    sources = {
        "location": "this host",
        "criticality": CRITICALITY,
    }
    finding = Finding(
        name=component_name(unit_name, f"{kind}-{port}"),
        kind=f"local_{kind}",
        resource=f"tcp:{port}",
        type=ftype,
        location=host,
        constraint=constraint,
        provider="process",
        sources=sources,
        facts={"single_location": True, "pid": found.pid},
    )
    if found.unit:
        finding.spec = {"restart_command": ["systemctl", "restart", found.unit]}
        finding.sources["spec.restart_command"] = (
            f"/proc/{found.pid}/cgroup: systemd unit {found.unit}"
        )
        finding.recovery = [{"strategy": "restart_service", "timeout": "1m"}]
    return finding


def _driven(finding: Finding, found: Listener) -> None:
    """Outside systemd, with no provider of its own: start it again with its own command line."""
    if finding.spec or not found.cmdline:
        return
    finding.spec = {"start_command": list(found.cmdline)}
    finding.sources["spec.start_command"] = (
        f"/proc/{found.pid}/cmdline; not under systemd and no stop command known: a hung "
        "process keeps its port, so give stop_command or run it under systemd"
    )
    if found.cwd:
        finding.spec["cwd"] = found.cwd
        finding.sources["spec.cwd"] = f"/proc/{found.pid}/cwd"
    finding.recovery = [{"strategy": "restart_service", "timeout": "30s"}]


def _postgres(found: Listener, host: str, backup_dir: str) -> Finding:
    finding = _base(found, host, "postgres", "PostgreSQL", "database")
    data_dir = option(found.cmdline, "-D") or found.cwd or os.environ.get("PGDATA", "")
    port, socket_dir = postmaster_pid(data_dir) if data_dir else (None, None)
    port = port or found.ports[0]
    finding.resource = f"tcp:{port}"
    if socket_dir:
        dsn = f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"
        finding.sources["health"] = f"{data_dir}/postmaster.pid: socket directory {socket_dir}"
    else:
        dsn = f"postgresql://postgres@{found.address}:{port}/postgres"
        finding.sources["health"] = (
            "postmaster.pid not readable: the TCP port instead of the socket"
        )
    finding.health = {"check": "postgres", "dsn": dsn}
    finding.constraint += f"; data directory {data_dir or '(not readable)'}"
    if finding.spec or not data_dir:
        finding.rpo = timedelta(minutes=5)
        finding.sources["rpo"] = (
            "proposed; no backup drafted under systemd: switch to provider postgres with "
            f"spec.data_dir {data_dir or '…'} and a pg_basebackup backup to bound it"
        )
        _driven(finding, found)
        return finding
    finding.provider = "postgres"
    finding.spec = {"data_dir": data_dir, "port": port}
    finding.sources["spec.data_dir"] = f"/proc/{found.pid}: the postmaster's data directory"
    if found.exe:
        finding.spec["bin_dir"] = str(Path(found.exe).parent)
        finding.sources["spec.bin_dir"] = f"/proc/{found.pid}/exe"
    _owner(finding, found)
    finding.backup = {
        "engine": "pg_basebackup",
        "schedule": "0 * * * *",
        "keep": "7d",
        "repository": f"{backup_dir.rstrip('/')}/{finding.name}",
        "verify": "daily",
    }
    finding.sources["backup.repository"] = "proposed (--backup-dir): base backups and archived WAL"
    finding.rpo = timedelta(minutes=5)
    finding.sources["rpo"] = "WAL archived at least every 60s (archive_timeout), so 5m holds"
    finding.recovery = [
        {"strategy": "restart_service", "timeout": "2m"},
        {
            "strategy": "restore_from_backup",
            "target": "before_failure",
            "approval": "required",
            "timeout": "15m",
        },
    ]
    return finding


def _owner(finding: Finding, found: Listener) -> None:
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    if found.user and found.user != me:
        finding.spec["user"] = found.user
        finding.sources["spec.user"] = f"the OS user running pid {found.pid}"


def _redis(found: Listener, host: str, backup_dir: str) -> Finding:
    finding = _base(found, host, "redis", "Redis", "cache")
    port = found.ports[0]
    url = f"redis://{found.address}:{port}/0"
    finding.health = {"check": "redis", "url": url}
    info = _redis_info(url)
    data_dir = info.get("dir") or found.cwd
    if finding.spec or not data_dir:
        finding.rpo = timedelta(minutes=15)
        finding.sources["rpo"] = "proposed; no backup drafted under systemd (use provider redis)"
        _driven(finding, found)
        return finding
    finding.provider = "redis"
    finding.spec = {"dir": data_dir, "port": port}
    finding.sources["spec.dir"] = "CONFIG GET dir" if info.get("dir") else f"/proc/{found.pid}/cwd"
    if info.get("config_file"):
        finding.spec["config"] = info["config_file"]
        finding.sources["spec.config"] = "INFO server: config_file"
    if info.get("executable") or found.exe:
        finding.spec["binary"] = info.get("executable") or found.exe
        finding.sources["spec.binary"] = "the running server's executable"
    _owner(finding, found)
    finding.backup = {
        "engine": "redis_rdb",
        "schedule": "*/15 * * * *",
        "keep": "7d",
        "repository": f"{backup_dir.rstrip('/')}/{finding.name}",
        "verify": "daily",
    }
    finding.sources["backup.repository"] = "proposed (--backup-dir): RDB snapshots"
    finding.rpo = timedelta(minutes=15)
    finding.sources["rpo"] = "an RDB snapshot every 15 minutes"
    finding.recovery = [
        {"strategy": "restart_service", "timeout": "1m"},
        {
            "strategy": "restore_from_backup",
            "target": "before_failure",
            "approval": "required",
            "timeout": "15m",
        },
    ]
    return finding


def _redis_info(url: str) -> dict[str, str]:
    """``dir``, ``config_file`` and ``executable`` from the server (empty when it refuses)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            found: dict[str, str] = {}
            server = client.info("server")
            for key in ("config_file", "executable"):
                if server.get(key):
                    found[key] = str(server[key])
            found["dir"] = str(client.config_get("dir").get("dir", ""))
            return found
        finally:
            client.close()
    except redis.RedisError:
        return {}


def _haproxy(found: Listener, host: str) -> Finding:
    finding = _base(found, host, "haproxy", "HAProxy", "load_balancer")
    config = option(found.cmdline, "-f") or ""
    stats = haproxy_stats_socket(config) if config else None
    if stats:
        finding.health = {"check": "haproxy", "stats_socket": stats}
        finding.sources["health"] = f"{config}: stats socket"
    else:
        finding.health = {"check": "tcp", "host": found.address.strip("[]"), "port": found.ports[0]}
        finding.sources["health"] = "no stats socket in its config: a TCP connect"
    finding.sources["rpo"] = "a proxy keeps no data"
    if not finding.spec and config and stats:
        finding.provider = "haproxy"
        finding.resource = f"haproxy:{stats}"
        finding.spec = {"config": config, "stats_socket": stats}
        finding.sources["spec.config"] = f"/proc/{found.pid}/cmdline: -f"
        finding.recovery = [{"strategy": "restart_service", "timeout": "30s"}]
        return finding
    _driven(finding, found)
    return finding


def _plain(found: Listener, host: str, notes: list[str]) -> Finding | None:
    port = found.ports[0]
    url = f"http://{found.address}:{port}/"
    status = _http_status(url)
    label = (found.name or "a process") + (" (HTTP)" if status else " (TCP)")
    finding = _base(found, host, "http" if status else "tcp", label, "application_server")
    if status:
        finding.health = {"check": "http", "url": url}
        finding.sources["health"] = f"GET {url} answered HTTP {status}"
        if not 200 <= status < 400:
            finding.health["status"] = [status]
    else:
        finding.health = {"check": "tcp", "host": found.address.strip("[]"), "port": port}
        finding.sources["health"] = f"GET {url} did not answer HTTP: a TCP connect"
    finding.sources["rpo"] = (
        "no data found for a plain server: set an RPO and a backup (files) if it keeps data"
    )
    _driven(finding, found)
    if not finding.spec:  # neither a unit nor a readable command line: nothing restarts it
        notes.append(f"port {port} (pid {found.pid}): its command line is not readable; left out")
        return None
    return finding


def _http_status(url: str) -> int | None:
    try:
        with httpx.stream("GET", url, timeout=1.5) as answer:
            return int(answer.status_code)
    except httpx.HTTPError:
        return None
