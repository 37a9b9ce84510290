"""The postgres provider against REAL PostgreSQL clusters, one per test (initdb in a scratch
folder, run as an unprivileged user when the tests run as root): WAL archiving, base backups,
the restorable window, point-in-time restores to the latest archived WAL and to a timestamp,
restart_service, idempotency, verification in a scratch cluster, pruning, and pgBackRest."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import TypeAdapter

from paramedic.catalog.model import Catalog, Strategy
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, BackupCapable, BackupContext, Provider
from paramedic.providers.local.postgres import PostgresProvider
from paramedic.providers.local.postgres_cluster import STOP_WAIT_S
from paramedic.providers.registry import build_provider
from tests.servers import (
    PostgresServer,
    as_user,
    make_postgres,
    need_binary,
    scratch_dir,
    unprivileged_user,
)

pytestmark = pytest.mark.integration

STEP = TypeAdapter(Strategy)


@dataclass
class Site:
    """A real cluster and a one-component catalog (``db``) describing it."""

    base: Path
    server: PostgresServer

    def catalog(self, *, engine: str = "pg_basebackup", **backup: Any) -> Catalog:
        server = self.server
        component = {
            "type": "database",
            "rto": "5m",
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
                "repository": str(self.base / "repo"),
                "archive_timeout": "60s",
                **backup,
            },
        }
        data = {
            "version": 1,
            "agent": {"run_dir": "run", "log_dir": "log"},
            "components": {"db": component},
        }
        return Catalog.model_validate(data).with_origin("paramedic.yaml", self.base)

    def backup_context(self, catalog: Catalog, lines: list[str] | None = None) -> BackupContext:
        scratch = self.base / "scratch"
        scratch.mkdir(exist_ok=True)
        scratch.chmod(0o755)
        log = lines.append if lines is not None else (lambda _line: None)
        return BackupContext(
            component_name="db",
            component=catalog.components["db"],
            catalog=catalog,
            repository=self.base / "repo",
            scratch=scratch,
            log=log,
        )

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.server.dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params or None)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def write_rows(self, count: int, every_s: float = 0.05) -> list[datetime]:
        """Insert ``count`` rows, one per transaction, ``every_s`` apart; their times."""
        times = []
        for _ in range(count):
            [(at,)] = self.sql("INSERT INTO canary DEFAULT VALUES RETURNING at")
            times.append(at)
            time.sleep(every_s)
        return times

    def archive_now(self) -> None:
        """Close the current WAL segment and wait until the archiver has stored it."""
        [(segment,)] = self.sql("SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            [(last,)] = self.sql("SELECT last_archived_wal FROM pg_stat_archiver")
            if last is not None and last[:24] >= segment:
                return
            time.sleep(0.05)
        raise AssertionError(f"segment {segment} not archived within 20s")


def stop_everything(base: Path) -> None:
    """Stop every cluster under ``base``: the test's, restored ones, scratch ones."""
    pg_ctl = need_binary("pg_ctl", "postgresql", ("/usr/lib/postgresql/*/bin/pg_ctl",))
    for pidfile in base.rglob("postmaster.pid"):
        argv = [pg_ctl, "-D", str(pidfile.parent), "-m", "immediate", "-w", "stop"]
        subprocess.run(as_user(unprivileged_user(), argv), capture_output=True, timeout=60)


@pytest.fixture
def site() -> Iterator[Site]:
    """A fresh real cluster with a ``canary`` table; every server under it stopped afterwards."""
    with scratch_dir("paramedic-pgprov-") as base:
        try:
            server = make_postgres(base / "pg")
            found = Site(base, server)
            found.sql("ALTER SYSTEM SET fsync = off")  # quick checkpoints; nothing crashes the host
            found.sql("SELECT pg_reload_conf()")
            found.sql(
                "CREATE TABLE canary (id serial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
            )
            yield found
        finally:
            stop_everything(base)


def action(
    catalog: Catalog, incident: str, step: int, failed_at: datetime | None = None
) -> ActionContext:
    return ActionContext(
        incident_id=incident,
        step_index=step,
        component_name="db",
        component=catalog.components["db"],
        catalog=catalog,
        failed_at=failed_at,
    )


def restore_step(target: str) -> Strategy:
    return STEP.validate_python({"strategy": "restore_from_backup", "target": target})


def archive(command: str, source: Path, name: str) -> int:
    """Exit code of ``archive_command`` archiving ``source`` as segment ``name``."""
    shell = command.replace("%p", str(source)).replace("%f", name)
    return subprocess.run(["sh", "-c", shell], check=False).returncode


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def segments(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name))


# ---------------------------------------------------------------- archiving and backups


async def test_first_backup_turns_archiving_on_and_lists_recovery_points(site: Site) -> None:
    catalog = site.catalog(archive_timeout="2s")
    provider = build_provider(catalog, "db")
    assert isinstance(provider, PostgresProvider)
    assert isinstance(provider, Provider) and isinstance(provider, BackupCapable)
    lines: list[str] = []
    ctx = site.backup_context(catalog, lines)
    [(before,)] = site.sql("SELECT pg_postmaster_start_time()")

    first = await provider.take_backup(ctx)

    wal = site.base / "repo" / "wal"
    assert site.sql("SHOW archive_mode") == [("on",)]
    assert site.sql("SHOW archive_timeout") == [("2s",)]
    assert site.sql("SHOW archive_command") == [
        (
            f"if [ -f '{wal}/%f' ]; then cmp -s '%p' '{wal}/%f'; else cp '%p' '{wal}/.%f.part' "
            f"&& sync '{wal}/.%f.part' && mv '{wal}/.%f.part' '{wal}/%f'; fi",
        )
    ]
    [(after,)] = site.sql("SELECT pg_postmaster_start_time()")
    assert after > before  # archive_mode needed the one restart
    assert "db: WAL archiving turned on, which needs a restart: stopped (fast) and started" in lines
    assert segments(wal)  # pg_basebackup waits until its WAL is archived

    assert Path(first.location).parent == site.base / "repo" / "base"
    assert (Path(first.location) / "backup_manifest").is_file()
    assert first.engine == "pg_basebackup"
    assert first.checksum is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", first.checksum)
    assert first.size_bytes is not None and first.size_bytes > 1_000_000
    assert first.detail["start_wal"] in segments(wal)
    assert abs(first.taken_at - datetime.now(UTC)) < timedelta(seconds=30)

    site.write_rows(3)
    second = await provider.take_backup(ctx)
    [(unchanged,)] = site.sql("SELECT pg_postmaster_start_time()")
    assert unchanged == after  # later backups never restart
    assert await provider.recovery_points(ctx) == [first, second]

    newest_row = site.write_rows(2)[-1]
    site.archive_now()
    window = await provider.restorable_window(ctx)
    assert window.oldest == first.taken_at
    assert window.newest is not None
    assert abs((window.newest - newest_row).total_seconds()) < 0.05  # the last archived commit

    # the archive_command never overwrites a stored segment with other content
    stored = wal / segments(wal)[0]
    command = site.sql("SHOW archive_command")[0][0]
    assert archive(command, stored, stored.name) == 0
    other = site.base / "other"
    other.write_bytes(b"not the same segment")
    assert archive(command, other, stored.name) != 0
    assert stored.read_bytes() != b"not the same segment"


async def test_restore_latest_brings_back_every_archived_row(site: Site) -> None:
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    await provider.take_backup(site.backup_context(catalog))
    archived = site.write_rows(20)  # about a second of writes
    site.archive_now()
    lost = site.write_rows(5)  # still in the open segment: the archive never sees them
    data_dir = site.server.data_dir
    shutil.rmtree(data_dir / "base")  # the damage, while the server still runs
    failed_at = datetime.now(UTC)
    lines: list[str] = []
    ctx = replace(action(catalog, "inc-7", 1, failed_at), log=lines.append)

    result = await provider.carry_out(restore_step("latest"), ctx)

    assert [at for (at,) in site.sql("SELECT at FROM canary ORDER BY id")] == archived
    assert site.sql("SELECT pg_is_in_recovery()") == [(False,)]
    site.write_rows(1, every_s=0)  # promoted: it takes writes
    aside = data_dir.with_name("data.damaged-inc-7")
    assert (aside / "PG_VERSION").is_file() and not (aside / "base").exists()
    assert f"damaged data directory kept at {aside}" in result.output
    assert result.recovery_point_at is not None
    # the newest surviving row is the recovery point (commit just after the row's clock)
    assert timedelta(0) <= result.recovery_point_at - archived[-1] < timedelta(milliseconds=50)
    # measured RPO: what was written after the last archived segment, bounded by archive_timeout
    rpo = failed_at - result.recovery_point_at
    assert lost[-1] - archived[-1] < rpo < timedelta(seconds=60)
    assert (
        result.detail["recovery_point_source"] == "the last transaction replayed from the archive"
    )
    settings = (data_dir / "postgresql.auto.conf").read_text()
    assert "archive_mode = 'on'" in settings
    assert "restore_command" not in settings and "recovery_target" not in settings
    assert f"moved the damaged data directory aside to {aside}" in lines
    # started with the options of its last start (its socket folder), kept across the restore
    assert site.sql("SHOW unix_socket_directories") == [(str(site.server.socket_dir),)]

    again = await provider.carry_out(restore_step("latest"), ctx)
    assert again.output == f"{result.output} (already done for incident inc-7 step 1; not repeated)"
    assert again.recovery_point_at == result.recovery_point_at
    assert not data_dir.with_name("data.damaged-inc-7.2").exists()
    assert len(site.sql("SELECT * FROM canary")) == len(archived) + 1


async def test_restore_to_a_timestamp_stops_there_after_a_total_loss(site: Site) -> None:
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    await provider.take_backup(site.backup_context(catalog))
    rows = site.write_rows(10)
    target = rows[5] + (rows[6] - rows[5]) / 2
    site.archive_now()
    site.write_rows(3)
    site.archive_now()
    data_dir = site.server.data_dir
    data_dir.rename(data_dir.with_name("data.lost"))  # total loss; the postmaster still runs

    result = await provider.carry_out(restore_step(target.isoformat()), action(catalog, "inc-8", 0))

    assert [at for (at,) in site.sql("SELECT at FROM canary ORDER BY id")] == rows[:6]
    assert result.recovery_point_at is not None
    assert timedelta(0) <= result.recovery_point_at - rows[5] < timedelta(milliseconds=50)
    assert result.recovery_point_at < target
    assert result.detail["moved_aside"] is None
    assert result.output.endswith("; no data directory was left")
    assert site.sql("SELECT pg_is_in_recovery()") == [(False,)]


async def test_a_target_before_every_backup_is_refused_and_touches_nothing(site: Site) -> None:
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    first = await provider.take_backup(site.backup_context(catalog))
    early = first.taken_at - timedelta(hours=1)
    with pytest.raises(ProviderError) as caught:
        await provider.carry_out(restore_step(early.isoformat()), action(catalog, "inc-9", 0))
    assert str(caught.value) == (
        f"component 'db': no backup ends before {early.isoformat()} (the oldest ends at "
        f"{first.taken_at.isoformat()}); choose a later target"
    )
    assert provider.is_running()
    assert not site.server.data_dir.with_name("data.damaged-inc-9").exists()
    data_dir, port = site.server.data_dir, site.server.port
    assert provider.describe(restore_step("before_failure")) == (
        f"stop db ({data_dir}, port {port}) (immediate), move {data_dir} aside to "
        f"data.damaged-<incident id>, restore the newest pg_basebackup backup from "
        f"{site.base / 'repo'} that ends before the moment of the failure, replay archived WAL "
        "up to the moment of the failure and promote"
    )


async def test_restart_service_restarts_a_running_cluster_and_starts_a_stopped_one(
    site: Site,
) -> None:
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    restart = STEP.validate_python({"strategy": "restart_service"})
    first_pid = provider.postmaster_pid()

    result = await provider.carry_out(restart, action(catalog, "inc-1", 0))

    second_pid = provider.postmaster_pid()
    assert second_pid is not None and second_pid != first_pid
    assert result.output == (
        f"restart_service of db: stopped (fast) and started; postmaster pid {second_pid}"
    )
    assert site.sql("SELECT 1") == [(1,)]
    repeated = await provider.carry_out(restart, action(catalog, "inc-1", 0))
    assert repeated.output.endswith("(already done for incident inc-1 step 0; not repeated)")
    assert provider.postmaster_pid() == second_pid

    site.server.stop("immediate")
    assert not provider.is_running()
    started = await provider.carry_out(restart, action(catalog, "inc-2", 0))
    assert started.output.startswith("restart_service of db: was not running: started")
    assert site.sql("SELECT 1") == [(1,)]
    assert provider.describe(restart).startswith(
        f"restart PostgreSQL db ({site.server.data_dir}, port {site.server.port}): pg_ctl stop"
    )


async def test_restart_of_a_sigstopped_postmaster_is_quick_and_says_it_was_stopped(
    site: Site,
) -> None:
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    restart = STEP.validate_python({"strategy": "restart_service"})
    first_pid = provider.postmaster_pid()
    assert first_pid is not None
    os.kill(first_pid, signal.SIGSTOP)  # hung: pg_ctl's SIGINT alone would wait STOP_WAIT_S

    began = time.monotonic()
    result = await provider.carry_out(restart, action(catalog, "inc-1", 0))
    took = time.monotonic() - began

    second_pid = provider.postmaster_pid()
    assert second_pid is not None and second_pid != first_pid
    assert took < STOP_WAIT_S / 4, f"restart took {took:.1f}s"
    assert result.output == (
        "restart_service of db: postmaster was stopped (state T); sent SIGCONT after SIGINT; "
        f"stopped (fast) and started; postmaster pid {second_pid}"
    )
    assert site.sql("SELECT 1") == [(1,)]


# ---------------------------------------------------------------- verification and pruning


async def test_verify_passes_a_good_backup_fails_a_truncated_one_and_prune_keeps_the_newest(
    site: Site,
) -> None:
    catalog = site.catalog(verify_table="public.canary")
    provider = PostgresProvider(catalog=catalog, name="db")
    ctx = site.backup_context(catalog)
    site.write_rows(3, every_s=0)
    older = await provider.take_backup(ctx)
    site.write_rows(2, every_s=0)
    newer = await provider.take_backup(ctx)

    good = await provider.verify_backup(ctx, newer)
    label = newer.detail["label"]
    assert good.ok, good.detail
    assert re.fullmatch(
        rf"backup {re.escape(label)} restored into a scratch cluster: `SELECT 1` answered 1; "
        r"public\.canary has 5 rows \(port \d+\)",
        good.detail,
    )

    [(relation,)] = site.sql("SELECT pg_relation_filepath('canary')")
    damaged = Path(older.location) / relation
    size = damaged.stat().st_size
    with damaged.open("r+b") as handle:
        handle.truncate(100)
    bad = await provider.verify_backup(ctx, older)
    assert not bad.ok
    assert bad.detail == (
        f"backup {older.detail['label']} is damaged: pg_verifybackup: error: "
        f'"{relation}" has size 100 on disk but size {size} in the manifest'
    )

    wal = site.base / "repo" / "wal"
    assert segments(wal)[0] < newer.detail["start_wal"]
    removed = await provider.prune(ctx, timedelta(0))
    assert removed[0] == older.location
    assert await provider.recovery_points(ctx) == [newer]
    assert Path(older.location).name not in listing(site.base / "repo" / "base")
    assert segments(wal)[0] == newer.detail["start_wal"]
    assert set(removed[1:]) and all(name < newer.detail["start_wal"] for name in removed[1:])
    assert await provider.prune(ctx, timedelta(0)) == []  # the newest always stays


# ---------------------------------------------------------------- pgBackRest


async def test_pgbackrest_backs_up_and_restores_the_latest_archived_rows(site: Site) -> None:
    need_binary("pgbackrest", "pgbackrest")
    catalog = site.catalog(engine="pgbackrest")
    provider = PostgresProvider(catalog=catalog, name="db")
    ctx = site.backup_context(catalog)
    full = await provider.take_backup(ctx)
    rows = site.write_rows(5)
    diff = await provider.take_backup(ctx)
    rows += site.write_rows(5)
    site.archive_now()
    assert (full.detail["type"], diff.detail["type"]) == ("full", "diff")
    assert await provider.recovery_points(ctx) == [full, diff]
    config = site.base / "repo" / "pgbackrest.conf"
    assert site.sql("SHOW archive_command") == [
        (f"'{shutil.which('pgbackrest')}' '--config={config}' '--stanza=db' archive-push '%p'",)
    ]
    window = await provider.restorable_window(ctx)
    assert window.oldest == full.taken_at
    assert window.newest is not None and abs((window.newest - rows[-1]).total_seconds()) < 0.05

    shutil.rmtree(site.server.data_dir / "global")
    result = await provider.carry_out(restore_step("latest"), action(catalog, "inc-3", 0))

    assert [at for (at,) in site.sql("SELECT at FROM canary ORDER BY id")] == rows
    assert result.recovery_point_at is not None
    assert timedelta(0) <= result.recovery_point_at - rows[-1] < timedelta(milliseconds=50)
    assert site.server.data_dir.with_name("data.damaged-inc-3").is_dir()
    assert site.sql("SELECT pg_is_in_recovery()") == [(False,)]

    verified = await provider.verify_backup(ctx, diff)
    assert verified.ok, verified.detail
    assert verified.detail.startswith(
        f"backup {diff.detail['label']} restored into a scratch cluster: `SELECT 1` answered 1"
    )
    label = full.detail["label"]
    stored = Path(full.location) / "pg_data" / "PG_VERSION.gz"
    stored.write_bytes(stored.read_bytes()[:10])
    damaged = await provider.verify_backup(ctx, full)
    assert not damaged.ok
    match = re.fullmatch(
        rf"backup {label} is damaged: pgbackrest verify: invalid checksum "
        rf"'{label}/pg_data/PG_VERSION\.gz' \| backup: {label}, status: invalid, "
        r"total files checked: (\d+), total valid files: (\d+)",
        damaged.detail,
    )
    assert match is not None, damaged.detail
    assert int(match[2]) == int(match[1]) - 1  # exactly the one file damaged


def test_spec_problems_name_the_component_and_the_fix() -> None:
    base = Path("/nonexistent")
    data = {
        "version": 1,
        "components": {
            "db": {
                "type": "database",
                "rto": "5m",
                "rpo": "1m",
                "provider": "postgres",
                "spec": {"data_dir": "/x", "port": 99999},
                "health": {"check": "tcp", "port": 1},
            }
        },
    }
    catalog = Catalog.model_validate(data).with_origin("paramedic.yaml", base)
    with pytest.raises(ProviderError) as caught:
        PostgresProvider(catalog=catalog, name="db")
    assert str(caught.value) == (
        "component 'db': spec.port: Input should be less than or equal to 65535; "
        "fix it in the catalog"
    )


async def test_taken_over_start_leaves_a_stopped_cluster_to_its_recovery(site: Site) -> None:
    """start_if_down False (taken over from another agent): a running cluster is adopted as
    it is, a stopped one is not started outside a recovery."""
    catalog = site.catalog()
    provider = PostgresProvider(catalog=catalog, name="db")
    provider.start_if_down = False
    running_pid = provider.postmaster_pid()
    await provider.start()
    assert provider.postmaster_pid() == running_pid
    site.server.stop("immediate")
    await provider.start()
    assert not provider.is_running()
    restart = STEP.validate_python({"strategy": "restart_service"})
    started = await provider.carry_out(restart, action(catalog, "inc-1", 0))
    assert started.output.startswith("restart_service of db: was not running: started")
    own = PostgresProvider(catalog=catalog, name="db")
    site.server.stop("immediate")
    await own.start()  # its own host's agent starting: starts it
    assert own.is_running()
