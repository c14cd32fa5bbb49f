"""Visits and letters in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, defer

from ..domain.errors import ConflictError, NotFoundError
from ..domain.visit import Letter, LetterStatus, Visit, VisitStatus, VisitType
from ..services.dto import WorklistRow
from .accounts import _aware
from .models import LetterRec, PatientRec, VisitRec, table_of


def _visit(r: Any) -> Visit:
    """From an ORM record or a plain row of the visit table (the same names)."""
    return Visit(
        date=r.visit_date,
        type=VisitType(r.kind),
        status=VisitStatus(r.status),
        clinician=r.clinician,
        patient_attended=r.patient_attended,
        partner_attended=r.partner_attended,
        history=r.history,
        findings=r.findings,
        discussion=r.discussion,
        plan=r.plan,
        next_visit=r.next_visit,
        id=r.id,
        patient_id=r.patient_id,
        version=r.version,
    )


def _visit_values(v: Visit) -> dict[str, Any]:
    return {
        "visit_date": v.date,
        "kind": v.type.value,
        "status": v.status.value,
        "clinician": v.clinician,
        "patient_attended": v.patient_attended,
        "partner_attended": v.partner_attended,
        "history": v.history,
        "findings": v.findings,
        "discussion": v.discussion,
        "plan": v.plan,
        "next_visit": v.next_visit,
    }


def _letter(r: LetterRec) -> Letter:
    return Letter(
        visit_id=r.visit_id,
        body=r.body,
        version=r.letter_version,
        status=LetterStatus(r.status),
        recipient=r.recipient,
        copy_to_patient=r.copy_to_patient,
        supersedes_id=r.supersedes_id,
        signed_by=r.signed_by,
        signed_by_name=r.signed_by_name,
        signed_at=_aware(r.signed_at),
        pdf_sha256=r.pdf_sha256,
        id=r.id,
        patient_id=r.patient_id,
        row_version=r.version,
        created_by=r.created_by,
        created_at=_aware(r.created_at),
    )


class SqlVisitRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- visits -------------------------------------------------------------------------------------------------

    def visits(self, patient_id: int) -> list[Visit]:
        q = select(VisitRec).where(VisitRec.patient_id == patient_id).order_by(VisitRec.visit_date, VisitRec.id)
        return [_visit(r) for r in self.s.scalars(q)]

    def _visit_rec(self, patient_id: int, visit_id: int) -> VisitRec:
        r = self.s.get(VisitRec, visit_id)
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("No such visit for this patient.")
        return r

    def get_visit(self, patient_id: int, visit_id: int) -> Visit:
        return _visit(self._visit_rec(patient_id, visit_id))

    def add_visit(self, patient_id: int, v: Visit) -> int:
        rec = VisitRec(patient_id=patient_id, **_visit_values(v))
        self.s.add(rec)
        self.s.flush()
        return rec.id

    def add_many(self, rows: Sequence[tuple[int, Visit]]) -> None:
        """Many visits in one executemany (demo data)."""
        if rows:
            now = dt.datetime.now(dt.UTC)
            self.s.execute(
                insert(table_of(VisitRec)),
                [
                    {"patient_id": pid, **_visit_values(v), "created_at": now, "updated_at": now, "version": 1}
                    for pid, v in rows
                ],
            )

    def update_visit(self, patient_id: int, visit_id: int, version: int, v: Visit) -> None:
        rec = self._visit_rec(patient_id, visit_id)
        if rec.version != version:
            raise ConflictError("Someone else changed this visit since you opened it. Reload and try again.")
        for k, value in _visit_values(v).items():
            setattr(rec, k, value)
        self.s.flush()

    def booked_between(self, start: dt.date, end: dt.date) -> list[WorklistRow]:
        """Visits booked for a day in [start, end] (the worklist's "patients booked")."""
        visit = table_of(VisitRec)
        q = (  # plain rows, not ORM entities: a week of a large clinic's bookings is read on every refresh
            select(*visit.c, PatientRec.hospital_number, PatientRec.family_name, PatientRec.given_name)
            .join(PatientRec, PatientRec.id == visit.c.patient_id)
            .where(
                visit.c.status == VisitStatus.BOOKED.value,
                visit.c.visit_date >= start,
                visit.c.visit_date <= end,
                PatientRec.archived_at.is_(None),
            )
            .order_by(visit.c.visit_date, visit.c.id)
        )
        return [
            WorklistRow(
                "visit",
                r.patient_id,
                r.hospital_number,
                r.family_name,
                r.given_name,
                r.visit_date,
                None,
                "visit",
                r.id,
                r.version,
                {"visit": _visit(r)},
            )
            for r in self.s.connection().execute(q)
        ]

    # -- letters ------------------------------------------------------------------------------------------------

    def letters(self, patient_id: int) -> list[Letter]:
        """Every letter of the patient, by visit and version (without the PDF bytes)."""
        q = (
            select(LetterRec)
            .options(defer(LetterRec.pdf))
            .where(LetterRec.patient_id == patient_id)
            .order_by(LetterRec.visit_id, LetterRec.letter_version)
        )
        return [_letter(r) for r in self.s.scalars(q)]

    def _letter_rec(self, patient_id: int, letter_id: int) -> LetterRec:
        r = self.s.get(LetterRec, letter_id)
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("No such letter for this patient.")
        return r

    def get_letter(self, patient_id: int, letter_id: int) -> Letter:
        return _letter(self._letter_rec(patient_id, letter_id))

    def letter_pdf(self, patient_id: int, letter_id: int) -> bytes | None:
        return self._letter_rec(patient_id, letter_id).pdf

    def add_letter(self, patient_id: int, letter: Letter, created_by: str) -> int:
        last = self.s.scalar(select(func.max(LetterRec.letter_version)).where(LetterRec.visit_id == letter.visit_id))
        rec = LetterRec(
            patient_id=patient_id,
            visit_id=letter.visit_id,
            letter_version=(last or 0) + 1,
            status=LetterStatus.DRAFT.value,
            body=letter.body,
            recipient=letter.recipient,
            copy_to_patient=letter.copy_to_patient,
            supersedes_id=letter.supersedes_id,
            created_by=created_by,
        )
        self.s.add(rec)
        self.s.flush()
        return rec.id

    def update_draft(self, patient_id: int, letter_id: int, row_version: int, letter: Letter) -> None:
        rec = self._letter_rec(patient_id, letter_id)
        if rec.status != LetterStatus.DRAFT.value:
            raise ConflictError("This letter has been signed and can no longer change: write a correction.")
        if rec.version != row_version:
            raise ConflictError("Someone else changed this letter since you opened it. Reload and try again.")
        rec.body = letter.body
        rec.recipient = letter.recipient
        rec.copy_to_patient = letter.copy_to_patient
        self.s.flush()

    def sign(
        self,
        patient_id: int,
        letter_id: int,
        row_version: int,
        by: str,
        by_name: str,
        at: dt.datetime,
        pdf: bytes,
        sha: str,
    ) -> None:
        rec = self._letter_rec(patient_id, letter_id)
        if rec.status != LetterStatus.DRAFT.value:
            raise ConflictError("This letter has already been signed.")
        if rec.version != row_version:
            raise ConflictError("Someone else changed this letter since you opened it. Reload and try again.")
        rec.status = LetterStatus.SIGNED.value
        rec.signed_by, rec.signed_by_name, rec.signed_at = by, by_name, at
        rec.pdf, rec.pdf_sha256 = pdf, sha
        self.s.flush()

    def visit_ids_with_letters(self, visit_ids: Sequence[int]) -> set[int]:
        q = select(LetterRec.visit_id).where(LetterRec.visit_id.in_(list(visit_ids))).distinct()
        return set(self.s.scalars(q))
