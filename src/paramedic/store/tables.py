"""The state store's tables (SQLAlchemy Core), one per record kind.

Column names equal the fields of the row dataclasses in ``rows.py``, so a
database row becomes a typed row with ``Row(**mapping)``. The migration in
``migrations/versions`` creates exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from paramedic.store.types import UTCDateTime

OPEN_STATES = ("open", "recovering", "awaiting_approval", "blocked")
"""Incident states that still hold the component's one recovery slot."""

OPEN_STATES_SQL = "state IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATES))

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

NAME = 200
"""Room for component names, strategies, states and other short words."""

components = Table(
    "components",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("type", String(NAME), nullable=False),
    Column("location", String(NAME), nullable=False),
    Column("criticality", String(NAME), nullable=False),
    Column("provider", String(NAME), nullable=False),
    Column("rto_s", Float, nullable=False),
    Column("rpo_s", Float, nullable=False),
    Column("state", String(NAME), nullable=False, server_default="unknown"),
    Column("state_since", UTCDateTime, nullable=True),
    Column("checks_total", BigInteger, nullable=False, server_default="0"),
    Column("failures_total", BigInteger, nullable=False, server_default="0"),
    Column("last_check_at", UTCDateTime, nullable=True),
    Column("last_ok", Boolean, nullable=True),
    Column("last_detail", Text, nullable=False, server_default=""),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("paused_by", String(NAME), nullable=True),
    # When an operator last closed the circuit (`paramedic reset`): recoveries and flapping
    # before it no longer count. Migration 0002_circuit_reset.
    Column("circuit_reset_at", UTCDateTime, nullable=True),
    # The host whose agent last took charge of a host-bound component (several agents keep
    # it there while one of that host lives). Migration 0004_component_host.
    Column("host", String(NAME), nullable=True),
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("component", String(NAME), ForeignKey("components.name"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_state", String(NAME), nullable=False),
    Column("to_state", String(NAME), nullable=False),
    Column("reason", Text, nullable=False),
    Index(None, "component", "at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(NAME), primary_key=True),
    Column("component", String(NAME), ForeignKey("components.name"), nullable=False),
    Column("kind", String(NAME), nullable=False),
    Column("state", String(NAME), nullable=False),
    Column("failure", String(NAME), nullable=True),
    Column("reason", Text, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("recovered_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("blocked_by", String(NAME), nullable=True),
    Column("strategy", String(NAME), nullable=True),
    Column("measured_rto_s", Float, nullable=True),
    Column("measured_rpo_s", Float, nullable=True),
    Column("recovery_point_at", UTCDateTime, nullable=True),
    Column("target_rto_s", Float, nullable=False),
    Column("target_rpo_s", Float, nullable=False),
    # The agent running the recovery (several agents): it keeps the component until it closes.
    Column("agent", String(NAME), nullable=True),
    Index(None, "component", "detected_at"),
    # One recovery at a time: at most one open incident per component, held by the database.
    Index(
        "uq_incidents_one_open",
        "component",
        unique=True,
        sqlite_where=text(OPEN_STATES_SQL),
        postgresql_where=text(OPEN_STATES_SQL),
    ),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(NAME), ForeignKey("incidents.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("strategy", String(NAME), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("status", String(NAME), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("output", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("duration_s", Float, nullable=True),
    UniqueConstraint("incident_id", "seq"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(NAME), ForeignKey("incidents.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("strategy", String(NAME), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),
    Column("state", String(NAME), nullable=False),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decided_by", String(NAME), nullable=True),
    UniqueConstraint("incident_id", "seq"),
)

recovery_points = Table(
    "recovery_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("component", String(NAME), ForeignKey("components.name"), nullable=False),
    Column("engine", String(NAME), nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("location", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=True),
    Column("checksum", String(NAME), nullable=True),
    Column("detail", JSON, nullable=False),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("verified_ok", Boolean, nullable=True),
    Column("verify_detail", Text, nullable=False),
    Index(None, "component", "taken_at"),
)

drills = Table(
    "drills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("component", String(NAME), ForeignKey("components.name"), nullable=False),
    Column("fault", String(NAME), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("incident_id", String(NAME), ForeignKey("incidents.id"), nullable=True),
    Column("phases", JSON, nullable=False),
    Column("verdict", String(NAME), nullable=False),
    Column("measured_rto_s", Float, nullable=True),
    Column("measured_rpo_s", Float, nullable=True),
    Column("target_rto_s", Float, nullable=False),
    Column("target_rpo_s", Float, nullable=False),
    Index(None, "component", "started_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(NAME), ForeignKey("incidents.id"), nullable=True),
    Column("route", String(NAME), nullable=False),
    Column("event", String(NAME), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status", String(NAME), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Index(None, "incident_id"),
)

audit = Table(
    "audit",
    metadata,
    # Not autoincrement: the next seq is head + 1 inside the serialized append, so a gap
    # always means a deleted row, never a rolled-back sequence value.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(NAME), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    # One row (id 1): the seq and hash of the newest audit row, so a truncated tail shows.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

agent_leases = Table(
    "agent_leases",
    metadata,
    # One row per agent name (host:run dir), kept across its restarts; renewed_at is written
    # with the database's clock so that the agents' own clocks never matter.
    Column("name", String(NAME), primary_key=True),
    Column("host", String(NAME), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("run_start", UTCDateTime, nullable=False),
    Column("executor_id", String(NAME), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("catalog", Text, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
)

agent_checks = Table(
    "agent_checks",
    metadata,
    # How many checks each agent ran per component: proof that one agent checks each one.
    Column("agent", String(NAME), primary_key=True),
    Column("component", String(NAME), primary_key=True),
    Column("checks", BigInteger, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
)
