"""Components remember when an operator last closed their circuit (``paramedic reset``).

Revision ID: 0002_circuit_reset
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paramedic.store.types import UTCDateTime

revision: str = "0002_circuit_reset"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``components.circuit_reset_at``: recoveries before it no longer count against the budget."""
    with op.batch_alter_table("components") as batch:
        batch.add_column(sa.Column("circuit_reset_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop ``components.circuit_reset_at``."""
    with op.batch_alter_table("components") as batch:
        batch.drop_column("circuit_reset_at")
