"""The ``pgbackrest`` backup engine: pgBackRest with a stanza paramedic configures.

paramedic writes ``<repository>/pgbackrest.conf`` (repo1-path = the repository, stanza = the
component name, gz compression, synchronous archive-push, no retries, retention left to
``prune``) and runs ``stanza-create``, ``backup`` (full first, then differential until the last
full is older than half of ``keep``), ``info --output=json``, ``restore``, ``verify`` and
``expire --set``, all as ``spec.user``. Archived segments are read (for the restorable window)
by decompressing them directly: ``archive-get`` needs a live data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paramedic.errors import ProviderError
from paramedic.providers.base import BackupContext, RecoveryPoint
from paramedic.providers.local.commands import last_lines
from paramedic.providers.local.postgres_backup import (
    SEGMENT,
    WalEngine,
    in_setting,
    pg_time,
    sha256_of,
)
from paramedic.providers.local.step_marker import safe_name
from paramedic.redact import redact

_LOG_PREFIX = re.compile(r"^\S+ \S+ P\d+ +[A-Z]+: ")


class PgBackRestEngine(WalEngine):
    """pgBackRest with a stanza paramedic configures under the repository."""

    engine = "pgbackrest"
    end_margin = timedelta(seconds=1)  # pgBackRest records whole seconds

    @property
    def config_path(self) -> Path:
        """``<repository>/pgbackrest.conf``."""
        return self.repository / "pgbackrest.conf"

    @property
    def stanza(self) -> str:
        """The stanza: the component's name."""
        return safe_name(self.name)

    def _binary(self) -> str:
        found = shutil.which("pgbackrest")
        if found is None:
            raise ProviderError(
                f"component {self.name!r}: backup.engine pgbackrest needs the pgbackrest "
                "program; install it (apt-get install pgbackrest)"
            )
        return found

    async def run(
        self, command: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``pgbackrest --config=... --stanza=... COMMAND ARGS`` as the cluster's user."""
        if not self.config_path.is_file():
            self._write_config(None)
        argv = [self._binary(), f"--config={self.config_path}", f"--stanza={self.stanza}"]
        return await self.cluster.run_as_owner(
            [*argv, command, *args], check=check, label=f"pgbackrest {command}"
        )

    def _write_config(self, socket_dir: str | None) -> None:
        cluster = self.cluster
        lines = [
            "# written by paramedic for component " + self.name,
            "[global]",
            f"repo1-path={self.repository}",
            "repo1-retention-full=9999999",  # paramedic's prune decides what goes
            "compress-type=gz",
            "archive-async=n",
            "start-fast=y",
            "job-retry=0",  # a local repository gains nothing from retrying after 15s
            "log-level-console=warn",
            "log-level-file=off",
            f"lock-path={self.repository / '.lock'}",
            "",
            f"[{self.stanza}]",
            f"pg1-path={cluster.data_dir}",
            f"pg1-port={cluster.spec.port}",
            f"pg1-user={cluster.spec.superuser}",
        ]
        if socket_dir:
            lines.append(f"pg1-socket-path={socket_dir}")
        self.owned_folder(self.repository)
        self.config_path.write_text("\n".join(lines) + "\n")

    def _archive_command(self) -> str:
        config = in_setting(self.name, self.config_path)
        return f"'{self._binary()}' '--config={config}' '--stanza={self.stanza}' archive-push '%p'"

    async def take(self, ctx: BackupContext) -> RecoveryPoint:
        """Configure the stanza and archiving, then ``pgbackrest backup`` (full, else diff)."""
        cluster = self.cluster
        if not cluster.is_running():
            raise ProviderError(
                f"component {self.name!r}: the cluster is not running; a backup needs it up "
                "(start it, or restore it first)"
            )
        ctx.progress(0.0, "configuring the pgBackRest stanza and WAL archiving")
        rows = await cluster.query("SHOW unix_socket_directories")
        folders = [f.strip() for f in str(rows[0][0]).split(",") if f.strip().startswith("/")]
        self._write_config(folders[0] if folders else None)
        if not (self.repository / "backup" / self.stanza / "backup.info").is_file():
            await self.run("stanza-create")
        await self.configure_archiving(self._archive_command(), ctx.log)
        kind = self._next_type(await self.points())
        ctx.progress(0.05, f"pgbackrest {kind} backup")
        await self.run("backup", f"--type={kind}")
        points = await self.points()
        if not points:
            raise ProviderError(
                f"component {self.name!r}: pgbackrest backup finished but its info lists no "
                f"backup; run pgbackrest --config={self.config_path} info"
            )
        ctx.progress(1.0, f"pgbackrest backup {points[-1].detail['label']} taken")
        return points[-1]

    def _next_type(self, points: list[RecoveryPoint]) -> str:
        fulls = [p for p in points if p.detail.get("type") == "full"]
        if not fulls or datetime.now(UTC) - fulls[-1].taken_at > self.backup.keep / 2:
            return "full"
        return "diff"

    async def points(self) -> list[RecoveryPoint]:
        """The stanza's backups from ``pgbackrest info --output=json``, oldest first."""
        if not (self.repository / "backup" / self.stanza).is_dir():
            return []
        done = await self.run("info", "--output=json")
        try:
            stanzas = json.loads(done.stdout)
        except ValueError as exc:
            raise ProviderError(
                f"component {self.name!r}: pgbackrest info printed no JSON; run it by hand: "
                f"pgbackrest --config={self.config_path} info"
            ) from exc
        found = []
        for entry in stanzas:
            if entry.get("name") != self.stanza:
                continue
            for backup in entry.get("backup") or []:
                label = backup["label"]
                folder = self.repository / "backup" / self.stanza / label
                manifest = folder / "backup.manifest"
                found.append(
                    RecoveryPoint(
                        taken_at=datetime.fromtimestamp(backup["timestamp"]["stop"], UTC),
                        location=str(folder),
                        engine=self.engine,
                        size_bytes=backup["info"]["repository"]["size"],
                        checksum="sha256:" + sha256_of(manifest) if manifest.is_file() else None,
                        detail={
                            "label": label,
                            "type": backup["type"],
                            "prior": backup.get("prior"),
                            "start_wal": backup["archive"]["start"],
                            "stop_wal": backup["archive"]["stop"],
                        },
                    )
                )
        return sorted(found, key=lambda point: point.taken_at)

    async def restore(
        self, point: RecoveryPoint, dest: Path, stop_at: datetime | None, why: str
    ) -> None:
        """``pgbackrest restore`` of the point's set into ``dest`` (``--delta`` when resumed)."""
        args = [f"--set={point.detail['label']}"]
        if dest != self.cluster.data_dir:
            args.append(f"--pg1-path={dest}")
        if stop_at is None:
            args.append("--type=default")
        else:
            args += [
                "--type=time",
                f"--target={pg_time(stop_at)}",
                "--target-exclusive",
                "--target-action=promote",
                "--target-timeline=latest",
            ]
        await self._restore_into(dest, args)

    async def restore_scratch(self, point: RecoveryPoint, dest: Path) -> None:
        """Restore to the backup's consistent end (``--type=immediate``), archiving off."""
        args = [
            f"--set={point.detail['label']}",
            f"--pg1-path={dest}",
            "--type=immediate",
            "--target-action=promote",
            "--archive-mode=off",
        ]
        await self._restore_into(dest, args)

    async def _restore_into(self, dest: Path, args: list[str]) -> None:
        if await asyncio.to_thread(self._holds_files, dest):
            args.append("--delta")  # the files of an interrupted restore: made to match again
        await self.run("restore", *args)

    def _holds_files(self, dest: Path) -> bool:
        """Create ``dest`` (0700, the cluster's user) if missing; True when it holds files."""
        if not dest.exists():
            dest.mkdir(mode=0o700, parents=True)
            self.cluster.own(dest)
        return any(dest.iterdir())

    async def check(self, point: RecoveryPoint) -> str | None:
        """``pgbackrest verify --set``: every file of the set and its WAL against their checksums.

        verify exits 0 even when it finds damage: its report (INFO level) is read instead.
        """
        label = point.detail["label"]
        done = await self.run("verify", f"--set={label}", "--log-level-console=info", check=False)
        said = f"{done.stdout}\n{done.stderr}"
        if done.returncode == 0 and "status: error" not in said:
            return None
        lines = [_LOG_PREFIX.sub("", line).strip() for line in said.splitlines()]
        found = [line for line in lines if "invalid" in line or "ERROR" in line]
        shown = " | ".join(found[:2]) or " | ".join(last_lines(said, 2))
        return redact(f"pgbackrest verify: {shown}")

    async def prune(self, keep: timedelta) -> list[str]:
        """``expire --set`` of each full backup whose set (with its diffs) is all past ``keep``."""
        points = await self.points()
        doomed = {p.location for p in self._prunable(points, keep)}
        sets: dict[str, list[RecoveryPoint]] = {}
        for point in points:
            sets.setdefault(str(point.detail["label"]).split("_")[0], []).append(point)
        removed: list[str] = []
        for full, members in sets.items():
            if all(member.location in doomed for member in members):
                await self.run("expire", f"--set={full}")
                removed.extend(member.location for member in members)
        return removed

    def wal_segments(self) -> dict[str, Path]:
        """Segments under ``archive/<stanza>/<db id>/<xlogid>/`` (``NAME-SHA1.gz``)."""
        archive = self.repository / "archive" / self.stanza
        found: dict[str, Path] = {}
        for path in archive.glob("*/*/*"):
            name = path.name[:24]
            if SEGMENT.match(name) and path.name[24:25] == "-":
                found[name] = path
        return found

    def history(self, timeline: int) -> str | None:
        """The archived ``<timeline>.history`` (compressed or not)."""
        archive = self.repository / "archive" / self.stanza
        for path in archive.glob(f"*/{timeline:08X}.history*"):
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                return (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
        return None

    def fetch(self, stored: Path, folder: Path) -> Path:
        """Decompress ``NAME-SHA1.gz`` to ``folder/NAME``."""
        copy = folder / stored.name[:24]
        if copy.exists():
            return copy
        if stored.suffix != ".gz":
            raise ProviderError(
                f"component {self.name!r}: archived segment {stored} is not gz-compressed; "
                "paramedic's stanza uses compress-type=gz"
            )
        with gzip.open(stored) as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        self.cluster.own(copy)
        return copy


__all__ = ["PgBackRestEngine"]
