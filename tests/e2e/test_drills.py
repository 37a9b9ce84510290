"""Drills end to end: `paramedic drill` injects a real fault, the real agent recovers, the
drill measures RTO (and RPO from canaries written into real PostgreSQL, Redis and a file
tree) and records it; guards refuse with their one-line message; a drill never leaves a
fault behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from paramedic.errors import ParamedicError
from paramedic.store import DrillRow, IncidentRow, Store
from tests.e2e.harness import (
    PARAMEDIC,
    Agent,
    Webhook,
    paramedic,
    service_block,
    start_agent,
    start_webhook,
    starts,
    wait_for,
    write_catalog,
)
from tests.servers import (
    PostgresServer,
    chown_tree,
    free_port,
    make_postgres,
    scratch_dir,
    unprivileged_user,
)

pytestmark = pytest.mark.e2e

KNOWN_PHASES = [
    "started",
    "fault_injected",
    "detected",
    "step",
    "verified",
    "fault_undone",
    "finished",
]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def drill_block(name: str, port: int, state_dir: Path, drills: str, **kw: Any) -> str:
    """A svc.py component (see harness.service_block) with a `drills:` entry."""
    return service_block(name, port, state_dir, budget=f"    drills: {drills}\n", **kw)


def drill(cwd: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    """`paramedic drill ARGS --json`: exit code, the JSON printed (None when refused), stderr."""
    result = paramedic("drill", *args, "--json", cwd=cwd, check=False)
    data = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, data, result.stderr


def phase(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The first phase called ``name`` of a drill record."""
    return next(p for p in data["phases"] if p["phase"] == name)


def proc_state(pid: int) -> str | None:
    """The state letter of a process (``T`` when stopped); None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()[0]


def notices(hook: Webhook) -> list[tuple[str, str]]:
    """(event, component) of every notification received."""
    found = []
    for body in hook.bodies:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            notice = json.loads(body["message"])
            found.append((notice["event"], notice["component"]))
    return found


def open_store(cwd: Path) -> Store:
    """The agent's state store, read from outside (faster than a `paramedic` run per poll)."""
    return Store.open(f"sqlite:///{cwd}/paramedic.db", create=False)


def incidents(cwd: Path, name: str, open_only: bool = False) -> list[IncidentRow]:
    """Incidents of one component, newest first."""
    with open_store(cwd) as store:
        return store.incidents(name, open_only=open_only)


def quiet(cwd: Path, *names: str) -> bool:
    """Every one of ``names`` healthy with no open incident."""
    try:
        with open_store(cwd) as store:
            rows = {c.name: c.state for c in store.components()}
            busy = {i.component for i in store.incidents(open_only=True)}
    except ParamedicError:  # the agent has not created the store yet
        return False
    return all(rows.get(n) == "healthy" and n not in busy for n in names)


@dataclass
class Fleet:
    """One agent owning every process component the drills below act on."""

    cwd: Path
    agent: Agent
    webhook: Webhook
    ports: dict[str, int]

    def pids(self, name: str) -> list[int]:
        """Pids the component's svc.py recorded, one per start."""
        return starts(self.cwd / name)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    cwd = tmp_path_factory.mktemp("fleet")
    names = ("web", "stuck", "frozen", "squat", "db", "api", "sched")
    ports = {n: free_port() for n in names}
    for name in names:
        (cwd / name).mkdir()
    never = '[{strategy: run, command: ["true"], timeout: 10s}]'  # runs, never recovers
    slow = '[{strategy: run, command: ["sleep", "20"], timeout: 30s}]'  # holds an incident open
    blocks = (
        drill_block("web", ports["web"], cwd / "web", "{allowed: true}")
        + drill_block(
            "stuck",
            ports["stuck"],
            cwd / "stuck",
            "{allowed: true, abort_after: 2s}",
            recovery=never,
        )
        + drill_block(
            "frozen",
            ports["frozen"],
            cwd / "frozen",
            "{allowed: true, abort_after: 1m}",
            recovery=never,
        )
        + drill_block(
            "squat",
            ports["squat"],
            cwd / "squat",
            "{allowed: true, abort_after: 3s}",
            recovery="[{strategy: restart_service, timeout: 2s}]",
        )
        + drill_block("db", ports["db"], cwd / "db", "{allowed: true}", recovery=slow)
        + drill_block("api", ports["api"], cwd / "api", "{allowed: true}", depends_on="[db]")
        + drill_block(
            "sched",
            ports["sched"],
            cwd / "sched",
            '{allowed: true, schedule: "* * * * *", faults: [kill]}',
        )
    )
    hook = start_webhook()
    write_catalog(cwd, blocks, hook)
    agent = start_agent(cwd)
    try:
        wait_for("every component healthy", lambda: quiet(cwd, *names), timeout=60)
        yield Fleet(cwd, agent, hook, ports)
    finally:
        agent.stop()
        hook.server.shutdown()
        hook.server.server_close()
        for name in names:  # never leave a service behind
            for pid in starts(cwd / name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- data drills: RPO from canaries


WITNESS_EVERY_S = 0.05


class Witness(threading.Thread):
    """The test's own writer beside the drill's canary: a row every 50 ms, its times kept."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.dsn, autocommit=True, connect_timeout=1) as conn,
            ):
                while not self.halt.is_set():
                    conn.execute("INSERT INTO witness (at) VALUES (%s)", (datetime.now(UTC),))
                    time.sleep(WITNESS_EVERY_S)
            time.sleep(WITNESS_EVERY_S)


@pytest.fixture
def cluster() -> Iterator[tuple[Path, PostgresServer]]:
    with scratch_dir("paramedic-e2e-drill-pg-") as base:
        server = make_postgres(base / "pg")
        try:
            yield base, server
        finally:
            server.stop("immediate")
            for path in base.glob("pg/data*"):  # restored and moved-aside clusters
                with contextlib.suppress(Exception):
                    server.pg("pg_ctl", "-D", str(path), "-m", "immediate", "stop", check=False)


def _canary_agrees_with_itself(data: dict[str, Any]) -> dict[str, Any]:
    """The canary's figures hang together: RPO = fault − newest survivor, no gap, removed."""
    canary = data["canary"]
    assert canary is not None and canary["read_error"] is None
    assert 0 < canary["survived_before_fault"] <= canary["written_before_fault"]
    assert canary["gaps"] == [] and canary["unknown"] == 0
    injected = _t(phase(data, "fault_injected")["at"])
    newest = _t(canary["newest_surviving_at"])
    assert newest <= injected
    assert canary["rpo_s"] == pytest.approx((injected - newest).total_seconds(), abs=0.002)
    assert data["measured_rpo_s"] == canary["rpo_s"]
    assert "(from the canaries)" in data["reason"]
    return dict(canary)


def test_postgres_delete_data_drill_measures_the_rpo_the_rows_show(
    cluster: tuple[Path, PostgresServer],
) -> None:
    base, server = cluster
    repo = base / "repo"
    repo.mkdir()
    chown_tree(repo, unprivileged_user())
    (base / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///{base}/paramedic.db
agent: {{run_dir: {base}/run, log_dir: {base}/log}}
components:
  orders-db:
    type: database
    rto: 2m
    rpo: 30s
    provider: postgres
    spec: {{data_dir: "{server.data_dir}", port: {server.port}, bin_dir: "{server.bin_dir}", user: {server.user or "null"}}}
    health: {{check: postgres, dsn: "{server.dsn}", interval: 500ms, timeout: 1s, failures: 2}}
    backup: {{engine: pg_basebackup, schedule: "0 0 1 1 *", keep: 7d, repository: "{repo}", archive_timeout: 1s}}
    recovery:
      - {{strategy: restart_service, timeout: 10s}}
      - {{strategy: restore_from_backup, target: latest, timeout: 2m}}
    drills: {{allowed: true}}
""")
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE witness (at timestamptz)")
    paramedic("backup", "orders-db", cwd=base)  # the first backup turns WAL archiving on
    agent = start_agent(base)
    witness = Witness(server.dsn)
    try:
        wait_for("orders-db healthy", lambda: quiet(base, "orders-db"), timeout=60)
        witness.start()
        code, data, stderr = drill(base, "orders-db", "--fault", "delete-data", "--warmup", "3s")
        witness.halt.set()
        assert data is not None, stderr + agent.log()
        assert code == 0 and data["verdict"] == "met", data["reason"] + agent.log()
        assert [p["strategy"] for p in data["phases"] if p["phase"] == "step"] == [
            "restart_service",
            "restore_from_backup",
        ]
        canary = _canary_agrees_with_itself(data)
        injected = _t(phase(data, "fault_injected")["at"])
        with psycopg.connect(server.dsn) as conn:
            rows = [r[0] for r in conn.execute("SELECT at FROM witness ORDER BY at").fetchall()]
            left = conn.execute("SELECT to_regclass('paramedic_canary')").fetchone()
        assert left == (None,), "the canary table is dropped afterwards"
        before = [at for at in rows if at <= injected]
        assert before, "rows archived before the fault are back"
        by_witness = (injected - before[-1]).total_seconds()
        # both writers lost the same stretch of WAL: they agree within their write intervals
        assert abs(canary["rpo_s"] - by_witness) <= canary["every_s"] + WITNESS_EVERY_S + 0.05
        assert 0 < canary["rpo_s"] <= 30
    finally:
        witness.halt.set()
        agent.stop()


def _drill_in_background(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PARAMEDIC, "drill", *args, "--json"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = process.communicate(timeout=180)
    assert out.strip(), err
    return process.returncode, json.loads(out), err


def _point_taken_at(cwd: Path, name: str) -> datetime:
    with open_store(cwd) as store:
        return store.recovery_points(name)[-1].taken_at


def test_redis_delete_data_drill_rpo_agrees_with_the_snapshot(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    (tmp_path / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///paramedic.db
components:
  cache:
    type: cache
    rto: 1m
    rpo: 1m
    provider: redis
    spec: {{port: {port}, dir: "{data_dir}"}}
    health: {{check: redis, url: "redis://127.0.0.1:{port}/0", interval: 300ms, timeout: 500ms, failures: 2}}
    backup: {{engine: redis_rdb, schedule: "0 0 1 1 *", keep: 7d, repository: "{tmp_path}/repo"}}
    recovery: [{{strategy: restore_from_backup, target: latest, timeout: 1m}}]
    drills: {{allowed: true}}
""")
    agent = start_agent(tmp_path)
    try:
        wait_for("cache healthy", lambda: quiet(tmp_path, "cache"), timeout=30)
        client = redis.Redis(port=port)
        running = _drill_in_background(
            tmp_path, "cache", "--fault", "delete-data", "--warmup", "8s"
        )
        wait_for("canaries", lambda: client.zcard("paramedic:canary") >= 5)
        paramedic("backup", "cache", cwd=tmp_path)  # a snapshot while the canary writes
        code, data, stderr = _finished(running)
        assert code == 0 and data["verdict"] == "met", data["reason"] + stderr + agent.log()
        canary = _canary_agrees_with_itself(data)
        taken = _point_taken_at(tmp_path, "cache")
        assert taken < _t(phase(data, "fault_injected")["at"]), "the snapshot came before the fault"
        newest = _t(canary["newest_surviving_at"])
        # the newest surviving canary is the last one written before the snapshot
        assert timedelta(0) <= taken - newest <= timedelta(seconds=canary["every_s"] + 0.05)
        assert client.exists("paramedic:canary") == 0, "the canary key is deleted afterwards"
    finally:
        agent.stop()
        with contextlib.suppress(Exception):
            redis.Redis(port=port).shutdown(nosave=True)


def test_files_delete_tree_drill_rpo_agrees_with_the_restic_snapshot(tmp_path: Path) -> None:
    tree = tmp_path / "site"
    tree.mkdir()
    (tree / "sentinel").write_text("present\n")
    (tmp_path / "paramedic.yaml").write_text(f"""version: 1
state: sqlite:///paramedic.db
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
    drills: {{allowed: true}}
""")
    agent = start_agent(tmp_path)
    try:
        wait_for("site healthy", lambda: quiet(tmp_path, "site"), timeout=30)
        running = _drill_in_background(tmp_path, "site", "--fault", "delete-tree", "--warmup", "8s")
        wait_for("canaries", lambda: len(list(tree.glob(".paramedic-canary-*"))) >= 5)
        paramedic("backup", "site", cwd=tmp_path)  # a snapshot while the canary writes
        code, data, stderr = _finished(running)
        assert code == 0 and data["verdict"] == "met", data["reason"] + stderr + agent.log()
        canary = _canary_agrees_with_itself(data)
        taken = _point_taken_at(tmp_path, "site")
        assert taken < _t(phase(data, "fault_injected")["at"]), "the snapshot came before the fault"
        newest = _t(canary["newest_surviving_at"])
        assert abs((taken - newest).total_seconds()) <= 2.0  # restic reads the tree after its start
        assert (tree / "sentinel").read_text() == "present\n"
        assert not list(tree.glob(".paramedic-canary-*")), "canary files removed afterwards"
        assert list(tmp_path.glob("site.drill-*")), "the fault moved the tree aside, not deleted it"
    finally:
        agent.stop()


# ---------------------------------------------------------------- process drills


def test_kill_and_hang_drills_are_met_measured_and_in_history(fleet: Fleet) -> None:
    cwd = fleet.cwd
    code, kill, stderr = drill(cwd, "web", "--fault", "kill")
    assert code == 0, stderr + fleet.agent.log()
    assert kill is not None and kill["verdict"] == "met"
    assert [p["phase"] for p in kill["phases"]] == KNOWN_PHASES
    injected = _t(phase(kill, "fault_injected")["at"])
    verified = _t(phase(kill, "verified")["at"])
    assert kill["measured_rto_s"] == pytest.approx((verified - injected).total_seconds(), abs=0.002)
    assert 0 < kill["measured_rto_s"] <= kill["target_rto_s"] == 20.0
    assert kill["measured_rpo_s"] == 0.0 and kill["canary"] is None  # a process keeps no data
    step = phase(kill, "step")
    assert (step["strategy"], step["status"]) == ("restart_service", "succeeded")
    assert injected <= _t(phase(kill, "detected")["at"]) <= verified
    assert injected <= _t(step["at"]) <= _t(step["ended_at"])
    incident = next(i for i in incidents(cwd, "web") if i.id == kill["incident_id"])
    assert incident.state == "recovered" and incident.strategy == "restart_service"
    assert kill["fault_description"] == f"pid {fleet.pids('web')[0]} killed with SIGKILL"

    wait_for("web quiet again", lambda: quiet(cwd, "web"))
    hung_pid = fleet.pids("web")[-1]
    code, hang, stderr = drill(cwd, "web", "--fault", "hang")
    assert code == 0, stderr + fleet.agent.log()
    assert hang is not None and hang["verdict"] == "met"
    assert [p["phase"] for p in hang["phases"]] == KNOWN_PHASES
    assert "timeout" in phase(hang, "detected")["detail"]
    assert proc_state(hung_pid) in (None, "Z")  # the restart replaced the hung process

    listed = json.loads(paramedic("history", "--drills", "web", "--json", cwd=cwd).stdout)
    assert [(d["fault"], d["verdict"]) for d in listed["drills"]] == [
        ("hang", "met"),
        ("kill", "met"),
    ]
    assert listed["drills"][1]["phases"] == kill["phases"]
    human = paramedic("history", "--drills", "web", cwd=cwd).stdout
    assert f"drill {hang['id']} web fault hang" in human
    assert "RTO" in human and "restart_service succeeded" in human
    wait_for(
        "the drill notices",
        lambda: notices(fleet.webhook).count(("drill_finished", "web")) == 2,
    )


def test_an_aborted_drill_is_recorded_escalated_and_resumes_the_hung_process(
    fleet: Fleet,
) -> None:
    pid = fleet.pids("stuck")[-1]
    code, data, stderr = drill(fleet.cwd, "stuck", "--fault", "hang")
    assert code == 1, stderr
    assert data is not None and data["verdict"] == "aborted"
    assert data["measured_rto_s"] is None and data["rto_met"] is None
    assert data["reason"].startswith("not recovered within abort_after 2s")
    names = [p["phase"] for p in data["phases"]]
    assert names.index("aborted") < names.index("fault_undone") < names.index("finished")
    assert data["undone"] == f"pid {pid} resumed with SIGCONT"
    assert proc_state(pid) not in (None, "T"), "the hung process must run again"
    with open_store(fleet.cwd) as store:
        assert [d.verdict for d in store.drills("stuck")] == ["aborted"]
    wait_for(
        "escalation and drill notices",
        lambda: (
            {("escalated", "stuck"), ("drill_finished", "stuck")} <= set(notices(fleet.webhook))
        ),
    )


def test_ctrl_c_during_a_drill_still_undoes_the_fault(fleet: Fleet) -> None:
    pid = fleet.pids("frozen")[-1]
    running = _drill_in_background(fleet.cwd, "frozen", "--fault", "hang")
    wait_for("the fault", lambda: proc_state(pid) == "T")
    running.send_signal(signal.SIGINT)
    running.communicate(timeout=30)
    assert running.returncode == 130
    assert proc_state(pid) not in (None, "T"), "Ctrl-C must not leave the process stopped"


def test_a_port_squat_drill_leaves_the_port_free(fleet: Fleet) -> None:
    port = fleet.ports["squat"]
    code, data, stderr = drill(fleet.cwd, "squat", "--fault", "port-squat")
    assert data is not None, stderr
    assert code == (0 if data["verdict"] == "met" else 1)
    assert data["undone"].startswith("port squatter pid ")
    squatter = int(data["undone"].split()[3].rstrip(";"))
    assert proc_state(squatter) in (None, "Z")

    def free_or_served() -> bool:  # free, or held by the service again (never by a squatter)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                return True
            except OSError:
                pass
        pid = fleet.pids("squat")[-1]
        return proc_state(pid) not in (None, "Z") and _serves(port)

    wait_for(f"port {port} free of the squatter", free_or_served)


def _serves(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return conn.recv(64).startswith(b"HTTP/1.0 200")
    return False


def test_an_open_incident_of_the_component_or_a_dependency_refuses(fleet: Fleet) -> None:
    cwd = fleet.cwd
    os.kill(fleet.pids("db")[-1], signal.SIGKILL)
    incident = wait_for(
        "db recovering",
        lambda: [i for i in incidents(cwd, "db", open_only=True) if i.state == "recovering"],
    )[0]
    code, _, stderr = drill(cwd, "api", "--fault", "kill")
    assert code == 2
    assert stderr.strip() == (
        f"paramedic: db, a dependency of api, has an open incident {incident.id} "
        "(recovering): wait for it to close before drilling api"
    )
    code, _, stderr = drill(cwd, "db", "--fault", "kill", "--yes")
    assert code == 2
    assert stderr.strip() == (
        f"paramedic: db has an open incident {incident.id} (recovering): "
        "wait for it to close before drilling db"
    )


def test_a_scheduled_drill_runs_in_the_agent_and_is_notified(fleet: Fleet) -> None:
    def drilled() -> list[DrillRow]:
        with open_store(fleet.cwd) as store:
            return store.drills("sched")

    row = wait_for("the scheduled drill (at the next minute)", drilled, timeout=75)[-1]
    assert (row.fault, row.verdict) == ("kill", "met")
    assert (
        "drill_finished" in fleet.agent.log()
        and "scheduled drill of kill: met" in fleet.agent.log()
    )
    wait_for("its notice", lambda: ("drill_finished", "sched") in notices(fleet.webhook))


# ---------------------------------------------------------------- guards without an agent


def _outside_now() -> str:
    hour = (datetime.now().astimezone().hour + 2) % 24
    return f"daily {hour:02d}:00-{(hour + 1) % 24:02d}:00"


def test_each_guard_refuses_with_its_one_line_message(tmp_path: Path) -> None:
    window = _outside_now()
    blocks = (
        drill_block("locked", free_port(), tmp_path, "{allowed: false}")
        + drill_block("nightly", free_port(), tmp_path, f'{{allowed: true, window: "{window}"}}')
        + drill_block("web", free_port(), tmp_path, "{allowed: true, faults: [kill]}")
    )
    write_catalog(tmp_path, blocks)
    asks = {
        "not allowed": ("locked", "--fault", "kill"),
        "outside window": ("nightly", "--fault", "kill"),
        "not offered": ("web", "--fault", "explode"),
        "not listed": ("web", "--fault", "hang"),
        "no agent": ("web", "--fault", "kill"),
    }
    with ThreadPoolExecutor(len(asks)) as pool:  # five CLI runs at once: they only read
        answers = dict(
            zip(asks, pool.map(lambda a: drill(tmp_path, *a), asks.values()), strict=True)
        )
    said = {}
    for guard, (code, data, stderr) in answers.items():
        assert (code, data) == (2, None), f"{guard}: {stderr}"
        assert stderr.count("\n") == 1, f"{guard}: one line"
        said[guard] = stderr.strip()
    assert said["not allowed"] == (
        "paramedic: locked is not allowed to be drilled: "
        "set components.locked.drills.allowed: true or pass --yes"
    )
    assert said["outside window"].startswith(
        f"paramedic: nightly is outside its drill window '{window}' (agent local time now "
    )
    assert said["outside window"].endswith("): wait for the window or pass --yes")
    assert said["not offered"] == (
        "paramedic: web: the process provider offers no fault 'explode': "
        "use --fault kill, hang, exit or port-squat"
    )
    assert said["not listed"] == (
        "paramedic: web: fault 'hang' is not in components.web.drills.faults (kill): "
        "add it there or use --fault kill"
    )
    assert said["no agent"] == (
        "paramedic: no paramedic agent is running for this catalog (no lock held in "
        f"{tmp_path}/var/run): start `paramedic run` first; a drill measures the agent's recovery"
    )
    with open_store(tmp_path) as store:
        assert store.drills() == [], "a refused drill leaves no record"


def test_drill_list_shows_faults_policy_and_window(tmp_path: Path) -> None:
    blocks = drill_block(
        "web",
        free_port(),
        tmp_path / "svc",
        '{allowed: true, faults: [kill], window: "Sat 02:00-04:00"}',
    )
    write_catalog(tmp_path, blocks)
    listed = json.loads(paramedic("drill", "--list", "--json", cwd=tmp_path).stdout)
    assert listed == {
        "components": [
            {
                "name": "web",
                "provider": "process",
                "faults": ["kill", "hang", "exit", "port-squat"],
                "allowed_faults": ["kill"],
                "can_inject": True,
                "allowed": True,
                "window": "Sat 02:00-04:00",
                "schedule": None,
                "abort_after_s": 40.0,
            }
        ]
    }
