"""The inspector's verdict of an alert, kept beside its body.

Revision ID: 0002_review
Revises: 0001_alerts
Create Date: 2025-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_review"
down_revision: str | None = "0001_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable JSON column ``alerts.review``."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("review", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop ``alerts.review``."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("review")
