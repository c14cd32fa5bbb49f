"""Alert events in SQL: appended, read per patient in the order written, and counted for analytics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from ..rules.lifecycle import AlertEvent, EventKind
from ..services.dto import AlertStateRow, WorklistRow
from .accounts import _aware
from .models import AlertEventRec, AlertStateRec, PatientRec, table_of


def _event(r: AlertEventRec) -> AlertEvent:
    return AlertEvent(
        rule_id=r.rule_id,
        rule_version=r.rule_version,
        episode=r.episode,
        kind=EventKind(r.kind),
        at=_aware(r.at) or r.at,
        username=r.username,
        role=r.role,
        reason_code=r.reason_code,
        comment=r.comment,
        until=r.until,
    )


def _row(patient_id: int, e: AlertEvent) -> dict[str, object]:
    return {
        "patient_id": patient_id,
        "rule_id": e.rule_id,
        "rule_version": e.rule_version,
        "episode": e.episode,
        "kind": e.kind.value,
        "reason_code": e.reason_code,
        "comment": e.comment,
        "until": e.until,
        "username": e.username,
        "role": e.role,
        "at": e.at,
    }


class SqlAlertRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def state(self, patient_id: int) -> list[tuple[str, str, str]]:
        """The patient's current alerts as of the last evaluation: (rule, episode, status)."""
        q = select(AlertStateRec.rule_id, AlertStateRec.episode, AlertStateRec.status).where(
            AlertStateRec.patient_id == patient_id
        )
        return [(r, e, st) for r, e, st in self.s.execute(q)]

    def events(self, patient_id: int) -> list[AlertEvent]:
        return self.events_for([patient_id])[patient_id]

    def events_for(self, patient_ids: Sequence[int]) -> dict[int, list[AlertEvent]]:
        out: dict[int, list[AlertEvent]] = {pid: [] for pid in patient_ids}
        q = select(AlertEventRec).where(AlertEventRec.patient_id.in_(list(patient_ids))).order_by(AlertEventRec.id)
        for r in self.s.scalars(q):
            out[r.patient_id].append(_event(r))
        return out

    def add(self, patient_id: int, events: Sequence[AlertEvent]) -> None:
        if events:
            self.s.execute(table_of(AlertEventRec).insert(), [_row(patient_id, e) for e in events])

    def add_many(self, rows: Sequence[tuple[int, AlertEvent]]) -> None:
        if rows:
            self.s.execute(table_of(AlertEventRec).insert(), [_row(pid, e) for pid, e in rows])

    def counts(self) -> list[tuple[str, str, str, str, int]]:
        """(rule id, kind, role, reason code, count) over every patient: the basis of alert analytics."""
        q = (
            select(
                AlertEventRec.rule_id, AlertEventRec.kind, AlertEventRec.role, AlertEventRec.reason_code, func.count()
            )
            .group_by(AlertEventRec.rule_id, AlertEventRec.kind, AlertEventRec.role, AlertEventRec.reason_code)
            .order_by(AlertEventRec.rule_id, AlertEventRec.kind)
        )
        return [(r, k, role, code, n) for r, k, role, code, n in self.s.execute(q)]

    # -- current state (for the worklist) --------------------------------------------------------------

    def replace_state(self, patient_ids: Sequence[int], rows: Sequence[AlertStateRow], at: dt.datetime) -> None:
        """The patients' current alerts, replacing whatever their last evaluation left."""
        if not patient_ids:
            return
        self.s.execute(delete(AlertStateRec).where(AlertStateRec.patient_id.in_(list(patient_ids))))
        if rows:
            self.s.execute(
                table_of(AlertStateRec).insert(),
                [{**r.__dict__, "evaluated_at": at} for r in rows],
            )

    def worklist_alerts(self, start: dt.date, end: dt.date) -> list[WorklistRow]:
        """Alerts needing attention: every critical alert still active (or whose snooze ends by ``end``), and
        warnings that fired in the range — older warnings stay in the patient's record, not on the list."""
        live = or_(
            AlertStateRec.status == "active",
            and_(AlertStateRec.status == "snoozed", AlertStateRec.until <= end),
        )
        wanted = or_(
            and_(AlertStateRec.severity == "critical", AlertStateRec.since <= end),
            and_(AlertStateRec.severity == "warning", AlertStateRec.since >= start, AlertStateRec.since <= end),
        )
        q = (
            select(AlertStateRec, PatientRec.hospital_number, PatientRec.family_name, PatientRec.given_name)
            .join(PatientRec, PatientRec.id == AlertStateRec.patient_id)
            .where(live, wanted, PatientRec.archived_at.is_(None))
            .order_by(AlertStateRec.since, AlertStateRec.id)
        )
        return [
            WorklistRow(
                "alert",
                a.patient_id,
                h,
                f,
                g,
                a.since,
                None,
                "alert",
                a.id,
                0,
                {"rule_id": a.rule_id, "severity": a.severity, "title": a.title, "audience": a.audience},
            )
            for a, h, f, g in self.s.execute(q)
        ]
