"""Data the alert rules need: infrequent or absent periods (R17) and an antiphospholipid syndrome diagnosed
elsewhere (R8) in the risk history; whether the current pregnancy is booked in a high-risk or preconception
clinic (R42) and the date of a cerclage placed in it (R33)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:32:57
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN (SQLite >= 3.35 has both): a batch rebuild of current_pregnancy would have to carry
# its partial unique index (one open pregnancy per patient) through reflection, which is not worth the risk.
def upgrade() -> None:
    op.add_column("current_pregnancy", sa.Column("high_risk_care", sa.Boolean(), nullable=True))
    op.add_column("current_pregnancy", sa.Column("cerclage_on", sa.Date(), nullable=True))
    op.add_column("risk_history", sa.Column("oligo_amenorrhoea", sa.Boolean(), nullable=True))
    op.add_column("risk_history", sa.Column("aps_diagnosed", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("risk_history", "aps_diagnosed")
    op.drop_column("risk_history", "oligo_amenorrhoea")
    op.drop_column("current_pregnancy", "cerclage_on")
    op.drop_column("current_pregnancy", "high_risk_care")
