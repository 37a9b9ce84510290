"""Re-pointing an HAProxy backend server: live through the runtime API, persisted in the config file.

Other providers call ``repoint_backend`` to send clients to a replacement or a
standby (the PostgreSQL failover does). The operator's file is never lost: the
previous one is kept as ``<config>.bak-<UTC time>``, the new one is checked with
``haproxy -c`` before it replaces the old atomically.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import shutil
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from paramedic.checks.haproxy import runtime_api
from paramedic.errors import ProviderError
from paramedic.providers.local.haproxy import _SECTIONS, RUNTIME_WAIT_S, _spec_of, check_config

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog

_repoint_locks: dict[Path, asyncio.Lock] = {}
"""One re-pointing at a time per config file."""


def _server_token(address: str, port: int) -> str:
    """How a config names ``address:port`` (an IPv6 address in brackets)."""
    try:
        is_v6 = ipaddress.ip_address(address).version == 6
    except ValueError:
        is_v6 = False
    return f"[{address}]:{port}" if is_v6 else f"{address}:{port}"


def rewrite_server(text: str, backend: str, server: str, token: str) -> tuple[str, str]:
    """``text`` with the address of ``server <server>`` in ``backend`` (or ``listen``) as ``token``.

    Returns (new text, previous address); ValueError when the config has no such line.
    """
    lines = text.splitlines(keepends=True)
    inside = False
    line_of_server = re.compile(rf"^(\s*server\s+{re.escape(server)}\s+)(\S+)(.*)$", re.DOTALL)
    for index, line in enumerate(lines):
        section = _SECTIONS.match(line)
        if section is not None:
            inside = section[1] in ("backend", "listen") and section[3] == backend
            continue
        found = line_of_server.match(line) if inside else None
        if found is not None:
            lines[index] = f"{found[1]}{token}{found[3]}"
            return "".join(lines), found[2]
    raise ValueError(f"no `server {server} ADDRESS:PORT` line in backend {backend}")


async def _runtime_set(socket_path: str, backend: str, server: str, ip: str, port: int) -> bool:
    """``set server … addr`` then ``state ready``; False when HAProxy is not running."""
    target = f"{backend}/{server}"
    commands = (f"set server {target} addr {ip} port {port}", f"set server {target} state ready")
    for number, command in enumerate(commands):
        changed = "" if number == 0 else f"; {target} has the new address, but is not ready"
        try:
            async with asyncio.timeout(RUNTIME_WAIT_S):
                answer = (await runtime_api(socket_path, command)).strip()
        except TimeoutError as exc:
            raise ProviderError(
                f"`{command}` got no answer from {socket_path} within {RUNTIME_WAIT_S:g}s{changed}"
            ) from exc
        except OSError as exc:
            if number == 0 and isinstance(exc, ConnectionRefusedError | FileNotFoundError):
                return False
            raise ProviderError(
                f"cannot send `{command}` to {socket_path}: {exc.strerror or exc}{changed}"
            ) from exc
        accepted = "changed" in answer or "no need to change" in answer
        if (number == 0 and not accepted) or (number == 1 and answer):
            first = answer.splitlines()[0] if answer else "no answer"
            raise ProviderError(f"HAProxy refused `{command}`: {first}{changed}")
    return True


async def _resolved(address: str, port: int) -> str:
    """``address`` as an IP literal (the runtime API takes no host names)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ProviderError(f"cannot resolve {address!r}: {exc}") from exc
    return str(infos[0][4][0])


def _aside_name(config: Path) -> Path:
    """``<config>.bak-<UTC time>``, with ``-2``, ``-3``… when taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = config.with_name(f"{config.name}.bak-{stamp}")
    candidate, n = base, 2
    while candidate.exists():
        candidate, n = base.with_name(f"{base.name}-{n}"), n + 1
    return candidate


def _write_beside(config: Path, text: str) -> Path:
    """``text`` written to a temporary file beside ``config``, with its mode and owner."""
    fd, name = tempfile.mkstemp(dir=config.parent, prefix=f".{config.name}.", suffix=".new")
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    status = config.stat()
    os.chmod(name, status.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(name, status.st_uid, status.st_gid)
    return Path(name)


def _replace(config: Path, new: Path) -> Path:
    """Copy ``config`` aside, then rename ``new`` over it; returns the copy's path."""
    aside = _aside_name(config)
    shutil.copy2(config, aside)
    new.replace(config)
    folder = os.open(config.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return aside


async def repoint_backend(
    catalog: Catalog, lb_component: str, server: str, address: str, port: int
) -> str:
    """Point ``server`` of the balancer's ``spec.backend`` at ``address:port``; returns what it did.

    Live through the runtime API (``set server … addr``, then ``state ready``), and persisted in
    the config so a reload or restart keeps it: the new file is checked with ``haproxy -c``,
    the previous one copied to ``<config>.bak-<UTC time>``, then the new one renamed into
    place. When HAProxy is not running the file alone is changed (used at its next start).
    Idempotent: a server already there is set again and the file left as it is.
    """
    where = f"component {lb_component!r}"
    component = catalog.components.get(lb_component)
    if component is None or component.provider != "haproxy":
        raise ProviderError(
            f"{where} is not an haproxy component of the catalog; name the load balancer"
        )
    spec = _spec_of(catalog, lb_component)
    if spec.backend is None:
        raise ProviderError(f"{where}: repoint_backend needs spec.backend (the backend to change)")
    if not 1 <= port <= 65535:
        raise ProviderError(f"{where}: port {port} is out of range; give a port from 1 to 65535")
    backend, config = spec.backend, catalog.resolve_path(spec.config)
    token = _server_token(address, port)
    async with _repoint_locks.setdefault(config, asyncio.Lock()):
        try:
            text = config.read_text()
            new_text, previous = rewrite_server(text, backend, server, token)
            new = _write_beside(config, new_text) if new_text != text else None
        except OSError as exc:
            raise ProviderError(f"{where}: cannot rewrite {config}: {exc}") from exc
        except ValueError as exc:
            raise ProviderError(f"{where}: {config}: {exc}; add it or fix the name") from exc
        try:
            if new is not None:
                await check_config(catalog, lb_component, new)
            ip = await _resolved(address, port)
            socket_path = str(catalog.resolve_path(spec.stats_socket))
            try:
                live = await _runtime_set(socket_path, backend, server, ip, port)
            except ProviderError as exc:
                raise ProviderError(f"{where}: {exc}; {config} left as it was") from exc
            try:
                aside = _replace(config, new) if new is not None else None
            except OSError as exc:
                raise ProviderError(
                    f"{where}: {backend}/{server} set live to {token}, but {config} could not be "
                    f"rewritten ({exc}); a reload would undo it: fix the file by hand"
                ) from exc
        finally:
            if new is not None:
                new.unlink(missing_ok=True)
    moved = f"{backend}/{server} -> {token}"
    parts = [f"{lb_component}: {moved} (was {previous})" if aside else f"{lb_component}: {moved}"]
    parts.append(
        "set live through the runtime API"
        if live
        else "haproxy is not running (the file applies when it starts)"
    )
    if aside is None:
        parts.append(f"{config} already names it")
    else:
        parts.append(f"{config} rewritten, previous file kept as {aside}")
    return "; ".join(parts)
