"""The nurses' worklist across all patients: follow-ups due or overdue, taper steps and stops, pregnancy
milestones and results waiting for review, for a day or a range of days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..domain.accounts import Permission
from ..domain.dating import gestation_on
from ..domain.errors import ValidationError
from ..domain.followup import FollowUp, FollowUpKind
from ..domain.medication import MedicationPlan, describe_dose
from ..domain.visit import VISIT_TYPE_LABELS
from ..domain.worklist import DEFAULT_MILESTONES, TYPE_LABELS, TYPES, Milestone, milestone_edd_range, parse_milestones
from .base import ServiceBase
from .dto import WorklistRow

MAX_DAYS = 92
OVERDUE_FROM = dt.date(1900, 1, 1)  # every still-due follow-up before the range counts as overdue


@dataclass(frozen=True)
class WorklistItem:
    type: str
    patient_id: int
    hospital_number: str
    patient_name: str
    due_date: dt.date
    gestation: str | None  # W+D on the due date, while the pregnancy is open
    description: str
    overdue: bool
    ref_kind: str
    ref_id: int
    ref_version: int
    tab: str  # the patient-view tab that shows it: "pregnancy" or "workup"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "hospital_number": self.hospital_number,
            "patient_name": self.patient_name,
            "due_date": self.due_date.isoformat(),
            "gestation": self.gestation,
            "description": self.description,
            "overdue": self.overdue,
        }


def _follow_up_text(f: FollowUp, overdue: bool) -> str:
    notes = [f"±{f.window_days} days"] if f.window_days else []
    if f.protocol:
        notes.append("local protocol")
    return f"{f.label} {'OVERDUE' if overdue else 'due'}" + (f" ({'; '.join(notes)})" if notes else "")


def _step_text(plan: MedicationPlan, seq: int) -> str:
    step = plan.taper[seq]
    return (
        f"{plan.display_name}: taper step {seq + 1} of {len(plan.taper)} starts - "
        f"{describe_dose(step.dose, plan.display_unit, step.frequency)}"
    )


def _stop_text(plan: MedicationPlan) -> str:
    dose = plan.taper[-1] if plan.taper else plan
    return (
        f"{plan.display_name}: planned stop - no dose from this day, the last dose was the day before "
        f"(was {describe_dose(dose.dose, plan.display_unit, dose.frequency)})"
    )


class WorklistService(ServiceBase):
    def milestones(self) -> tuple[Milestone, ...]:
        with self._uow(read_only=True) as uow:
            text = uow.settings.get("worklist_milestones")
        return parse_milestones(text) if text else DEFAULT_MILESTONES

    def items(
        self, start: dt.date | None = None, days: int = 1, types: Collection[str] | None = None
    ) -> list[WorklistItem]:
        """Items for the ``days`` days from ``start`` (default today). Follow-ups still due from before
        ``start`` are included as overdue, however old: a missed scan must never drop off the list."""
        self._actor(Permission.VIEW_PATIENTS)
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError.single("days", f"Days must be 1 to {MAX_DAYS}.")
        unknown = set(types or ()) - set(TYPES)
        if unknown:
            raise ValidationError.single("types", f"Unknown types: {', '.join(sorted(unknown))}.")
        wanted = set(types or TYPES)
        today = self._clock.today()
        start = start or today
        end = start + dt.timedelta(days=days - 1)
        milestones = self.milestones() if "milestone" in wanted else ()
        rows: list[WorklistRow] = []
        with self._uow(read_only=True) as uow:
            if wanted & set(FollowUpKind):
                rows += [r for r in uow.pregnancy.worklist_follow_ups(start, end, OVERDUE_FROM) if r.type in wanted]
            if wanted & {"taper_step", "medication_stop"}:
                rows += [r for r in uow.pregnancy.worklist_plan_events(start, end, today) if r.type in wanted]
            if milestones:
                ranges = [milestone_edd_range(m, start, end) for m in milestones]
                rows += uow.pregnancy.open_pregnancies_with_edd(ranges)
            if "result_review" in wanted:
                rows += uow.workup.worklist_reviews(end)
            if "visit" in wanted:  # patients booked for the day(s); a booking not yet recorded stays as overdue
                rows += uow.visits.booked_between(OVERDUE_FROM, end)
            if "alert" in wanted:  # as of each patient's last evaluation (opening, a change, or the nightly refresh)
                rows += uow.alerts.worklist_alerts(start, end)
        out: list[WorklistItem] = []
        for r in rows:
            if r.type == "milestone":
                for m in milestones:
                    lo, hi = milestone_edd_range(m, start, end)
                    if r.edd is not None and lo <= r.edd <= hi:
                        due = r.edd - dt.timedelta(days=280 - m.gestation_days)
                        out.append(self._item(r, due, f"{gestation_on(r.edd, due)}: {m.label} ({m.source})", False))
                continue
            overdue = r.due_date < start
            if r.ref_kind == "follow_up":
                f: FollowUp = r.data["follow_up"]
                overdue = f.overdue(start) or r.due_date < start
                text = _follow_up_text(f, overdue)
            elif r.type == "taper_step":
                text = _step_text(r.data["plan"], r.data["step"])
            elif r.type == "medication_stop":
                text = _stop_text(r.data["plan"])
            elif r.type == "visit":
                v = r.data["visit"]
                text = f"{VISIT_TYPE_LABELS[v.type]} booked" + (f" with {v.clinician}" if v.clinician else "")
                if overdue:
                    text += ": record whether it took place"
            elif r.type == "alert":
                text = f"{r.data['severity'].upper()}: {r.data['title']} ({r.data['rule_id']})"
                overdue = False
            else:
                n = r.data["count"]
                text = f"{n} result{'s' if n > 1 else ''} waiting for review (oldest sample {r.due_date.isoformat()})"
                overdue = False
            out.append(self._item(r, r.due_date, text, overdue))
        out.sort(key=lambda i: (i.due_date, TYPES.index(i.type), i.hospital_number))
        return out

    def export_csv(
        self, start: dt.date | None = None, days: int = 1, types: Collection[str] | None = None
    ) -> tuple[bytes, int]:
        """The worklist as CSV (see csv_export), as the screen shows it. Whoever may print the worklist's care
        plans (nurse, consultant) or export records (consultant, administrator) may export it; a read-only
        account may not. Every patient on it gets an audit entry before the file is handed back. Returns the
        file's bytes and the number of items."""
        from ..domain.audit import Action, AuditEvent
        from .csv_export import to_csv

        user = self._session.current(self._clock.now())
        actor = self._actor(Permission.EXPORT if user.can(Permission.EXPORT) else Permission.PRINT)
        items = self.items(start, days, types)
        first = start or self._clock.today()
        with self._uow() as uow:
            detail = {"format": "csv", "what": "worklist", "from": first.isoformat(), "days": days}
            patients = sorted({i.patient_id for i in items})
            self._audit(uow, actor, *(AuditEvent(Action.EXPORT, "patient", str(p), p, detail) for p in patients))
            uow.commit()
        header = ("Due date", "Type", "Hospital number", "Patient", "Gestation", "What", "Overdue")
        rows = (
            (
                i.due_date,
                TYPE_LABELS.get(i.type, i.type),
                i.hospital_number,
                i.patient_name,
                i.gestation,
                i.description,
                i.overdue,
            )
            for i in items
        )
        return to_csv(header, rows), len(items)

    @staticmethod
    def _item(r: WorklistRow, due: dt.date, text: str, overdue: bool) -> WorklistItem:
        ga = gestation_on(r.edd, due) if r.edd else None
        return WorklistItem(
            type=r.type,
            patient_id=r.patient_id,
            hospital_number=r.hospital_number,
            patient_name=f"{r.family_name.upper()}, {r.given_name}",
            due_date=due,
            gestation=str(ga) if ga else None,
            description=text,
            overdue=overdue,
            ref_kind=r.ref_kind,
            ref_id=r.ref_id,
            ref_version=r.ref_version,
            tab={"result_review": "workup", "alert": "alerts", "visit": "visits"}.get(r.type, "pregnancy"),
        )
