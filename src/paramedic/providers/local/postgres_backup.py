"""PostgreSQL backups: what both WAL engines share (``WalEngine``) and the pg_basebackup engine.

Both engines (this one, and ``postgres_pgbackrest``) archive WAL continuously, so what a
restore can bring back is bounded by ``archive_timeout``, not by the backup schedule.

**Archiving** is set up by the first ``take_backup`` and checked by every later one, through
``ALTER SYSTEM`` and a reload: ``archive_mode = on``, the engine's ``archive_command``, and
``archive_timeout`` = the catalog's ``backup.effective_archive_timeout`` (whole seconds, at least
1). When ``archive_mode`` was off (or ``wal_level`` minimal) the cluster is RESTARTED once, during
that first backup (``pg_ctl stop -m fast``, then start): take the first backup at a quiet moment.
Later backups never restart it.

**pg_basebackup** engine, repository layout::

    <repository>/wal/<segment>          archived WAL. The archive_command never overwrites a
                                        segment: same content is a success, different content
                                        a failure; a copy lands under a hidden name, is synced,
                                        then renamed into place.
    <repository>/base/<UTC stamp>/      a plain-format base backup with its own WAL (-X stream)
                                        and its backup_manifest (SHA-256 of every file)
    <repository>/base/<UTC stamp>.json  written last, so a backup counts only once complete:
                                        start and end time, size, SHA-256 of backup_manifest,
                                        first WAL segment

**Restorable window**: oldest = the oldest backup's end; newest = the commit (or abort) time of
the newest transaction in the archived WAL, read with ``pg_waldump`` from the newest segments of
the current timeline's history back to the newest backup's start, or the newest backup's end when
that is later. It is exactly what a restore to ``latest`` recovers and reports.

**Restore target**: the newest backup whose end precedes the target, then archived WAL replayed
with ``recovery_target_time`` (exclusive). A target after the newest archived commit replays the
whole archive instead: the same data, and PostgreSQL refuses to finish a recovery whose target
it never reached.

**Prune**: backups that ended before ``now - keep`` go, except the newest backup and the newest
one before that moment (a restore to the start of the window needs it); then archived WAL older
than the oldest kept backup's start (``pg_archivecleanup``). pgBackRest expires a full backup
with its differentials (``expire --set``) only when all of them can go.

**Verification** (``postgres_verify``): ``pg_verifybackup`` checks every file against the
manifest; the copy then starts as a scratch cluster that recovers to the backup's end alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

from paramedic.errors import ProviderError
from paramedic.providers.base import BackupContext, RecoveryPoint, RestorableWindow
from paramedic.providers.local.commands import last_lines, run_command
from paramedic.providers.local.supervise import read_json, write_json
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.catalog.model import Backup
    from paramedic.providers.local.postgres_cluster import PostgresCluster

SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_TRANSACTION_END = re.compile(
    r"desc: (?:COMMIT|ABORT)\S* (?:\d+: )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC"
)
_START_WAL = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", re.MULTILINE)
_POLL_S = 0.1


@dataclass(frozen=True)
class RestorePlan:
    """Which backup a restore starts from and where WAL replay stops (None: the archive's end)."""

    point: RecoveryPoint
    stop_at: datetime | None
    reason: str


def point_to_json(point: RecoveryPoint) -> dict[str, Any]:
    """``point`` as JSON (kept in a step marker)."""
    return {
        "taken_at": point.taken_at.isoformat(),
        "location": point.location,
        "engine": point.engine,
        "size_bytes": point.size_bytes,
        "checksum": point.checksum,
        "detail": point.detail,
    }


def point_from_json(data: dict[str, Any]) -> RecoveryPoint:
    """The point ``point_to_json`` wrote."""
    return RecoveryPoint(
        taken_at=datetime.fromisoformat(data["taken_at"]),
        location=data["location"],
        engine=data["engine"],
        size_bytes=data.get("size_bytes"),
        checksum=data.get("checksum"),
        detail=dict(data.get("detail") or {}),
    )


class WalEngine(ABC):
    """What both engines share: archiving set-up, the newest archived commit, plans, the window."""

    engine = ""
    end_margin = timedelta(0)
    """How much later than its recorded end a backup may really have ended (clock resolution)."""

    def __init__(self, cluster: PostgresCluster, repository: Path, backup: Backup) -> None:
        self.cluster = cluster
        self.repository = repository
        self.backup = backup

    # ------------------------------------------------------------ each engine's primitives

    @abstractmethod
    async def take(self, ctx: BackupContext) -> RecoveryPoint:
        """Set up archiving if needed and take a base backup now."""
        ...

    @abstractmethod
    async def points(self) -> list[RecoveryPoint]:
        """The complete base backups in the repository, oldest first."""
        ...

    @abstractmethod
    async def restore(
        self, point: RecoveryPoint, dest: Path, stop_at: datetime | None, why: str
    ) -> None:
        """Make ``dest`` a copy of ``point`` set to recover from the archive (to ``stop_at``).

        Resumable: a call after an interrupted one finishes the same restore.
        """
        ...

    @abstractmethod
    async def restore_scratch(self, point: RecoveryPoint, dest: Path) -> None:
        """Make ``dest`` a copy of ``point`` that recovers to the end of the backup and no further."""
        ...

    @abstractmethod
    async def check(self, point: RecoveryPoint) -> str | None:
        """The engine's own integrity check of ``point``: what is wrong, or None."""
        ...

    @abstractmethod
    async def prune(self, keep: timedelta) -> list[str]:
        """Remove what ``keep`` no longer needs (see the module docstring); what was removed."""
        ...

    @abstractmethod
    def wal_segments(self) -> dict[str, Path]:
        """Archived WAL segments: name → the stored file."""
        ...

    @abstractmethod
    def history(self, timeline: int) -> str | None:
        """Text of the archived ``<timeline>.history`` file, if any."""
        ...

    @abstractmethod
    def fetch(self, stored: Path, folder: Path) -> Path:
        """An uncompressed copy of a stored segment that ``pg_waldump`` can read."""
        ...

    # ------------------------------------------------------------ shared

    @property
    def name(self) -> str:
        """The component's name."""
        return self.cluster.name

    async def plan(self, target: datetime | None) -> RestorePlan:
        """The backup to restore and the replay stop for ``target`` (None: latest)."""
        points = await self.points()
        if not points:
            raise ProviderError(
                f"component {self.name!r}: no {self.engine} backup in {self.repository}; "
                f"take one first (paramedic backup {self.name})"
            )
        if target is None:
            return RestorePlan(points[-1], None, "target latest: all archived WAL is replayed")
        usable = [p for p in points if p.taken_at + self.end_margin <= target]
        if not usable:
            raise ProviderError(
                f"component {self.name!r}: no backup ends before {target.isoformat()} (the "
                f"oldest ends at {points[0].taken_at.isoformat()}); choose a later target"
            )
        point = usable[-1]
        newest = await self.newest_commit(point.detail.get("start_wal"))
        if newest is None or newest < target:
            seen = newest.isoformat() if newest else "none after the backup"
            return RestorePlan(
                point,
                None,
                f"target {target.isoformat()} is after the newest archived transaction "
                f"({seen}): all archived WAL is replayed",
            )
        return RestorePlan(
            point,
            target,
            f"archived WAL is replayed up to {target.isoformat()}, transactions committed "
            "at or after it are left out",
        )

    async def window(self) -> RestorableWindow:
        """Oldest backup's end → newest archived commit, or newest backup's end when later."""
        points = await self.points()
        if not points:
            return RestorableWindow(None, None)
        newest = points[-1].taken_at
        commit = await self.newest_commit(points[-1].detail.get("start_wal"))
        if commit is not None and commit > newest:
            newest = commit
        return RestorableWindow(points[0].taken_at, newest)

    async def newest_commit(self, floor: str | None) -> datetime | None:
        """Time of the newest commit/abort archived on the current timeline's history.

        Scans segments newest first, down to segment ``floor`` (a backup's first segment).
        """
        stored = self.wal_segments()
        if not stored:
            return None
        names = sorted(stored, key=_segment_key, reverse=True)
        top = max(int(name[:8], 16) for name in names)
        switches = _switch_points(self.history(top))
        floor_at = _segment_key(floor)[:2] if floor and SEGMENT.match(floor) else None
        folder = Path(tempfile.mkdtemp(prefix="paramedic-wal-"))
        try:
            self.cluster.own(folder)
            size: int | None = None
            for name in names:
                timeline, log, seg = int(name[:8], 16), *_segment_key(name)[:2]
                if floor_at is not None and (log, seg) < floor_at:
                    break
                if timeline != top:
                    if timeline not in switches:
                        continue  # a timeline the current one does not descend from
                    if size is None:
                        size = self._segment_size(stored, names, top, folder)
                    high, low = switches[timeline]
                    if (log, seg) > (high, low // size):
                        continue  # written after the switch: abandoned by the current history
                path = await asyncio.to_thread(self.fetch, stored[name], folder)
                found = await self._last_transaction_in(path)
                if found is not None:
                    return found
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return None

    def _segment_size(
        self, stored: dict[str, Path], names: list[str], top: int, folder: Path
    ) -> int:
        newest_on_top = next(name for name in names if int(name[:8], 16) == top)
        return self.fetch(stored[newest_on_top], folder).stat().st_size

    async def _last_transaction_in(self, segment: Path) -> datetime | None:
        done = await self.cluster.pg_async(
            "pg_waldump", "--rmgr=Transaction", str(segment), check=False, env={"TZ": "UTC"}
        )
        found = _TRANSACTION_END.findall(done.stdout)
        if not found:
            return None
        return datetime.fromisoformat(found[-1]).replace(tzinfo=UTC)

    async def configure_archiving(self, command: str, log: Callable[[str], None]) -> None:
        """archive_mode, archive_command, archive_timeout in force; restarts once if needed."""
        cluster = self.cluster
        timeout_s = max(1, math.ceil(self.backup.effective_archive_timeout.total_seconds()))
        current = await self._settings()
        changes: dict[str, str] = {}
        if current.get("wal_level") == "minimal":
            changes["wal_level"] = "replica"
        if current.get("archive_mode") not in ("on", "always"):
            changes["archive_mode"] = "on"
        restart = bool(changes)
        if current.get("archive_command") != command:
            changes["archive_command"] = command
        if current.get("archive_timeout") != str(timeout_s):
            changes["archive_timeout"] = f"{timeout_s}s"
        if not changes:
            return
        for setting, value in changes.items():
            await cluster.query(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(setting), sql.Literal(value))
            )
        await cluster.query("SELECT pg_reload_conf()")
        if restart:
            said = await cluster.restart()
            log(f"{self.name}: WAL archiving turned on, which needs a restart: {said}")
        wanted = {"archive_command": command, "archive_timeout": str(timeout_s)}
        for _ in range(int(5 / _POLL_S)):
            current = await self._settings()
            wrong = {k: v for k, v in wanted.items() if current.get(k) != v}
            if current.get("archive_mode") not in ("on", "always"):
                wrong["archive_mode"] = "on"
            if not wrong:
                log(f"{self.name}: WAL archiving set: {', '.join(sorted(changes))}")
                return
            await asyncio.sleep(_POLL_S)
        setting = sorted(wrong)[0]
        raise ProviderError(
            f"component {self.name!r}: {setting} is still {current.get(setting)!r} after ALTER "
            "SYSTEM: a -c option or a later configuration file overrides postgresql.auto.conf; "
            "remove that setting"
        )

    async def _settings(self) -> dict[str, str]:
        rows = await self.cluster.query(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('archive_mode', 'archive_command', 'archive_timeout', 'wal_level')"
        )
        return {str(name): str(value) for name, value in rows}

    def _prunable(self, points: list[RecoveryPoint], keep: timedelta) -> list[RecoveryPoint]:
        """Backups older than ``keep`` except the newest and the one the window's start needs."""
        cutoff = datetime.now(UTC) - keep
        older = [p for p in points if p.taken_at < cutoff]
        kept = {points[-1].location} if points else set()
        if older:
            kept.add(older[-1].location)
        return [p for p in older if p.location not in kept]

    def owned_folder(self, folder: Path) -> Path:
        """``folder`` created and owned by the cluster's user (its server writes there)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.cluster.own(folder)
        return folder


class BaseBackupEngine(WalEngine):
    """``pg_basebackup`` base backups and WAL copied by ``archive_command`` into the repository."""

    engine = "pg_basebackup"

    @property
    def wal_dir(self) -> Path:
        """Where archived WAL segments land."""
        return self.repository / "wal"

    @property
    def base_dir(self) -> Path:
        """Where base backups live."""
        return self.repository / "base"

    def archive_command(self) -> str:
        """Copy a segment into the archive; never overwrite one (same content: success)."""
        wal = in_setting(self.name, self.wal_dir)
        part = f"'{wal}/.%f.part'"
        return (
            f"if [ -f '{wal}/%f' ]; then cmp -s '%p' '{wal}/%f'; "
            f"else cp '%p' {part} && sync {part} && mv {part} '{wal}/%f'; fi"
        )

    def restore_command(self) -> str:
        """Copy a segment from the archive (a missing one fails quietly, as PostgreSQL expects)."""
        wal = in_setting(self.name, self.wal_dir)
        return f"test -f '{wal}/%f' && cp '{wal}/%f' '%p'"

    async def take(self, ctx: BackupContext) -> RecoveryPoint:
        """Archiving first (restarting once if needed), then ``pg_basebackup`` into ``base/``."""
        cluster = self.cluster
        if not cluster.is_running():
            raise ProviderError(
                f"component {self.name!r}: the cluster is not running; a base backup needs it "
                "up (start it, or restore it first)"
            )
        self.owned_folder(self.repository)
        self.owned_folder(self.wal_dir)
        self.owned_folder(self.base_dir)
        ctx.progress(0.0, "setting up WAL archiving")
        await self.configure_archiving(self.archive_command(), ctx.log)
        for stale in self.base_dir.glob("*.partial"):  # our own copies a failure left
            await asyncio.to_thread(shutil.rmtree, stale, True)
        started, label = self._fresh_label()
        partial = self.base_dir / f"{label}.partial"
        ctx.progress(0.05, f"pg_basebackup into {self.base_dir / label}")
        spec = cluster.spec
        await cluster.pg_async(
            "pg_basebackup", "-D", str(partial), "-F", "p", "-X", "stream", "-c", "fast",
            "--manifest-checksums=SHA256", "-h", spec.host, "-p", str(spec.port),
            "-U", spec.superuser, "-w",
        )  # fmt: skip
        ended = datetime.now(UTC)
        final = self.base_dir / label
        partial.rename(final)
        label_text = (final / "backup_label").read_text()
        start = _START_WAL.search(label_text)
        meta = {
            "label": label,
            "started_at": started.isoformat(),
            "ended_at": ended.isoformat(),
            "size_bytes": await asyncio.to_thread(_tree_size, final),
            "checksum": "sha256:" + sha256_of(final / "backup_manifest"),
            "start_wal": start[1] if start else None,
        }
        meta_path = self.base_dir / f"{label}.json"
        write_json(meta_path, meta)
        cluster.own(meta_path)
        ctx.progress(1.0, f"base backup {label} taken")
        ctx.log(f"{self.name}: base backup {final} taken ({meta['size_bytes']} bytes)")
        return self._point(final, meta)

    def _fresh_label(self) -> tuple[datetime, str]:
        """Now, and a UTC stamp with milliseconds that names no backup yet."""
        while True:
            now = datetime.now(UTC)
            label = now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"
            if not (self.base_dir / label).exists():
                return now, label

    def _point(self, folder: Path, meta: dict[str, Any]) -> RecoveryPoint:
        return RecoveryPoint(
            taken_at=datetime.fromisoformat(meta["ended_at"]),
            location=str(folder),
            engine=self.engine,
            size_bytes=meta.get("size_bytes"),
            checksum=meta.get("checksum"),
            detail={
                "label": meta.get("label", folder.name),
                "started_at": meta.get("started_at"),
                "start_wal": meta.get("start_wal"),
            },
        )

    async def points(self) -> list[RecoveryPoint]:
        """Base backups whose ``.json`` exists (written last), oldest first."""
        found = []
        for meta_path in self.base_dir.glob("*.json"):
            folder = meta_path.with_suffix("")
            meta = read_json(meta_path)
            if folder.is_dir() and "ended_at" in meta:
                found.append(self._point(folder, meta))
        return sorted(found, key=lambda point: point.taken_at)

    async def restore(
        self, point: RecoveryPoint, dest: Path, stop_at: datetime | None, why: str
    ) -> None:
        """Copy the backup beside ``dest``, add recovery settings, rename it into place."""
        if await asyncio.to_thread(dest.exists):
            return  # an earlier call finished: the rename into place is its last act
        staging = dest.with_name(f".{dest.name}.restoring")
        await self._copy(point, staging)
        settings = {
            "restore_command": self.restore_command(),
            "recovery_target_timeline": "latest",
        }
        if stop_at is not None:
            settings["recovery_target_time"] = pg_time(stop_at)
            settings["recovery_target_inclusive"] = "off"
            settings["recovery_target_action"] = "promote"
        await asyncio.to_thread(self._into_place, staging, dest, settings, why)

    def _into_place(self, staging: Path, dest: Path, settings: dict[str, str], why: str) -> None:
        _append_settings(staging / "postgresql.auto.conf", settings, why)
        (staging / "recovery.signal").write_text("")
        self.cluster.own_tree(staging)
        staging.rename(dest)

    async def restore_scratch(self, point: RecoveryPoint, dest: Path) -> None:
        """A plain copy: its backup_label and streamed WAL bring it to the backup's end."""
        await self._copy(point, dest)

    async def _copy(self, point: RecoveryPoint, dest: Path) -> None:
        source = Path(point.location)
        await asyncio.to_thread(self._clear_for_copy, source, dest)
        code, output = await run_command(
            ["cp", "-a", str(source), str(dest)], cwd=None, env=os.environ
        )
        if code != 0:
            tail = " | ".join(last_lines(output, 2))
            raise ProviderError(
                f"component {self.name!r}: copying backup {source} to {dest} failed: {tail}; "
                f"check the free space and permissions of {dest.parent}"
            )
        await asyncio.to_thread(self._own_private, dest)

    def _clear_for_copy(self, source: Path, dest: Path) -> None:
        if not (source / "backup_label").is_file():
            raise ProviderError(
                f"component {self.name!r}: backup {source} is missing or incomplete (no "
                "backup_label); restore another one or take a new backup"
            )
        if dest.exists():  # a copy an interrupted call left: paramedic's own, not data
            shutil.rmtree(dest)

    def _own_private(self, dest: Path) -> None:
        self.cluster.own_tree(dest)
        dest.chmod(0o700)

    async def check(self, point: RecoveryPoint) -> str | None:
        """``pg_verifybackup``: every file against the manifest's size and checksum, and the WAL."""
        done = await self.cluster.pg_async("pg_verifybackup", point.location, check=False)
        if done.returncode == 0:
            return None
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        shown = " | ".join(line.strip() for line in (errors or last_lines(done.stderr, 2))[:2])
        return redact(shown or f"pg_verifybackup exited with code {done.returncode}")

    async def prune(self, keep: timedelta) -> list[str]:
        """Old base backups (never the newest), then WAL before the oldest kept one."""
        points = await self.points()
        doomed = self._prunable(points, keep)
        removed: list[str] = []
        for point in doomed:
            await asyncio.to_thread(_remove_backup, Path(point.location))
            removed.append(point.location)
        kept = [p for p in points if p not in doomed]
        first = kept[0].detail.get("start_wal") if kept else None
        if isinstance(first, str) and self.wal_dir.is_dir():
            before = set(self.wal_segments())
            await self.cluster.pg_async("pg_archivecleanup", str(self.wal_dir), first)
            removed.extend(sorted(before - set(self.wal_segments())))
        return removed

    def wal_segments(self) -> dict[str, Path]:
        """Segments in ``wal/``."""
        if not self.wal_dir.is_dir():
            return {}
        return {p.name: p for p in self.wal_dir.iterdir() if SEGMENT.match(p.name)}

    def history(self, timeline: int) -> str | None:
        """``wal/<timeline>.history``."""
        with contextlib.suppress(OSError):
            return (self.wal_dir / f"{timeline:08X}.history").read_text()
        return None

    def fetch(self, stored: Path, folder: Path) -> Path:
        """Segments are stored as they are."""
        return stored


# ---------------------------------------------------------------- helpers


def _segment_key(name: str) -> tuple[int, int, int]:
    """(log, segment, timeline): WAL order, the newer timeline last at the same position."""
    return int(name[8:16], 16), int(name[16:24], 16), int(name[:8], 16)


def _switch_points(history: str | None) -> dict[int, tuple[int, int]]:
    """Ancestor timeline → the LSN (high, low) where the next timeline branched off it."""
    found: dict[int, tuple[int, int]] = {}
    for line in (history or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and "/" in parts[1]:
            high, _, low = parts[1].partition("/")
            found[int(parts[0])] = (int(high, 16), int(low, 16))
    return found


def in_setting(component: str, path: Path) -> str:
    """``path`` usable inside single quotes of a shell command in a PostgreSQL setting."""
    text = str(path)
    if "'" in text or "\n" in text:
        raise ProviderError(
            f"component {component!r}: path {text!r} holds a quote or a newline; choose "
            "another backup.repository"
        )
    return text.replace("%", "%%")


def _append_settings(conf: Path, settings: dict[str, str], why: str) -> None:
    """Add ``settings`` to postgresql.auto.conf (the last occurrence of a setting wins)."""
    text = conf.read_text() if conf.exists() else ""
    lines = [f"# paramedic: recovery settings for {why}; removed after promotion"]
    for name, value in settings.items():
        quoted = value.replace("\\", "\\\\").replace("'", "''")
        lines.append(f"{name} = '{quoted}'")
    if text and not text.endswith("\n"):
        text += "\n"
    conf.write_text(text + "\n".join(lines) + "\n")


def pg_time(moment: datetime) -> str:
    """``moment`` as PostgreSQL reads a timestamptz, in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _remove_backup(folder: Path) -> None:
    """The ``.json`` first, so a half-removed backup is never listed; then the folder."""
    Path(f"{folder}.json").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def sha256_of(path: Path) -> str:
    """SHA-256 of the file at ``path``, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


__all__ = [
    "SEGMENT",
    "BaseBackupEngine",
    "RestorePlan",
    "WalEngine",
    "in_setting",
    "pg_time",
    "point_from_json",
    "point_to_json",
    "sha256_of",
]
