"""Data recovery end to end: the real agent restores a real PostgreSQL whose data was destroyed,
and the RPO paramedic measured agrees with the rows that survived."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.e2e.harness import history, paramedic, start_agent, start_webhook, wait_for
from tests.servers import (
    PostgresServer,
    chown_tree,
    free_port,
    make_postgres,
    scratch_dir,
    unprivileged_user,
)

pytestmark = pytest.mark.e2e

WRITE_EVERY_S = 0.05


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def cluster() -> Iterator[tuple[Path, PostgresServer]]:
    with scratch_dir("paramedic-e2e-pg-") as base:
        server = make_postgres(base / "pg")
        try:
            yield base, server
        finally:
            server.stop("immediate")
            for path in base.glob("pg/data*"):  # restored clusters run from the same data_dir
                with contextlib.suppress(Exception):
                    server.pg("pg_ctl", "-D", str(path), "-m", "immediate", "stop", check=False)


class Writer(threading.Thread):
    """Inserts a timestamped row every 50 ms until stopped; remembers what it wrote."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.written: list[datetime] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.halt.is_set():
                row = conn.execute("INSERT INTO canary DEFAULT VALUES RETURNING at").fetchone()
                assert row is not None
                self.written.append(row[0])
                time.sleep(WRITE_EVERY_S)


def _catalog(base: Path, server: PostgresServer) -> Path:
    repo = base / "repo"
    repo.mkdir()
    chown_tree(repo, unprivileged_user())
    text = f"""version: 1
location: e2e
state: sqlite:///{base}/state.db
agent: {{run_dir: {base}/run, log_dir: {base}/log}}
components:
  orders-db:
    type: database
    constraint: "one licensed instance"
    criticality: critical
    rto: 2m
    rpo: 30s
    provider: postgres
    spec: {{data_dir: "{server.data_dir}", port: {server.port}, bin_dir: "{server.bin_dir}", user: {server.user or "null"}}}
    health: {{check: postgres, dsn: "{server.dsn}", interval: 500ms, timeout: 1s, failures: 2}}
    backup: {{engine: pg_basebackup, schedule: "0 0 1 1 *", keep: 7d, repository: "{repo}", archive_timeout: 1s}}
    recovery:
      - {{strategy: restart_service, timeout: 15s}}
      - {{strategy: restore_from_backup, target: latest, timeout: 2m}}
"""
    path = base / "paramedic.yaml"
    path.write_text(text)
    return path


def test_destroyed_postgres_is_restored_and_the_measured_rpo_matches_the_rows(
    cluster: tuple[Path, PostgresServer],
) -> None:
    base, server = cluster
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE canary (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
        )
    _catalog(base, server)
    paramedic("backup", "orders-db", cwd=base)  # the first backup turns WAL archiving on
    agent = start_agent(base)
    writer = Writer(server.dsn)
    try:
        wait_for("the agent to watch", lambda: '"became_healthy"' in agent.log(), timeout=60)
        writer.start()
        time.sleep(3)
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        (server.data_dir / "global" / "pg_control").unlink()  # the cluster cannot start again
        incident = wait_for(
            "the restore",
            lambda: (h := history(base, "orders-db")) and not h[0]["open"] and h[0],
            timeout=180,
        )
        writer.halt.set()
        assert incident["state"] == "recovered", agent.log()
        assert incident["strategy"] == "restore_from_backup"
        assert [s["status"] for s in incident["steps"]] == ["failed", "succeeded"]
        with psycopg.connect(server.dsn) as conn:
            survived = [r[0] for r in conn.execute("SELECT at FROM canary ORDER BY at").fetchall()]
        assert survived, "rows written before the last archived WAL must be back"
        assert survived == writer.written[: len(survived)], "a prefix survives, without gaps"
        failed_at = _t(incident["failed_at"])
        assert survived[-1] < failed_at <= datetime.now(UTC)
        shown_by_rows = (failed_at - survived[-1]).total_seconds()
        assert incident["measured_rpo_s"] == pytest.approx(shown_by_rows, abs=WRITE_EVERY_S)
        assert (
            incident["measured_rpo_s"] <= incident["target_rpo_s"] and incident["rpo_met"] is True
        )
        aside = list(
            server.data_dir.parent.glob(f"{server.data_dir.name}.damaged-{incident['id']}*")
        )
        assert aside and (aside[0] / "PG_VERSION").exists(), "damaged data moved aside, not deleted"
    finally:
        writer.halt.set()
        agent.stop()


def _wait_recovered(base: Path, name: str, agent: object) -> dict[str, object]:
    incident = wait_for(
        f"{name} restored",
        lambda: (h := history(base, name)) and not h[0]["open"] and h[0],
        timeout=120,
    )
    assert incident["state"] == "recovered", agent.log()  # type: ignore[attr-defined]
    assert incident["strategy"] == "restore_from_backup"
    return dict(incident)


def test_redis_keys_come_back_from_the_snapshot_with_the_measured_rpo(tmp_path: Path) -> None:
    import redis

    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    (tmp_path / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///state.db
components:
  cache:
    type: cache
    rto: 1m
    rpo: 1m
    provider: redis
    spec: {{port: {port}, dir: "{data}"}}
    health: {{check: redis, url: "redis://127.0.0.1:{port}/0", interval: 300ms, timeout: 500ms, failures: 2}}
    backup: {{engine: redis_rdb, schedule: "0 0 1 1 *", keep: 7d, repository: "{tmp_path}/repo"}}
    recovery: [{{strategy: restore_from_backup, target: latest, timeout: 1m}}]
""")
    agent = start_agent(tmp_path)
    try:
        wait_for("the agent to watch", lambda: '"became_healthy"' in agent.log(), timeout=30)
        client = redis.Redis(port=port)
        written: list[float] = []
        halt = threading.Event()

        def write() -> None:  # a writer running through the backup, as in production
            with contextlib.suppress(redis.RedisError):
                while not halt.is_set():
                    stamp = time.time()
                    client.zadd("canary", {f"{stamp:.6f}": stamp})
                    written.append(stamp)
                    time.sleep(WRITE_EVERY_S)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(1)
        paramedic("backup", "cache", cwd=tmp_path)
        time.sleep(1)
        pid = int(redis.Redis(port=port).info("server")["process_id"])
        halt.set()
        writer.join(5)
        redis.Redis(port=port).flushall()
        os.kill(pid, signal.SIGKILL)
        (data / "dump.rdb").write_bytes(b"REDIS0009 damaged by the test\n")  # a corrupt dump
        incident = _wait_recovered(tmp_path, "cache", agent)
        survived = [
            score for _, score in redis.Redis(port=port).zrange("canary", 0, -1, withscores=True)
        ]
        assert survived and survived == written[: len(survived)], "a prefix survives"
        assert len(survived) < len(written)
        failed_at = _t(str(incident["failed_at"])).timestamp()
        assert incident["measured_rpo_s"] == pytest.approx(
            failed_at - survived[-1], abs=WRITE_EVERY_S
        )
        assert list(data.parent.glob("**/*damaged*")) or list(data.glob("*damaged*")), (
            "damaged files kept"
        )
    finally:
        agent.stop()
        with contextlib.suppress(Exception):
            redis.Redis(port=port).shutdown(nosave=True)


def test_a_deleted_file_tree_comes_back_from_restic_with_the_measured_rpo(tmp_path: Path) -> None:
    tree = tmp_path / "site"
    tree.mkdir()
    (tree / "sentinel").write_text("present\n")
    (tmp_path / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///state.db
components:
  site:
    type: file_system
    rto: 2m
    rpo: 1h
    provider: files
    spec: {{path: "{tree}"}}
    health: {{check: command, command: ["test", "-f", "{tree}/sentinel"], interval: 300ms, timeout: 1s, failures: 2}}
    backup: {{engine: restic, schedule: "0 0 1 1 *", keep: 7d, repository: "{tmp_path}/repo"}}
    recovery: [{{strategy: restore_from_backup, target: latest, timeout: 1m}}]
""")
    written: list[float] = []

    def write(n: int) -> None:
        for _ in range(n):
            stamp = time.time()
            (tree / f"marker-{stamp:.6f}").write_text(f"{stamp}\n")
            written.append(stamp)
            time.sleep(WRITE_EVERY_S)

    write(10)
    paramedic("backup", "site", cwd=tmp_path)
    write(10)
    agent = start_agent(tmp_path)
    try:
        wait_for("the agent to watch", lambda: '"became_healthy"' in agent.log(), timeout=30)
        shutil.rmtree(tree)
        incident = _wait_recovered(tmp_path, "site", agent)
        survived = sorted(float(p.read_text()) for p in tree.glob("marker-*"))
        assert survived == written[: len(survived)] and len(survived) == 10
        points = json.loads(paramedic("backups", "site", "--json", cwd=tmp_path).stdout)
        taken = _t(points["components"][0]["points"][-1]["taken_at"]).timestamp()
        failed_at = _t(str(incident["failed_at"])).timestamp()
        assert incident["measured_rpo_s"] == pytest.approx(failed_at - taken, abs=0.01)
        assert survived[-1] <= taken
        aside = list(tmp_path.glob(f"site.damaged-{incident['id']}*"))
        assert not aside or all(
            p.is_dir() for p in aside
        )  # nothing was left to move: it was deleted
    finally:
        agent.stop()


def test_a_truncated_backup_is_caught_by_verification_and_notified(tmp_path: Path) -> None:
    hook = start_webhook()
    try:
        tree = tmp_path / "site"
        tree.mkdir()
        for n in range(20):
            (tree / f"page-{n}.html").write_text(f"<p>{n}</p>\n" * 200)
        (tmp_path / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///state.db
notify:
  - name: ops
    url: "{hook.url}"
components:
  site:
    type: file_system
    rto: 2m
    rpo: 1d
    provider: files
    spec: {{path: "{tree}"}}
    health: {{check: command, command: ["test", "-d", "{tree}"], interval: 1s, timeout: 1s}}
    backup: {{engine: restic, schedule: "0 0 1 1 *", keep: 7d, repository: "{tmp_path}/repo", verify: daily}}
    recovery: [{{strategy: restore_from_backup}}]
""")
        paramedic("backup", "site", cwd=tmp_path)
        packs = sorted(
            (tmp_path / "repo" / "data").rglob("*"),
            key=lambda p: p.stat().st_size if p.is_file() else 0,
        )
        victim = packs[-1]
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # a truncated pack
        agent = start_agent(tmp_path)  # never verified: a daily verification is due at once
        try:
            incident = wait_for(
                "the verification incident",
                lambda: [i for i in history(tmp_path, "site") if i["kind"] == "verification"],
                timeout=60,
            )[0]
            assert incident["state"] == "escalated" and not incident["open"]
            assert incident["reason"].startswith("backup verification failed: ")
            wait_for("the page", lambda: "verification_failed" in hook.events())
            listing = json.loads(paramedic("backups", "site", "--json", cwd=tmp_path).stdout)
            assert listing["components"][0]["points"][-1]["verified_ok"] is False
        finally:
            agent.stop()
    finally:
        hook.server.shutdown()
        hook.server.server_close()
