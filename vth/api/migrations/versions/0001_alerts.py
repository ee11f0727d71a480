"""The alerts table as it was first shipped.

Revision ID: 0001_alerts
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_alerts"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``alerts``: the searchable fields as columns, the whole alert in ``body``."""
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("mba_id", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=True),
        sa.Column("sensor_id", sa.String(), nullable=True),
        sa.Column("detector", sa.String(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("substance", sa.String(), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("limit", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_alerts_mba_id_start", "alerts", ["mba_id", "start"])
    op.create_index("ix_alerts_kind", "alerts", ["kind"])


def downgrade() -> None:
    """Drop ``alerts``."""
    op.drop_index("ix_alerts_kind", table_name="alerts")
    op.drop_index("ix_alerts_mba_id_start", table_name="alerts")
    op.drop_table("alerts")
