"""The agent's decision log says each decision once: a detector's no-op is not a line."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from paramedic.agent import Agent
from paramedic.agent.parts import Watch
from paramedic.catalog import load_catalog_text
from paramedic.clock import FakeClock
from paramedic.detect import Detector, HealthState
from paramedic.register import register_components
from paramedic.store import Store

CATALOG = """\
version: 1
components:
  db:
    type: database
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 1}
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    depends_on: [db]
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 2}
"""
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def _agent(tmp_path: Path) -> tuple[Agent, io.StringIO]:
    catalog = load_catalog_text(CATALOG, "c.yaml")
    log = io.StringIO()
    agent = Agent(catalog, clock=FakeClock(T0), log_format="json", decision_stream=log)
    agent.parts.store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    register_components(agent.parts.store, catalog)
    for name, component in catalog.components.items():
        agent.watches[name] = Watch(Detector(name, component.health), None)
    return agent, log


def _decisions(log: io.StringIO) -> list[str]:
    return [json.loads(line)["decision"] for line in log.getvalue().splitlines()]


def test_an_outcome_reported_for_an_already_escalated_component_prints_nothing(
    tmp_path: Path,
) -> None:
    agent, log = _agent(tmp_path)
    detector = agent.watches["web"].detector
    detector.recovery_started()
    agent.watching.recovery_finished("web", False, "circuit open: web already had 3 recoveries")
    assert detector.state is HealthState.escalated
    # the engine reports the escalation's end again (as for an incident opened escalated)
    agent.watching.recovery_finished("web", False, "circuit open: web already had 3 recoveries")
    agent.watching.recovery_finished("web", False, "circuit open: web already had 3 recoveries")
    assert _decisions(log) == ["escalate"]
