"""The agent end to end: the real `paramedic run` owning real processes, faults injected from outside."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
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


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = start_webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):  # never leave a service behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


def _healthy(cwd: Path, name: str) -> bool:
    return bool(component(cwd, name).get("state") == "healthy")


def _recovered(cwd: Path, name: str, count: int = 1) -> list[dict[str, object]] | None:
    done = [i for i in history(cwd, name) if i["state"] in ("recovered", "escalated")]
    return done if len(done) >= count else None


def test_kill_9_is_detected_restarted_verified_and_measured(
    workdir: Path, webhook: Webhook
) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc"), webhook)
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir, "web"))
        first = starts(workdir / "svc")
        assert len(first) == 1
        os.kill(first[-1], signal.SIGKILL)
        incidents = wait_for("the incident to close", lambda: _recovered(workdir, "web"))
        incident = incidents[0]
        assert incident["state"] == "recovered", agent.log()
        assert incident["strategy"] == "restart_service"
        failed, detected, recovered = (
            _t(incident[k]) for k in ("failed_at", "detected_at", "recovered_at")
        )
        assert failed <= detected <= recovered
        assert incident["measured_rto_s"] == pytest.approx(
            (recovered - failed).total_seconds(), abs=0.01
        )
        assert incident["target_rto_s"] == 20.0 and incident["rto_met"] is True
        assert incident["measured_rpo_s"] == 0.0  # a restart keeps data in place
        assert [s["strategy"] for s in incident["steps"]] == ["restart_service"]
        assert incident["steps"][0]["status"] == "succeeded"
        assert len(starts(workdir / "svc")) == 2
        wait_for("notifications", lambda: "recovery_succeeded" in webhook.events())
        events = webhook.events()
        assert (
            events.index("failure_detected")
            < events.index("recovery_started")
            < events.index("recovery_succeeded")
        )
    finally:
        assert agent.stop() == 0, agent.log()
    last = starts(workdir / "svc")[-1]
    with pytest.raises(ProcessLookupError):  # SIGTERM of the agent stopped its owned process
        os.kill(last, 0)


def test_hang_is_detected_by_the_http_timeout_and_restarted(workdir: Path) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc"))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir, "web"))
        os.kill(starts(workdir / "svc")[0], signal.SIGSTOP)
        incident = wait_for("the incident to close", lambda: _recovered(workdir, "web"))[0]
        assert incident["state"] == "recovered", agent.log()
        assert incident["failure"] == "timeout"
        assert "web failed 2 checks in a row: timeout" in incident["reason"]
        assert len(starts(workdir / "svc")) == 2
    finally:
        agent.stop()


def test_a_component_that_keeps_failing_exhausts_the_ladder_then_the_budget(
    workdir: Path, webhook: Webhook
) -> None:
    port = free_port()
    ladder = "[{strategy: restart_service, timeout: 5s}, {strategy: replace_instance, timeout: 5s}]"
    budget = "    budget: {recoveries: 2, window: 10m, backoff: 100ms}\n"
    block = service_block(
        "web", port, workdir / "svc", extra_env={"DIE_AFTER": "1.5"}, recovery=ladder, budget=budget
    )
    write_catalog(workdir, block, webhook)
    agent = start_agent(workdir)
    try:
        incidents = wait_for("three incidents", lambda: _recovered(workdir, "web", 3), timeout=60)
        oldest_first = list(reversed(incidents))
        assert [i["state"] for i in oldest_first[:2]] == ["recovered", "recovered"], agent.log()
        third = oldest_first[2]
        assert third["state"] == "escalated"
        assert (
            "circuit open: web already had 2 recoveries in the last 10m (budget 2)"
            in third["reason"]
        )
        assert third["steps"] == []
        wait_for("the escalation page", lambda: "escalated" in webhook.events())
    finally:
        agent.stop()


def test_strategies_are_tried_in_order_then_escalated(workdir: Path, webhook: Webhook) -> None:
    port = free_port()
    ladder = (
        '[{strategy: run, command: ["false"], timeout: 2s},'
        ' {strategy: run, command: ["true"], timeout: 1s}]'
    )
    check = f"{{check: tcp, port: {port}, interval: 300ms, timeout: 300ms, failures: 2}}"
    block = service_block("web", port, workdir / "svc", recovery=ladder, check=check)
    write_catalog(workdir, block, webhook)
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir, "web"))
        os.kill(
            starts(workdir / "svc")[0], signal.SIGSTOP
        )  # tcp still connects to a stopped process
        os.kill(starts(workdir / "svc")[0], signal.SIGKILL)
        incident = wait_for("escalation", lambda: _recovered(workdir, "web"), timeout=40)[0]
        assert incident["state"] == "escalated", agent.log()
        assert [(s["strategy"], s["status"]) for s in incident["steps"]] == [
            ("run", "failed"),
            ("run", "unverified"),
        ]
        assert "every strategy failed" in incident["reason"]
        wait_for("the pages", lambda: {"recovery_failed", "escalated"} <= set(webhook.events()))
    finally:
        agent.stop()


def test_a_dependent_is_blocked_by_its_failing_dependency_then_rechecked(workdir: Path) -> None:
    db_port, web_port = free_port(), free_port()
    (workdir / "db").mkdir()
    web_check = f"{{check: tcp, port: {db_port}, interval: 300ms, timeout: 300ms, failures: 2}}"
    slow_db = {
        "START_DELAY": "2"
    }  # db takes 2s to come back: long enough for web to fail its checks
    blocks = service_block("db", db_port, workdir / "db", extra_env=slow_db) + service_block(
        "web", web_port, workdir / "svc", depends_on="[db]", check=web_check
    )
    write_catalog(workdir, blocks)
    agent = start_agent(workdir)
    try:
        wait_for(
            "both healthy",
            lambda: (
                _healthy(workdir, "db")
                and _healthy(workdir, "web")
                and not history(workdir, open_only=True)
            ),
            timeout=40,
        )
        seen = {i["id"] for i in history(workdir)}
        web_starts = len(starts(workdir / "svc"))
        os.kill(starts(workdir / "db")[-1], signal.SIGKILL)
        db_incident = wait_for(
            "db recovered",
            lambda: [i for i in history(workdir, "db") if i["id"] not in seen and not i["open"]],
        )[0]
        assert db_incident["state"] == "recovered", agent.log()
        web = wait_for(
            "web's incident closed",
            lambda: [i for i in history(workdir, "web") if i["id"] not in seen and not i["open"]],
        )[0]
        assert web["state"] == "recovered" and web["strategy"] == "dependency_recovered", (
            agent.log()
        )
        assert web["blocked_by"] == "db"
        assert web["steps"] == []  # never recovered on its own
        assert len(starts(workdir / "svc")) == web_starts  # web was not restarted
    finally:
        agent.stop()


def test_agent_killed_mid_recovery_resumes_the_same_incident_and_restarts_once(
    workdir: Path,
) -> None:
    port = free_port()
    block = service_block(
        "web",
        port,
        workdir / "svc",
        extra_env={"START_DELAY": "3"},
        recovery="[{strategy: restart_service, timeout: 30s}]",
    )
    write_catalog(workdir, block)
    agent = start_agent(workdir)
    try:
        wait_for(
            "web healthy",
            lambda: _healthy(workdir, "web") and not history(workdir, "web", open_only=True),
            timeout=40,
        )
        before = len(history(workdir, "web"))
        pids = starts(workdir / "svc")
        os.kill(pids[-1], signal.SIGKILL)
        wait_for("the restart", lambda: len(starts(workdir / "svc")) == len(pids) + 1)
        agent.stop(signal.SIGKILL)  # mid-step: restarted, not yet verified (the service needs 3s)
        interrupted = history(workdir, "web")[0]
        assert interrupted["state"] == "recovering"
        agent = start_agent(workdir)
        incident = wait_for(
            "the same incident to finish",
            lambda: (h := history(workdir, "web"))[0]["state"] == "recovered" and h[0],
        )
        assert incident["id"] == interrupted["id"]
        assert len(history(workdir, "web")) == before + 1, "no second incident"
        assert len(starts(workdir / "svc")) == len(pids) + 1, "restarted exactly once"
        # DBOS's own recovery re-enqueued it before the agent resumed it: no warning for that
        assert "already exists in queue" not in agent.log(), agent.log()
    finally:
        agent.stop()


def test_pause_keeps_checking_but_recovers_nothing(workdir: Path) -> None:
    port = free_port()
    write_catalog(workdir, service_block("web", port, workdir / "svc"))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir, "web"))
        out = paramedic(
            "pause", "web", "--for", "1h", "--reason", "kernel upgrade", cwd=workdir
        ).stdout
        assert out.startswith("web: paused for 1h")
        time.sleep(1.5)
        os.kill(starts(workdir / "svc")[0], signal.SIGKILL)
        wait_for(
            "checks recorded as failing", lambda: component(workdir, "web").get("last_ok") is False
        )
        time.sleep(2)
        assert history(workdir, "web") == []
        assert len(starts(workdir / "svc")) == 1
        paramedic("resume", "web", cwd=workdir)
        incident = wait_for("recovery after resume", lambda: _recovered(workdir, "web"))[0]
        assert incident["state"] == "recovered", agent.log()
    finally:
        agent.stop()
