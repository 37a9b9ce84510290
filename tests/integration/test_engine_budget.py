"""The recovery engine's budget check against a real SQLite store: what counts, force, reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paramedic.catalog.model import Catalog
from paramedic.checks.result import CheckResult
from paramedic.clock import FakeClock
from paramedic.notify.fake import RecordingNotifier
from paramedic.recovery.engine import RecoveryEngine
from paramedic.register import register_components
from paramedic.store import IncidentRow, Store

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def _catalog(tmp_path: Path) -> Catalog:
    web = {
        "type": "application_server",
        "rto": "1m",
        "rpo": "0s",
        "provider": "process",
        "spec": {"command": ["true"]},
        "health": {"check": "tcp", "port": 1},
        "recovery": [{"strategy": "restart_service", "timeout": "5s"}],
        "budget": {"recoveries": 2, "window": "10m"},
    }
    return Catalog.model_validate(
        {"version": 1, "state": f"sqlite:///{tmp_path}/p.db", "components": {"web": web}}
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[RecoveryEngine]:
    """An engine on a real store, a fake clock at T0 + 5m; begin() needs no provider."""
    catalog = _catalog(tmp_path)
    clock = FakeClock(T0 + timedelta(minutes=5))
    store = Store.open(catalog.state_url(), clock=clock)
    register_components(store, catalog)

    async def never(_name: str) -> CheckResult:
        raise AssertionError("begin() runs no check")

    try:
        yield RecoveryEngine(catalog, store, clock, {}, never, RecordingNotifier())
    finally:
        store.close()


def _incident(store: Store, kind: str, at: datetime) -> IncidentRow:
    return store.open_incident(
        component="web",
        kind=kind,
        failed_at=at,
        detected_at=at,
        failure=None,
        reason="test",
        target_rto_s=60,
        target_rpo_s=0,
    )


def _recovered(store: Store, at: datetime) -> None:
    incident = _incident(store, "failure", at)
    store.start_step(incident.id, seq=1, strategy="restart_service", started_at=at)
    store.finish_step(incident.id, 1, ended_at=at + timedelta(seconds=1), status="succeeded")
    store.update_incident(incident.id, state="recovered")


def _escalated_unrun(store: Store, at: datetime) -> None:
    incident = _incident(store, "failure", at)
    store.update_incident(incident.id, state="escalated", reason="web is flapping: 4 incidents")


async def test_escalations_that_ran_nothing_do_not_spend_the_budget(
    engine: RecoveryEngine,
) -> None:
    store = engine.store
    _recovered(store, T0)
    _escalated_unrun(store, T0 + timedelta(minutes=1))
    _escalated_unrun(store, T0 + timedelta(minutes=2))
    manual = _incident(store, "manual", T0 + timedelta(minutes=5))
    plan = await engine.begin(manual.id, None)
    assert "steps" in plan, plan  # 1 recovery ran, budget 2: allowed
    assert store.incident(manual.id).state == "recovering"


async def test_a_spent_budget_refuses_unless_forced_and_a_reset_reopens_it(
    engine: RecoveryEngine,
) -> None:
    store = engine.store
    _recovered(store, T0)
    _recovered(store, T0 + timedelta(minutes=1))
    refused = _incident(store, "manual", T0 + timedelta(minutes=5))
    plan = await engine.begin(refused.id, None)
    assert plan == {
        "refused": "circuit open: web already had 2 recoveries in the last 10m (budget 2) and"
        " stays open until 14:10Z; escalating instead of looping: `paramedic reset web`"
        " closes it, `paramedic recover web --force` bypasses it once"
    }
    forced = await engine.begin(refused.id, None, force=True)
    assert "steps" in forced
    audited = [r for r in store.audit_log(limit=10) if r.action == "incident.circuit_bypassed"]
    assert [(r.subject, r.actor, r.detail["component"]) for r in audited] == [
        (refused.id, "agent", "web")
    ]
    store.update_incident(refused.id, state="escalated")

    store.reset_circuit("web", at=T0 + timedelta(minutes=5), reason="test", actor="ops")
    after = _incident(store, "manual", T0 + timedelta(minutes=5))
    assert "steps" in await engine.begin(after.id, None)
