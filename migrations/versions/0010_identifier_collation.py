"""Hospital and NHS numbers compared byte by byte on PostgreSQL (COLLATE "C"), as the name keys already are:
the patient search finds a prefix as a range, which a linguistic collation breaks (an NHS number typed up to
a 9 found nothing on a database created with en_US collation). Nothing changes on SQLite (binary already).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("hospital_number", 32, False), ("nhs_number", 10, True))


def _alter(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, length, nullable in _COLUMNS:
        op.alter_column(
            "patient",
            name,
            existing_type=sa.String(length),
            existing_nullable=nullable,
            type_=sa.String(length, collation=collation),
        )


def upgrade() -> None:
    _alter("C")


def downgrade() -> None:
    _alter("default")
