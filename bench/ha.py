"""Takeover after kill -9 with 1, 2 and 3 agents on one PostgreSQL, and duplicate actions.

Each trial: the agent owning ``web`` (an owned svc.py that needs 2 s to listen)
is recovering it (its service killed and restarted, not yet verified) when the
agent itself is killed with SIGKILL. Measured:

- takeover: from the kill to the first check of ``web`` by a live agent, read
  from the store's per-agent check counts (with 1 agent, the killed one is
  started again at once, as systemd would, and the same name counts);
- duplicate actions: starts of svc.py beyond the one the recovery needs
  (svc.py appends its pid to a file at every start); must be 0.

The killed agent is started again after each trial, so every trial begins
with N live agents. Run: ``.venv/bin/python -m bench.ha [--trials 20]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import free_port, percentile, wait_until

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
SVC = ROOT.parent / "tests" / "e2e" / "svc.py"
HEARTBEAT_S, TTL_S, INTERVAL_S = 1.0, 6.0, 0.5
PARAMEDIC = [sys.executable, "-m", "paramedic.cli"]


def _catalog(work: Path, state: str, web_port: int) -> None:
    env = json.dumps({"STATE_DIR": str(work / "svc"), "START_DELAY": "2"})
    (work / "paramedic.yaml").write_text(
        f"""version: 1
state: {state}
agent: {{heartbeat: {HEARTBEAT_S:g}s, lease_ttl: {TTL_S:g}s}}
components:
  web:
    type: application_server
    rto: 1m
    rpo: 0s
    provider: process
    spec: {{command: ["{sys.executable}", "{SVC}"], port: {web_port}, env: {env}, stop_grace: 1s}}
    health: {{check: http, url: "http://127.0.0.1:{web_port}/", interval: {INTERVAL_S:g}s, timeout: 300ms, failures: 2}}
    recovery: [{{strategy: restart_service, timeout: 30s}}]
    budget: {{recoveries: 1000, window: 10m}}
"""
    )


class Cluster:
    """N agents of one catalog on one host, and what the store says of them."""

    def __init__(self, work: Path, state: str, count: int) -> None:
        self.work, self.state = work, state
        self.names = [f"b{i}" for i in range(count)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.host = socket.gethostname()

    def start(self, name: str) -> None:
        log = (self.work / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [*PARAMEDIC, "run", "--name", name, "--log-format", "json"],
            cwd=self.work,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def store(self) -> Any:
        from paramedic.store import Store

        return Store.open(self.state, create=False)

    def web(self) -> tuple[str | None, dict[str, int], list[dict[str, Any]]]:
        """(owner, checks of web per agent, web's incidents newest first)."""
        from paramedic.cli_agents import division

        with self.store() as store:
            owners, _ = division(store, None)
            counts = store.checks_by_agent().get("web", {})
            incidents = [i.to_json() for i in store.incidents("web")]
        return owners.get("web"), counts, incidents

    def starts(self) -> int:
        path = self.work / "svc" / "starts"
        return len(path.read_text().split()) if path.exists() else 0

    def settled(self) -> bool:
        try:
            owner, _, incidents = self.web()
            with self.store() as store:
                live = [x for x in store.leases() if x.age_s < TTL_S]
        except Exception:
            return False
        return (
            owner is not None
            and len(live) == len(self.names)
            and not any(i["open"] for i in incidents)
            and self.listening()
        )

    def listening(self) -> bool:
        port = json.loads((self.work / "port").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return True
        except OSError:
            return False


def must(done: bool, what: str) -> None:
    """Stop the run, naming what did not happen in time."""
    if not done:
        raise SystemExit(f"timed out waiting for {what}")


def trial(cluster: Cluster) -> dict[str, float]:
    owner, _, incidents = cluster.web()
    assert owner is not None
    short = owner.split(":", 1)[1]
    before_starts, before_incidents = cluster.starts(), len(incidents)
    pids = (cluster.work / "svc" / "starts").read_text().split()
    print(f"  owner {owner}: its service pid {pids[-1]} killed", flush=True)
    os.kill(int(pids[-1]), signal.SIGKILL)
    must(wait_until(30, 0.02, lambda: cluster.starts() > before_starts), "the restart")
    _, mid, _ = cluster.web()
    cluster.procs[short].kill()
    killed = time.monotonic()
    cluster.procs[short].wait()
    if len(cluster.names) == 1:
        cluster.start(short)

    def checked_again() -> bool:
        _, now, _ = cluster.web()
        others = [a for a in now if a != owner or len(cluster.names) == 1]
        return any(now[a] > mid.get(a, 0) for a in others)

    must(wait_until(120, 0.05, checked_again), "web checked again")
    takeover = time.monotonic() - killed

    def recovered() -> bool:
        _, _, inc = cluster.web()
        return len(inc) > before_incidents and inc[0]["state"] == "recovered"

    must(wait_until(120, 0.1, recovered), "the recovery to finish")
    duplicates = cluster.starts() - before_starts - 1
    if len(cluster.names) > 1:
        cluster.start(short)
    must(wait_until(120, 0.2, cluster.settled), "the agents to settle")
    time.sleep(3 * HEARTBEAT_S)  # every agent has redivided since the restarted one joined
    must(wait_until(120, 0.2, cluster.settled), "the agents to settle")
    return {"takeover_s": takeover, "duplicates": float(duplicates)}


def run(count: int, trials: int, pg_url: str) -> dict[str, Any]:
    import psycopg

    db = f"bench_ha_{count}_{os.getpid()}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    state = pg_url.rsplit("/", 1)[0] + f"/{db}"
    work = Path(tempfile.mkdtemp(prefix=f"ha{count}-", dir=RESULTS / "raw"))
    (work / "svc").mkdir()
    web_port = free_port()
    (work / "port").write_text(json.dumps(web_port))
    _catalog(work, state, web_port)
    cluster = Cluster(work, state, count)
    rows = []
    try:
        for name in cluster.names:
            cluster.start(name)
        if not wait_until(180, 0.5, cluster.settled):
            raise SystemExit(f"{count} agents did not settle; see {work}")
        for i in range(trials):
            rows.append(trial(cluster))
            print(f"{count} agents, trial {i + 1}: {rows[-1]}", flush=True)
    finally:
        cluster.stop()
        for pid in (work / "svc" / "starts").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    takeovers = [r["takeover_s"] for r in rows]
    return {
        "agents": count,
        "trials": len(rows),
        "takeover_median_s": percentile(takeovers, 0.5),
        "takeover_p95_s": percentile(takeovers, 0.95),
        "duplicate_actions": int(sum(r["duplicates"] for r in rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--agents", default="1,2,3")
    args = parser.parse_args()
    (RESULTS / "raw").mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT.parent))
    from tests.servers import make_postgres

    server = make_postgres(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    try:
        table = [run(int(n), args.trials, server.dsn) for n in args.agents.split(",")]
    finally:
        server.stop()
    (RESULTS / "ha.json").write_text(json.dumps(table, indent=2) + "\n")
    lines = [
        f"heartbeat {HEARTBEAT_S:g}s, lease_ttl {TTL_S:g}s, interval {INTERVAL_S:g}s",
        "",
        "| agents | trials | takeover median | takeover p95 | duplicate actions |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row['agents']} | {row['trials']} | {row['takeover_median_s']:.1f} s | "
            f"{row['takeover_p95_s']:.1f} s | {row['duplicate_actions']} |"
        )
    (RESULTS / "ha.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
