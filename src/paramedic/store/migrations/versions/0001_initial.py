"""The first schema: components, transitions, incidents, steps, approvals, recovery points,
drills, notifications and the hash-chained audit log.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paramedic.store.types import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

N = 200
OPEN = "state IN ('open', 'recovering', 'awaiting_approval', 'blocked')"


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "components",
        sa.Column("name", sa.String(N), nullable=False),
        sa.Column("type", sa.String(N), nullable=False),
        sa.Column("location", sa.String(N), nullable=False),
        sa.Column("criticality", sa.String(N), nullable=False),
        sa.Column("provider", sa.String(N), nullable=False),
        sa.Column("rto_s", sa.Float(), nullable=False),
        sa.Column("rpo_s", sa.Float(), nullable=False),
        sa.Column("state", sa.String(N), nullable=False, server_default="unknown"),
        sa.Column("state_since", UTCDateTime(), nullable=True),
        sa.Column("checks_total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("failures_total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_check_at", UTCDateTime(), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("paused_until", UTCDateTime(), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("paused_by", sa.String(N), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_components"),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("component", sa.String(N), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("from_state", sa.String(N), nullable=False),
        sa.Column("to_state", sa.String(N), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component"], ["components.name"], name="fk_transitions_component_components"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
    )
    op.create_index("ix_transitions_component_at", "transitions", ["component", "at"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(N), nullable=False),
        sa.Column("component", sa.String(N), nullable=False),
        sa.Column("kind", sa.String(N), nullable=False),
        sa.Column("state", sa.String(N), nullable=False),
        sa.Column("failure", sa.String(N), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("recovered_at", UTCDateTime(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(), nullable=True),
        sa.Column("blocked_by", sa.String(N), nullable=True),
        sa.Column("strategy", sa.String(N), nullable=True),
        sa.Column("measured_rto_s", sa.Float(), nullable=True),
        sa.Column("measured_rpo_s", sa.Float(), nullable=True),
        sa.Column("recovery_point_at", UTCDateTime(), nullable=True),
        sa.Column("target_rto_s", sa.Float(), nullable=False),
        sa.Column("target_rpo_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component"], ["components.name"], name="fk_incidents_component_components"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_component_detected_at", "incidents", ["component", "detected_at"])
    op.create_index(
        "uq_incidents_one_open",
        "incidents",
        ["component"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(N), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(N), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(N), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_steps_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
        sa.UniqueConstraint("incident_id", "seq", name="uq_steps_incident_id_seq"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(N), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(N), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("state", sa.String(N), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(N), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_approvals_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.UniqueConstraint("incident_id", "seq", name="uq_approvals_incident_id_seq"),
    )
    op.create_table(
        "recovery_points",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("component", sa.String(N), nullable=False),
        sa.Column("engine", sa.String(N), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(N), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("verified_ok", sa.Boolean(), nullable=True),
        sa.Column("verify_detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component"], ["components.name"], name="fk_recovery_points_component_components"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_points"),
    )
    op.create_index(
        "ix_recovery_points_component_taken_at", "recovery_points", ["component", "taken_at"]
    )
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("component", sa.String(N), nullable=False),
        sa.Column("fault", sa.String(N), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("incident_id", sa.String(N), nullable=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(N), nullable=False),
        sa.Column("measured_rto_s", sa.Float(), nullable=True),
        sa.Column("measured_rpo_s", sa.Float(), nullable=True),
        sa.Column("target_rto_s", sa.Float(), nullable=False),
        sa.Column("target_rpo_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component"], ["components.name"], name="fk_drills_component_components"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_drills_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_drills"),
    )
    op.create_index("ix_drills_component_started_at", "drills", ["component", "started_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(N), nullable=True),
        sa.Column("route", sa.String(N), nullable=False),
        sa.Column("event", sa.String(N), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(N), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_notifications_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_incident_id", "notifications", ["incident_id"])
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(N), nullable=False),
        sa.Column("action", sa.String(N), nullable=False),
        sa.Column("subject", sa.String(N), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
        sa.UniqueConstraint("hash", name="uq_audit_hash"),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    assert head is not None
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "audit_head",
        "audit",
        "notifications",
        "drills",
        "recovery_points",
        "approvals",
        "steps",
        "incidents",
        "transitions",
        "components",
    ):
        op.drop_table(table)
