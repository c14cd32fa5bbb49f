"""Workup items in SQL."""

from __future__ import annotations

import datetime as dt
import json
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
from .models import PatientRec, WorkupHistoryRec, WorkupItemRec, table_of


def _value(r: WorkupItemRec) -> ResultValue | None:
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


def _item(r: WorkupItemRec, with_history: bool = True) -> WorkupItem:
    return WorkupItem(
        id=r.id,
        investigation_id=r.investigation_id,
        status=Status(r.status),
        version=r.version,
        requested_on=r.requested_on,
        requested_by=r.requested_by,
        sample_date=r.sample_date,
        value=_value(r),
        normalised=r.normalised,
        interpretation=Interpretation(r.interpretation) if r.interpretation else None,
        entered_by=r.entered_by,
        entered_at=_aware(r.entered_at),
        reviewed_by=r.reviewed_by,
        reviewed_at=_aware(r.reviewed_at),
        review_comment=r.review_comment,
        history=tuple(_history(h) for h in r.history) if with_history else (),
    )


# -- bulk reading: plain rows straight to domain objects (batch alert evaluation) -----------------------

_ITEM = table_of(WorkupItemRec)
_HISTORY = table_of(WorkupHistoryRec)
_ITEM_COLUMNS = (
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
)
_STATUSES = {s.value: s for s in Status}
_INTERPRETATIONS = {i.value: i for i in Interpretation}


def _item_row(row: Any, history: dict[int, list[HistoryEntry]]) -> WorkupItem:
    """The same item as ``_item`` builds from a record, from a row of ``_ITEM_COLUMNS`` (``_aware`` written out:
    this runs for every item of the clinic)."""
    (
        item_id,
        _patient_id,
        investigation_id,
        status,
        version,
        requested_on,
        requested_by,
        sample_date,
        value_numeric,
        value_unit,
        value_text,
        value_findings,
        value_method,
        lab_low,
        lab_high,
        normalised,
        interpretation,
        entered_by,
        entered_at,
        reviewed_by,
        reviewed_at,
        review_comment,
    ) = row
    value = None
    if status in ("resulted", "reviewed"):
        value = ResultValue(
            numeric=value_numeric,
            unit=value_unit,
            text=value_text,
            findings=tuple(json.loads(value_findings)) if value_findings else (),
            method=value_method,
            lab_low=lab_low,
            lab_high=lab_high,
        )
    found = history.get(item_id)
    return WorkupItem(
        id=item_id,
        investigation_id=investigation_id,
        status=_STATUSES[status],
        version=version,
        requested_on=requested_on,
        requested_by=requested_by,
        sample_date=sample_date,
        value=value,
        normalised=normalised,
        interpretation=_INTERPRETATIONS[interpretation] if interpretation else None,
        entered_by=entered_by,
        entered_at=entered_at
        if entered_at is None or entered_at.tzinfo is not None
        else entered_at.replace(tzinfo=dt.UTC),
        reviewed_by=reviewed_by,
        reviewed_at=reviewed_at
        if reviewed_at is None or reviewed_at.tzinfo is not None
        else reviewed_at.replace(tzinfo=dt.UTC),
        review_comment=review_comment,
        history=tuple(found) if found else (),
    )


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
        q = select(*(items.c[name] for name in _ITEM_COLUMNS)).where(items.c.patient_id.in_(ids)).order_by(items.c.id)
        for row in conn.execute(q):
            out[row[1]].append(_item_row(row, history))
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
        from sqlalchemy import insert

        if rows:
            self.s.execute(insert(table_of(WorkupItemRec)), list(rows))

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
                item=_item(r, with_history=False),
            )
            for r, h, f, g in self.s.execute(q)
        ]
        total = self.s.scalar(select(func.count()).select_from(WorkupItemRec).where(WorkupItemRec.status == "resulted"))
        return rows, total or 0

    def worklist_reviews(self, end: dt.date) -> list[WorklistRow]:
        """One row per patient with results waiting for review (sample taken by ``end``): the oldest sample
        date and how many, so a backlog does not drown the list."""
        q = (
            select(
                WorkupItemRec.patient_id,
                func.min(WorkupItemRec.sample_date),
                func.count(),
                func.max(WorkupItemRec.id),
                PatientRec.hospital_number,
                PatientRec.family_name,
                PatientRec.given_name,
            )
            .join(PatientRec, PatientRec.id == WorkupItemRec.patient_id)
            .where(
                WorkupItemRec.status == "resulted", WorkupItemRec.sample_date <= end, PatientRec.archived_at.is_(None)
            )
            .group_by(
                WorkupItemRec.patient_id, PatientRec.hospital_number, PatientRec.family_name, PatientRec.given_name
            )
        )
        return [
            WorklistRow("result_review", pid, h, f, g, oldest, None, "workup_item", last_id, 0, {"count": n})
            for pid, oldest, n, last_id, h, f, g in self.s.execute(q)
        ]
