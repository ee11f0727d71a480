"""An index for the LHSO history count: an MBA's closed alerts by start.

Every stored alert counts the MBA's confirmed violations of the last ``history_days``
(LHSO behaviour rules). With only ``(mba_id, start)`` that count read every alert of the
MBA in the period; ``(mba_id, status, start)`` reads only the closed ones.

Revision ID: 0004_lhso_history_index
Revises: 0003_workflow
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_lhso_history_index"
down_revision: str | None = "0003_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``ix_alerts_mba_id_status_start``."""
    op.create_index("ix_alerts_mba_id_status_start", "alerts", ["mba_id", "status", "start"])


def downgrade() -> None:
    """Drop ``ix_alerts_mba_id_status_start``."""
    op.drop_index("ix_alerts_mba_id_status_start", table_name="alerts")
