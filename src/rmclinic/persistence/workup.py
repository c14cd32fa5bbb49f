"""Workup items in SQL."""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..domain.errors import ConflictError, NotFoundError
from ..domain.investigations import Interpretation
from ..domain.workup import HistoryEntry, ResultValue, Status, WorkupItem
from ..services.dto import ReviewRow, WorklistRow
from .accounts import _aware
from .bulk import insert_rows
from .models import PatientRec, WorkupHistoryRec, WorkupItemRec, table_of
from .patient_list import listed_names


def _value(r: Any) -> ResultValue | None:
    if r.status not in ("resulted", "reviewed"):
        return None
    return ResultValue(
        numeric=r.value_numeric,
        unit=r.value_unit,
        text=r.value_text,
        findings=tuple(json.loads(r.value_findings)) if r.value_findings else (),
        method=r.value_method,
        lab_low=r.lab_low,
        lab_high=r.lab_high,
    )


def _history_entry(value: str, sample_date: dt.date | None, entered_by: str, entered_at: dt.datetime) -> HistoryEntry:
    raw = json.loads(value)
    raw["findings"] = tuple(raw.get("findings", ()))
    return HistoryEntry(ResultValue(**raw), sample_date, entered_by, _aware(entered_at) or entered_at)


def _history(h: WorkupHistoryRec) -> HistoryEntry:
    return _history_entry(h.value, h.sample_date, h.entered_by, h.entered_at)


def _item(r: Any, history: Sequence[HistoryEntry] | None = None) -> WorkupItem:
    """A record, or a row of ``_ItemRow`` (read by column name: the one mapping for both). ``history``:
    the earlier values; None reads them from the record's relationship."""
    return WorkupItem(
        id=r.id,
        investigation_id=r.investigation_id,
        status=_STATUSES[r.status],
        version=r.version,
        requested_on=r.requested_on,
        requested_by=r.requested_by,
        sample_date=r.sample_date,
        value=_value(r),
        normalised=r.normalised,
        interpretation=_INTERPRETATIONS[r.interpretation] if r.interpretation else None,
        entered_by=r.entered_by,
        entered_at=_aware(r.entered_at),
        reviewed_by=r.reviewed_by,
        reviewed_at=_aware(r.reviewed_at),
        review_comment=r.review_comment,
        history=tuple(_history(h) for h in r.history) if history is None else tuple(history),
    )


# -- bulk reading: plain rows straight to domain objects (batch alert evaluation) -----------------------

_ITEM = table_of(WorkupItemRec)
_HISTORY = table_of(WorkupHistoryRec)
# Each row is made a named tuple and mapped by the same function as a record: reading a named tuple's field is a C
# attribute; reading an SQLAlchemy Row's by name made the whole clinic's batch reads twice as slow.
_ItemRow = namedtuple(
    "_ItemRow",
    (
        "id",
        "patient_id",
        "investigation_id",
        "status",
        "version",
        "requested_on",
        "requested_by",
        "sample_date",
        "value_numeric",
        "value_unit",
        "value_text",
        "value_findings",
        "value_method",
        "lab_low",
        "lab_high",
        "normalised",
        "interpretation",
        "entered_by",
        "entered_at",
        "reviewed_by",
        "reviewed_at",
        "review_comment",
    ),
)
_STATUSES = {s.value: s for s in Status}
_INTERPRETATIONS = {i.value: i for i in Interpretation}


def _history_rec(item_id: int, h: HistoryEntry) -> WorkupHistoryRec:
    raw = asdict(h.value)
    raw["findings"] = list(raw["findings"])
    return WorkupHistoryRec(
        item_id=item_id,
        value=json.dumps(raw),
        sample_date=h.sample_date,
        entered_by=h.entered_by,
        entered_at=h.entered_at,
    )


class SqlWorkupRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def for_patient(self, patient_id: int) -> list[WorkupItem]:
        return self.for_patients([patient_id])[patient_id]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[WorkupItem]]:
        """Every item of many patients (oldest id first), read as plain rows: one query for the items and
        one for their history, the same objects as ``get`` builds from the records."""
        ids = list(patient_ids)
        out: dict[int, list[WorkupItem]] = {pid: [] for pid in ids}
        if not ids:
            return out
        if self.s.autoflush:
            self.s.flush()  # as an ORM query would: pending changes are read back
        conn = self.s.connection()
        items, hist = _ITEM, _HISTORY
        history: dict[int, list[HistoryEntry]] = {}
        hq = (
            select(hist.c.item_id, hist.c.value, hist.c.sample_date, hist.c.entered_by, hist.c.entered_at)
            .join(items, items.c.id == hist.c.item_id)
            .where(items.c.patient_id.in_(ids))
            .order_by(hist.c.id)
        )
        for item_id, value, sample_date, entered_by, entered_at in conn.execute(hq):
            history.setdefault(item_id, []).append(_history_entry(value, sample_date, entered_by, entered_at))
        q = (
            select(*(items.c[name] for name in _ItemRow._fields))
            .where(items.c.patient_id.in_(ids))
            .order_by(items.c.id)
        )
        for row in map(_ItemRow._make, conn.execute(q)):
            out[row.patient_id].append(_item(row, history.get(row.id, ())))
        return out

    def _rec(self, patient_id: int, item_id: int) -> WorkupItemRec:
        r = self.s.get(WorkupItemRec, item_id, options=[selectinload(WorkupItemRec.history)])
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("That investigation is no longer recorded for this patient.")
        return r

    def get(self, patient_id: int, item_id: int) -> WorkupItem:
        return _item(self._rec(patient_id, item_id))

    def add(
        self, patient_id: int, investigation_id: str, values: dict[str, Any], history: Sequence[HistoryEntry] = ()
    ) -> int:
        r = WorkupItemRec(patient_id=patient_id, investigation_id=investigation_id, **values)
        self.s.add(r)
        self.s.flush()
        for h in history:
            self.s.add(_history_rec(r.id, h))
        return r.id

    def update(
        self,
        patient_id: int,
        item_id: int,
        version: int,
        values: dict[str, Any],
        keep_history: HistoryEntry | None = None,
    ) -> None:
        r = self._rec(patient_id, item_id)
        if r.version != version:
            raise ConflictError("Someone else changed this investigation after you opened it. Reload and try again.")
        for k, v in values.items():
            setattr(r, k, v)
        if keep_history is not None:
            raw = asdict(keep_history.value)
            raw["findings"] = list(raw["findings"])
            self.s.add(
                WorkupHistoryRec(
                    item_id=item_id,
                    value=json.dumps(raw),
                    sample_date=keep_history.sample_date,
                    entered_by=keep_history.entered_by,
                    entered_at=keep_history.entered_at,
                )
            )
        self.s.flush()

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.s, table_of(WorkupItemRec), rows)

    def review_queue(self, offset: int, limit: int) -> tuple[list[ReviewRow], int]:
        """Resulted, unreviewed items across all patients: flagged ones first, then oldest sample first."""
        flagged = WorkupItemRec.interpretation.in_(("abnormal", "positive", "equivocal"))
        q = (
            select(WorkupItemRec, PatientRec.hospital_number, PatientRec.family_name, PatientRec.given_name)
            .join(PatientRec, PatientRec.id == WorkupItemRec.patient_id)
            .where(WorkupItemRec.status == "resulted")
            .order_by(flagged.desc(), WorkupItemRec.sample_date, WorkupItemRec.id)
            .offset(offset)
            .limit(limit)
        )
        rows = [
            ReviewRow(
                patient_id=r.patient_id,
                hospital_number=h,
                family_name=f,
                given_name=g,
                item=_item(r, history=()),
            )
            for r, h, f, g in self.s.execute(q)
        ]
        total = self.s.scalar(select(func.count()).select_from(WorkupItemRec).where(WorkupItemRec.status == "resulted"))
        return rows, total or 0

    def worklist_reviews(self, end: dt.date) -> list[WorklistRow]:
        """One row per patient with results waiting for review (sample taken by ``end``): the oldest sample
        date and how many, so a backlog does not drown the list (archived patients left out; names looked up
        by id, see ``listed_names``)."""
        q = (
            select(
                WorkupItemRec.patient_id,
                func.min(WorkupItemRec.sample_date),
                func.count(),
                func.max(WorkupItemRec.id),
            )
            .where(WorkupItemRec.status == "resulted", WorkupItemRec.sample_date <= end)
            .group_by(WorkupItemRec.patient_id)
        )
        found = self.s.execute(q).all()
        names = listed_names(self.s.connection(), [r[0] for r in found])
        return [
            WorklistRow("result_review", pid, *names[pid], oldest, None, "workup_item", last_id, 0, {"count": n})
            for pid, oldest, n, last_id in found
            if pid in names
        ]
