"""Signed care plan versions: a consultant's sign-off stores the exact PDF printed, with the hash of the
record and the rule-set version it was made from, so it can be reprinted as signed and shown out of date
once the record changes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 07:44:48
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_plan_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signed_by", sa.String(length=32), nullable=False),
        sa.Column("signed_by_name", sa.String(length=200), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("rule_set_version", sa.String(length=32), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint("variant IN ('patient', 'clinician')", name=op.f("ck_care_plan_signature_variant")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_care_plan_signature_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plan_signature")),
    )
    op.create_index(
        "uq_care_plan_signature_patient_variant_version",
        "care_plan_signature",
        ["patient_id", "variant", "version"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_care_plan_signature_patient_variant_version", table_name="care_plan_signature")
    op.drop_table("care_plan_signature")
