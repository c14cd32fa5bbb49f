"""Patient list indexes: the name index covers every column the search tests, so walking it in name order needs
no table rows; and a partial index of the archived patients, so the list counts those not archived as all
patients less the archived ones (a short index range) instead of testing every row

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_WALK = ["family_fold", "given_fold", "archived_at", "hospital_number", "nhs_number", "date_of_birth"]


def upgrade() -> None:
    op.drop_index("ix_patient_family_given", table_name="patient")
    op.create_index("ix_patient_family_given", "patient", _WALK, unique=False)
    op.create_index(
        "ix_patient_archived",
        "patient",
        ["archived_at"],
        unique=False,
        sqlite_where=sa.text("archived_at IS NOT NULL"),
        postgresql_where=sa.text("archived_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_patient_archived", table_name="patient")
    op.drop_index("ix_patient_family_given", table_name="patient")
    op.create_index("ix_patient_family_given", "patient", ["family_fold", "given_fold"], unique=False)
