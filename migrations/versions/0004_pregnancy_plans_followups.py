"""Current pregnancy (dating history), medication plans with taper steps, follow-ups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:24:14.791079
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "current_pregnancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("edd", sa.Date(), nullable=False),
        sa.Column("dating", sa.Text(), nullable=False),
        sa.Column("fetuses", sa.Integer(), server_default="1", nullable=False),
        sa.Column("conception", sa.String(length=16), server_default="spontaneous", nullable=False),
        sa.Column("iup_confirmed_on", sa.Date(), nullable=True),
        sa.Column("iup_method", sa.String(length=24), nullable=True),
        sa.Column("heartbeat_on", sa.Date(), nullable=True),
        sa.Column("bleeding", sa.Text(), server_default="[]", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("sensitive", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("history_pregnancy_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["history_pregnancy_id"],
            ["previous_pregnancy.id"],
            name=op.f("fk_current_pregnancy_history_pregnancy_id_previous_pregnancy"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_current_pregnancy_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_current_pregnancy")),
    )
    with op.batch_alter_table("current_pregnancy", schema=None) as batch_op:
        batch_op.create_index("ix_current_pregnancy_ended_edd", ["ended_on", "edd"], unique=False)
        batch_op.create_index(batch_op.f("ix_current_pregnancy_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_current_pregnancy_open_patient",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )

    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("pregnancy_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=80), server_default="", nullable=False),
        sa.Column("protocol", sa.String(length=40), server_default="", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("result_date", sa.Date(), nullable=True),
        sa.Column("swab_result", sa.String(length=24), nullable=True),
        sa.Column("organism", sa.String(length=120), server_default="", nullable=False),
        sa.Column("cervical_length_mm", sa.Float(), nullable=True),
        sa.Column("funnelling", sa.Boolean(), nullable=True),
        sa.Column("result_notes", sa.Text(), server_default="", nullable=False),
        sa.Column("cancel_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("history", sa.Text(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('swab', 'cervical_length_scan', 'blood_test', 'appointment')", name=op.f("ck_follow_up_kind")
        ),
        sa.CheckConstraint("status IN ('due', 'done', 'missed', 'cancelled')", name=op.f("ck_follow_up_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_follow_up_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["current_pregnancy.id"],
            name=op.f("fk_follow_up_pregnancy_id_current_pregnancy"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_up_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_follow_up_status_due_date", ["status", "due_date"], unique=False)

    op.create_table(
        "medication_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("pregnancy_id", sa.Integer(), nullable=True),
        sa.Column("drug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), server_default="", nullable=False),
        sa.Column("unit", sa.String(length=20), server_default="", nullable=False),
        sa.Column("route", sa.String(length=20), nullable=True),
        sa.Column("dose", sa.Float(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("indication", sa.String(length=48), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("stop_on_date", sa.Date(), nullable=True),
        sa.Column("stop_gestation", sa.Integer(), nullable=True),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("stop_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("history", sa.Text(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("status IN ('active', 'stopped', 'cancelled')", name=op.f("ck_medication_plan_status")),
        sa.CheckConstraint("stop_on_date IS NULL OR stop_gestation IS NULL", name=op.f("ck_medication_plan_one_stop")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_medication_plan_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["current_pregnancy.id"],
            name=op.f("fk_medication_plan_pregnancy_id_current_pregnancy"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_plan")),
    )
    with op.batch_alter_table("medication_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medication_plan_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_medication_plan_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_medication_plan_stop_date"), ["stop_date"], unique=False)

    op.create_table(
        "medication_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_on_date", sa.Date(), nullable=True),
        sa.Column("start_gestation", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("dose", sa.Float(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["medication_plan.id"],
            name=op.f("fk_medication_step_plan_id_medication_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_step")),
    )
    with op.batch_alter_table("medication_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medication_step_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_medication_step_start_date"), ["start_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("medication_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medication_step_start_date"))
        batch_op.drop_index(batch_op.f("ix_medication_step_plan_id"))

    op.drop_table("medication_step")
    with op.batch_alter_table("medication_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medication_plan_stop_date"))
        batch_op.drop_index(batch_op.f("ix_medication_plan_status"))
        batch_op.drop_index(batch_op.f("ix_medication_plan_patient_id"))

    op.drop_table("medication_plan")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_status_due_date")
        batch_op.drop_index(batch_op.f("ix_follow_up_patient_id"))

    op.drop_table("follow_up")
    with op.batch_alter_table("current_pregnancy", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_current_pregnancy_open_patient",
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_current_pregnancy_patient_id"))
        batch_op.drop_index("ix_current_pregnancy_ended_edd")

    op.drop_table("current_pregnancy")
