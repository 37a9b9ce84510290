"""The state store against real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from paramedic.clock import FakeClock
from paramedic.errors import NotFound, Refused, StoreError
from paramedic.store import AuditRow, IncidentRow, Store, audit_hash
from paramedic.store.migrate import head_revision
from paramedic.store.tables import metadata
from tests.servers import PostgresServer, free_port

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 19, 45, 12, 250000, tzinfo=UTC)
SECRET = "hunter2"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty state store URL: a file under tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state/paramedic.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(store_url: str, fake_clock: FakeClock) -> Iterator[Store]:
    """An open store on the fake clock, with one component ``web``."""
    opened = Store.open(store_url, clock=fake_clock)
    opened.upsert_component(
        "web",
        type="application_server",
        location="site-a/rack-3",
        criticality="important",
        provider="process",
        rto_s=30,
        rpo_s=0,
    )
    try:
        yield opened
    finally:
        opened.close()


def open_web(store: Store, at: datetime = T0, **extra: object) -> IncidentRow:
    """An incident of ``web`` that failed at ``at`` and was detected 2 s later."""
    return store.open_incident(
        component="web",
        kind="failure",
        failed_at=at,
        detected_at=at + timedelta(seconds=2),
        failure="refused",
        reason="connection refused on 127.0.0.1:8080",
        target_rto_s=30,
        target_rpo_s=0,
        **extra,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- schema and connections


def test_migrations_create_the_tables_as_the_models_describe(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert tables == {*metadata.tables, "paramedic_schema_version"}
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": "paramedic_schema_version"}
        )
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == head_revision()


def test_reopening_keeps_the_data_and_migrates_nothing(store: Store, store_url: str) -> None:
    incident = open_web(store)
    again = Store.open(store_url)
    try:
        assert again.incident(incident.id) == incident
        assert again.verify_audit().checked == 1
    finally:
        again.close()


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/deep/er/paramedic.db")
    try:
        assert (tmp_path / "deep" / "er" / "paramedic.db").is_file()
        for _ in range(2):  # a pooled connection and a brand new one
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            store.engine.dispose()
    finally:
        store.close()


# ---------------------------------------------------------------- components


def test_component_checks_and_transitions_round_trip_in_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    first = T0.astimezone(paris)
    store.record_check("web", at=first, ok=True, state="healthy", detail="200 OK")
    store.record_check(
        "web", at=first + timedelta(seconds=1), ok=False, state="healthy", detail="x"
    )
    store.record_check(
        "web", at=first + timedelta(seconds=2), ok=False, state="failing", detail="refused"
    )
    store.record_transition(
        "web", at=T0 + timedelta(seconds=2), from_state="healthy", to_state="failed", reason="2 x"
    )
    row = store.component("web")
    assert (row.checks_total, row.failures_total) == (3, 2)
    assert row.last_check_at == T0 + timedelta(seconds=2)
    assert row.last_check_at is not None and row.last_check_at.tzinfo is UTC
    assert (row.state, row.state_since) == ("failed", T0 + timedelta(seconds=2))
    assert (row.last_ok, row.last_detail) == (False, "refused")
    [transition] = store.transitions("web")
    assert (transition.from_state, transition.to_state, transition.at) == (
        "healthy",
        "failed",
        T0 + timedelta(seconds=2),
    )
    assert transition.at.tzinfo is UTC
    store.upsert_component(
        "web",
        type="application_server",
        location="site-b",
        criticality="critical",
        provider="process",
        rto_s=10,
        rpo_s=0,
    )
    moved = store.component("web")
    assert (moved.location, moved.rto_s, moved.checks_total) == ("site-b", 10.0, 3)
    assert moved.to_json()["last_check_at"] == "2026-11-25T19:45:14.250Z"


def test_naive_times_and_unknown_components_are_refused(store: Store) -> None:
    with pytest.raises(ValueError) as naive:
        store.record_check("web", at=datetime(2026, 1, 1), ok=True, state="healthy", detail="")
    assert (
        str(naive.value) == "naive datetime 2026-01-01T00:00:00: paramedic stores aware UTC times"
    )
    with pytest.raises(NotFound) as exc:
        store.record_check("wbe", at=T0, ok=True, state="healthy", detail="")
    assert (
        str(exc.value)
        == "no component named 'wbe' in the state store; check the name in the catalog"
    )
    with pytest.raises(NotFound):
        store.component("wbe")


def test_pause_and_resume_are_recorded_and_audited(store: Store) -> None:
    until = T0 + timedelta(hours=2)
    store.pause("web", until=until, reason="kernel upgrade", actor="alice")
    paused = store.component("web")
    assert (paused.paused, paused.paused_until, paused.pause_reason, paused.paused_by) == (
        True,
        until,
        "kernel upgrade",
        "alice",
    )
    assert paused.is_paused(T0) and not paused.is_paused(until)
    store.resume("web", actor="bob")
    resumed = store.component("web")
    assert (resumed.paused, resumed.paused_until, resumed.pause_reason) == (False, None, None)
    actions = [(r.actor, r.action, r.subject) for r in reversed(store.audit_log())]
    assert actions == [("alice", "component.paused", "web"), ("bob", "component.resumed", "web")]


# ---------------------------------------------------------------- incidents


def test_one_open_incident_per_component(store: Store) -> None:
    first = open_web(store)
    with pytest.raises(Refused) as exc:
        open_web(store, T0 + timedelta(minutes=1))
    assert str(exc.value) == (
        f"web already has an open incident {first.id} (open); one recovery at a time per component"
    )
    assert store.open_incident_of("web") == first
    store.update_incident(first.id, state="recovered", recovered_at=T0 + timedelta(seconds=9))
    assert store.open_incident_of("web") is None
    second = open_web(store, T0 + timedelta(minutes=1))
    assert [i.id for i in store.incidents("web")] == [second.id, first.id]
    assert [i.id for i in store.incidents(open_only=True)] == [second.id]
    with pytest.raises(Refused) as reopen:
        store.update_incident(first.id, state="recovering")
    assert str(reopen.value) == (
        f"web already has an open incident {second.id} (open); one recovery at a time per component"
    )
    assert store.incident(first.id).state == "recovered"


def test_the_database_itself_holds_one_open_incident_per_component(store: Store) -> None:
    open_web(store)
    insert = text(
        "INSERT INTO incidents (id, component, kind, state, reason, failed_at, detected_at,"
        " target_rto_s, target_rpo_s) VALUES ('inc-raw', 'web', 'failure', 'blocked', '',"
        " :at, :at, 30, 0)"
    )
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert, {"at": T0.replace(tzinfo=None)})


def test_incident_ids_times_and_json_shape(store: Store) -> None:
    incident = open_web(store)
    assert incident.id.startswith("inc-20261125T194512-web-")  # failed_at, like the field
    assert len(incident.id) == len("inc-20261125T194512-web-3f2a")
    assert incident.detected_at.tzinfo is UTC and incident.failed_at == T0
    done = store.update_incident(
        incident.id,
        state="recovered",
        recovered_at=T0 + timedelta(seconds=12.5),
        strategy="restart_service",
        measured_rpo_s=0.0,
    )
    assert store.incident(incident.id) == done
    assert done.to_json() == {
        "id": incident.id,
        "component": "web",
        "kind": "failure",
        "state": "recovered",
        "failure": "refused",
        "reason": "connection refused on 127.0.0.1:8080",
        "failed_at": "2026-11-25T19:45:12.250Z",
        "detected_at": "2026-11-25T19:45:14.250Z",
        "recovered_at": "2026-11-25T19:45:24.750Z",
        "escalated_at": None,
        "blocked_by": None,
        "strategy": "restart_service",
        "measured_rto_s": 12.5,
        "measured_rpo_s": 0.0,
        "recovery_point_at": None,
        "target_rto_s": 30.0,
        "target_rpo_s": 0.0,
        "agent": None,
        "open": False,
        "time_to_detect_s": 2.0,
        "rto_met": True,
        "rpo_met": True,
    }


def test_open_incident_with_a_given_id_is_idempotent(store: Store) -> None:
    first = open_web(store, incident_id="inc-drill-1")
    assert open_web(store, incident_id="inc-drill-1") == first
    assert store.verify_audit().checked == 1
    with pytest.raises(NotFound) as exc:
        store.incident("inc-nope")
    assert (
        str(exc.value)
        == "no incident 'inc-nope' in the state store; `paramedic history` lists them"
    )


# ---------------------------------------------------------------- steps and approvals


def test_start_step_is_idempotent_and_finish_step_measures(store: Store) -> None:
    incident = open_web(store)
    started = store.start_step(
        incident.id, seq=1, strategy="restart_service", started_at=T0 + timedelta(seconds=3)
    )
    again = store.start_step(
        incident.id, seq=1, strategy="restart_service", started_at=T0 + timedelta(seconds=99)
    )
    assert again == started and started.status == "running"
    finished = store.finish_step(
        incident.id, 1, ended_at=T0 + timedelta(seconds=4.5), status="succeeded", output="ok"
    )
    assert (finished.status, finished.duration_s, finished.output) == ("succeeded", 1.5, "ok")
    assert (
        store.finish_step(incident.id, 1, ended_at=T0 + timedelta(seconds=60), status="succeeded")
        == finished
    )
    assert store.steps(incident.id) == [finished]
    actions = [r.action for r in reversed(store.audit_log())]
    assert actions == ["incident.opened", "step.started", "step.succeeded"]
    with pytest.raises(NotFound) as exc:
        store.finish_step(incident.id, 2, ended_at=T0, status="failed")
    assert str(exc.value) == f"incident {incident.id} has no step 2"


def test_approvals_wait_for_one_answer(store: Store) -> None:
    incident = open_web(store)
    assert store.approval(incident.id) is None
    store.request_approval(
        incident.id, seq=2, strategy="restore_from_backup", at=T0, summary="restore latest"
    )
    store.request_approval(
        incident.id, seq=2, strategy="restore_from_backup", at=T0, summary="restore latest"
    )
    waiting = store.approval(incident.id)
    assert waiting is not None and waiting.waiting and waiting.requested_at == T0
    decided = store.decide_approval(
        incident.id, approved=True, actor="alice", at=T0 + timedelta(minutes=1)
    )
    assert (decided.state, decided.decided_by, decided.seq) == ("approved", "alice", 2)
    assert store.approval(incident.id) == decided
    with pytest.raises(Refused) as exc:
        store.decide_approval(incident.id, approved=False, actor="bob", at=T0)
    assert str(exc.value) == f"incident {incident.id} has nothing waiting for approval"
    with pytest.raises(NotFound):
        store.decide_approval("inc-nope", approved=True, actor="bob", at=T0)
    assert [(r.actor, r.action) for r in store.audit_log(2)] == [
        ("alice", "approval.approved"),
        ("paramedic", "approval.requested"),
    ]


# ---------------------------------------------------------------- evidence


def test_recovery_points_drills_and_notifications_round_trip(store: Store) -> None:
    incident = open_web(store)
    older = store.add_recovery_point(
        component="web",
        engine="restic",
        taken_at=T0 - timedelta(hours=1),
        location="/b/1",
        size_bytes=10,
        checksum="sha256:aa",
        detail={"snapshot": "1"},
    )
    newer = store.add_recovery_point(
        component="web",
        engine="restic",
        taken_at=T0,
        location="/b/2",
        size_bytes=None,
        checksum=None,
    )
    store.mark_verified(older.id, at=T0, ok=True, detail="restored 10 bytes")
    points = store.recovery_points("web")
    assert [p.id for p in points] == [newer.id, older.id]
    assert (points[1].verified_ok, points[1].verified_at, points[1].detail) == (
        True,
        T0,
        {"snapshot": "1"},
    )
    with pytest.raises(NotFound) as missing:
        store.mark_verified(999, at=T0, ok=False, detail="")
    assert str(missing.value) == "no recovery point 999 in the state store"
    drill = store.add_drill(
        component="web",
        fault="kill_process",
        started_at=T0,
        incident_id=incident.id,
        phases=[{"name": "inject", "at": T0}],
        verdict="within_objectives",
        measured_rto_s=12.0,
        measured_rpo_s=None,
        target_rto_s=30,
        target_rpo_s=0,
    )
    assert store.drills("web") == [drill]
    assert drill.to_json()["phases"] == [{"name": "inject", "at": "2026-11-25T19:45:12.250Z"}]
    assert (drill.to_json()["rto_met"], drill.to_json()["rpo_met"]) == (True, None)
    store.record_notification(
        incident_id=incident.id,
        route="ops",
        event="failure_detected",
        at=T0,
        status="sent",
        attempts=1,
    )
    store.record_notification(
        incident_id=None,
        route="ops",
        event="backup_failed",
        at=T0 + timedelta(seconds=1),
        status="failed",
        attempts=3,
        error="HTTP 500",
    )
    assert [n.event for n in store.notifications()] == ["backup_failed", "failure_detected"]
    [sent] = store.notifications(incident.id)
    assert (sent.status, sent.attempts, sent.at) == ("sent", 1, T0)
    assert store.verify_audit().ok


# ---------------------------------------------------------------- audit


def lifecycle(store: Store) -> None:
    """Five audited actions: incident opened, step started and failed, pause, resume."""
    incident = open_web(store)
    store.start_step(incident.id, seq=1, strategy="restart_service", started_at=T0)
    store.finish_step(incident.id, 1, ended_at=T0, status="failed", error="exit 1")
    store.pause("web", until=None, reason="maintenance", actor="alice")
    store.resume("web", actor="alice")


def test_the_audit_chain_verifies(store: Store, fake_clock: FakeClock) -> None:
    lifecycle(store)
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, 5, None)
    assert verdict.reason == "audit chain intact: 5 rows"
    row = store.audit(actor="bob", action="note", subject="web", detail={"why": "test"})
    assert (row.seq, row.at, row.prev_hash) == (6, fake_clock.now(), store.audit_log(2)[1].hash)


def test_the_audit_chain_detects_an_edited_row(store: Store) -> None:
    lifecycle(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET detail = :d WHERE seq = 3"), {"d": '{"error": ""}'})
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (False, 3, 3)
    assert (
        verdict.reason == "audit row 3 was changed after it was written (its hash does not match)"
    )


def test_the_audit_chain_detects_a_deleted_row(store: Store) -> None:
    lifecycle(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = 2"))
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert verdict.reason == "audit row 2 is missing (the chain jumps from 1 to 3)"


def test_the_audit_chain_detects_a_cut_tail(store: Store) -> None:
    lifecycle(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq >= 4"))
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)
    assert verdict.reason == "audit rows 4 to 5 are missing (the log ends before its recorded head)"


def test_the_audit_chain_detects_an_inserted_row(store: Store) -> None:
    lifecycle(store)
    last = store.audit_log(1)[0]
    forged = AuditRow(6, T0, "mallory", "note", "web", {}, last.hash, "")
    digest = audit_hash(
        forged.prev_hash, seq=6, at=T0, actor="mallory", action="note", subject="web", detail={}
    )
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)"
                " VALUES (6, :at, 'mallory', 'note', 'web', '{}', :prev, :hash)"
            ),
            {
                "at": T0 if store.dialect == "postgresql" else "2026-11-25 19:45:12.250000",
                "prev": last.hash,
                "hash": digest,
            },
        )
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.first_bad_seq) == (False, 6)
    assert verdict.reason == "audit row 6 was added outside paramedic (past the recorded head)"


def test_concurrent_writers_keep_one_unbroken_chain(store_url: str) -> None:
    """Two agents (two engines), two threads each, appending at once leave seq 1..40, chained."""
    agents = [Store.open(store_url) for _ in range(2)]
    stores = [agents[0], agents[0], agents[1], agents[1]]
    errors: list[BaseException] = []

    def append(store: Store, n: int) -> None:
        try:
            for i in range(10):
                store.audit(actor=f"agent-{n}", action="note", subject="x", detail={"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        verdict = stores[0].verify_audit()
        assert (verdict.ok, verdict.checked) == (True, 40)
        assert [r.seq for r in stores[0].audit_log(100)] == list(range(40, 0, -1))
    finally:
        for agent in agents:
            agent.close()


def test_secrets_are_redacted_before_they_are_written(store: Store) -> None:
    incident = store.open_incident(
        component="web",
        kind="manual",
        failed_at=T0,
        detected_at=T0,
        failure=None,
        reason=f"operator asked; dsn postgresql://app:{SECRET}@db/orders",
        target_rto_s=30,
        target_rpo_s=0,
    )
    store.start_step(incident.id, seq=1, strategy="run", started_at=T0)
    step = store.finish_step(
        incident.id,
        1,
        ended_at=T0,
        status="failed",
        output=f"connecting to postgresql://app:{SECRET}@db/orders",
        error=f"auth failed password={SECRET}",
    )
    assert step.output == "connecting to postgresql://app:***@db/orders"
    assert step.error == "auth failed password=***"
    store.audit(
        actor="alice", action="note", subject="web", detail={"cfg": {"token": f"token={SECRET}"}}
    )
    store.record_check("web", at=T0, ok=False, state="failing", detail=f"password={SECRET}")
    with store.engine.connect() as conn:
        for table in ("incidents", "steps", "audit", "components"):
            dump = repr(conn.execute(text(f"SELECT * FROM {table}")).all())
            assert SECRET not in dump, table
            assert "***" in dump, table
    assert store.verify_audit().ok


# ---------------------------------------------------------------- opening failures


def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StoreError) as exc:
        Store.open(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db")
    assert str(exc.value) == (
        f"cannot reach the state store postgresql://u:***@127.0.0.1:{port}/db: connection refused;"
        " check `state:` in the catalog"
    )


def test_a_missing_postgresql_database_is_named(postgres_server: PostgresServer) -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{postgres_server.port}/nope"
    with pytest.raises(StoreError) as exc:
        Store.open(url)
    assert str(exc.value) == (
        f"cannot reach the state store postgresql://postgres:***@127.0.0.1:{postgres_server.port}"
        '/nope: database "nope" does not exist; check `state:` in the catalog'
    )


def test_an_unwritable_sqlite_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{tmp_path}/blocker/paramedic.db")
    assert str(exc.value) == (
        f"cannot open the state store sqlite:///{tmp_path}/blocker/paramedic.db: cannot create"
        f" folder {tmp_path}/blocker: a file is in the way; check `state:` in the catalog"
    )
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{tmp_path}")
    assert str(exc.value) == (
        f"cannot open the state store sqlite:///{tmp_path}: the database file cannot be opened;"
        " check `state:` in the catalog"
    )


def test_read_only_opening_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{tmp_path}/none/paramedic.db", create=False)
    assert str(exc.value) == (
        f"the state store sqlite:///{tmp_path}/none/paramedic.db does not exist; start the agent"
        " first (paramedic run CATALOG) or pass --state URL or -c CATALOG"
    )
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{tmp_path}/empty.db", create=False)
    assert str(exc.value) == (
        f"the state store sqlite:///{tmp_path}/empty.db holds no paramedic tables; start the"
        " agent first (paramedic run CATALOG) or pass --state URL or -c CATALOG"
    )


def test_an_unsupported_url_is_refused() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open(f"mysql://root:{SECRET}@db/x")
    assert str(exc.value) == (
        "unsupported state store mysql://root:***@db/x: use sqlite:///FILE or postgresql://…;"
        " check `state:` in the catalog"
    )


def test_record_checks_counts_a_batch_in_one_go(store: Store) -> None:
    from paramedic.store.components import CheckTally

    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    store.record_checks(
        [CheckTally("web", checks=5, failures=2, at=at, ok=False, detail="refused: nobody home")]
    )
    store.record_checks([CheckTally("web", checks=1, failures=0, at=at, ok=True, detail="ok")])
    row = store.component("web")
    assert (row.checks_total, row.failures_total, row.last_ok, row.last_detail) == (
        6,
        2,
        True,
        "ok",
    )
    assert row.last_check_at == at
    store.record_checks([])  # nothing to write is fine


def test_paused_components_lists_only_the_paused(store: Store) -> None:
    assert store.paused_components() == []
    store.pause("web", until=None, reason="kernel upgrade", actor="ops")
    assert [r.name for r in store.paused_components()] == ["web"]
    store.resume("web", actor="ops")
    assert store.paused_components() == []


def test_upsert_components_registers_thousands_at_once_and_keeps_what_the_store_owns(
    store: Store,
) -> None:
    from paramedic.store.components import CheckTally, ComponentFacts

    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    store.record_checks([CheckTally("web", checks=3, failures=1, at=at, ok=True, detail="ok")])
    store.pause("web", until=None, reason="kernel upgrade", actor="ops")
    n = 5000
    facts = [
        ComponentFacts(f"c{i:05d}", "cache", "site-b", "standard", "redis", 60.0, 1.0)
        for i in range(n)
    ]
    # ``web`` is known already: its catalog facts change, its counters and pause stay
    facts.append(ComponentFacts("web", "database", "site-c", "critical", "postgres", 300, 60))
    store.upsert_components(facts)
    rows = {row.name: row for row in store.components()}
    assert len(rows) == n + 1
    assert (rows["c00000"].type, rows["c00000"].location, rows["c00000"].rpo_s) == (
        "cache",
        "site-b",
        1.0,
    )
    assert rows[f"c{n - 1:05d}"].provider == "redis"
    web = rows["web"]
    assert (web.type, web.location, web.criticality, web.provider, web.rto_s) == (
        "database",
        "site-c",
        "critical",
        "postgres",
        300.0,
    )
    assert (web.checks_total, web.failures_total, web.paused) == (3, 1, True)
    store.upsert_components([])  # nothing to register is fine


def test_record_transitions_writes_a_batch_in_order_and_ends_in_the_last_state(
    store: Store,
) -> None:
    from paramedic.store.components import ComponentFacts, Transition

    store.upsert_components(
        [ComponentFacts("api", "application_server", "site-a", "standard", "process", 30, 0)]
    )
    paris = timezone(timedelta(hours=1))
    batch = [
        Transition("web", T0.astimezone(paris), "unknown", "healthy", "first check passed"),
        Transition("api", T0, "unknown", "healthy", "first check passed"),
        Transition("web", T0 + timedelta(seconds=3), "healthy", "suspect", "1 of 2 failed"),
        Transition("web", T0 + timedelta(seconds=5), "suspect", "failed", "refused 2 x"),
    ]
    store.record_transitions(batch)
    web, api = store.component("web"), store.component("api")
    assert (web.state, web.state_since) == ("failed", T0 + timedelta(seconds=5))
    assert (api.state, api.state_since) == ("healthy", T0)
    assert [(tr.to_state, tr.at) for tr in store.transitions("web")] == [
        ("failed", T0 + timedelta(seconds=5)),
        ("suspect", T0 + timedelta(seconds=3)),
        ("healthy", T0),
    ]
    assert store.transitions("web")[0].at.tzinfo is UTC
    store.record_transitions([])  # nothing to write is fine
