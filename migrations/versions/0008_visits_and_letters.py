"""Clinic visits (booked, attended, cancelled or missed, with notes under headings and the next visit) and
letters to the GP (drafts, and signed versions that keep their PDF; a correction names the letter it corrects)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:26:11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("clinician", sa.String(length=200), server_default="", nullable=False),
        sa.Column("patient_attended", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("partner_attended", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("history", sa.Text(), server_default="", nullable=False),
        sa.Column("findings", sa.Text(), server_default="", nullable=False),
        sa.Column("discussion", sa.Text(), server_default="", nullable=False),
        sa.Column("plan", sa.Text(), server_default="", nullable=False),
        sa.Column("next_visit", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('first', 'follow_up', 'early_pregnancy', 'scan', 'telephone')", name=op.f("ck_visit_kind")
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'attended', 'cancelled', 'did_not_attend')", name=op.f("ck_visit_status")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_visit_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    op.create_index("ix_visit_patient_date", "visit", ["patient_id", "visit_date"], unique=False)
    op.create_index("ix_visit_status_date", "visit", ["status", "visit_date"], unique=False)

    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("letter_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), server_default="", nullable=False),
        sa.Column("copy_to_patient", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("signed_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("signed_by_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), server_default="", nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f("ck_letter_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_letter_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["supersedes_id"], ["letter.id"], name=op.f("fk_letter_supersedes_id_letter")),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_letter_visit_id_visit"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter")),
    )
    op.create_index("ix_letter_patient", "letter", ["patient_id"], unique=False)
    op.create_index("uq_letter_visit_version", "letter", ["visit_id", "letter_version"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_letter_visit_version", table_name="letter")
    op.drop_index("ix_letter_patient", table_name="letter")
    op.drop_table("letter")
    op.drop_index("ix_visit_status_date", table_name="visit")
    op.drop_index("ix_visit_patient_date", table_name="visit")
    op.drop_table("visit")
