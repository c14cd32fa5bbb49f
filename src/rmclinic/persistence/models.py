"""Typed SQLAlchemy 2.0 records. Every editable table has created/updated timestamps and a version."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from . import tables
from .tables import in_list
from .tables import utcnow as _utcnow

# Search keys compare byte-wise on both backends, so a prefix range is served by a plain B-tree.
SearchKey = String(200).with_variant(String(200, collation="C"), "postgresql")
# Identifiers searched by prefix range (``col >= p AND col < bound``) must compare byte by byte: under a
# linguistic collation "RM-05" sorts beside "RM05" and ":" (the bound after "9") before the digits.
HospitalNumber = String(32).with_variant(String(32, collation="C"), "postgresql")
NhsNumber = String(10).with_variant(String(10, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = tables.metadata  # the log-in's tables are declared there, in Core (see ``tables``)


class Tracked:
    """Timestamps and an optimistic-lock counter (SQLAlchemy raises StaleDataError on conflict); ``tables``
    declares the same three columns for its Core tables."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class PatientRec(Tracked, Base):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_number: Mapped[str] = mapped_column(HospitalNumber, unique=True)
    nhs_number: Mapped[str | None] = mapped_column(NhsNumber, unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_fold: Mapped[str] = mapped_column(SearchKey)  # served by ix_patient_family_given
    given_fold: Mapped[str] = mapped_column(SearchKey, index=True)
    date_of_birth: Mapped[dt.date] = mapped_column(Date, index=True)
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    email: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    gp_practice: Mapped[str] = mapped_column(String(200), default="", server_default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    partner: Mapped[PartnerRec | None] = relationship(
        back_populates="patient", lazy="raise", cascade="all, delete-orphan", uselist=False
    )
    pregnancies: Mapped[list[PreviousPregnancyRec]] = relationship(
        back_populates="patient",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="PreviousPregnancyRec.seq",
    )
    risk: Mapped[RiskHistoryRec | None] = relationship(
        back_populates="patient", lazy="raise", cascade="all, delete-orphan", uselist=False
    )
    excisions: Mapped[list[CervicalExcisionRec]] = relationship(
        back_populates="patient",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="CervicalExcisionRec.seq",
    )
    allergies: Mapped[list[DrugAllergyRec]] = relationship(
        back_populates="patient",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="DrugAllergyRec.seq",
    )

    __table_args__ = (
        # The name order, covering every column the search tests: walking it in order to find a page of
        # patients needs no table row (persistence/patient_search.py).
        Index(
            "ix_patient_family_given",
            "family_fold",
            "given_fold",
            "archived_at",
            "hospital_number",
            "nhs_number",
            "date_of_birth",
        ),
        # The few archived patients only (partial), so the list counts the rest as all less these; a full index
        # would tempt SQLite's planner to walk 100,000 "IS NULL" entries for every search.
        Index("ix_patient_archived", "archived_at"),  # partial: see PARTIAL_INDEXES
        # PostgreSQL's default operator class serves prefix LIKE only under C collation; the
        # columns are C-collated there, and the services search by range anyway.
    )


class PartnerRec(Tracked, Base):
    """The partner as a person of their own, so later issues can attach their results."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)

    patient: Mapped[PatientRec] = relationship(back_populates="partner", lazy="raise")


OUTCOMES = (
    "live_birth",
    "biochemical",
    "early_miscarriage",
    "late_miscarriage",
    "stillbirth",
    "ectopic",
    "molar",
    "termination",
)
GENETICS = ("not_sent", "normal", "abnormal_numerical", "unbalanced_structural", "balanced", "failed")


class PreviousPregnancyRec(Tracked, Base):
    __tablename__ = "previous_pregnancy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # entry order, to keep same-year pregnancies stable
    year: Mapped[int] = mapped_column(Integer)
    outcome_date: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(24))
    gestation_days: Mapped[int | None] = mapped_column(Integer)
    fetuses: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    conception: Mapped[str] = mapped_column(String(12), default="spontaneous", server_default="spontaneous")
    preterm_birth: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    tissue_genetics: Mapped[str] = mapped_column(String(24), default="not_sent", server_default="not_sent")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")

    patient: Mapped[PatientRec] = relationship(back_populates="pregnancies", lazy="raise")
    __table_args__ = (
        CheckConstraint(in_list("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(in_list("tissue_genetics", GENETICS), name="tissue_genetics"),
        CheckConstraint(in_list("conception", ("spontaneous", "art")), name="conception"),
        CheckConstraint("fetuses BETWEEN 1 AND 8", name="fetuses"),
        CheckConstraint("gestation_days IS NULL OR gestation_days BETWEEN 0 AND 315", name="gestation"),
    )


class RiskHistoryRec(Tracked, Base):
    __tablename__ = "risk_history"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    previous_cerclage: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cerclage_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    vte_history: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    vte_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    smoking: Mapped[str] = mapped_column(String(12), default="unknown", server_default="unknown")
    alcohol_units_per_week: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    oligo_amenorrhoea: Mapped[bool | None] = mapped_column(Boolean)
    aps_diagnosed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    patient: Mapped[PatientRec] = relationship(back_populates="risk", lazy="raise")
    __table_args__ = (CheckConstraint(in_list("smoking", ("unknown", "never", "former", "current")), name="smoking"),)


class CervicalExcisionRec(Tracked, Base):
    __tablename__ = "cervical_excision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    procedure_date: Mapped[dt.date | None] = mapped_column(Date)
    year: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12), default="lletz", server_default="lletz")
    depth_mm: Mapped[float | None] = mapped_column(Float)

    patient: Mapped[PatientRec] = relationship(back_populates="excisions", lazy="raise")
    __table_args__ = (CheckConstraint(in_list("kind", ("lletz", "cone", "other")), name="kind"),)


class DrugAllergyRec(Tracked, Base):
    __tablename__ = "drug_allergy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    substance: Mapped[str] = mapped_column(String(200))

    patient: Mapped[PatientRec] = relationship(back_populates="allergies", lazy="raise")


# user_account, audit_event, audit_head and app_setting are declared in ``tables`` (Core) and used only
# through it: the log-in path needs no mapped class.


STATUSES = ("requested", "sample_taken", "resulted", "reviewed")
INTERPRETATIONS = ("normal", "abnormal", "positive", "negative", "equivocal", "unknown")


class WorkupItemRec(Tracked, Base):
    """One investigation for a patient, from request to review. The investigation id points into the
    catalogue (resources/investigations.json plus clinic additions), not into a table."""

    __tablename__ = "workup_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # indexed by ix_workup_item_patient_investigation (patient first)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    investigation_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_on: Mapped[dt.date | None] = mapped_column(Date)
    requested_by: Mapped[str] = mapped_column(String(32), default="", server_default="")
    sample_date: Mapped[dt.date | None] = mapped_column(Date)
    value_numeric: Mapped[float | None] = mapped_column(Float)
    value_unit: Mapped[str] = mapped_column(String(20), default="", server_default="")
    value_text: Mapped[str] = mapped_column(String(60), default="", server_default="")
    value_findings: Mapped[str] = mapped_column(Text, default="", server_default="")  # JSON list
    value_method: Mapped[str] = mapped_column(String(60), default="", server_default="")
    lab_low: Mapped[float | None] = mapped_column(Float)
    lab_high: Mapped[float | None] = mapped_column(Float)
    normalised: Mapped[float | None] = mapped_column(Float)
    interpretation: Mapped[str | None] = mapped_column(String(12))
    entered_by: Mapped[str] = mapped_column(String(32), default="", server_default="")
    entered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str] = mapped_column(String(32), default="", server_default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str] = mapped_column(Text, default="", server_default="")

    history: Mapped[list[WorkupHistoryRec]] = relationship(
        back_populates="item", lazy="raise", cascade="all, delete-orphan", order_by="WorkupHistoryRec.id"
    )
    __table_args__ = (
        CheckConstraint(in_list("status", STATUSES), name="status"),
        CheckConstraint(
            "interpretation IS NULL OR " + in_list("interpretation", INTERPRETATIONS), name="interpretation"
        ),
        Index("ix_workup_item_patient_investigation", "patient_id", "investigation_id"),
    )


class WorkupHistoryRec(Base):
    """An earlier result, kept when it was corrected (never changed afterwards)."""

    __tablename__ = "workup_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workup_item.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(Text)  # JSON of the result value as typed
    sample_date: Mapped[dt.date | None] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    item: Mapped[WorkupItemRec] = relationship(back_populates="history", lazy="raise")


class CurrentPregnancyRec(Tracked, Base):
    """A pregnancy under the clinic's care. At most one open (``ended_on`` NULL) per patient; an ended one
    stays (its follow-ups and plans point at it) and links to the obstetric-history entry it became."""

    __tablename__ = "current_pregnancy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    edd: Mapped[dt.date] = mapped_column(Date)  # the EDD in force (the last dating entry), for range queries
    dating: Mapped[str] = mapped_column(Text)  # JSON list of every dating decision, oldest first
    fetuses: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    conception: Mapped[str] = mapped_column(String(16), default="spontaneous", server_default="spontaneous")
    iup_confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    iup_method: Mapped[str | None] = mapped_column(String(24))
    heartbeat_on: Mapped[dt.date | None] = mapped_column(Date)
    bleeding: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(24))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    high_risk_care: Mapped[bool | None] = mapped_column(Boolean)
    cerclage_on: Mapped[dt.date | None] = mapped_column(Date)
    history_pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("previous_pregnancy.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("uq_current_pregnancy_open_patient", "patient_id", unique=True),  # partial: see PARTIAL_INDEXES
        Index("ix_current_pregnancy_ended_edd", "ended_on", "edd"),
    )


class MedicationPlanRec(Tracked, Base):
    """A medication plan. Anchors are stored as entered (date or gestation); ``stop_date`` and the
    steps' ``start_date`` are the resolved calendar dates, refreshed on every save and redating, so the
    worklist finds stops and taper steps with an index range scan."""

    __tablename__ = "medication_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("current_pregnancy.id", ondelete="SET NULL"))
    drug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(20), default="", server_default="")
    route: Mapped[str | None] = mapped_column(String(20))
    dose: Mapped[float] = mapped_column(Float)
    frequency: Mapped[str] = mapped_column(String(20))
    indication: Mapped[str] = mapped_column(String(48))
    start_date: Mapped[dt.date] = mapped_column(Date)
    stop_on_date: Mapped[dt.date | None] = mapped_column(Date)
    stop_gestation: Mapped[int | None] = mapped_column(Integer)
    stop_date: Mapped[dt.date | None] = mapped_column(Date, index=True)  # resolved
    status: Mapped[str] = mapped_column(String(12), index=True)
    stopped_on: Mapped[dt.date | None] = mapped_column(Date)
    stop_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    history: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list of changes

    steps: Mapped[list[MedicationStepRec]] = relationship(
        back_populates="plan", lazy="raise", cascade="all, delete-orphan", order_by="MedicationStepRec.seq"
    )
    __table_args__ = (
        CheckConstraint(in_list("status", ("active", "stopped", "cancelled")), name="status"),
        CheckConstraint("stop_on_date IS NULL OR stop_gestation IS NULL", name="one_stop"),
    )


class MedicationStepRec(Base):
    """One taper step; replaced as a whole with its plan."""

    __tablename__ = "medication_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("medication_plan.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    start_on_date: Mapped[dt.date | None] = mapped_column(Date)
    start_gestation: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[dt.date | None] = mapped_column(Date, index=True)  # resolved
    dose: Mapped[float] = mapped_column(Float)
    frequency: Mapped[str] = mapped_column(String(20))

    plan: Mapped[MedicationPlanRec] = relationship(back_populates="steps", lazy="raise")


class FollowUpRec(Tracked, Base):
    __tablename__ = "follow_up"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("current_pregnancy.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(80), default="", server_default="")
    protocol: Mapped[str] = mapped_column(String(40), default="", server_default="")
    due_date: Mapped[dt.date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(12))
    result_date: Mapped[dt.date | None] = mapped_column(Date)
    swab_result: Mapped[str | None] = mapped_column(String(24))
    organism: Mapped[str] = mapped_column(String(120), default="", server_default="")
    cervical_length_mm: Mapped[float | None] = mapped_column(Float)
    funnelling: Mapped[bool | None] = mapped_column(Boolean)
    result_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    cancel_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    history: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list of changes

    __table_args__ = (
        CheckConstraint(in_list("status", ("due", "done", "missed", "cancelled")), name="status"),
        CheckConstraint(in_list("kind", ("swab", "cervical_length_scan", "blood_test", "appointment")), name="kind"),
        Index("ix_follow_up_status_due_date", "status", "due_date"),
    )


class AlertEventRec(Base):
    """Append-only history of an alert: fired, acknowledged, overridden, snoozed, ended. An alert's status is
    derived from its latest event for the same patient, rule, rule version and episode."""

    __tablename__ = "alert_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(16))
    rule_version: Mapped[int] = mapped_column(Integer)
    episode: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32), default="", server_default="")
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    until: Mapped[dt.date | None] = mapped_column(Date)
    username: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(in_list("kind", ("fired", "acknowledged", "overridden", "snoozed", "ended")), name="kind"),
        Index("ix_alert_event_patient_rule", "patient_id", "rule_id", "episode"),
        Index("ix_alert_event_rule_kind", "rule_id", "kind"),
    )


class AlertStateRec(Base):
    """The alerts each patient has now, as of their last evaluation: what the worklist lists across the clinic
    without evaluating every rule for every patient. A patient's rows are replaced whole when an evaluation
    finds them changed; ``evaluated_at`` is the evaluation that last changed them."""

    __tablename__ = "alert_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(16))
    episode: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(8))
    audience: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    until: Mapped[dt.date | None] = mapped_column(Date)
    since: Mapped[dt.date] = mapped_column(Date)
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_alert_state_patient_rule_episode", "patient_id", "rule_id", "episode", unique=True),
        Index("ix_alert_state_status_severity", "status", "severity"),
        Index("ix_alert_state_severity_since", "severity", "since"),  # the worklist's alerts (migration 0011)
    )


class CarePlanSignatureRec(Base):
    """A consultant's sign-off of one care plan version: the exact PDF bytes printed, never changed, so the
    version can be reprinted as signed. Append-only; a new sign-off is a new version."""

    __tablename__ = "care_plan_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    signed_by: Mapped[str] = mapped_column(String(32))
    signed_by_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    record_hash: Mapped[str] = mapped_column(String(64))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # What else the printout shows (clinic details, alert responses, rule settings), and the first date in it
    # that will pass: either changing makes the signed version out of date.
    inputs_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    valid_until: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint(in_list("variant", ("patient", "clinician")), name="variant"),
        Index("uq_care_plan_signature_patient_variant_version", "patient_id", "variant", "version", unique=True),
    )


class VisitRec(Tracked, Base):
    """A clinic visit: booked, then attended (with notes under simple headings), cancelled or missed."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    clinician: Mapped[str] = mapped_column(String(200), default="", server_default="")
    patient_attended: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    partner_attended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    history: Mapped[str] = mapped_column(Text, default="", server_default="")
    findings: Mapped[str] = mapped_column(Text, default="", server_default="")
    discussion: Mapped[str] = mapped_column(Text, default="", server_default="")
    plan: Mapped[str] = mapped_column(Text, default="", server_default="")
    next_visit: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint(in_list("kind", ("first", "follow_up", "early_pregnancy", "scan", "telephone")), name="kind"),
        CheckConstraint(in_list("status", ("booked", "attended", "cancelled", "did_not_attend")), name="status"),
        Index("ix_visit_patient_date", "patient_id", "visit_date"),
        Index("ix_visit_status_date", "status", "visit_date"),  # the worklist's patients booked for a day
    )


class LetterRec(Tracked, Base):
    """A letter to the GP about a visit. A signed letter keeps its PDF and never changes (the service refuses
    edits); a correction is a new row that names the one it corrects."""

    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    letter_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text, default="", server_default="")
    copy_to_patient: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("letter.id"))
    created_by: Mapped[str] = mapped_column(String(32))
    signed_by: Mapped[str] = mapped_column(String(32), default="", server_default="")
    signed_by_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        CheckConstraint(in_list("status", ("draft", "signed")), name="status"),
        Index("uq_letter_visit_version", "visit_id", "letter_version", unique=True),
        Index("ix_letter_patient", "patient_id"),
    )


def table_of(model: type[Base]) -> Table:
    """The Core table behind a record class: bulk inserts through it run as one executemany."""
    return cast(Table, model.__table__)


# Partial indexes (created by the migrations). Their condition is a dialect option, and naming an option of a
# dialect imports that dialect (PostgreSQL's costs ~60 ms of every start on SQLite); so the condition is added
# for the dialect in use, when a unit of work factory (or Alembic) first meets it.
PARTIAL_INDEXES = {
    "uq_current_pregnancy_open_patient": "ended_on IS NULL",
    "ix_patient_archived": "archived_at IS NOT NULL",
}


def add_partial_index_conditions(dialect_name: str) -> None:
    if dialect_name not in ("sqlite", "postgresql"):
        return
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            where = PARTIAL_INDEXES.get(str(index.name))
            if where is not None and index.dialect_options[dialect_name]["where"] is None:
                index.dialect_options[dialect_name]["where"] = text(where)


tables.on_dialect(add_partial_index_conditions)
