"""The circuit end to end: trip it through the real agent, read `status`, get out with `reset` or `--force`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paramedic.store import Store
from tests.e2e.harness import (
    component,
    history,
    paramedic,
    service_block,
    start_agent,
    starts,
    wait_for,
    write_catalog,
)
from tests.servers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    yield tmp_path
    for pid in starts(tmp_path / "svc"):  # never leave a service behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


def _closed(cwd: Path, count: int) -> list[dict[str, Any]] | None:
    """The incidents of ``web``, newest first, once ``count`` of them have ended."""
    done = [i for i in history(cwd, "web") if i["state"] in ("recovered", "escalated")]
    return done if len(done) >= count and not history(cwd, open_only=True) else None


def _healthy(cwd: Path) -> bool:
    return bool(component(cwd, "web").get("state") == "healthy")


def _kill(cwd: Path) -> None:
    """kill -9 the newest instance of the service."""
    os.kill(starts(cwd / "svc")[-1], signal.SIGKILL)


def _audit_actions(cwd: Path) -> list[str]:
    with Store.open(f"sqlite:///{cwd / 'paramedic.db'}") as store:
        return [row.action for row in store.audit_log(limit=200)]


def _decisions(log: str) -> list[tuple[str, str]]:
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [(r["decision"], r["reason"]) for r in records if r["component"] == "web"]


def test_flapping_is_shown_by_status_and_reset_lets_the_next_failure_recover(
    workdir: Path,
) -> None:
    flapping = "    flapping: {incidents: 1, window: 10m}\n"
    write_catalog(workdir, service_block("web", free_port(), workdir / "svc", budget=flapping))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir))
        _kill(workdir)
        assert wait_for("a recovery", lambda: _closed(workdir, 1))[0]["state"] == "recovered"
        wait_for("web healthy again", lambda: _healthy(workdir))
        _kill(workdir)
        second = wait_for("the flapping escalation", lambda: _closed(workdir, 2))[0]
        assert second["state"] == "escalated", agent.log()
        assert second["reason"] == "web is flapping: 2 incidents in 10m"
        assert second["steps"] == []

        web = component(workdir, "web")
        assert web["state"] == "escalated"
        assert web["circuit"]["state"] == "flapping"
        assert web["circuit"]["reason"] == "flapping: 2 incidents in 10m"
        assert web["circuit"]["escape"] == "paramedic reset web"
        text = paramedic("status", cwd=workdir).stdout
        assert (
            "web: flapping: 2 incidents in 10m; its next failure is escalated, not recovered."
            " Get it out with `paramedic reset web`" in text
        )

        done = paramedic("reset", "web", "--reason", "tried the README", cwd=workdir)
        assert done.stdout.strip() == (
            "web: circuit closed (tried the README); the running agent watches it afresh"
            " within a second: its next failure is recovered"
        )
        third = wait_for("the recovery after the reset", lambda: _closed(workdir, 3))[0]
        assert third["state"] == "recovered", agent.log()
        assert third["strategy"] == "restart_service"
        assert len(starts(workdir / "svc")) == 3
        assert component(workdir, "web")["circuit"]["state"] == "closed"
        assert ("circuit_reset", "web's circuit was reset: watched afresh, its next failed"
                " check opens a new incident and recovers it") in _decisions(agent.log())  # fmt: skip
        assert "component.circuit_reset" in _audit_actions(workdir)
        assert paramedic("audit", "verify", cwd=workdir).returncode == 0
    finally:
        assert agent.stop() == 0, agent.log()


def test_an_open_budget_circuit_refuses_until_forced_or_reset(workdir: Path) -> None:
    budget = "    budget: {recoveries: 1, window: 10m, backoff: 100ms}\n"
    write_catalog(workdir, service_block("web", free_port(), workdir / "svc", budget=budget))
    agent = start_agent(workdir)
    try:
        wait_for("web healthy", lambda: _healthy(workdir))
        _kill(workdir)
        assert wait_for("a recovery", lambda: _closed(workdir, 1))[0]["state"] == "recovered"
        wait_for("web healthy again", lambda: _healthy(workdir))
        _kill(workdir)
        refused = wait_for("the refusal", lambda: _closed(workdir, 2))[0]
        assert refused["state"] == "escalated" and refused["steps"] == [], agent.log()
        assert refused["reason"].startswith(
            "circuit open: web already had 1 recovery in the last 10m (budget 1)"
        )

        circuit = component(workdir, "web")["circuit"]
        assert (circuit["state"], circuit["recoveries"], circuit["budget"]) == ("open", 1, 1)
        assert circuit["until"] is not None and circuit["escape"] == "paramedic reset web"
        text = paramedic("status", cwd=workdir).stdout
        assert "web: circuit open until " in text and "(1 recovery in 10m)" in text
        assert "Get it out with `paramedic reset web`" in text

        by_hand = paramedic("recover", "web", cwd=workdir, check=False)
        assert by_hand.returncode == 1, by_hand.stderr
        assert "circuit open: web already had 1 recovery" in by_hand.stdout
        assert "`paramedic recover web --force` bypasses it once" in by_hand.stdout

        forced = paramedic("recover", "web", "--force", "--json", cwd=workdir, check=False)
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert json.loads(forced.stdout)["state"] == "recovered"
        actions = _audit_actions(workdir)
        assert "recovery.forced" in actions and "incident.circuit_bypassed" in actions
        wait_for("web healthy after the forced recovery", lambda: _healthy(workdir))

        _kill(workdir)  # the budget is still spent: refused again
        again = wait_for("the second refusal", lambda: _closed(workdir, 5))[0]
        assert again["state"] == "escalated" and again["reason"].startswith("circuit open:")
        paramedic("reset", "web", cwd=workdir)
        after = wait_for("the recovery after the reset", lambda: _closed(workdir, 6))[0]
        assert after["state"] == "recovered", agent.log()
        circuit = component(workdir, "web")["circuit"]
        assert circuit["reset_at"] is not None
        assert circuit["recoveries"] == 1  # only the one since the reset: a budget of 1 is spent
    finally:
        assert agent.stop() == 0, agent.log()
