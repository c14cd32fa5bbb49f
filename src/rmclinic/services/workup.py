"""The RM workup: requesting investigations, entering results, reviewing them, and the panel."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent
from ..domain.errors import ValidationError
from ..domain.investigations import Catalogue, Investigation
from ..domain.typecheck import text_problem
from ..domain.workup import (
    Completeness,
    HistoryEntry,
    PanelEntry,
    ResultValue,
    Status,
    WorkupItem,
    assess,
    build_panel,
    can_move,
    completeness,
    result_problems,
)
from .base import ServiceBase
from .catalogue import merged_catalogue
from .dto import ReviewRow


@dataclass(frozen=True)
class WorkupView:
    panel: dict[str, list[PanelEntry]]
    completeness: Completeness
    items: tuple[WorkupItem, ...]


def _event(action: Action, patient_id: int, item_id: int, changes: dict[str, Any]) -> AuditEvent:
    return AuditEvent(action, "workup_item", str(item_id), patient_id, changes)


class WorkupService(ServiceBase):
    _cache: tuple[tuple[str, str], Catalogue] | None = None

    def catalogue(self) -> Catalogue:
        """The shipped catalogue with the clinic's additions and protocol (settings), cached per setting."""
        with self._uow(read_only=True) as uow:
            got = uow.settings.get_many(("catalogue_additions", "workup_protocol"))
        key = (got.get("catalogue_additions") or "", got.get("workup_protocol") or "")
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, merged_catalogue(*key))
        return self._cache[1]

    # -- reading -------------------------------------------------------------------------------

    def view(self, patient_id: int) -> WorkupView:
        self._actor(Permission.VIEW_PATIENTS)
        cat = self.catalogue()
        with self._uow(read_only=True) as uow:
            uow.patients.require(patient_id)  # NotFoundError for an unknown patient
            items = uow.workup.for_patient(patient_id)
        return WorkupView(build_panel(cat, items), completeness(cat, items), tuple(items))

    def review_queue(self, offset: int = 0, limit: int = 200) -> tuple[list[ReviewRow], int]:
        self._actor(Permission.REVIEW_RESULTS)
        with self._uow(read_only=True) as uow:
            return uow.workup.review_queue(max(0, offset), max(1, min(limit, 1000)))

    # -- requesting ----------------------------------------------------------------------------

    def request(self, patient_id: int, investigation_ids: Sequence[str], on: dt.date | None = None) -> WorkupView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        cat = self.catalogue()
        unknown = [i for i in investigation_ids if i not in cat.investigations]
        if unknown or not investigation_ids:
            raise ValidationError.single("investigations", f"Unknown investigations: {', '.join(unknown) or 'none'}.")
        day = on or self._clock.today()
        with self._uow() as uow:
            uow.patients.require(patient_id)
            open_ids = {
                i.investigation_id
                for i in uow.workup.for_patient(patient_id)
                if i.status in (Status.REQUESTED, Status.SAMPLE_TAKEN)
            }
            for iid in investigation_ids:
                if iid in open_ids:
                    continue  # already requested and not yet resulted: no duplicate request
                item_id = uow.workup.add(
                    patient_id,
                    iid,
                    {"status": Status.REQUESTED.value, "requested_on": day, "requested_by": actor.username},
                )
                self._audit(
                    uow,
                    actor,
                    _event(Action.CREATE, patient_id, item_id, {"investigation": iid, "status": [None, "requested"]}),
                )
            uow.commit()
        return self.view(patient_id)

    def record_sample(self, patient_id: int, item_id: int, version: int, sample_date: dt.date) -> WorkupView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        self._check_date(sample_date, "sample_date")
        with self._uow() as uow:
            item = uow.workup.get(patient_id, item_id)
            if not can_move(item.status, Status.SAMPLE_TAKEN):
                raise ValidationError.single("status", f"A {item.status.value} investigation cannot take a sample.")
            uow.workup.update(
                patient_id, item_id, version, {"status": Status.SAMPLE_TAKEN.value, "sample_date": sample_date}
            )
            self._audit(
                uow,
                actor,
                _event(
                    Action.UPDATE,
                    patient_id,
                    item_id,
                    {"status": [item.status.value, "sample_taken"], "sample_date": [None, sample_date.isoformat()]},
                ),
            )
            uow.commit()
        return self.view(patient_id)

    # -- results ---------------------------------------------------------------------------------

    def validate_value(self, inv: Investigation, value: ResultValue) -> ResultValue:
        """Field-level problems for a typed result; returns the cleaned value."""
        clean, problems = result_problems(inv, value)
        if problems:
            raise ValidationError.from_dict(problems)
        return clean

    def record_result(
        self,
        patient_id: int,
        investigation_id: str,
        value: ResultValue,
        sample_date: dt.date,
        item_id: int | None = None,
        version: int | None = None,
    ) -> WorkupView:
        """Enter a result: for a requested item (``item_id``), as a correction of an entered one (the
        earlier value is kept in its history), or on its own."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        cat = self.catalogue()
        if investigation_id not in cat.investigations:
            raise ValidationError.single("investigation", "Choose an investigation from the list.")
        inv = cat.get(investigation_id)
        clean = self.validate_value(inv, value)
        self._check_date(sample_date, "sample_date")
        normalised, interpretation = assess(inv, clean)
        now = self._clock.now()
        values: dict[str, Any] = {
            **value_columns(clean),
            "status": Status.RESULTED.value,
            "sample_date": sample_date,
            "normalised": normalised,
            "interpretation": interpretation.value,
            "entered_by": actor.username,
            "entered_at": now,
            "reviewed_by": "",
            "reviewed_at": None,
            "review_comment": "",
        }
        with self._uow() as uow:
            patient = uow.patients.get(patient_id)
            if sample_date < patient.data.date_of_birth:
                raise ValidationError.single("sample_date", "The sample date is before the patient's birth.")
            if item_id is None:
                new_id = uow.workup.add(patient_id, investigation_id, values)
                self._audit(
                    uow,
                    actor,
                    _event(
                        Action.CREATE,
                        patient_id,
                        new_id,
                        {
                            "investigation": investigation_id,
                            "result": [None, clean.describe()],
                            "interpretation": [None, interpretation.value],
                        },
                    ),
                )
            else:
                item = uow.workup.get(patient_id, item_id)
                if item.investigation_id != investigation_id:
                    raise ValidationError.single("investigation", "This result belongs to another investigation.")
                if not can_move(item.status, Status.RESULTED):
                    raise ValidationError.single("status", "This investigation cannot take a result now.")
                kept = None
                if item.value is not None and item.entered_at is not None:
                    kept = HistoryEntry(item.value, item.sample_date, item.entered_by, item.entered_at)
                uow.workup.update(patient_id, item_id, version if version is not None else item.version, values, kept)
                before = item.value.describe() if item.value else None
                self._audit(
                    uow,
                    actor,
                    _event(
                        Action.UPDATE,
                        patient_id,
                        item_id,
                        {
                            "investigation": investigation_id,
                            "status": [item.status.value, "resulted"],
                            "result": [before, clean.describe()],
                            "interpretation": [
                                item.interpretation.value if item.interpretation else None,
                                interpretation.value,
                            ],
                        },
                    ),
                )
            uow.commit()
        return self.view(patient_id)

    def review(self, patient_id: int, item_id: int, version: int, comment: str = "") -> WorkupView:
        """A consultant signs off a result (only consultants may)."""
        actor = self._actor(Permission.REVIEW_RESULTS)
        if not isinstance(comment, str) or (problem := text_problem(comment)):
            raise ValidationError.single("comment", problem if isinstance(comment, str) else "Must be text.")
        with self._uow() as uow:
            item = uow.workup.get(patient_id, item_id)
            if not can_move(item.status, Status.REVIEWED) or item.status is Status.REVIEWED:
                raise ValidationError.single("status", "Only an entered, unreviewed result can be reviewed.")
            uow.workup.update(
                patient_id,
                item_id,
                version,
                {
                    "status": Status.REVIEWED.value,
                    "reviewed_by": actor.username,
                    "reviewed_at": self._clock.now(),
                    "review_comment": comment.strip(),
                },
            )
            self._audit(
                uow,
                actor,
                _event(
                    Action.UPDATE, patient_id, item_id, {"status": ["resulted", "reviewed"], "comment": comment.strip()}
                ),
            )
            uow.commit()
        return self.view(patient_id)

    # -- helpers -------------------------------------------------------------------------------

    def _check_date(self, day: object, field: str) -> None:
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise ValidationError.single(field, "Must be a date.")
        if day > self._clock.today():
            raise ValidationError.single(field, "The date cannot be in the future.")


def value_columns(v: ResultValue | None) -> dict[str, Any]:
    """A result as stored in the workup_item row (all empty when there is no result yet)."""
    v = v or ResultValue()
    return {
        "value_numeric": v.numeric,
        "value_unit": v.unit,
        "value_text": v.text,
        "value_findings": json.dumps(list(v.findings)) if v.findings else "",
        "value_method": v.method,
        "lab_low": v.lab_low,
        "lab_high": v.lab_high,
    }
