"""The HTTP API end to end: `paramedic run --listen` owning a real HTTP service, over real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api_agent import Listening
from tests.e2e.harness import PARAMEDIC, paramedic, service_block, starts, wait_for, write_catalog
from tests.servers import free_port

pytestmark = pytest.mark.e2e


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):  # never leave a service behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class EventReader(threading.Thread):
    """Follows /api/v1/events in the background, keeping every decision it reads."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.records: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.stream("GET", self.url + "/api/v1/events?heartbeat=0.2", timeout=30) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    self.records.append(json.loads(line[len("data: ") :]))
                if self.stop.is_set():
                    return

    def decisions(self, component: str) -> list[str]:
        return [r["decision"] for r in self.records if r["component"] == component]


def test_kill_9_seen_over_http_events_incidents_and_metrics(workdir: Path) -> None:
    svc_port, api_port = free_port(), free_port()
    write_catalog(workdir, service_block("web", svc_port, workdir / "svc"))
    agent = Listening(workdir, api_port)
    try:
        wait_for(
            "web healthy over the API",
            lambda: agent.get("/api/v1/components/web").json().get("state") == "healthy",
        )
        wait_for("ready (first checks flushed)", lambda: agent.get("/readyz").status_code == 200)
        reader = EventReader(agent.url)
        reader.start()
        assert reader.connected.wait(10)
        os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
        wait_for(
            "open_incident and recovered on the event stream",
            lambda: {"open_incident", "recovered"} <= set(reader.decisions("web")),
        )
        seen = reader.decisions("web")
        assert seen.index("open_incident") < seen.index("recovered")
        reader.stop.set()
        incidents = agent.get("/api/v1/incidents?component=web").json()["incidents"]
        assert len(incidents) == 1
        incident = incidents[0]
        assert incident["state"] == "recovered"
        failed, detected, recovered = (
            _t(incident[k]) for k in ("failed_at", "detected_at", "recovered_at")
        )
        assert failed <= detected <= recovered
        assert 0 < incident["measured_rto_s"] < 20  # the RTO of the catalog
        assert incident["steps"][0]["strategy"] == "restart_service"
        # the same incident as the CLI's history --json shows it
        cli = json.loads(paramedic("history", "--json", "web", cwd=workdir).stdout)
        assert cli["incidents"][0]["id"] == incident["id"]
        assert {k: v for k, v in cli["incidents"][0].items()} == incident
        metrics = agent.get("/metrics").text
        assert 'paramedic_component_up{component="web"} 1.0' in metrics
        assert "paramedic_incidents_opened_total 1.0" in metrics
        assert "paramedic_incidents_recovered_total 1.0" in metrics
        assert (
            'paramedic_recovery_duration_seconds_count{strategy="restart_service"} 1.0' in metrics
        )
        promtool = subprocess.run(
            ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True
        )
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    finally:
        assert agent.stop() == 0, agent.log()


def test_writes_need_the_token_and_are_audited_with_the_caller(workdir: Path) -> None:
    svc_port, api_port = free_port(), free_port()
    write_catalog(workdir, service_block("web", svc_port, workdir / "svc"))
    agent = Listening(workdir, api_port)
    try:
        wait_for(
            "web healthy",
            lambda: agent.get("/api/v1/components/web").json().get("state") == "healthy",
        )
        refused = agent.post("/api/v1/components/web/pause", {"for": "1h"}, token=False)
        assert refused.status_code == 401
        assert agent.token not in refused.text
        bad = agent.post("/api/v1/components/web/pause", {"for": "soon"})
        assert bad.status_code == 400 and "for 'soon'" in bad.json()["error"]
        assert agent.post("/api/v1/components/nope/pause", {}).status_code == 404
        paused = agent.post("/api/v1/components/web/pause", {"for": "1h", "reason": "patching"})
        assert paused.status_code == 200, paused.text
        assert agent.get("/api/v1/components/web").json()["paused"] is True
        assert agent.post("/api/v1/components/web/resume").status_code == 200
        started = agent.post("/api/v1/components/web/recover", {"strategy": None})
        assert started.status_code == 202, started.text
        incident_id = started.json()["incident_id"]

        def closed() -> dict[str, Any] | None:
            found = agent.get(f"/api/v1/incidents/{incident_id}").json()
            return found if found["state"] in ("recovered", "escalated") else None

        done = wait_for("the manual recovery to finish", closed, timeout=60)
        assert done["state"] == "recovered" and done["kind"] == "manual"
        again = agent.post("/api/v1/components/web/recover", {"dry_run": True})
        assert (
            again.status_code == 200 and again.json()["steps"][0]["strategy"] == "restart_service"
        )
        audit = subprocess.run(
            ["sqlite3", str(workdir / "paramedic.db"), "select actor, action from audit"],
            capture_output=True,
            text=True,
        ).stdout
        assert "api@127.0.0.1:" in audit and "api.pause" in audit and "api.recover" in audit
        assert agent.token not in audit
    finally:
        assert agent.stop() == 0, agent.log()
    assert agent.token not in agent.log()


def test_a_non_loopback_listen_without_tls_is_refused_in_one_line(workdir: Path) -> None:
    write_catalog(workdir, service_block("web", free_port(), workdir / "svc"))
    result = paramedic("run", "--listen", "0.0.0.0:8300", cwd=workdir, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--insecure-listen" in lines[0] and "tls_cert" in lines[0]
    bad = paramedic("run", "--listen", "localhost", cwd=workdir, check=False)
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


def test_status_watch_follows_the_agents_events_and_polls_without_an_api(workdir: Path) -> None:
    svc_port, api_port = free_port(), free_port()
    write_catalog(workdir, service_block("web", svc_port, workdir / "svc"))
    agent = Listening(workdir, api_port)
    try:
        wait_for(
            "web healthy",
            lambda: agent.get("/api/v1/components/web").json().get("state") == "healthy",
        )
        watcher = subprocess.Popen(
            [*PARAMEDIC, "status", "--watch", "--watch-seconds", "8"],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # the stream has no history: kill only once the watcher says it follows it
        assert watcher.stderr is not None
        line = watcher.stderr.readline()
        assert line.startswith("following "), line
        os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert line.strip() == f"following {agent.url}/api/v1/events"
        assert " web open_incident " in err and " web recovered " in err
        assert "web" in out and "healthy" in out  # the table, redrawn after the recovery
    finally:
        assert agent.stop() == 0, agent.log()
    polled = paramedic("status", "--watch", "--watch-seconds", "1.5", cwd=workdir)
    assert "polling the state store" in polled.stderr
    assert "web" in polled.stdout
