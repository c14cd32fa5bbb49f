"""Clinic visits (episodes of care) and letters to the GP.

A visit is booked (a date in the diary), then attended, cancelled or missed. An attended visit holds what
was said under simple headings and the next visit's date; booking the next visit is part of saving it.
A letter belongs to a visit: drafted from the record, edited, then signed, after which it never changes; a
correction is a new version that names the one it corrects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from .typecheck import text_problem


class VisitType(StrEnum):
    FIRST = "first"
    FOLLOW_UP = "follow_up"
    EARLY_PREGNANCY = "early_pregnancy"
    SCAN = "scan"
    TELEPHONE = "telephone"


VISIT_TYPE_LABELS = {
    VisitType.FIRST: "First visit",
    VisitType.FOLLOW_UP: "Follow-up",
    VisitType.EARLY_PREGNANCY: "Early pregnancy review",
    VisitType.SCAN: "Scan",
    VisitType.TELEPHONE: "Telephone consultation",
}


class VisitStatus(StrEnum):
    BOOKED = "booked"
    ATTENDED = "attended"
    CANCELLED = "cancelled"
    DID_NOT_ATTEND = "did_not_attend"


VISIT_STATUS_LABELS = {
    VisitStatus.BOOKED: "Booked",
    VisitStatus.ATTENDED: "Attended",
    VisitStatus.CANCELLED: "Cancelled",
    VisitStatus.DID_NOT_ATTEND: "Did not attend",
}

NOTE_FIELDS = ("history", "findings", "discussion", "plan")
NOTE_LIMIT = 20_000


@dataclass(frozen=True)
class Visit:
    date: dt.date
    type: VisitType = VisitType.FOLLOW_UP
    status: VisitStatus = VisitStatus.ATTENDED
    clinician: str = ""  # who saw the couple (free text: the clinician may not be a user)
    patient_attended: bool = True
    partner_attended: bool = False
    history: str = ""
    findings: str = ""
    discussion: str = ""
    plan: str = ""
    next_visit: dt.date | None = None
    id: int | None = None
    patient_id: int | None = None
    version: int = 0


def visit_problems(v: Visit, today: dt.date) -> dict[str, str]:
    """Field problems for a visit as it would be saved (keys name the field, for the dialog)."""
    out: dict[str, str] = {}
    if v.status is VisitStatus.ATTENDED and v.date > today:
        out["date"] = "A visit in the future cannot have been attended yet: book it instead."
    if v.date < today - dt.timedelta(days=366 * 30) or v.date > today + dt.timedelta(days=366 * 2):
        out["date"] = "Type a date within two years from today."
    if v.next_visit is not None:
        if v.next_visit <= v.date:
            out["next_visit"] = "The next visit must be after this one."
        elif v.next_visit > v.date + dt.timedelta(days=366 * 2):
            out["next_visit"] = "Book the next visit within two years."
    if v.status is VisitStatus.ATTENDED and not (v.patient_attended or v.partner_attended):
        out["attendees"] = "Tick who attended (the patient, her partner or both)."
    for name in ("clinician", *NOTE_FIELDS):
        value = getattr(v, name)
        limit = 200 if name == "clinician" else NOTE_LIMIT
        if len(value) > limit:
            out[name] = f"At most {limit} characters."
        else:
            problem = text_problem(value)
            if problem:
                out[name] = problem
    return out


class LetterStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


@dataclass(frozen=True)
class Letter:
    """A letter to the GP (copy to the patient) about one visit. Version n+1 corrects version n."""

    visit_id: int
    body: str  # the whole letter text after the salutation, editable until signed
    version: int = 1
    status: LetterStatus = LetterStatus.DRAFT
    recipient: str = ""  # the GP practice, from the patient's details unless changed
    copy_to_patient: bool = True
    supersedes_id: int | None = None
    signed_by: str = ""
    signed_by_name: str = ""
    signed_at: dt.datetime | None = None
    pdf_sha256: str = ""
    id: int | None = None
    patient_id: int | None = None
    row_version: int = 0  # optimistic lock of the draft
    created_by: str = ""
    created_at: dt.datetime | None = None


LETTER_LIMIT = 50_000


def letter_problems(letter: Letter) -> dict[str, str]:
    out: dict[str, str] = {}
    if not letter.body.strip():
        out["body"] = "The letter is empty."
    elif len(letter.body) > LETTER_LIMIT:
        out["body"] = f"At most {LETTER_LIMIT} characters."
    else:
        problem = text_problem(letter.body)
        if problem:
            out["body"] = problem
    if len(letter.recipient) > 500:
        out["recipient"] = "At most 500 characters."
    return out
