"""Alert events (the append-only history of every alert: fired, acknowledged, overridden, snoozed, ended) and
alert state (each patient's current alerts as of their last evaluation, for the worklist)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:55:29.217286
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=16), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), server_default="", nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('fired', 'acknowledged', 'overridden', 'snoozed', 'ended')", name=op.f("ck_alert_event_kind")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_alert_event_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_event")),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index("ix_alert_event_patient_rule", ["patient_id", "rule_id", "episode"], unique=False)
        batch_op.create_index("ix_alert_event_rule_kind", ["rule_id", "kind"], unique=False)

    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=16), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("audience", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_alert_state_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_state")),
    )
    with op.batch_alter_table("alert_state", schema=None) as batch_op:
        batch_op.create_index("ix_alert_state_status_severity", ["status", "severity"], unique=False)
        batch_op.create_index("uq_alert_state_patient_rule_episode", ["patient_id", "rule_id", "episode"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("alert_state", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_state_patient_rule_episode")
        batch_op.drop_index("ix_alert_state_status_severity")

    op.drop_table("alert_state")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_event_rule_kind")
        batch_op.drop_index("ix_alert_event_patient_rule")

    op.drop_table("alert_event")
