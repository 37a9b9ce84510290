"""Several agents: the host that runs each host-bound component.

Revision ID: 0004_component_host
Revises: 0003_agent_leases
Create Date: 2026-02-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_component_host"
down_revision: str | None = "0003_agent_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``components.host`` (NULL until an agent takes charge of a host-bound component)."""
    op.add_column("components", sa.Column("host", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop ``components.host``."""
    with op.batch_alter_table("components") as batch:
        batch.drop_column("host")
