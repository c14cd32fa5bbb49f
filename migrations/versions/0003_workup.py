"""workup items and result history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:12:13.855217
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workup_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("investigation_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=True),
        sa.Column("requested_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=True),
        sa.Column("value_numeric", sa.Float(), nullable=True),
        sa.Column("value_unit", sa.String(length=20), server_default="", nullable=False),
        sa.Column("value_text", sa.String(length=60), server_default="", nullable=False),
        sa.Column("value_findings", sa.Text(), server_default="", nullable=False),
        sa.Column("value_method", sa.String(length=60), server_default="", nullable=False),
        sa.Column("lab_low", sa.Float(), nullable=True),
        sa.Column("lab_high", sa.Float(), nullable=True),
        sa.Column("normalised", sa.Float(), nullable=True),
        sa.Column("interpretation", sa.String(length=12), nullable=True),
        sa.Column("entered_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=32), server_default="", nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "interpretation IS NULL OR interpretation IN ('normal', 'abnormal', 'positive', 'negative', 'equivocal', 'unknown')",
            name=op.f("ck_workup_item_interpretation"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'sample_taken', 'resulted', 'reviewed')", name=op.f("ck_workup_item_status")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_workup_item_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workup_item")),
    )
    with op.batch_alter_table("workup_item", schema=None) as batch_op:
        batch_op.create_index("ix_workup_item_patient_investigation", ["patient_id", "investigation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workup_item_status"), ["status"], unique=False)

    op.create_table(
        "workup_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=True),
        sa.Column("entered_by", sa.String(length=32), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["workup_item.id"], name=op.f("fk_workup_history_item_id_workup_item"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workup_history")),
    )
    with op.batch_alter_table("workup_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workup_history_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workup_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workup_history_item_id"))

    op.drop_table("workup_history")
    with op.batch_alter_table("workup_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workup_item_status"))
        batch_op.drop_index("ix_workup_item_patient_investigation")

    op.drop_table("workup_item")
