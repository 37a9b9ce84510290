"""RDB snapshots of a redis-server in a repository folder: taken, listed, verified, removed.

The repository holds, per snapshot (``STAMP`` is its time, UTC, e.g. ``20261125T140002.123456Z``):

- ``STAMP.rdb``: the server's RDB file as the BGSAVE wrote it, copied with its SHA-256;
- ``STAMP.json``: the sidecar: ``taken_at``, ``size_bytes``, ``checksum`` (``sha256:HEX``),
  ``lastsave``, the server's version and key count, and the AOF copy's files;
- ``STAMP.aof/``: only when the server runs with AOF on, a copy of its AOF (Redis 7: the
  ``appendonlydir`` folder with its manifest), each file with its SHA-256 in the sidecar. It is
  kept for a person who wants the writes made after the snapshot; it is copied while the
  server appends to it, so it is not a consistent point, and paramedic restores the RDB.

``taken_at`` is the server's ``TIME`` read in the same pipeline, just before ``BGSAVE`` forks:
every write acknowledged before it is in the snapshot. (``LASTSAVE`` is later — the end of
the save, in whole seconds — and would claim writes the snapshot does not hold.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.exceptions

from paramedic.errors import ProviderError
from paramedic.providers.base import RecoveryPoint, Verification
from paramedic.providers.local import helpers
from paramedic.providers.local.datafiles import (
    copy_with_checksum,
    iso,
    parse_stamp,
    sha256_of,
    stamp,
)
from paramedic.providers.local.redis_server import (
    POLL_S,
    RedisServer,
    as_user,
    connect,
    key_count,
    log_tail,
    ready,
    served_by,
)
from paramedic.providers.local.supervise import read_json, write_json

ENGINE = "redis_rdb"
VERIFY_LOAD_S = 300.0
"""Longest a scratch server may take to load a snapshot during verification."""


# ---------------------------------------------------------------- take


async def take(server: RedisServer, repository: Path) -> RecoveryPoint:
    """BGSAVE, wait for it, copy the RDB (and the AOF when on) into ``repository``."""
    try:
        taken_at, lastsave, info = await _bgsave(server)
        files = await server.files()
    except (redis.exceptions.RedisError, OSError) as exc:
        raise ProviderError(
            f"component {server.name!r}: cannot take a snapshot: redis-server on {server.where}: "
            f"{exc}; a backup needs the server running (recover it first)"
        ) from exc
    name = stamp(taken_at)
    try:
        await asyncio.to_thread(repository.mkdir, parents=True, exist_ok=True)
        size, digest = await asyncio.to_thread(
            copy_with_checksum, files.rdb, repository / f"{name}.rdb"
        )
        aof = None
        if files.appendonly and files.aof.exists():
            aof = await asyncio.to_thread(_copy_aof, files.aof, repository / f"{name}.aof")
    except OSError as exc:
        raise ProviderError(
            f"component {server.name!r}: cannot copy {files.rdb} into {repository}: "
            f"{exc.strerror or exc}; check both folders (space, permissions)"
        ) from exc
    sidecar = {
        "taken_at": iso(taken_at),
        "lastsave": lastsave,
        "size_bytes": size,
        "checksum": f"sha256:{digest}",
        "dbfilename": files.dbfilename,
        "redis_version": str(info.get("redis_version", "")),
        "keys": key_count(info),
        "aof": aof,
    }
    write_json(repository / f"{name}.json", sidecar)
    return _point(repository / f"{name}.rdb", sidecar)


async def _bgsave(server: RedisServer) -> tuple[datetime, int, dict[str, Any]]:
    """(time of the fork, LASTSAVE after it, INFO) of a BGSAVE that succeeded."""
    async with connect(server.spec.host, server.spec.port, timeout=10.0) as client:
        while True:
            before = await client.info("persistence")
            pipe = client.pipeline(transaction=False)
            pipe.time()
            pipe.bgsave(schedule=True)
            (seconds, micros), reply = await pipe.execute(raise_on_error=False)
            if not isinstance(reply, redis.exceptions.ResponseError):
                break
            if "in progress" not in str(reply):
                raise ProviderError(
                    f"component {server.name!r}: BGSAVE refused on {server.where}: {reply}"
                )
            await asyncio.sleep(POLL_S)  # another save runs: ours must start after it
        saves = int(before.get("rdb_saves", -1))
        while True:
            info: dict[str, Any] = await client.info("all")
            done = int(info.get("rdb_bgsave_in_progress", 0)) == 0
            if done and int(info.get("rdb_saves", saves + 1)) > saves:
                break
            await asyncio.sleep(POLL_S)
        if info.get("rdb_last_bgsave_status") != "ok":
            raise ProviderError(
                f"component {server.name!r}: BGSAVE failed on {server.where}: "
                f"{log_tail(server.log_path)}; check the folder {server.folder} "
                "(space, permissions)"
            )
        lastsave = int(info.get("rdb_last_save_time", 0))
    return datetime.fromtimestamp(int(seconds) + int(micros) / 1e6, UTC), lastsave, info


def _copy_aof(source: Path, target: Path) -> dict[str, str]:
    """Copy the AOF (folder or file) to ``target``; {file name: SHA-256 hex}."""
    partial = target.with_name(f".{target.name}.partial")
    partial.mkdir(exist_ok=True)
    names = (
        [source.name]
        if source.is_file()
        else sorted(
            (p.name for p in source.iterdir()), key=lambda n: (not n.endswith(".manifest"), n)
        )
    )
    copied: dict[str, str] = {}
    for name in names:
        origin = source if source.is_file() else source / name
        with contextlib.suppress(FileNotFoundError):  # an AOF rewrite removed an old file
            copied[name] = copy_with_checksum(origin, partial / name)[1]
    partial.rename(target)
    return copied


# ---------------------------------------------------------------- list, remove


def points(repository: Path) -> list[RecoveryPoint]:
    """The snapshots in ``repository``, oldest first (one without its sidecar has no checksum)."""
    found: list[RecoveryPoint] = []
    for rdb in sorted(repository.glob("*.rdb")):
        if parse_stamp(rdb.stem) is None:
            continue
        found.append(_point(rdb, read_json(rdb.with_suffix(".json"))))
    return sorted(found, key=lambda p: p.taken_at)


def _point(rdb: Path, sidecar: dict[str, Any]) -> RecoveryPoint:
    recorded = sidecar.get("taken_at")
    taken_at = datetime.fromisoformat(recorded) if isinstance(recorded, str) else None
    aof = rdb.with_suffix(".aof")
    return RecoveryPoint(
        taken_at=taken_at or parse_stamp(rdb.stem) or datetime.min.replace(tzinfo=UTC),
        location=str(rdb),
        engine=ENGINE,
        size_bytes=sidecar.get("size_bytes"),
        checksum=sidecar.get("checksum"),
        detail={
            "keys": sidecar.get("keys"),
            "lastsave": sidecar.get("lastsave"),
            "aof": str(aof) if aof.exists() else None,
            "sidecar": bool(sidecar),
        },
    )


def remove(point: RecoveryPoint) -> str:
    """Delete one snapshot with its sidecar and AOF copy (retention, not recovery); its name."""
    rdb = Path(point.location)
    for path in (rdb.with_suffix(".json"), rdb):
        path.unlink(missing_ok=True)
    aof = rdb.with_suffix(".aof")
    if aof.is_dir():
        for entry in aof.iterdir():
            entry.unlink()
        aof.rmdir()
    return rdb.stem


def checksum_problem(point: RecoveryPoint) -> str | None:
    """Why the snapshot file does not match its recorded checksum; None when it does."""
    rdb = Path(point.location)
    if not rdb.is_file():
        return f"snapshot {rdb.name}: the file is missing from the repository"
    if point.checksum is None:
        return None
    actual = f"sha256:{sha256_of(rdb)}"
    if actual == point.checksum:
        return None
    return (
        f"snapshot {rdb.name}: checksum mismatch: recorded {point.checksum[:19]}…, file has "
        f"{actual[:19]}… ({rdb.stat().st_size} of {point.size_bytes} bytes): "
        "it changed after the backup (truncated or corrupted)"
    )


# ---------------------------------------------------------------- verify


async def verify(
    point: RecoveryPoint, scratch: Path, binary: str, user: str | None, component: str
) -> Verification:
    """Checksum, then load the snapshot in a scratch redis-server: PING, DBSIZE."""
    problem = await asyncio.to_thread(checksum_problem, point)
    if problem is not None:
        return Verification(False, problem)
    rdb = Path(point.location)
    work = scratch / f"redis-verify-{rdb.stem}"
    work.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(copy_with_checksum, rdb, work / "dump.rdb")
    if user is not None and os.geteuid() == 0:
        owner = pwd.getpwnam(user)
        for entry in (work, *work.iterdir()):
            os.chown(entry, owner.pw_uid, owner.pw_gid)
    loaded, failure = await _load(work, binary, user, component)
    if loaded is None:
        return Verification(False, f"snapshot {rdb.name}: a scratch redis-server {failure}")
    dbsize, keys = loaded
    return Verification(
        True,
        f"snapshot {rdb.name}: checksum ok; loaded by a scratch redis-server: PING answered, "
        f"DBSIZE {dbsize}, {keys} keys in all databases",
    )


async def _load(
    work: Path, binary: str, user: str | None, component: str
) -> tuple[tuple[int, int] | None, str]:
    """Start a scratch server on ``work/dump.rdb``: ((DBSIZE, keys), "") or (None, why not)."""
    failure = "did not start"
    for _attempt in range(3):  # a free port may be taken between asking and binding
        port = _free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work)]
        argv += ["--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""]
        argv += ["--daemonize", "no", "--logfile", ""]
        log = work / "redis.log"
        with log.open("ab") as out:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *as_user(user, argv, component),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=work,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProviderError(
                    f"component {component!r}: cannot start {binary!r} to verify a snapshot: "
                    f"{exc.strerror}; check spec.binary"
                ) from exc
        try:
            with helpers.tracked(proc.pid):
                loaded, failure = await _wait_loaded(proc, port, log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        if loaded is not None or "Address already in use" not in failure:
            return loaded, failure
    return None, failure


async def _wait_loaded(
    proc: asyncio.subprocess.Process, port: int, log: Path
) -> tuple[tuple[int, int] | None, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + VERIFY_LOAD_S
    while loop.time() < deadline:
        if proc.returncode is not None:
            return None, f"could not load it (exit code {proc.returncode}): {log_tail(log)}"
        info = await ready("127.0.0.1", port)
        if info is not None and served_by(info, proc.pid):
            async with connect("127.0.0.1", port) as client:
                dbsize = int(await client.dbsize())
            return (dbsize, key_count(info)), ""
        await asyncio.sleep(POLL_S)
    return None, f"was still loading it after {VERIFY_LOAD_S:g}s: {log_tail(log)}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
