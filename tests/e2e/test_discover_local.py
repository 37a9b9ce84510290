"""``paramedic discover local`` finds real PostgreSQL, Redis and HTTP servers, and the catalog it
drafts, run by the real ``paramedic run``, reports them healthy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.e2e.harness import paramedic, start_agent, status, wait_for
from tests.servers import (
    PostgresServer,
    RedisServer,
    free_port,
    make_postgres,
    scratch_dir,
    wait_port,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: the agent may turn on WAL archiving if a backup falls due."""
    with scratch_dir("paramedic-discover-pg-") as base:
        server = make_postgres(base)
        try:
            yield server
        finally:
            server.stop("immediate")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[int]:
    """``python -m http.server`` on a free loopback port."""
    port = free_port()
    site = tmp_path / "site"
    site.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _ours(draft: Path, ports: set[int], out: Path) -> dict[str, dict[str, object]]:
    """The draft cut down to this test's servers (the machine runs other people's too)."""
    yaml = YAML()
    data = yaml.load(draft.read_text())
    mine = {}
    for name in list(data["components"]):
        component = data["components"][name]
        text = str(dict(component["health"])) + str(dict(component.get("spec", {})))
        if any(str(port) in text for port in ports):
            mine[name] = component
        else:
            del data["components"][name]
    data["state"] = "sqlite:///state.db"
    with out.open("w") as handle:
        yaml.dump(data, handle)
    return mine


def test_finds_postgres_redis_and_http_and_the_draft_runs_healthy(
    tmp_path: Path, own_postgres: PostgresServer, redis_server: RedisServer, http_server: int
) -> None:
    draft = tmp_path / "draft.yaml"
    done = paramedic(
        "discover", "local", "-o", str(draft), "--backup-dir", str(tmp_path / "backups"),
        cwd=tmp_path,
    )  # fmt: skip
    assert "wrote the draft catalog" in done.stderr
    ports = {own_postgres.port, redis_server.port, http_server}
    mine = _ours(draft, ports, tmp_path / "paramedic.yaml")
    by_check = {c["health"]["check"]: (name, c) for name, c in mine.items()}
    assert set(by_check) == {"postgres", "redis", "http"}, mine
    pg_name, pg = by_check["postgres"]
    assert pg["provider"] == "postgres"
    assert Path(pg["spec"]["data_dir"]).resolve() == own_postgres.data_dir.resolve()
    assert f"host={own_postgres.socket_dir}" in pg["health"]["dsn"]
    assert pg["backup"]["engine"] == "pg_basebackup"
    redis_name, rd = by_check["redis"]
    assert rd["provider"] == "redis"
    assert Path(rd["spec"]["dir"]).resolve() == redis_server.dir.resolve()
    assert rd["health"]["url"] == f"redis://127.0.0.1:{redis_server.port}/0"
    http_name, web = by_check["http"]
    assert web["health"]["url"] == f"http://127.0.0.1:{http_server}/"
    assert web["spec"]["start_command"][1:3] == ["-m", "http.server"]
    assert "# /proc/" in draft.read_text()

    assert paramedic("validate", "paramedic.yaml", cwd=tmp_path).returncode == 0
    agent = start_agent(tmp_path)
    try:
        names = {pg_name, redis_name, http_name}

        def all_healthy() -> bool:
            rows = {c["name"]: c.get("state") for c in status(tmp_path)["components"]}
            return all(rows.get(n) == "healthy" for n in names)

        wait_for("the discovered components healthy", all_healthy, timeout=60)
    finally:
        assert agent.stop() == 0, agent.log()

    same = paramedic("discover", "local", "--against", "paramedic.yaml", cwd=tmp_path, check=False)
    drifted = [line for line in same.stdout.splitlines() if any(n in line for n in names)]
    assert drifted == [], same.stdout


def test_cli_exit_codes_for_bad_input(tmp_path: Path) -> None:
    taken = tmp_path / "mine.yaml"
    taken.write_text("mine\n")
    done = paramedic("discover", "local", "-o", str(taken), cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"paramedic: {taken} exists: give --force to overwrite it, or another -o FILE"
    )
    assert taken.read_text() == "mine\n"
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ncomponents: {}\n")
    bad = paramedic("discover", "local", "--against", str(broken), cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith(f"{broken}:")
    unknown = paramedic("discover", "nowhere", cwd=tmp_path, check=False)
    assert unknown.returncode == 2
