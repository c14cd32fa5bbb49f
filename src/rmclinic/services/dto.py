"""Plain, frozen data objects returned by services (never ORM instances)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..domain.accounts import Role
from ..domain.obstetric import ObstetricSummary, PreviousPregnancy, summarise
from ..domain.patient import PatientData
from ..domain.workup import WorkupItem


@dataclass(frozen=True)
class PregnancyRecord:
    id: int
    version: int
    data: PreviousPregnancy


@dataclass(frozen=True)
class PatientRecord:
    """A patient as stored: identity, lock version, archive state and the full clinical data."""

    id: int
    version: int
    archived: bool
    data: PatientData
    pregnancy_records: tuple[PregnancyRecord, ...] = ()
    risk_version: int = 0

    @property
    def summary(self) -> ObstetricSummary:
        return summarise(self.data.pregnancies)


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list."""

    id: int
    hospital_number: str
    nhs_number: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    archived: bool


@dataclass(frozen=True)
class PatientPage:
    rows: tuple[PatientRow, ...]
    total: int
    offset: int
    total_at_least: bool = False  # more match than were counted: ``total`` is a lower bound


SORT_KEYS = ("name", "hospital_number", "nhs_number", "date_of_birth")


@dataclass(frozen=True)
class PatientQuery:
    text: str = ""
    sort: str = "name"
    descending: bool = False
    include_archived: bool = False


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    version: int
    failed_logins: int = 0
    locked_until: dt.datetime | None = None
    last_login_at: dt.datetime | None = None


AUDIT_SORT_KEYS = ("seq", "at", "username", "action", "patient_id")


@dataclass(frozen=True)
class AuditFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    username: str = ""
    patient_id: int | None = None
    action: str = ""
    sort: str = "seq"
    descending: bool = True


@dataclass(frozen=True)
class BackupInfo:
    path: str
    integrity_ok: bool
    revision: str | None
    admin_hashes: dict[str, str]
    patients: int


@dataclass(frozen=True)
class ReviewRow:
    """One line of the consultants' "Results to review" queue."""

    patient_id: int
    hospital_number: str
    family_name: str
    given_name: str
    item: WorkupItem


@dataclass(frozen=True)
class WorklistRow:
    """A raw worklist hit from persistence: what is due, for whom, and the record it points at."""

    type: str  # a follow-up kind, "medication_stop", "taper_step", "milestone" or "result_review"
    patient_id: int
    hospital_number: str
    family_name: str
    given_name: str
    due_date: dt.date
    edd: dt.date | None  # of the pregnancy the item belongs to, for the gestation on the due date
    ref_kind: str  # "follow_up", "plan", "pregnancy" or "workup_item"
    ref_id: int
    ref_version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class AlertStateRow:
    """One current alert of a patient, as stored for the worklist."""

    patient_id: int
    rule_id: str
    episode: str
    rule_version: int
    severity: str
    audience: str
    title: str
    status: str
    until: dt.date | None
    since: dt.date


@dataclass(frozen=True)
class SignatureInfo:
    """A consultant's sign-off of one care plan version."""

    id: int
    patient_id: int
    variant: str
    version: int  # 1, 2, ... per patient and variant
    signed_by: str  # username
    signed_by_name: str
    signed_at: dt.datetime
    record_hash: str
    rule_set_version: str
    pdf_sha256: str
    comment: str = ""
    inputs_hash: str = ""  # clinic details, alert responses and rule settings as printed
    valid_until: dt.date | None = None  # the first date printed in it that will pass
