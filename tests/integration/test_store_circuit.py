"""The circuit's store queries on real SQLite and PostgreSQL: recoveries that ran, and resets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paramedic.clock import FakeClock
from paramedic.errors import NotFound
from paramedic.store import IncidentRow, Store
from tests.integration import test_store as base
from tests.integration.test_store import T0, open_web

store_url, store = base.store_url, base.store  # the same fixtures: SQLite and PostgreSQL

pytestmark = pytest.mark.integration


def closed(store: Store, incident: IncidentRow, state: str = "recovered") -> None:
    """End ``incident`` so that the next one of ``web`` may open."""
    store.update_incident(incident.id, state=state)


def ran(store: Store, incident: IncidentRow, seq: int, at_s: float, status: str) -> None:
    """Step ``seq`` of ``incident`` acted from T0 + ``at_s`` and ended ``status``."""
    at = T0 + timedelta(seconds=at_s)
    store.start_step(incident.id, seq=seq, strategy="restart_service", started_at=at)
    store.finish_step(incident.id, seq, ended_at=at + timedelta(seconds=1), status=status)


def test_only_recoveries_that_ran_a_strategy_count(store: Store) -> None:
    recovered = open_web(store)
    ran(store, recovered, 1, 5, "timed_out")
    ran(store, recovered, 2, 20, "succeeded")
    closed(store, recovered)
    flapping = open_web(store, T0 + timedelta(minutes=1))  # escalated before any step
    closed(store, flapping, "escalated")
    denied = open_web(store, T0 + timedelta(minutes=2))
    at = T0 + timedelta(minutes=2, seconds=3)
    store.request_approval(denied.id, seq=1, strategy="restore_from_backup", at=at, summary="s")
    store.decide_approval(denied.id, approved=False, actor="ops", at=at)
    ran(store, denied, 1, 123, "denied")
    closed(store, denied, "escalated")
    unanswered = open_web(store, T0 + timedelta(minutes=3))
    store.request_approval(unanswered.id, seq=1, strategy="restore_from_backup", at=at, summary="")
    ran(store, unanswered, 1, 190, "timed_out")  # nobody approved: nothing acted
    closed(store, unanswered, "escalated")
    approved = open_web(store, T0 + timedelta(minutes=4))
    store.request_approval(approved.id, seq=1, strategy="restore_from_backup", at=at, summary="")
    store.decide_approval(approved.id, approved=True, actor="ops", at=at)
    ran(store, approved, 1, 250, "unverified")
    closed(store, approved, "escalated")

    starts = store.recovery_starts(T0 - timedelta(hours=1))
    assert starts == {"web": [T0 + timedelta(seconds=5), T0 + timedelta(seconds=250)]}
    assert store.recovery_starts(T0 + timedelta(seconds=6)) == {
        "web": [T0 + timedelta(seconds=250)]
    }
    assert store.recovery_starts(T0, component="web", exclude=approved.id) == {
        "web": [T0 + timedelta(seconds=5)]
    }
    assert store.recovery_starts(T0, component="db") == {}


def test_a_dry_run_step_is_no_recovery(store: Store) -> None:
    incident = open_web(store)
    store.start_step(incident.id, seq=1, strategy="restart_service", started_at=T0, dry_run=True)
    assert store.recovery_starts(T0 - timedelta(hours=1)) == {}


def test_a_reset_is_kept_audited_and_listed(store: Store, fake_clock: FakeClock) -> None:
    assert store.component("web").circuit_reset_at is None
    assert store.circuit_resets() == {}
    at = T0 + timedelta(minutes=5)
    row = store.reset_circuit("web", at=at, reason="tried the README", actor="alice")
    assert row.circuit_reset_at == at and store.component("web").circuit_reset_at == at
    assert store.circuit_resets() == {"web": at}
    audit = store.audit_log(limit=1)[0]
    assert (audit.actor, audit.action, audit.subject) == ("alice", "component.circuit_reset", "web")
    assert audit.detail == {"reason": "tried the README", "state": "unknown"}
    assert store.verify_audit().ok
    assert store.component("web").to_json()["circuit_reset_at"] == "2026-11-25T19:50:12.250Z"
    with pytest.raises(NotFound, match="web2"):
        store.reset_circuit("web2", at=at, reason="", actor="alice")
