"""failover_to_standby and rebuild_as_standby against REAL PostgreSQL clusters: a primary and a
streaming standby made with ``pg_basebackup -R -X stream``, both on free loopback ports, run as
an unprivileged user when the tests run as root; HAProxy for the re-pointing of clients."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paramedic.catalog.model import Catalog, FailoverToStandby
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext
from paramedic.providers.local.postgres import PostgresProvider
from paramedic.providers.local.postgres_failover import (
    FENCE_NOTE,
    describe_failover,
    failover_to_standby,
    rebuild_as_standby,
)
from tests.servers import (
    PostgresServer,
    chown_tree,
    free_port,
    make_postgres,
    need_binary,
    scratch_dir,
    unprivileged_user,
    wait_port,
)

pytestmark = pytest.mark.integration

INCIDENT = "inc-42"


# ---------------------------------------------------------------- clusters


def new_cluster(base: Path, *, checksums: bool) -> PostgresServer:
    """A started primary: tests.servers' make_postgres, or the same with ``--data-checksums``."""
    if not checksums:
        return fast(make_postgres(base))
    initdb = need_binary("initdb", "postgresql", ("/usr/lib/postgresql/*/bin/initdb",))
    user = unprivileged_user()
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    (base / "sock").mkdir()
    chown_tree(base, user)
    server = PostgresServer(
        Path(initdb).resolve().parent, base / "data", base / "sock", free_port(), user
    )
    server.pg("initdb", "-D", str(server.data_dir), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--no-sync", "--data-checksums")  # fmt: skip
    server.start()
    return fast(server)


def fast(server: PostgresServer) -> PostgresServer:
    """No fsync: the base backup's checkpoint is quick (a SIGKILL keeps the page cache anyway)."""
    sql(server, "ALTER SYSTEM SET fsync = off")
    sql(server, "SELECT pg_reload_conf()")
    return server


def new_standby(primary: PostgresServer, base: Path) -> PostgresServer:
    """A streaming standby of ``primary`` (``pg_basebackup -R -X stream``), started."""
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    (base / "sock").mkdir()
    chown_tree(base, primary.user)
    standby = PostgresServer(
        primary.bin_dir, base / "data", base / "sock", free_port(), primary.user
    )
    standby.pg("pg_basebackup", "-D", str(standby.data_dir), "-d", primary.dsn,
               "-R", "-X", "stream", "-c", "fast")  # fmt: skip
    standby.start()
    return standby


def dsn_of(server: PostgresServer) -> str:
    return f"postgresql://postgres@127.0.0.1:{server.port}/postgres"


def sql(server: PostgresServer | str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``query`` (autocommit) on ``server`` or a DSN."""
    dsn = server if isinstance(server, str) else dsn_of(server)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(query, params or None)
        return cursor.fetchall() if cursor.description else []


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def caught_up(primary: PostgresServer, standby: PostgresServer) -> None:
    """Wait until the standby replayed everything the primary wrote."""
    [(target,)] = sql(primary, "SELECT pg_current_wal_lsn()::text")
    wait_for(
        "standby caught up",
        lambda: (
            sql(standby, "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", target)
            == [(True,)]
        ),
    )


def write(server: PostgresServer, note: str) -> datetime:
    """Insert a row; the time of its transaction."""
    [(at,)] = sql(server, "INSERT INTO canary(note) VALUES (%s) RETURNING at", note)
    return at  # type: ignore[no-any-return]


def kill_postmaster(server: PostgresServer) -> int:
    """SIGKILL the postmaster (first line of postmaster.pid); its pid."""
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    return pid


@dataclass
class Pair:
    """A primary and its streaming standby, described in a catalog."""

    base: Path
    primary: PostgresServer
    standby: PostgresServer
    extra: dict[str, Any] = field(default_factory=dict)
    """More catalog components (a load balancer)."""

    def catalog(self, **primary_spec: Any) -> Catalog:
        def entry(server: PostgresServer, **spec: Any) -> dict[str, Any]:
            return {
                "type": "database",
                "rto": "1m",
                "rpo": "10s",
                "provider": "postgres",
                "spec": {
                    "data_dir": str(server.data_dir),
                    "port": server.port,
                    "bin_dir": str(server.bin_dir),
                    "user": server.user,
                    **spec,
                },
                "health": {"check": "postgres", "dsn": dsn_of(server)},
                "recovery": [{"strategy": "failover_to_standby"}],
            }

        components = {
            "primary": entry(self.primary, **{"standby": "replica", **primary_spec}),
            "replica": entry(self.standby),
            **self.extra,
        }
        data = {"version": 1, "agent": {"run_dir": "run"}, "components": components}
        return Catalog.model_validate(data).with_origin("paramedic.yaml", self.base)


class Pairs:
    """Builds primary/standby pairs in scratch folders; every server in them is stopped at the end."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self.pids: list[int] = []
        """Postmasters to SIGKILL at the end, for those pg_ctl can no longer stop."""

    def build(self, *, checksums: bool = False) -> Pair:
        """A started primary with a ``canary`` table and a streaming standby of it."""
        base = self._stack.enter_context(scratch_dir("paramedic-failover-"))
        self._stack.callback(self._stop_all, base)
        primary = new_cluster(base / "p", checksums=checksums)
        standby = new_standby(primary, base / "s")
        sql(primary, "CREATE TABLE canary(note text, at timestamptz DEFAULT now())")
        return Pair(base, primary, standby)

    def _stop_all(self, base: Path) -> None:
        pg_ctl = need_binary("pg_ctl", "postgresql", ("/usr/lib/postgresql/*/bin/pg_ctl",))
        user = unprivileged_user()
        for pidfile in base.rglob("postmaster.pid"):
            argv = [pg_ctl, "-D", str(pidfile.parent), "-m", "immediate", "-w", "stop"]
            subprocess.run(["runuser", "-u", user, "--", *argv] if user else argv, check=False,
                           capture_output=True, timeout=60)  # fmt: skip
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def pairs() -> Iterator[Pairs]:
    """Primary/standby pairs for one test, all stopped and removed afterwards, even on failure."""
    with contextlib.ExitStack() as stack:
        yield Pairs(stack)


def context(catalog: Catalog, failed_at: datetime | None, lines: list[str]) -> ActionContext:
    return ActionContext(
        incident_id=INCIDENT,
        step_index=0,
        component_name="primary",
        component=catalog.components["primary"],
        catalog=catalog,
        failed_at=failed_at,
        log=lines.append,
    )


def step_of(catalog: Catalog) -> FailoverToStandby:
    step = catalog.components["primary"].recovery[0]
    assert isinstance(step, FailoverToStandby)
    return step


# ---------------------------------------------------------------- failover


async def test_failover_promotes_the_standby_fences_the_primary_and_rebuilds_it(
    pairs: Pairs,
) -> None:
    pair = pairs.build(checksums=True)
    catalog = pair.catalog()
    primary = PostgresProvider(catalog=catalog, name="primary")
    write(pair.primary, "one")
    last_write = write(pair.primary, "two")
    caught_up(pair.primary, pair.standby)
    assert sql(pair.standby, "SELECT note FROM canary ORDER BY at") == [("one",), ("two",)]

    kill_postmaster(pair.primary)
    failed_at = datetime.now(UTC)
    lines: list[str] = []
    result = await failover_to_standby(
        primary, step_of(catalog), context(catalog, failed_at, lines)
    )

    # promoted: writes now succeed on the former standby
    assert sql(pair.standby, "SELECT pg_is_in_recovery()") == [(False,)]
    write(pair.standby, "after failover")
    assert result.detail["promoted"] == "replica"
    assert result.detail["fenced"] == "primary"
    # the measured recovery point is the last write's commit, just after its transaction began
    point = result.recovery_point_at
    assert point is not None
    assert 0 <= (point - last_write).total_seconds() < 0.5
    assert result.detail["lag_s"] == pytest.approx((failed_at - point).total_seconds(), abs=0.01)
    out = result.output.splitlines()
    assert out[0].startswith(
        f"measured on replica: last replayed transaction at {point.isoformat()}"
    )
    assert re.fullmatch(
        r"fenced primary: it (was not running|was stopped \(pg_ctl stop -m fast\)); "
        rf"standby.signal written to {re.escape(str(pair.primary.data_dir))} so it can only "
        r"start as a standby",
        out[1],
    )
    assert out[2] == "promoted replica: pg_ctl promote, pg_is_in_recovery() is now false"
    assert out[3] == (
        "clients not re-pointed (no spec.load_balancer): a later run step must send them to "
        f"replica at 127.0.0.1:{pair.standby.port}"
    )
    assert lines == out
    assert INCIDENT in (pair.primary.data_dir / FENCE_NOTE).read_text()

    # idempotent: called again for the same incident and step, nothing is repeated
    again = await failover_to_standby(primary, step_of(catalog), context(catalog, failed_at, []))
    assert again.recovery_point_at == point
    assert (
        again.output
        == f"{result.output}\n(already done for incident {INCIDENT} step 0; not repeated)"
    )
    assert again.detail["repeated"] is True

    # a crash after the promotion but before the step was recorded: the next call finishes it
    marker = pair.base / "run" / "primary" / "steps" / f"{INCIDENT}.0.failover.json"
    state = json.loads(marker.read_text())
    marker.write_text(json.dumps({**state, "phase": "promoting"}))
    resumed = await failover_to_standby(primary, step_of(catalog), context(catalog, failed_at, []))
    assert resumed.output.splitlines()[2] == "replica was already promoted; not promoted again"
    assert resumed.recovery_point_at == point

    # fenced: started again by anyone, the old primary comes up read-only, not a second primary
    pair.primary.start()
    assert sql(pair.primary, "SELECT pg_is_in_recovery()") == [(True,)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        write(pair.primary, "split brain")
    pair.primary.stop()

    # rebuilt as a streaming standby of the new primary, with pg_rewind (data checksums)
    replica = PostgresProvider(catalog=catalog, name="replica")
    said = await rebuild_as_standby(primary, replica, INCIDENT)
    assert (
        said
        == "rebuilt primary as a standby with pg_rewind from replica; it streams from the new primary"
    )
    write(pair.standby, "after rebuild")
    caught_up(pair.standby, pair.primary)
    assert sql(pair.primary, "SELECT note FROM canary ORDER BY at") == [
        ("one",), ("two",), ("after failover",), ("after rebuild",),
    ]  # fmt: skip
    assert sql(pair.primary, "SELECT pg_is_in_recovery()") == [(True,)]
    again_said = await rebuild_as_standby(primary, replica, INCIDENT)
    assert again_said == "primary already streams as a standby; nothing rebuilt"


async def test_a_lagging_standby_measures_the_data_lost_and_the_rebuild_keeps_it(
    pairs: Pairs,
) -> None:
    pair = pairs.build(checksums=True)
    catalog = pair.catalog()
    primary = PostgresProvider(catalog=catalog, name="primary")
    replicated = write(pair.primary, "replicated")
    caught_up(pair.primary, pair.standby)
    # the standby stops receiving: what the primary writes from now on is lost at the failover
    sql(pair.standby, "ALTER SYSTEM SET primary_conninfo = ''")
    sql(pair.standby, "SELECT pg_reload_conf()")
    wait_for(
        "receiver gone",
        lambda: sql(pair.standby, "SELECT count(*) FROM pg_stat_wal_receiver") == [(0,)],
    )
    lost = write(pair.primary, "lost")

    kill_postmaster(pair.primary)
    failed_at = datetime.now(UTC)
    result = await failover_to_standby(primary, step_of(catalog), context(catalog, failed_at, []))

    point = result.recovery_point_at
    assert point is not None
    assert 0 <= (point - replicated).total_seconds() < 0.5
    assert point < lost
    assert result.detail["lag_s"] == pytest.approx((failed_at - point).total_seconds(), abs=0.01)
    assert sql(pair.standby, "SELECT note FROM canary") == [("replicated",)]

    # the old primary holds the lost row: it is moved aside, not rewound away
    said = await rebuild_as_standby(primary, dsn_of(pair.standby), INCIDENT)
    aside = pair.primary.data_dir.with_name(f"data.damaged-{INCIDENT}")
    assert re.fullmatch(
        rf"rebuilt primary as a standby with pg_basebackup -R from {re.escape(dsn_of(pair.standby))} "
        r"\(it holds WAL after [0-9A-F]+/[0-9A-F]+ that the new primary never received\); "
        rf"the old data directory is kept at {re.escape(str(aside))}; it streams from the new primary",
        said,
    )
    assert (aside / "PG_VERSION").is_file()
    assert (aside / "standby.signal").is_file()
    write(pair.standby, "after rebuild")
    caught_up(pair.standby, pair.primary)
    assert sql(pair.primary, "SELECT note FROM canary ORDER BY at") == [
        ("replicated",), ("after rebuild",),
    ]  # fmt: skip


async def test_refuses_to_promote_when_the_old_primary_cannot_be_fenced(pairs: Pairs) -> None:
    pair = pairs.build()
    catalog = pair.catalog()
    primary = PostgresProvider(catalog=catalog, name="primary")
    # a primary its pid file no longer describes: pg_ctl can neither see nor stop it
    pidfile = pair.primary.data_dir / "postmaster.pid"
    pid = int(pidfile.read_text().split()[0])
    pairs.pids.append(pid)
    pidfile.unlink()

    with pytest.raises(ProviderError) as refused:
        await failover_to_standby(primary, step_of(catalog), context(catalog, None, []))
    assert str(refused.value) == (
        "refusing to promote replica: the old primary primary could not be fenced: it still "
        f"accepts connections as a primary on 127.0.0.1:{pair.primary.port}; stop it by hand "
        f"(pg_ctl stop -m immediate -D {pair.primary.data_dir}), then run the recovery again"
    )
    assert sql(pair.standby, "SELECT pg_is_in_recovery()") == [(True,)]
    assert not (pair.primary.data_dir / "standby.signal").exists()
    write(pair.primary, "still the only primary")

    # a provider that sees it running but whose stops fail says so too (its stop is a fake)
    class Unstoppable(PostgresProvider):
        async def stop(self, mode: str = "fast") -> None:
            raise ProviderError(f"pg_ctl stop -m {mode}: permission denied")

        def is_running(self) -> bool:
            return True

    with pytest.raises(ProviderError) as refused:
        await failover_to_standby(
            Unstoppable(catalog=catalog, name="primary"),
            step_of(catalog),
            context(catalog, None, []),
        )
    assert str(refused.value) == (
        "refusing to promote replica: the old primary primary could not be fenced: it still "
        f"accepts connections as a primary on 127.0.0.1:{pair.primary.port} and could not be "
        "stopped (stop -m fast failed: pg_ctl stop -m fast: permission denied; stop -m immediate "
        "failed: pg_ctl stop -m immediate: permission denied); stop it by hand (pg_ctl stop -m "
        f"immediate -D {pair.primary.data_dir}), then run the recovery again"
    )
    assert sql(pair.standby, "SELECT pg_is_in_recovery()") == [(True,)]

    # once someone stopped it, the same step goes on and promotes
    os.kill(pid, signal.SIGKILL)
    wait_for("old primary gone", lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid))
    done = await failover_to_standby(primary, step_of(catalog), context(catalog, None, []))
    assert done.detail["promoted"] == "replica"
    assert sql(pair.standby, "SELECT pg_is_in_recovery()") == [(False,)]
    assert (pair.primary.data_dir / "standby.signal").is_file()


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


async def test_refuses_a_standby_that_is_not_in_recovery(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    catalog = Pair(tmp_path, postgres_server, postgres_server).catalog()
    spec = {**catalog.components["primary"].spec, "data_dir": str(data_dir), "port": free_port()}
    catalog.components["primary"] = catalog.components["primary"].model_copy(update={"spec": spec})
    primary = PostgresProvider(catalog=catalog, name="primary")
    with pytest.raises(ProviderError) as refused:
        await failover_to_standby(primary, step_of(catalog), context(catalog, None, []))
    assert str(refused.value) == (
        "refusing to fail over primary to replica: replica is not a standby "
        "(pg_is_in_recovery() is false); fix spec.standby or the step's standby"
    )
    assert list(data_dir.iterdir()) == []


async def test_a_failover_needs_another_postgres_component_as_standby(tmp_path: Path) -> None:
    server = PostgresServer(Path("/nonexistent"), tmp_path / "data", tmp_path, 5432, None)
    pair = Pair(tmp_path, server, server)
    pair.extra["web"] = {
        "type": "application_server", "rto": "1m", "rpo": "0s", "provider": "process",
        "spec": {"command": ["true"]}, "health": {"check": "tcp", "port": 1},
    }  # fmt: skip
    catalog = pair.catalog()
    primary = PostgresProvider(catalog=catalog, name="primary")
    assert describe_failover(primary, step_of(catalog)) == (
        "measure the replication lag on replica, fence primary (stop it, write standby.signal "
        "into its data directory), promote replica, and leave re-pointing clients to a later "
        "run step (no haproxy spec.load_balancer)"
    )
    dry = await failover_to_standby(
        primary,
        step_of(catalog),
        ActionContext(**{**vars(context(catalog, None, [])), "dry_run": True}),
    )
    assert dry.output == describe_failover(primary, step_of(catalog))

    cases = {
        None: "component 'primary': failover_to_standby needs a standby; set spec.standby or "
        "the step's standby to a postgres component",
        "web": "component 'primary': standby 'web' is not another postgres component of the "
        "catalog; fix spec.standby or the step's standby",
        "primary": "component 'primary': standby 'primary' is not another postgres component "
        "of the catalog; fix spec.standby or the step's standby",
    }
    for standby, message in cases.items():
        lone = pair.catalog(standby=standby)
        with pytest.raises(ProviderError) as wrong:
            await failover_to_standby(
                PostgresProvider(catalog=lone, name="primary"),
                step_of(lone),
                context(lone, None, []),
            )
        assert str(wrong.value) == message
        assert (
            describe_failover(PostgresProvider(catalog=lone, name="primary"), step_of(lone))
            == f"nothing: {message}"
        )


HAPROXY_CONFIG = """\
global
    stats socket {sock} mode 600 level admin expose-fd listeners

defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s

frontend db
    bind 127.0.0.1:{front}
    default_backend db

backend db
    server primary 127.0.0.1:{port}
"""


async def test_failover_repoints_the_haproxy_backend_to_the_standby(pairs: Pairs) -> None:
    need_binary("haproxy", "haproxy", ("/usr/sbin/haproxy",))
    from paramedic.providers.local.haproxy import HaproxyProvider

    pair = pairs.build()
    front = free_port()
    (pair.base / "haproxy.cfg").write_text(
        HAPROXY_CONFIG.format(sock=pair.base / "lb.sock", front=front, port=pair.primary.port)
    )
    pair.extra["lb"] = {
        "type": "load_balancer", "rto": "30s", "rpo": "0s", "provider": "haproxy",
        "spec": {"config": "haproxy.cfg", "stats_socket": "lb.sock", "backend": "db"},
        "health": {"check": "tcp", "port": front},
    }  # fmt: skip
    catalog = pair.catalog(load_balancer="lb")
    through_lb = f"postgresql://postgres@127.0.0.1:{front}/postgres"
    lb = HaproxyProvider(catalog=catalog, name="lb")
    await lb.start()
    try:
        wait_port(front)
        assert sql(through_lb, "SELECT inet_server_port()") == [(pair.primary.port,)]
        primary = PostgresProvider(catalog=catalog, name="primary")
        assert describe_failover(primary, step_of(catalog)).endswith(
            "promote replica, and re-point server primary of load balancer lb to the standby"
        )
        kill_postmaster(pair.primary)
        result = await failover_to_standby(primary, step_of(catalog), context(catalog, None, []))
        repointed = result.output.splitlines()[3]
        assert repointed.startswith(
            f"clients re-pointed: lb: db/primary -> 127.0.0.1:{pair.standby.port} "
            f"(was 127.0.0.1:{pair.primary.port}); set live through the runtime API"
        )
        assert sql(through_lb, "SELECT inet_server_port(), pg_is_in_recovery()") == [
            (pair.standby.port, False)
        ]
        assert (
            f"server primary 127.0.0.1:{pair.standby.port}"
            in (pair.base / "haproxy.cfg").read_text()
        )
    finally:
        await lb.close(stop_owned=True)
