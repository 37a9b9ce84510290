"""An operator's commands against a running agent: approve, deny, recover by hand."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Webhook,
    component,
    history,
    paramedic,
    service_block,
    start_agent,
    start_webhook,
    starts,
    wait_for,
    write_catalog,
)
from tests.servers import free_port

pytestmark = pytest.mark.e2e

APPROVAL_LADDER = (
    '[{strategy: run, command: ["true"], timeout: 1s},'
    " {strategy: restart_service, approval: required, approval_timeout: 30s, timeout: 10s}]"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = start_webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def _healthy(cwd: Path) -> bool:
    return bool(component(cwd, "web").get("state") == "healthy") and not history(
        cwd, open_only=True
    )


def _waiting(cwd: Path) -> dict[str, object] | None:
    incidents = history(cwd, "web", open_only=True)
    return incidents[0] if incidents and incidents[0]["state"] == "awaiting_approval" else None


def test_a_destructive_step_waits_for_approve(workdir: Path, webhook: Webhook) -> None:
    port = free_port()
    write_catalog(
        workdir, service_block("web", port, workdir / "svc", recovery=APPROVAL_LADDER), webhook
    )
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir), timeout=30)
        before = len(starts(workdir / "svc"))
        os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
        incident = wait_for("the approval request", lambda: _waiting(workdir), timeout=30)
        assert len(starts(workdir / "svc")) == before  # nothing restarted without a human
        wait_for("the approval page", lambda: "approval_needed" in webhook.events())
        result = paramedic("approve", str(incident["id"]), cwd=workdir)
        assert result.stdout.strip().startswith(f"{incident['id']}: approved by ")
        done = wait_for(
            "the recovery",
            lambda: (h := history(workdir, "web"))[0]["state"] == "recovered" and h[0],
        )
        assert done["strategy"] == "restart_service"
        assert [(s["strategy"], s["status"]) for s in done["steps"]] == [
            ("run", "unverified"),
            ("restart_service", "succeeded"),
        ]
        assert len(starts(workdir / "svc")) == before + 1
        verdict = json.loads(paramedic("audit", "verify", "--json", cwd=workdir).stdout)
        assert verdict["ok"] is True
    finally:
        agent.stop()


def test_deny_moves_on_and_escalates_when_nothing_is_left(workdir: Path) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc", recovery=APPROVAL_LADDER))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir), timeout=30)
        before = len(starts(workdir / "svc"))
        os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
        incident = wait_for("the approval request", lambda: _waiting(workdir), timeout=30)
        paramedic("deny", str(incident["id"]), cwd=workdir)
        done = wait_for(
            "escalation", lambda: (h := history(workdir, "web"))[0]["state"] == "escalated" and h[0]
        )
        assert done["steps"][-1]["status"] == "denied"
        assert len(starts(workdir / "svc")) == before
    finally:
        agent.stop()


def test_approve_of_an_incident_that_waits_for_nothing_is_refused(workdir: Path) -> None:
    write_catalog(workdir, service_block("web", free_port(), workdir / "svc"))
    result = paramedic("approve", "inc-nope", cwd=workdir, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_recover_by_hand_goes_through_the_running_agent(workdir: Path) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc"))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir), timeout=30)
        before = len(starts(workdir / "svc"))
        result = paramedic("recover", "web", "--json", cwd=workdir)
        incident = json.loads(result.stdout)
        assert "handed to the running agent" in result.stderr
        assert (incident["kind"], incident["state"], incident["strategy"]) == (
            "manual",
            "recovered",
            "restart_service",
        )
        assert len(starts(workdir / "svc")) == before + 1
    finally:
        agent.stop()


def test_recover_by_hand_without_an_agent_runs_here(workdir: Path) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc"))
    result = paramedic("recover", "web", cwd=workdir)
    assert "no agent runs for this catalog; recovering from this process" in result.stderr
    assert result.stdout.strip().endswith("web recovered by restart_service")
    assert len(starts(workdir / "svc")) >= 1


def test_an_incident_outliving_its_rto_pages_the_escalation_route(
    workdir: Path, webhook: Webhook
) -> None:
    manager = start_webhook()
    try:
        port = free_port()
        block = service_block("web", port, workdir / "svc", recovery=APPROVAL_LADDER, rto="8s")
        write_catalog(workdir, block, webhook, escalation=manager)
        agent = start_agent(workdir)
        try:
            wait_for("web healthy", lambda: _healthy(workdir), timeout=30)
            os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
            incident = wait_for("the approval request", lambda: _waiting(workdir), timeout=30)
            assert manager.events() == []  # not before the RTO has passed
            wait_for("the escalation page", lambda: "escalated" in manager.events(), timeout=15)
            assert (
                "approval_needed" not in manager.events()
            )  # the escalation route hears escalations only
            paramedic("deny", str(incident["id"]), cwd=workdir)
        finally:
            agent.stop()
    finally:
        manager.server.shutdown()
        manager.server.server_close()


def test_sighup_reloads_the_catalog_without_dropping_the_watch(workdir: Path) -> None:
    web_port, api_port = free_port(), free_port()
    (workdir / "api").mkdir()
    write_catalog(workdir, service_block("web", web_port, workdir / "svc"))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir), timeout=30)
        write_catalog(
            workdir,
            service_block("web", web_port, workdir / "svc")
            + service_block("api", api_port, workdir / "api"),
        )
        agent.process.send_signal(signal.SIGHUP)
        wait_for("the reload", lambda: '"decision": "reloaded"' in agent.log())
        wait_for("api watched", lambda: component(workdir, "api").get("checks_total", 0) > 0)
        good = (workdir / "paramedic.yaml").read_text()
        (workdir / "paramedic.yaml").write_text(good.replace("rto: 20s", "rto: soon", 1))
        agent.process.send_signal(signal.SIGHUP)
        wait_for("the refusal", lambda: '"decision": "reload_refused"' in agent.log())
        (workdir / "paramedic.yaml").write_text(good)  # for our own status calls; no SIGHUP
        checks = component(workdir, "web")["checks_total"]
        wait_for("web still watched", lambda: component(workdir, "web")["checks_total"] > checks)
    finally:
        agent.stop()
