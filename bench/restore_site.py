"""The restore benchmark's site: one real PostgreSQL cluster (pgbench data), both paramedic
backup engines archiving the same WAL, and the helpers every restore method shares.

Both engines need WAL archived from their own backup onwards, but ``take_backup`` sets
``archive_command`` to its engine's alone. So the pgBackRest backup is taken first (its engine
turns archiving on), then ``archive_command`` becomes both commands joined with ``&&``, then the
pg_basebackup backup is taken with its engine's ``configure_archiving`` skipped (it would put
back its own command alone). Only the backups are set up that way; the restores are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # tests.servers: the same initdb as the test suite

from tests.servers import PostgresServer, as_user, make_postgres  # noqa: E402

from paramedic.catalog.model import Catalog  # noqa: E402
from paramedic.providers.base import BackupContext, RecoveryPoint  # noqa: E402
from paramedic.providers.local.postgres import PostgresProvider  # noqa: E402
from paramedic.providers.local.postgres_backup import BaseBackupEngine  # noqa: E402
from paramedic.providers.local.postgres_pgbackrest import PgBackRestEngine  # noqa: E402

ENGINES = ("pg_basebackup", "pgbackrest")
_REDO_DONE = re.compile(r"redo done at ([0-9A-F]+)/([0-9A-F]+) .*elapsed: ([\d.]+) s")
_REDO_START = re.compile(r"redo starts at ([0-9A-F]+)/([0-9A-F]+)")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


def say(text: str) -> None:
    """One progress line on stderr, with the time."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


@dataclass
class Site:
    """The cluster, its two catalogs (one per engine) and what the setup measured."""

    base: Path
    server: PostgresServer
    archive_timeout_s: int
    facts: dict[str, Any] = field(default_factory=dict)
    target: datetime | None = None
    pristine: set[Path] = field(default_factory=set)

    # ------------------------------------------------------------ catalogs and providers

    def catalog(self, engine: str) -> Catalog:
        """A one-component catalog (``db``) for ``engine``, its repository under ``base``."""
        server = self.server
        component = {
            "type": "database",
            "rto": "30m",
            "rpo": "1m",
            "provider": "postgres",
            "spec": {
                "data_dir": str(server.data_dir),
                "port": server.port,
                "bin_dir": str(server.bin_dir),
                "user": server.user,
            },
            "health": {"check": "postgres", "dsn": server.dsn},
            "backup": {
                "engine": engine,
                "schedule": "0 * * * *",
                "repository": str(self.repository(engine)),
                "archive_timeout": f"{self.archive_timeout_s}s",
            },
        }
        data = {
            "version": 1,
            "agent": {"run_dir": f"run-{engine}", "log_dir": f"log-{engine}"},
            "components": {"db": component},
        }
        return Catalog.model_validate(data).with_origin("paramedic.yaml", self.base)

    def repository(self, engine: str) -> Path:
        """Where ``engine`` keeps its backups and archived WAL."""
        return self.base / f"repo-{engine}"

    def provider(self, engine: str) -> PostgresProvider:
        """A fresh provider for ``engine`` (what the agent builds from the catalog)."""
        return PostgresProvider(catalog=self.catalog(engine), name="db")

    def backup_context(self, engine: str) -> BackupContext:
        """What ``take_backup`` gets from the agent."""
        catalog = self.catalog(engine)
        scratch = self.base / "scratch"
        scratch.mkdir(exist_ok=True)
        scratch.chmod(0o755)
        return BackupContext(
            component_name="db",
            component=catalog.components["db"],
            catalog=catalog,
            repository=self.repository(engine),
            scratch=scratch,
            log=lambda line: say(f"  {line}"),
        )

    # ------------------------------------------------------------ SQL and programs

    def sql(self, query: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Rows of one statement, as the superuser."""
        dsn = f"postgresql://postgres@127.0.0.1:{self.server.port}/{dbname}"
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def as_owner(self, argv: list[str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as the cluster's OS user; raises with its stderr when it fails."""
        done = subprocess.run(
            as_user(self.server.user, argv), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def pg_ctl_start(self, data_dir: Path, log: Path) -> None:
        """``pg_ctl start -w`` of ``data_dir`` with the options the test servers use."""
        log.touch(exist_ok=True)
        shutil.chown(log, self.server.user or "root")
        options = f"-p {self.server.port} -k {self.server.socket_dir} -c listen_addresses=127.0.0.1"
        self.as_owner(
            [str(self.server.bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-o", options,
             "-l", str(log), "-w", "-t", "3600"]
        )  # fmt: skip

    def pg_ctl_stop(self, data_dir: Path, mode: str = "fast") -> None:
        """Stop the cluster at ``data_dir`` if one runs there."""
        argv = [str(self.server.bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", mode]
        subprocess.run(as_user(self.server.user, [*argv, "-w", "-t", "120"]), capture_output=True)

    def wait_promoted(self, timeout_s: float = 3600) -> None:
        """Poll ``pg_is_in_recovery()`` every 50 ms until it is false."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.Error):
                if self.sql("SELECT pg_is_in_recovery()") == [(False,)]:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"not promoted after {timeout_s}s")

    def chown_tree(self, path: Path) -> None:
        """Give ``path`` to the cluster's user (setup only: never inside a timed span)."""
        subprocess.run(["chown", "-R", f"{self.server.user}:", str(path)], check=True)

    # ------------------------------------------------------------ between trials

    def snapshot_archives(self) -> None:
        """Remember every archived file, so each trial starts from the same archive."""
        self.pristine = set(self._archived_files())

    def reset_archives(self) -> list[Path]:
        """Remove what a restored server archived (a new timeline's history and segments)."""
        extra = [p for p in self._archived_files() if p not in self.pristine]
        for path in extra:
            path.unlink()
        return extra

    def _archived_files(self) -> list[Path]:
        roots = [
            self.repository("pg_basebackup") / "wal",
            self.repository("pgbackrest") / "archive",
        ]
        return [p for root in roots for p in root.rglob("*") if p.is_file()]

    def stop_all(self) -> None:
        """Stop every cluster under ``base`` (immediate)."""
        for pidfile in self.base.rglob("postmaster.pid"):
            self.pg_ctl_stop(pidfile.parent, "immediate")


# ---------------------------------------------------------------- setup


def build_site(base: Path, scale: int, pgbench_s: int, archive_timeout_s: int) -> Site:
    """The cluster with pgbench data, both backups, then ``pgbench_s`` of archived WAL."""
    say(f"initdb + start in {base}")
    site = Site(base, make_postgres(base / "pg"), archive_timeout_s)
    site.sql("ALTER SYSTEM SET shared_buffers = '256MB'")
    site.pg_ctl_stop(site.server.data_dir)
    site.server.start()
    pgbench = [str(site.server.bin_dir / "pgbench"), "-h", "127.0.0.1", "-p",
               str(site.server.port), "-U", "postgres"]  # fmt: skip
    started = time.monotonic()
    say(f"pgbench -i -s {scale}")
    site.as_owner([*pgbench, "-i", "-s", str(scale), "-q", "postgres"])
    site.facts["pgbench_init_s"] = round(time.monotonic() - started, 1)
    [(size,)] = site.sql("SELECT pg_database_size('postgres')")
    site.facts["database_bytes"] = int(size)
    say(f"database: {size / 1e6:.0f} MB in {site.facts['pgbench_init_s']} s")
    asyncio.run(_take_backups(site))
    say(f"pgbench -T {pgbench_s} (WAL past both backups)")
    run_from = datetime.now(UTC)
    done = site.as_owner([*pgbench, "-n", "-c", "4", "-j", "2", "-T", str(pgbench_s), "postgres"])
    run_to = datetime.now(UTC)
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    site.facts["pgbench_tps"] = float(tps[1]) if tps else None
    site.target = run_to - timedelta(seconds=2)
    site.facts["pgbench_run"] = [run_from.isoformat(), run_to.isoformat()]
    site.facts["target"] = site.target.isoformat()
    _archive_everything(site)
    site.pg_ctl_stop(site.server.data_dir)
    site.snapshot_archives()
    wal = list((site.repository("pg_basebackup") / "wal").glob("0*"))
    site.facts["archived_segments_pg_basebackup"] = len(wal)
    site.facts["archived_wal_bytes"] = sum(p.stat().st_size for p in wal)
    return site


async def _take_backups(site: Site) -> None:
    """pgBackRest first (archiving on), both archive commands, then pg_basebackup."""
    say("pgbackrest: stanza, archiving, full backup")
    started = time.monotonic()
    point = await site.provider("pgbackrest").take_backup(site.backup_context("pgbackrest"))
    site.facts["pgbackrest_backup_s"] = round(time.monotonic() - started, 1)
    site.facts["pgbackrest_backup_bytes"] = point.size_bytes
    basebackup = site.provider("pg_basebackup").engine(site.repository("pg_basebackup"))
    assert isinstance(basebackup, BaseBackupEngine)
    pgbackrest = site.provider("pgbackrest").engine(site.repository("pgbackrest"))
    assert isinstance(pgbackrest, PgBackRestEngine)
    for folder in (basebackup.repository, basebackup.wal_dir, basebackup.base_dir):
        basebackup.owned_folder(folder)
    both = f"{basebackup.archive_command()} && {pgbackrest._archive_command()}"
    quoted = both.replace("'", "''")
    site.sql(f"ALTER SYSTEM SET archive_command = '{quoted}'")
    site.sql("SELECT pg_reload_conf()")
    for _ in range(100):  # a reload takes effect within milliseconds
        if site.sql("SHOW archive_command") == [(both,)]:
            break
        await asyncio.sleep(0.05)
    else:
        raise TimeoutError("archive_command did not change after pg_reload_conf()")

    async def keep_both(command: str, log: Any) -> None:
        """The joined command stays (the engine would put back its own alone)."""

    basebackup.configure_archiving = keep_both  # type: ignore[method-assign]
    say("pg_basebackup: base backup")
    started = time.monotonic()
    taken: RecoveryPoint = await basebackup.take(site.backup_context("pg_basebackup"))
    site.facts["pg_basebackup_backup_s"] = round(time.monotonic() - started, 1)
    site.facts["pg_basebackup_backup_bytes"] = taken.size_bytes
    site.facts["pg_basebackup_backup"] = taken.location


def _archive_everything(site: Site) -> None:
    """Close the current segment and wait until both archives hold it."""
    [(segment,)] = site.sql("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        [(last, failed)] = site.sql("SELECT last_archived_wal, failed_count FROM pg_stat_archiver")
        if last is not None and last[:24] >= segment:
            site.facts["archive_failures"] = failed
            return
        time.sleep(0.1)
    raise TimeoutError(f"segment {segment} not archived within 120 s")


def replay_from_log(text: str) -> dict[str, float]:
    """What the server log of one start says: seconds before redo (start-up, including the
    fsync of the whole data directory a backup_label asks for), redo seconds and MB (LSN
    distance: it counts the unused tail of switched segments), seconds from redo's end to
    ready (promotion)."""
    found: dict[str, float] = {}
    done = _REDO_DONE.search(text)
    start = _REDO_START.search(text)
    if done:
        found["redo_s"] = float(done[3])
    if done and start:
        end = (int(done[1], 16) << 32) + int(done[2], 16)
        begin = (int(start[1], 16) << 32) + int(start[2], 16)
        found["redo_mb"] = round((end - begin) / 1e6, 1)
    moments = {
        "boot": _first_time(text, "starting PostgreSQL"),
        "redo": _first_time(text, "redo starts at"),
        "done": _first_time(text, "redo done at"),
        "ready": _first_time(text, "database system is ready to accept connections"),
    }
    if moments["boot"] and moments["redo"]:
        found["before_redo_s"] = round((moments["redo"] - moments["boot"]).total_seconds(), 2)
    if moments["done"] and moments["ready"]:
        found["after_redo_s"] = round((moments["ready"] - moments["done"]).total_seconds(), 2)
    return found


def _first_time(text: str, phrase: str) -> datetime | None:
    """The timestamp of the first log line holding ``phrase``."""
    for line in text.splitlines():
        if phrase in line:
            found = _LOG_TIME.match(line)
            return datetime.fromisoformat(found[1]) if found else None
    return None


def keep_logs(site: Site, folder: Path) -> None:
    """Copy the server logs of every start into ``folder`` (the scratch folder goes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for log in [*site.base.glob("*.log"), *site.base.glob("log-*/*.log")]:
        shutil.copy(log, folder / f"{log.parent.name}-{log.name}")


def log_from(path: Path, offset: int) -> str:
    """The text of ``path`` after byte ``offset`` (one start's lines)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def size_of(path: Path) -> int:
    """Bytes under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def drop(path: Path) -> None:
    """Remove a folder a trial left (a moved-aside or copied data directory)."""
    if path.exists():
        shutil.rmtree(path)


def machine() -> dict[str, str]:
    """What the numbers were taken on."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run(["pgbackrest", "version"], capture_output=True, text=True).stdout
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "postgres": subprocess.run(
            ["pg_ctl", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "pgbackrest": version.strip(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
