"""Several agents on one PostgreSQL: agent leases, checks per agent, the agent running a recovery.

Revision ID: 0003_agent_leases
Revises: 0002_circuit_reset
Create Date: 2026-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paramedic.store.types import UTCDateTime

revision: str = "0003_agent_leases"
down_revision: str | None = "0002_circuit_reset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

N = 200


def upgrade() -> None:
    """Create ``agent_leases`` and ``agent_checks``; add ``incidents.agent``."""
    op.create_table(
        "agent_leases",
        sa.Column("name", sa.String(N), nullable=False),
        sa.Column("host", sa.String(N), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("run_start", UTCDateTime(), nullable=False),
        sa.Column("executor_id", sa.String(N), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("catalog", sa.Text(), nullable=False),
        sa.Column("renewed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_agent_leases"),
    )
    op.create_table(
        "agent_checks",
        sa.Column("agent", sa.String(N), nullable=False),
        sa.Column("component", sa.String(N), nullable=False),
        sa.Column("checks", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agent", "component", name="pk_agent_checks"),
    )
    # A plain ADD COLUMN (SQLite has it too): a batch copy of incidents would have to rebuild
    # its partial unique index (one open incident per component).
    op.add_column("incidents", sa.Column("agent", sa.String(N), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("agent")
    op.drop_table("agent_checks")
    op.drop_table("agent_leases")
