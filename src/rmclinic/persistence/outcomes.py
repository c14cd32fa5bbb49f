"""The outcomes audit's reads: which patients each part of the report is about, and their attended visits.

Plain Core queries (the report reads whole cohorts); the records themselves come from the bulk readers
(``patients.get_many``, ``pregnancy.for_patients``, ``workup.for_patients``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from ..domain.outcomes import AlertEventRow
from .models import AlertEventRec, CurrentPregnancyRec, FollowUpRec, PatientRec, VisitRec, table_of

_PREGNANCY = table_of(CurrentPregnancyRec)
_FOLLOW_UP = table_of(FollowUpRec)
_VISIT = table_of(VisitRec)
_PATIENT = table_of(PatientRec)
_EVENT = table_of(AlertEventRec)
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

    def patients_with_open_pregnancy_edd_before(self, last: dt.date) -> list[int]:
        """Patients with an open clinic pregnancy whose EDD in force is on or before ``last`` (the loss-to-follow-up
        candidates, whatever the period)."""
        t = _PREGNANCY
        q = select(t.c.patient_id).where(t.c.ended_on.is_(None), t.c.edd <= last).distinct().order_by(t.c.patient_id)
        return self._ids(q)

    def _fired_in_period(self, since: dt.datetime, until: dt.datetime) -> tuple[Any, Any]:
        e, f = _EVENT, _EVENT.alias("fired")
        return e, exists().where(
            and_(
                f.c.patient_id == e.c.patient_id,
                f.c.rule_id == e.c.rule_id,
                f.c.episode == e.c.episode,
                f.c.rule_version == e.c.rule_version,
                f.c.kind == "fired",
                f.c.at >= since,
                f.c.at < until,
            )
        )

    def events_of_alerts_fired(self, since: dt.datetime, until: dt.datetime) -> list[AlertEventRow]:
        """Every event of every alert (patient, rule, rule version, episode) that fired at or after ``since`` and
        before ``until`` (aware UTC times; SQLite compares the UTC wall clock the events are stored in)."""
        if self.s.autoflush:
            self.s.flush()
        e, fired_in_period = self._fired_in_period(since, until)
        q = (
            select(
                e.c.patient_id, e.c.rule_id, e.c.rule_version, e.c.episode, e.c.kind, e.c.at, e.c.role, e.c.reason_code
            )
            .where(fired_in_period)
            .order_by(e.c.id)
        )  # as written: equal times keep that order
        out = []
        for pid, rule, version, episode, kind, at, role, reason in self.s.connection().execute(q).all():
            at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
            out.append(AlertEventRow(pid, rule, version, episode, kind, at, role, reason))
        return out

    def first_responses(self, since: dt.datetime, until: dt.datetime) -> list[tuple[str, str, str, str, int]]:
        """(rule, outcome, role, reason, count) of the alerts fired at or after ``since`` and before ``until``, each by
        its first response, counted in SQL: ``domain.outcomes.first_responses`` over ``events_of_alerts_fired``,
        without reading the events (a year of a large clinic's alerts is 10^5-10^6 events). The next event of the
        same alert (in time order, then as written) is its response; none, or another firing, leaves it open."""
        if self.s.autoflush:
            self.s.flush()
        e, fired_in_period = self._fired_in_period(since, until)
        window = {
            "partition_by": (e.c.patient_id, e.c.rule_id, e.c.rule_version, e.c.episode),
            "order_by": (e.c.at, e.c.id),
        }
        events = (
            select(
                e.c.rule_id,
                e.c.kind,
                e.c.at,
                func.lead(e.c.kind).over(**window).label("next_kind"),
                func.lead(e.c.role).over(**window).label("next_role"),
                func.lead(e.c.reason_code).over(**window).label("next_reason"),
            )
            .where(fired_in_period)
            .subquery()
        )
        answered = and_(events.c.next_kind.is_not(None), events.c.next_kind != "fired")
        outcome = case((answered, events.c.next_kind), else_=literal("open"))
        role = case((answered, events.c.next_role), else_=literal(""))
        reason = case((answered, events.c.next_reason), else_=literal(""))
        q = (
            select(events.c.rule_id, outcome, role, reason, func.count())
            .where(events.c.kind == "fired", events.c.at >= since, events.c.at < until)
            .group_by(events.c.rule_id, outcome, role, reason)
        )
        return [(r, o, ro, re, n) for r, o, ro, re, n in self.s.connection().execute(q)]

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
