"""The outcomes audit's reads: which patients each part of the report is about, and their attended visits.

Plain Core queries (the report reads whole cohorts); the records themselves come from the bulk readers
(``patients.get_many``, ``pregnancy.for_patients``, ``workup.for_patients``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import CurrentPregnancyRec, FollowUpRec, PatientRec, VisitRec, table_of

_PREGNANCY = table_of(CurrentPregnancyRec)
_FOLLOW_UP = table_of(FollowUpRec)
_VISIT = table_of(VisitRec)
_PATIENT = table_of(PatientRec)
_ATTENDED = "attended"


class SqlOutcomesQueries:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _ids(self, q: object) -> list[int]:
        if self.s.autoflush:
            self.s.flush()  # as an ORM query would: pending changes are read back
        return [pid for (pid,) in self.s.connection().execute(q)]  # type: ignore[call-overload]

    def patients_with_edd_between(self, first: dt.date, last: dt.date) -> list[int]:
        """Patients with a clinic pregnancy (open or ended) whose EDD in force is within the range."""
        t = _PREGNANCY
        q = select(t.c.patient_id).where(t.c.edd >= first, t.c.edd <= last).distinct().order_by(t.c.patient_id)
        return self._ids(q)

    def patients_with_follow_ups_due(self, kinds: Sequence[str], first: dt.date, last: dt.date) -> list[int]:
        t = _FOLLOW_UP
        q = (
            select(t.c.patient_id)
            .where(t.c.kind.in_(list(kinds)), t.c.due_date >= first, t.c.due_date <= last)
            .distinct()
            .order_by(t.c.patient_id)
        )
        return self._ids(q)

    def patients_first_seen_between(self, first: dt.date, last: dt.date) -> list[int]:
        """Patients not archived whose earliest attended visit is within the range."""
        v, p = _VISIT, _PATIENT
        earliest = func.min(v.c.visit_date)
        q = (
            select(v.c.patient_id)
            .join(p, p.c.id == v.c.patient_id)
            .where(v.c.status == _ATTENDED, p.c.archived_at.is_(None))
            .group_by(v.c.patient_id)
            .having(earliest >= first, earliest <= last)
            .order_by(v.c.patient_id)
        )
        return self._ids(q)

    def attended_visits(self, patient_ids: Sequence[int]) -> dict[int, list[dt.date]]:
        """Each patient's attended visit dates, oldest first."""
        ids = list(patient_ids)
        out: dict[int, list[dt.date]] = {pid: [] for pid in ids}
        if not ids:
            return out
        if self.s.autoflush:
            self.s.flush()
        v = _VISIT
        q = (
            select(v.c.patient_id, v.c.visit_date)
            .where(v.c.patient_id.in_(ids), v.c.status == _ATTENDED)
            .order_by(v.c.patient_id, v.c.visit_date)
        )
        for pid, day in self.s.connection().execute(q):
            out[pid].append(day)
        return out
