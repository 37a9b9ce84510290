"""Agent leases in a real state store (SQLite and PostgreSQL): renewal, age, takeover, fencing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from paramedic.clock import FakeClock
from paramedic.errors import Fenced
from paramedic.store import Store
from paramedic.store.components import CheckTally
from tests.integration.test_store import open_web, store, store_url  # noqa: F401  (fixtures)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _renew(db: Store, name: str, executor: str | None = None) -> None:
    db.renew_lease(
        name,
        host="h1",
        pid=123,
        run_start=START,
        executor_id=executor or f"{name}@1",
        tags=["zone-b", "db"],
        catalog="/etc/paramedic.yaml",
    )


def _age_back(db: Store, name: str, seconds: float) -> None:
    """Make ``name``'s lease look ``seconds`` older (as if it had stopped renewing)."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                text(
                    "UPDATE agent_leases SET renewed_at = renewed_at - make_interval(secs => :s) "
                    "WHERE name = :n"
                ),
                {"s": seconds, "n": name},
            )
        else:
            row = conn.execute(
                text("SELECT renewed_at FROM agent_leases WHERE name = :n"), {"n": name}
            ).one()
            older = datetime.fromisoformat(str(row[0])) - timedelta(seconds=seconds)
            conn.execute(
                text("UPDATE agent_leases SET renewed_at = :r WHERE name = :n"),
                {"r": older.isoformat(sep=" "), "n": name},
            )


def test_a_renewed_lease_is_listed_with_its_age(store: Store) -> None:  # noqa: F811
    _renew(store, "h1:/run/a")
    (lease,) = store.leases()
    assert lease.name == "h1:/run/a"
    assert lease.tags == ["db", "zone-b"]
    assert lease.executor_id == "h1:/run/a@1"
    assert 0 <= lease.age_s < 5
    _age_back(store, "h1:/run/a", 30)
    assert 29 < store.leases()[0].age_s < 40
    _renew(store, "h1:/run/a")
    assert store.leases()[0].age_s < 5


def test_postgres_ages_leases_by_the_database_clock_not_the_agents(
    store: Store,  # noqa: F811
    fake_clock: FakeClock,
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite serves one host: its clock is the only one")
    fake_clock.advance(3600)  # the agent's own clock is an hour ahead: it does not matter
    _renew(store, "h1:/run/a")
    assert store.leases()[0].age_s < 5
    with store.engine.connect() as conn:
        db_now = conn.execute(text("SELECT now()")).scalar_one()
    assert abs((store.leases()[0].renewed_at - db_now).total_seconds()) < 5


def test_a_clean_stop_releases_only_its_own_run(store: Store) -> None:  # noqa: F811
    _renew(store, "h1:/run/a", executor="h1:/run/a@2")
    store.release_lease("h1:/run/a", "h1:/run/a@1")  # an older run: not this lease
    assert [lease.name for lease in store.leases()] == ["h1:/run/a"]
    store.release_lease("h1:/run/a", "h1:/run/a@2")
    assert store.leases() == []


def test_takeover_succeeds_only_when_the_running_agent_is_dead(store: Store) -> None:  # noqa: F811
    incident = open_web(store)
    _renew(store, "a")
    _renew(store, "b")
    assert store.take_over(incident.id, "a", ttl_s=10)  # nobody ran it yet
    assert store.incident(incident.id).agent == "a"
    assert store.recovering_agents() == {"web": "a"}
    assert not store.take_over(incident.id, "b", ttl_s=10)  # a lives
    _age_back(store, "a", 11)
    assert store.take_over(incident.id, "b", ttl_s=10)
    assert store.incident(incident.id).agent == "b"
    store.update_incident(incident.id, state="escalated")
    assert not store.take_over(incident.id, "b", ttl_s=10)  # closed: nothing to take
    assert store.recovering_agents() == {}


def test_a_step_is_fenced_in_the_transaction_that_records_it(store: Store) -> None:  # noqa: F811
    incident = open_web(store)
    _renew(store, "a")
    _renew(store, "b")
    store.take_over(incident.id, "a", ttl_s=10)
    at = START + timedelta(seconds=5)
    with pytest.raises(Fenced, match="is now recovered by agent a"):
        store.start_step(
            incident.id, seq=1, strategy="restart_service", started_at=at, fence=("b", 10)
        )
    _age_back(store, "a", 11)
    with pytest.raises(Fenced, match="agent a lost its lease"):
        store.start_step(
            incident.id, seq=1, strategy="restart_service", started_at=at, fence=("a", 10)
        )
    assert store.steps(incident.id) == []  # nothing recorded by a fenced agent
    _renew(store, "a")
    row = store.start_step(
        incident.id, seq=1, strategy="restart_service", started_at=at, fence=("a", 10)
    )
    assert row.status == "running"


def test_checks_are_counted_per_agent(store: Store) -> None:  # noqa: F811
    at = START
    store.count_checks("a", [CheckTally("web", 3, 1, at, True, "ok")])
    store.count_checks("a", [CheckTally("web", 2, 0, at, True, "ok")])
    store.count_checks("b", [CheckTally("web", 1, 0, at, True, "ok")])
    assert store.checks_by_agent() == {"web": {"a": 5, "b": 1}}


def test_lease_ages_keep_growing_in_real_time(store: Store) -> None:  # noqa: F811
    if store.dialect != "postgresql":
        pytest.skip("the fake clock drives SQLite ages")
    _renew(store, "a")
    first = store.leases()[0].age_s
    time.sleep(0.3)
    assert store.leases()[0].age_s >= first + 0.2


def test_closing_or_escalating_is_fenced_in_the_transaction_that_writes_it(
    store: Store,  # noqa: F811
) -> None:
    """F5: a stale agent's close or escalation changes nothing; the live owner's does."""
    incident = open_web(store)
    _renew(store, "a")
    _renew(store, "b")
    store.take_over(incident.id, "a", ttl_s=10)
    with pytest.raises(Fenced, match="is now recovered by agent a"):
        store.update_incident(incident.id, fence=("b", 10), state="escalated", reason="late")
    _age_back(store, "a", 11)
    with pytest.raises(Fenced, match="agent a lost its lease"):
        store.update_incident(incident.id, fence=("a", 10), state="recovered", recovered_at=START)
    assert store.incident(incident.id).state == "open"
    _renew(store, "a")
    done = store.update_incident(incident.id, fence=("a", 10), state="escalated", reason="r")
    assert done.state == "escalated"


def test_the_host_running_a_component_is_recorded_once(store: Store) -> None:  # noqa: F811
    assert store.component_hosts() == {}
    store.record_hosts(["web"], "h1")
    store.record_hosts(["web"], "h1")
    assert store.component_hosts() == {"web": "h1"}
    assert store.component("web").host == "h1"
    store.record_hosts(["web"], "h2")
    assert store.component_hosts() == {"web": "h2"}
