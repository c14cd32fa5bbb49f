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


def _history(h: WorkupHistoryRec) -> HistoryEntry:
    raw = json.loads(h.value)
    raw["findings"] = tuple(raw.get("findings", ()))
    return HistoryEntry(ResultValue(**raw), h.sample_date, h.entered_by, _aware(h.entered_at) or h.entered_at)


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
        q = (
            select(WorkupItemRec)
            .where(WorkupItemRec.patient_id.in_(list(patient_ids)))
            .options(selectinload(WorkupItemRec.history))
            .order_by(WorkupItemRec.id)
        )
        out: dict[int, list[WorkupItem]] = {pid: [] for pid in patient_ids}
        for r in self.s.scalars(q):
            out[r.patient_id].append(_item(r))
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
