"""Alertmanager intake end to end: a real Alertmanager routes an amtool alert to the agent's receiver."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.api_agent import Listening
from tests.e2e.harness import SVC, starts, wait_for
from tests.servers import free_port, need_binary

pytestmark = pytest.mark.e2e

TOKEN = "alertmanager-test-token"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def alertmanager(workdir: Path) -> Iterator[tuple[str, int]]:
    """A real Alertmanager on loopback whose webhook posts to the agent's receiver (port given)."""
    binary = need_binary("prometheus-alertmanager", "prometheus-alertmanager")
    api_port, am_port = free_port(), free_port()
    (workdir / "am-token").write_text(TOKEN)
    config = workdir / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: paramedic
  group_by: [alertname, paramedic_component]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1s
receivers:
  - name: paramedic
    webhook_configs:
      - url: http://127.0.0.1:{api_port}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization: {{credentials_file: {workdir / "am-token"}}}
"""
    )
    log = (workdir / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{am_port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("Alertmanager ready", ready)
        yield url, api_port
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _amtool(url: str, *args: str) -> None:
    amtool = need_binary("amtool", "prometheus-alertmanager")
    subprocess.run(
        [amtool, "alert", "add", *args, f"--alertmanager.url={url}"],
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_a_firing_alert_opens_the_incident_at_once_and_repeats_do_nothing(
    workdir: Path, alertmanager: tuple[str, int]
) -> None:
    am_url, api_port = alertmanager
    flag = workdir / "FLAG"
    flag.write_text("ok")
    svc_port = free_port()
    # A check every hour with 5 failures to open: only the alert can make it open at once.
    (workdir / "paramedic.yaml").write_text(
        f"""version: 1
state: sqlite:///paramedic.db
api: {{token_file: {workdir / "am-token"}}}
components:
  orders:
    type: application_server
    rto: 1m
    rpo: 0s
    provider: process
    spec:
      command: ["{sys.executable}", "{SVC}"]
      port: {svc_port}
      env: {{STATE_DIR: "{workdir / "svc"}"}}
    health: {{check: command, command: ["test", "-f", "{flag}"], interval: 1h, failures: 5}}
    alerts: {{matchers: {{service: orders}}, action: recover}}
    recovery:
      - {{strategy: run, command: ["touch", "{flag}"], timeout: 10s}}
"""
    )
    agent = Listening(workdir, api_port, token_file=workdir / "am-token")
    try:
        flag.unlink()  # broken now; the hourly check would not notice for a long while
        _amtool(am_url, "alertname=OrdersErrors", "service=orders", "--annotation=summary=5xx")

        def recovered() -> list[dict[str, object]] | None:
            found = agent.get("/api/v1/incidents?component=orders").json()["incidents"]
            return found if found and found[0]["state"] == "recovered" else None

        try:
            incidents = wait_for("the alert's incident to recover", recovered, timeout=60)
        except AssertionError as exc:
            am_log = (workdir / "alertmanager.log").read_text()[-2000:]
            raise AssertionError(f"{exc}\nagent:\n{agent.log()}\nalertmanager:\n{am_log}") from None
        assert len(incidents) == 1
        assert "certain at once" in str(incidents[0]["reason"]), incidents[0]
        assert flag.exists()
        # Alertmanager re-sends the firing alert every second: no second incident
        wait_for("a repeat", lambda: "alert_fired" in agent.log() and _repeats(agent) >= 2)
        assert len(agent.get("/api/v1/incidents?component=orders").json()["incidents"]) == 1
        assert agent.log().count('"alert_fired"') == 1
        _amtool(am_url, "alertname=OrdersErrors", "service=orders", "--end=2000-01-01T00:00:00Z")
        wait_for("the resolution", lambda: '"alert_resolved"' in agent.log())
        audit = subprocess.run(
            ["sqlite3", str(workdir / "paramedic.db"), "select actor, action from audit"],
            capture_output=True,
            text=True,
        ).stdout
        assert "api.alert" in audit
    finally:
        assert agent.stop() == 0, agent.log()


def _repeats(agent: Listening) -> float:
    for line in agent.get("/metrics").text.splitlines():
        if line.startswith('paramedic_alerts_received_total{status="firing"}'):
            return float(line.split()[-1])
    return 0.0
