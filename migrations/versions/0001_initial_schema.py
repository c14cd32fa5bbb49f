"""initial schema: patients, partners, obstetric and risk history

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 02:21:50.135204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_number", sa.String(length=32), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=True),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column(
            "family_fold",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "given_fold",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=40), server_default="", nullable=False),
        sa.Column("email", sa.String(length=200), server_default="", nullable=False),
        sa.Column("address", sa.Text(), server_default="", nullable=False),
        sa.Column("gp_practice", sa.String(length=200), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("hospital_number", name=op.f("uq_patient_hospital_number")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_patient_nhs_number")),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_date_of_birth"), ["date_of_birth"], unique=False)
        batch_op.create_index("ix_patient_family_given", ["family_fold", "given_fold"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_given_fold"), ["given_fold"], unique=False)

    op.create_table(
        "cervical_excision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("procedure_date", sa.Date(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), server_default="lletz", nullable=False),
        sa.Column("depth_mm", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("kind IN ('lletz', 'cone', 'other')", name=op.f("ck_cervical_excision_kind")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_cervical_excision_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cervical_excision")),
    )
    with op.batch_alter_table("cervical_excision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cervical_excision_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "drug_allergy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("substance", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_drug_allergy_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_allergy")),
    )
    with op.batch_alter_table("drug_allergy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drug_allergy_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_partner_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_partner_patient_id")),
    )
    op.create_table(
        "previous_pregnancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("outcome_date", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("gestation_days", sa.Integer(), nullable=True),
        sa.Column("fetuses", sa.Integer(), server_default="1", nullable=False),
        sa.Column("conception", sa.String(length=12), server_default="spontaneous", nullable=False),
        sa.Column("preterm_birth", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("tissue_genetics", sa.String(length=24), server_default="not_sent", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("conception IN ('spontaneous', 'art')", name=op.f("ck_previous_pregnancy_conception")),
        sa.CheckConstraint(
            "outcome IN ('live_birth', 'biochemical', 'early_miscarriage', 'late_miscarriage', 'stillbirth', 'ectopic', 'molar', 'termination')",
            name=op.f("ck_previous_pregnancy_outcome"),
        ),
        sa.CheckConstraint(
            "tissue_genetics IN ('not_sent', 'normal', 'abnormal_numerical', 'unbalanced_structural', 'balanced', 'failed')",
            name=op.f("ck_previous_pregnancy_tissue_genetics"),
        ),
        sa.CheckConstraint("fetuses BETWEEN 1 AND 8", name=op.f("ck_previous_pregnancy_fetuses")),
        sa.CheckConstraint(
            "gestation_days IS NULL OR gestation_days BETWEEN 0 AND 315", name=op.f("ck_previous_pregnancy_gestation")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_previous_pregnancy_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_previous_pregnancy")),
    )
    with op.batch_alter_table("previous_pregnancy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_previous_pregnancy_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "risk_history",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("previous_cerclage", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cerclage_notes", sa.Text(), server_default="", nullable=False),
        sa.Column("vte_history", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("vte_notes", sa.Text(), server_default="", nullable=False),
        sa.Column("smoking", sa.String(length=12), server_default="unknown", nullable=False),
        sa.Column("alcohol_units_per_week", sa.Float(), nullable=True),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "smoking IN ('unknown', 'never', 'former', 'current')", name=op.f("ck_risk_history_smoking")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_risk_history_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_risk_history")),
    )


def downgrade() -> None:
    op.drop_table("risk_history")
    with op.batch_alter_table("previous_pregnancy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_previous_pregnancy_patient_id"))

    op.drop_table("previous_pregnancy")
    op.drop_table("partner")
    with op.batch_alter_table("drug_allergy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drug_allergy_patient_id"))

    op.drop_table("drug_allergy")
    with op.batch_alter_table("cervical_excision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cervical_excision_patient_id"))

    op.drop_table("cervical_excision")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_given_fold"))
        batch_op.drop_index("ix_patient_family_given")
        batch_op.drop_index(batch_op.f("ix_patient_date_of_birth"))

    op.drop_table("patient")
