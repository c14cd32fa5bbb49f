"""The worklist's alerts by severity and date: every critical alert, and the warnings that fired in the days
shown, are two ranges of (severity, since). Without it PostgreSQL scanned every current alert of the clinic
(230,000 rows on 100,000 patients, ~40 ms of each worklist) to find a few hundred.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alert_state_severity_since", "alert_state", ["severity", "since"])


def downgrade() -> None:
    op.drop_index("ix_alert_state_severity_since", table_name="alert_state")
