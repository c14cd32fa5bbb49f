"""Alert events in SQL: appended, read per patient in the order written, and counted for analytics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from operator import attrgetter

from sqlalchemy import Engine, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from ..rules.lifecycle import AlertEvent, EventKind
from ..services.dto import AlertStateRow, WorklistRow
from ..services.ports import UnitOfWorkFactory
from .accounts import _aware
from .bulk import insert_rows
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


_EVENT = table_of(AlertEventRec)
_STATE = table_of(AlertStateRec)
# An alert-state row as compared with a new evaluation's: every column but its id and when it was written.
_STATE_COLUMNS = [c for c in _STATE.c if c.name not in ("id", "evaluated_at")]
_state_values = attrgetter(*(c.name for c in _STATE_COLUMNS))  # an AlertStateRow's, in that order


_KINDS = {k.value: k for k in EventKind}
_KIND_VALUES = {k: k.value for k in EventKind}  # (an enum member's ``.value`` is slow to get)


def _row(patient_id: int, e: AlertEvent) -> dict[str, object]:
    return {
        "patient_id": patient_id,
        "rule_id": e.rule_id,
        "rule_version": e.rule_version,
        "episode": e.episode,
        "kind": _KIND_VALUES[e.kind],
        "reason_code": e.reason_code,
        "comment": e.comment,
        "until": e.until,
        "username": e.username,
        "role": e.role,
        "at": e.at,
    }


class ReopenDatabase:
    """Opens the same database again in another process (the alert service's worker processes): picklable,
    it carries the database URL (the SQLCipher key, if any, comes from the environment, as it did here)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def __getstate__(self) -> dict[str, str]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.url = state["url"]
        self._engine = None

    def __call__(self) -> UnitOfWorkFactory:
        from .db import make_engine
        from .uow import unit_of_work_factory  # here: uow imports this module

        self._engine = make_engine(self.url)
        return unit_of_work_factory(self._engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class SqlAlertRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def reopen(self) -> ReopenDatabase | None:
        """How another process opens this database, or None for one only this process can see (in memory)."""
        url = self.s.get_bind().engine.url
        if url.get_backend_name() == "sqlite" and (
            not url.database or url.database == ":memory:" or url.query.get("mode") == "memory"
        ):
            return None
        return ReopenDatabase(url.render_as_string(hide_password=False))

    def state(self, patient_id: int) -> list[tuple[str, str, str]]:
        """The patient's current alerts as of the last evaluation: (rule, episode, status)."""
        q = select(AlertStateRec.rule_id, AlertStateRec.episode, AlertStateRec.status).where(
            AlertStateRec.patient_id == patient_id
        )
        return [(r, e, st) for r, e, st in self.s.execute(q)]

    def events(self, patient_id: int) -> list[AlertEvent]:
        return self.events_for([patient_id])[patient_id]

    def events_for(self, patient_ids: Sequence[int]) -> dict[int, list[AlertEvent]]:
        """Each patient's events in the order written, read as plain rows (the same events as ``_event``)."""
        ids = list(patient_ids)
        out: dict[int, list[AlertEvent]] = {pid: [] for pid in ids}
        if not ids:
            return out
        if self.s.autoflush:
            self.s.flush()  # as an ORM query would: pending changes are read back
        t = _EVENT
        q = (
            select(
                t.c.patient_id,
                t.c.rule_id,
                t.c.rule_version,
                t.c.episode,
                t.c.kind,
                t.c.at,
                t.c.username,
                t.c.role,
                t.c.reason_code,
                t.c.comment,
                t.c.until,
            )
            .where(t.c.patient_id.in_(ids))
            .order_by(t.c.id)
        )
        for (
            pid,
            rule_id,
            version,
            episode,
            kind,
            at,
            username,
            role,
            reason_code,
            comment,
            until,
        ) in self.s.connection().execute(q):
            out[pid].append(
                AlertEvent(
                    rule_id=rule_id,
                    rule_version=version,
                    episode=episode,
                    kind=_KINDS[kind],
                    at=_aware(at) or at,
                    username=username,
                    role=role,
                    reason_code=reason_code,
                    comment=comment,
                    until=until,
                )
            )
        return out

    def add(self, patient_id: int, events: Sequence[AlertEvent]) -> None:
        if events:
            self.s.execute(table_of(AlertEventRec).insert(), [_row(patient_id, e) for e in events])

    def add_many(self, rows: Sequence[tuple[int, AlertEvent]]) -> None:
        if rows:
            insert_rows(self.s, _EVENT, [_row(pid, e) for pid, e in rows])

    def counts(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[tuple[str, str, str, str, int]]:
        """(rule id, kind, role, reason code, count) over every patient: the basis of alert analytics. With
        ``since``/``until``, only events at or after ``since`` and before ``until``."""
        q = select(
            AlertEventRec.rule_id, AlertEventRec.kind, AlertEventRec.role, AlertEventRec.reason_code, func.count()
        )
        if since is not None:
            q = q.where(AlertEventRec.at >= since)
        if until is not None:
            q = q.where(AlertEventRec.at < until)
        keys = (AlertEventRec.rule_id, AlertEventRec.kind, AlertEventRec.role, AlertEventRec.reason_code)
        q = q.group_by(*keys).order_by(AlertEventRec.rule_id, AlertEventRec.kind)
        return [(r, k, role, code, n) for r, k, role, code, n in self.s.execute(q)]

    # -- current state (for the worklist) --------------------------------------------------------------

    def replace_state(self, patient_ids: Sequence[int], rows: Sequence[AlertStateRow], at: dt.datetime) -> None:
        """The patients' current alerts, replacing whatever their last evaluation left. Only the patients whose
        alerts changed are rewritten (``evaluated_at`` is when they last changed): most of a nightly refresh
        changes nothing, and deleting and inserting every row again was most of its database time."""
        if not patient_ids:
            return
        ids = list(patient_ids)
        # (a patient's rows differ in rule and episode, so sets compare them; rows as tuples in column order)
        stored: dict[int, set[tuple[object, ...]]] = {pid: set() for pid in ids}
        for r in self.s.execute(select(*_STATE_COLUMNS).where(_STATE.c.patient_id.in_(ids))).tuples():
            stored[r[0]].add(r)
        wanted: dict[int, set[tuple[object, ...]]] = {pid: set() for pid in ids}
        for row in rows:
            wanted[row.patient_id].add(_state_values(row))
        changed = [pid for pid in ids if stored[pid] != wanted[pid]]
        if not changed:
            return
        self.s.execute(delete(AlertStateRec).where(AlertStateRec.patient_id.in_(changed)))
        again = set(changed)
        fresh = [{**r.__dict__, "evaluated_at": at} for r in rows if r.patient_id in again]
        if fresh:
            insert_rows(self.s, _STATE, fresh)

    def worklist_alerts(self, start: dt.date, end: dt.date) -> list[WorklistRow]:
        """Alerts needing attention: every critical alert still active (or whose snooze ends by ``end``), and
        warnings that fired in the range — older warnings stay in the patient's record, not on the list."""
        st = table_of(AlertStateRec)  # plain rows: a large clinic's list can hold thousands of alerts
        live = or_(st.c.status == "active", and_(st.c.status == "snoozed", st.c.until <= end))
        wanted = or_(
            and_(st.c.severity == "critical", st.c.since <= end),
            and_(st.c.severity == "warning", st.c.since >= start, st.c.since <= end),
        )
        q = (
            select(
                st.c.id,
                st.c.patient_id,
                st.c.since,
                st.c.rule_id,
                st.c.severity,
                st.c.title,
                st.c.audience,
                PatientRec.hospital_number,
                PatientRec.family_name,
                PatientRec.given_name,
            )
            .join(PatientRec, PatientRec.id == st.c.patient_id)
            .where(live, wanted, PatientRec.archived_at.is_(None))
            .order_by(st.c.since, st.c.id)
        )
        return [
            WorklistRow(
                "alert",
                a.patient_id,
                a.hospital_number,
                a.family_name,
                a.given_name,
                a.since,
                None,
                "alert",
                a.id,
                0,
                {"rule_id": a.rule_id, "severity": a.severity, "title": a.title, "audience": a.audience},
            )
            for a in self.s.connection().execute(q)
        ]
