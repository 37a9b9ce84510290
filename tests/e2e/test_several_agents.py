"""Several `paramedic run` processes on one real PostgreSQL: division, takeover, fencing.

Three agents share 300 cheap components (tcp checks against one local server)
and one owned process (svc.py). The store's per-agent check counts show who
checked what; svc.py's `starts` file counts its starts from outside.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paramedic.store import Store
from tests.e2e.harness import (
    SVC,
    Agent,
    history,
    paramedic,
    start_agent,
    starts,
    wait_for,
)
from tests.servers import PostgresServer, free_port

pytestmark = pytest.mark.e2e

HEARTBEAT_S, TTL_S, INTERVAL_S = 1.0, 6.0, 2.0
CHEAP = 300


@pytest.fixture
def tcp_port() -> Iterator[int]:
    """A listener with a deep backlog that accepts and closes: the cheap checks' target."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = listener.accept()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    listener.close()


@pytest.fixture
def state_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"ha_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


def write_catalog(cwd: Path, state_url: str, tcp_port: int, web_port: int, cheap: int) -> None:
    """``cheap`` tcp-checked components and ``web``, an owned svc.py that starts in 3 s (within
    its start period, so a start takes no recovery)."""
    lines = [
        "version: 1",
        "location: test-host",
        f"state: {state_url}",
        f"agent: {{heartbeat: {HEARTBEAT_S:g}s, lease_ttl: {TTL_S:g}s}}",
        "components:",
    ]
    for i in range(cheap):
        lines.append(
            f"  c{i:03d}: {{type: cache, rto: 1m, rpo: 0s, provider: process, "
            f'spec: {{restart_command: ["true"]}}, '
            f"health: {{check: tcp, port: {tcp_port}, interval: {INTERVAL_S:g}s, timeout: 1s, "
            f"failures: 3}}}}"
        )
    env = json.dumps({"STATE_DIR": str(cwd / "svc"), "START_DELAY": "3"})
    lines.append(
        f"  web: {{type: application_server, rto: 1m, rpo: 0s, provider: process, "
        f'spec: {{command: ["{sys.executable}", "{SVC}"], port: {web_port}, env: {env}, '
        f"stop_grace: 1s}}, "
        f'health: {{check: http, url: "http://127.0.0.1:{web_port}/", interval: 300ms, '
        f"timeout: 300ms, failures: 2, start_period: 10s}}, "
        f"recovery: [{{strategy: restart_service, timeout: 30s}}]}}"
    )
    (cwd / "paramedic.yaml").write_text("\n".join(lines) + "\n")


def agents(cwd: Path) -> dict[str, dict[str, Any]]:
    """`paramedic agents --json`, by agent name (empty before the first agent made the tables)."""
    result = paramedic("agents", "--json", cwd=cwd, check=False)
    if result.returncode != 0:
        assert "holds no paramedic tables" in result.stderr, result.stderr
        return {}
    report = json.loads(result.stdout)
    return {a["name"]: a for a in report["agents"]}


def owners(cwd: Path) -> dict[str, str | None]:
    """Each component's owner from `paramedic status --json`."""
    report = json.loads(paramedic("status", "--json", cwd=cwd).stdout)
    return {c["name"]: c["owner"] for c in report["components"]}


def settled(cwd: Path) -> bool:
    """web is healthy with no open incident."""
    report = json.loads(paramedic("status", "--json", cwd=cwd).stdout)
    web = next((c for c in report["components"] if c["name"] == "web"), {})
    return web.get("state") == "healthy" and not report["open_incidents"]


def counts(url: str) -> dict[str, dict[str, int]]:
    with Store.open(url, create=False) as store:
        return store.checks_by_agent()  # type: ignore[attr-defined, no-any-return]


def _start(cwd: Path, names: list[str], *extra: str) -> dict[str, Agent]:
    return {n: start_agent(cwd, "paramedic.yaml", "--name", n, *extra) for n in names}


def _stop_all(running: dict[str, Agent]) -> None:
    for agent in running.values():
        agent.stop()


def _full_name(short: str) -> str:
    return f"{socket.gethostname()}:{short}"


def test_three_agents_divide_check_once_and_take_over_after_kill_9(
    workdir: Path, state_url: str, tcp_port: int
) -> None:
    web_port = free_port()
    write_catalog(workdir, state_url, tcp_port, web_port, CHEAP)
    running = _start(workdir, ["a1", "a2", "a3"])
    try:
        names = {_full_name(n): n for n in running}
        wait_for(
            "three live agents owning everything",
            lambda: (
                (a := agents(workdir))
                and sum(x["owns"] for x in a.values() if x["live"]) == CHEAP + 1
                and all(a.get(n, {}).get("live") for n in names)
            ),
            timeout=90,
        )
        shares = {n: agents(workdir)[n]["owns"] for n in names}
        for share in shares.values():  # each within ±30 % of a third
            assert 0.7 * CHEAP / 3 <= share <= 1.3 * CHEAP / 3 + 1, shares
        wait_for("web healthy", lambda: settled(workdir), timeout=60)
        # three agents started together start web once, within its start period: no recovery
        assert len(starts(workdir / "svc")) == 1, starts(workdir / "svc")
        incidents_before = len(history(workdir, "web"))
        assert incidents_before == 0, history(workdir, "web")
        time.sleep(2 * INTERVAL_S + 1.5)  # the division settled: count a clean window
        before = counts(state_url)
        time.sleep(3 * INTERVAL_S)
        after = counts(state_url)
        owner_of = owners(workdir)
        for component in [f"c{i:03d}" for i in range(CHEAP)]:
            grew = {
                a
                for a, n in after.get(component, {}).items()
                if n > before.get(component, {}).get(a, 0)
            }
            assert grew == {owner_of[component]}, (component, grew, owner_of[component])

        # a recovery in flight: web's service killed, restarted (3 s to listen), then its agent
        victim = owner_of["web"]
        assert victim is not None
        pids = starts(workdir / "svc")
        os.kill(pids[-1], signal.SIGKILL)
        wait_for("web restarted", lambda: len(starts(workdir / "svc")) == len(pids) + 1, timeout=30)
        victim_share = [c for c, o in owner_of.items() if o == victim and c != "web"]
        mid = counts(state_url)
        running[names[victim]].stop(signal.SIGKILL)
        killed_at = time.monotonic()

        def checked_again() -> bool:
            now = counts(state_url)
            return all(
                any(n > mid.get(c, {}).get(a, 0) for a, n in now.get(c, {}).items() if a != victim)
                for c in victim_share
            )

        wait_for(
            "the dead agent's share checked by the others", checked_again, timeout=60, every=0.25
        )
        takeover_s = time.monotonic() - killed_at
        # ttl + interval, plus a heartbeat to notice and the agents' one-second check flush
        assert takeover_s < TTL_S + INTERVAL_S + HEARTBEAT_S + 2.0, takeover_s

        incident = wait_for(
            "web's interrupted recovery to finish",
            lambda: (
                (h := history(workdir, "web"))
                and len(h) > incidents_before
                and h[0]["state"] == "recovered"
                and h[0]
            ),
            timeout=60,
        )
        assert len(history(workdir, "web")) == incidents_before + 1, "one incident"
        assert incident["agent"] not in (None, victim)
        assert len(starts(workdir / "svc")) == len(pids) + 1, "restarted exactly once"
        new_owner = owners(workdir)
        assert all(new_owner[c] not in (None, victim) for c in victim_share)
    finally:
        _stop_all(running)


def test_a_zombie_agent_stands_down_and_the_new_owner_recovers_once(
    workdir: Path, state_url: str, tcp_port: int
) -> None:
    web_port = free_port()
    write_catalog(workdir, state_url, tcp_port, web_port, 0)
    running = _start(workdir, ["z1", "z2"])
    try:
        names = {_full_name(n): n for n in running}
        wait_for(
            "two live agents",
            lambda: sum(1 for x in agents(workdir).values() if x["live"]) == 2,
            timeout=60,
        )
        wait_for("web healthy", lambda: settled(workdir), timeout=60)
        incidents_before = len(history(workdir, "web"))
        starts_before = len(starts(workdir / "svc"))
        zombie = owners(workdir)["web"]
        assert zombie is not None
        process = running[names[zombie]].process
        process.send_signal(signal.SIGSTOP)
        try:
            os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)  # it fails while its agent sleeps
            time.sleep(2 * TTL_S)
            incident = wait_for(
                "the new owner's recovery",
                lambda: (
                    (h := history(workdir, "web"))
                    and len(h) > incidents_before
                    and h[0]["state"] == "recovered"
                    and h[0]
                ),
                timeout=60,
            )
        finally:
            process.send_signal(signal.SIGCONT)
        assert incident["agent"] not in (None, zombie)
        log = running[names[zombie]]
        line = wait_for(
            "the zombie to stand down",
            lambda: next((x for x in log.log().splitlines() if "stood_down" in x), None),
            timeout=30,
        )
        assert "lost its lease" in line and "standing down" in line
        time.sleep(2 * TTL_S)  # the re-executed zombie rejoins; it must not act on web again
        assert len(history(workdir, "web")) == incidents_before + 1, "exactly one recovery"
        assert len(starts(workdir / "svc")) == starts_before + 1, "restarted once, by the new owner"
    finally:
        _stop_all(running)


def test_a_fenced_agent_exits_75_when_told_not_to_restart(
    workdir: Path, state_url: str, tcp_port: int
) -> None:
    write_catalog(workdir, state_url, tcp_port, free_port(), 3)
    (workdir / "paramedic.yaml").write_text(
        (workdir / "paramedic.yaml").read_text().replace("  web:", "  unused-web:")
    )
    agent = start_agent(workdir, "paramedic.yaml", "--no-restart-on-fence")
    try:
        wait_for("a live agent", lambda: any(x["live"] for x in agents(workdir).values()), 60)
        agent.process.send_signal(signal.SIGSTOP)
        time.sleep(TTL_S + 1)
        agent.process.send_signal(signal.SIGCONT)
        assert agent.process.wait(30) == 75
        assert "standing down: no further action, exiting 75" in agent.log()
    finally:
        agent.stop()


def test_two_agents_on_one_sqlite_file_are_refused(workdir: Path, tcp_port: int) -> None:
    state = f"sqlite:///{workdir}/shared.db"
    for name in ("one", "two"):
        folder = workdir / name
        folder.mkdir()
        (folder / "paramedic.yaml").write_text(
            f"version: 1\nstate: {state}\n"
            "agent: {run_dir: ./run, heartbeat: 500ms, lease_ttl: 2s}\ncomponents:\n"
            f"  c: {{type: cache, rto: 1m, rpo: 0s, provider: process, "
            f'spec: {{restart_command: ["true"]}}, health: {{check: tcp, port: {tcp_port}}}}}\n'
        )
    first = start_agent(workdir / "one")
    try:
        wait_for("the first agent", lambda: "agent_started" in first.log(), 60)
        time.sleep(3.0)  # past the lease's 2 s: the first agent keeps renewing on SQLite too
        second = paramedic("run", cwd=workdir / "two", check=False)
        assert second.returncode == 2
        line = second.stderr.strip()
        assert (
            "is already used by agent" in line
            and "several agents need state: postgresql://" in line
        )
        assert "Traceback" not in second.stderr and len(line.splitlines()) == 1
    finally:
        first.stop()
