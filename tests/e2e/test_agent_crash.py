"""The agent SIGKILLed at random moments of a restart of a launcher-started service: the real
`paramedic run`, a service started through `sh -c 'exec python3 svc.py'` (its command line
changes when sh execs), exactly one start per fault, never a second copy, never `recovered`
while a process the agent does not hold serves."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from paramedic.store.tables import OPEN_STATES
from tests.e2e.harness import (
    SVC,
    history,
    start_agent,
    starts,
    wait_for,
    write_catalog,
)
from tests.servers import free_port

pytestmark = pytest.mark.e2e

FAULTS = 20
KILL_WITHIN_S = 1.5
"""The agent is killed at a random moment this long after the service: detection, the
incident, the step marker's phases, the spawn, the launcher's exec and verification."""


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):  # never leave a service behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def launcher_block(port: int, state_dir: Path) -> str:
    """One component whose command is a launcher that execs the service."""
    line = f"exec {sys.executable} {SVC}"
    return f"""
  web:
    type: application_server
    constraint: "test"
    criticality: important
    rto: 20s
    rpo: 0s
    provider: process
    spec:
      command: ["sh", "-c", {json.dumps(line)}]
      port: {port}
      env: {{STATE_DIR: {json.dumps(str(state_dir))}}}
      stop_grace: 1s
    health: {{check: http, url: "http://127.0.0.1:{port}/", interval: 300ms, timeout: 300ms, failures: 2}}
    recovery: [{{strategy: restart_service, timeout: 10s}}]
    budget: {{recoveries: 1000, window: 10m, backoff: 100ms}}
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def settled(cwd: Path, since: datetime) -> bool:
    """Healthy by a check after ``since``, with no incident open: the fault is over.

    Read from the agent's SQLite store directly, as `status` would: twenty faults polled
    through a fresh `paramedic` process each time would take most of the test's time.
    """
    open_states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    try:
        with contextlib.closing(sqlite3.connect(cwd / "paramedic.db", timeout=5)) as db:
            state = db.execute(
                "select state, last_check_at from components where name = 'web'"
            ).fetchone()
            opened = db.execute(
                f"select count(*) from incidents where component = 'web' and state in ({open_states})"
            ).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return False
    if state is None or state[0] != "healthy" or state[1] is None or opened[0] != 0:
        return False
    return datetime.fromisoformat(state[1]).replace(tzinfo=UTC) > since


def test_an_agent_killed_at_random_points_of_a_restart_starts_the_service_once_per_fault(
    workdir: Path,
) -> None:
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    state_dir = workdir / "svc"
    write_catalog(workdir, launcher_block(free_port(), state_dir))
    agent = start_agent(workdir)
    began = time.monotonic()
    moments: list[float] = []
    try:
        wait_for("web healthy", partial(settled, workdir, datetime.now(UTC)), timeout=60)
        assert len(starts(state_dir)) == 1
        for fault in range(FAULTS):
            before = starts(state_dir)
            moment = rng.uniform(0.0, KILL_WITHIN_S)
            moments.append(moment)
            os.kill(before[-1], signal.SIGKILL)
            time.sleep(moment)
            agent.stop(signal.SIGKILL)
            restarted = datetime.now(UTC)
            agent = start_agent(workdir)
            wait_for(
                f"fault {fault} to settle",
                partial(settled, workdir, restarted),
                timeout=60,
                every=0.05,
            )
            now = starts(state_dir)
            where = f"seed {seed}, fault {fault}, agent killed {moment:.2f}s after the service"
            assert len(now) == len(before) + 1, f"{where}: starts {now[len(before) :]}"
            serving = [pid for pid in now if alive(pid)]
            assert serving == [now[-1]], f"{where}: alive {serving}, {agent.log()}"
            record = json.loads((workdir / "var/run/web/primary.pid").read_text())
            assert record["pid"] == now[-1], f"{where}: the agent holds {record['pid']}"
        incidents = history(workdir, "web")
        assert all(i["state"] == "recovered" for i in incidents), incidents
        assert len(incidents) <= FAULTS  # a fault the agent never saw opens no incident
        assert len(starts(state_dir)) == FAULTS + 1
    finally:
        agent.stop()
    took = time.monotonic() - began
    assert took < 300, f"{FAULTS} faults took {took:.0f}s"
    print(f"seed {seed}: {FAULTS} faults in {took:.0f}s, kill moments {moments}")
