"""Current pregnancies, medication plans (with taper steps) and follow-ups in SQL, and the worklist queries."""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from ..domain.dating import DatingEntry, entry_from_dict, entry_to_dict
from ..domain.errors import ConflictError, NotFoundError
from ..domain.followup import FollowUp, FollowUpChange, FollowUpKind, FollowUpStatus, SwabResult
from ..domain.medication import (
    Anchor,
    DoseStep,
    Frequency,
    Indication,
    MedicationPlan,
    PlanChange,
    PlanStatus,
    Route,
)
from ..domain.obstetric import Conception, Outcome
from ..domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity
from ..services.dto import WorklistRow
from .errors import translate_errors
from .models import (
    CurrentPregnancyRec,
    FollowUpRec,
    MedicationPlanRec,
    MedicationStepRec,
    PatientRec,
    table_of,
)
from .patient_list import listed_names

# -- JSON helpers ------------------------------------------------------------------------------------


def dating_to_json(entries: Sequence[DatingEntry]) -> str:
    return json.dumps([entry_to_dict(e) for e in entries])


def dating_from_json(text: str) -> tuple[DatingEntry, ...]:
    return tuple(entry_from_dict(r) for r in json.loads(text))


def changes_to_json(changes: Sequence[PlanChange | FollowUpChange]) -> str:
    return json.dumps([{"at": c.at.isoformat(), "by": c.by, "reason": c.reason, "summary": c.summary} for c in changes])


def _changes(text: str, cls: type[Any]) -> tuple[Any, ...]:
    return tuple(cls(dt.datetime.fromisoformat(r["at"]), r["by"], r["reason"], r["summary"]) for r in json.loads(text))


# -- records <-> domain --------------------------------------------------------------------------------------


def _pregnancy(r: Any) -> CurrentPregnancy:
    """A record or a row of ``_PregnancyRow``, read by column name: one mapping for both (the enums are
    looked up in dicts, not called: this runs for every pregnancy of the clinic in a batch evaluation)."""
    return CurrentPregnancy(
        id=r.id,
        dating=dating_from_json(r.dating),
        fetuses=r.fetuses,
        conception=_CONCEPTION[r.conception],
        iup_confirmed_on=r.iup_confirmed_on,
        iup_method=_IUP_METHOD[r.iup_method] if r.iup_method else None,
        heartbeat_on=r.heartbeat_on,
        bleeding=tuple(
            Bleeding(dt.date.fromisoformat(b["date"]), _BLEEDING_SEVERITY[b["severity"]], b.get("notes", ""))
            for b in json.loads(r.bleeding)
        ),
        ended_on=r.ended_on,
        outcome=_OUTCOME[r.outcome] if r.outcome else None,
        sensitive=r.sensitive,
        version=r.version,
        notes=r.notes,
        high_risk_care=r.high_risk_care,
        cerclage_on=r.cerclage_on,
    )


def pregnancy_values(p: CurrentPregnancy) -> dict[str, Any]:
    return {
        "edd": p.edd,
        "dating": dating_to_json(p.dating),
        "fetuses": p.fetuses,
        "conception": p.conception.value,
        "iup_confirmed_on": p.iup_confirmed_on,
        "iup_method": p.iup_method.value if p.iup_method else None,
        "heartbeat_on": p.heartbeat_on,
        "bleeding": json.dumps(
            [{"date": b.date.isoformat(), "severity": b.severity.value, "notes": b.notes} for b in p.bleeding]
        ),
        "notes": p.notes,
        "ended_on": p.ended_on,
        "outcome": p.outcome.value if p.outcome else None,
        "sensitive": p.sensitive,
        "high_risk_care": p.high_risk_care,
        "cerclage_on": p.cerclage_on,
    }


def _anchor(on_date: dt.date | None, gestation: int | None) -> Anchor | None:
    if on_date is None and gestation is None:
        return None
    return Anchor(date=on_date) if on_date is not None else Anchor(gestation_days=gestation)


def _plan(r: Any, steps: Iterable[Any] | None = None) -> MedicationPlan:
    """A record or a row of ``_PlanRow``, read by column name; ``steps`` (records or rows with the step
    columns, in order), None: the record's own."""
    return MedicationPlan(
        drug=r.drug,
        dose=r.dose,
        frequency=_FREQUENCY[r.frequency],
        start=r.start_date,
        indication=_INDICATION[r.indication],
        stop=_anchor(r.stop_on_date, r.stop_gestation),
        taper=tuple(
            DoseStep(
                _anchor(s.start_on_date, s.start_gestation) or Anchor(date=r.start_date),
                s.dose,
                _FREQUENCY[s.frequency],
            )
            for s in (r.steps if steps is None else steps)
        ),
        name=r.name,
        unit=r.unit,
        route=_ROUTE[r.route] if r.route else None,
        status=_PLAN_STATUS[r.status],
        stopped_on=r.stopped_on,
        stop_reason=r.stop_reason,
        notes=r.notes,
        pregnancy_id=r.pregnancy_id,
        id=r.id,
        version=r.version,
        history=_changes(r.history, PlanChange),
    )


def plan_values(p: MedicationPlan, edd: dt.date | None) -> dict[str, Any]:
    return {
        "pregnancy_id": p.pregnancy_id,
        "drug": p.drug,
        "name": p.name,
        "unit": p.unit,
        "route": p.route.value if p.route else None,
        "dose": p.dose,
        "frequency": p.frequency.value,
        "indication": p.indication.value,
        "start_date": p.start,
        "stop_on_date": p.stop.date if p.stop else None,
        "stop_gestation": p.stop.gestation_days if p.stop else None,
        "stop_date": p.stop_date(edd),
        "status": p.status.value,
        "stopped_on": p.stopped_on,
        "stop_reason": p.stop_reason,
        "notes": p.notes,
        "history": changes_to_json(p.history),
    }


def _steps(p: MedicationPlan, edd: dt.date | None) -> list[MedicationStepRec]:
    return [
        MedicationStepRec(
            seq=i,
            start_on_date=s.start.date,
            start_gestation=s.start.gestation_days,
            start_date=s.start.resolve(edd),
            dose=s.dose,
            frequency=s.frequency.value,
        )
        for i, s in enumerate(p.taper)
    ]


def _follow_up(r: Any) -> FollowUp:
    """A record or a row of ``_FollowUpRow``, read by column name."""
    return FollowUp(
        kind=_FOLLOW_UP_KIND[r.kind],
        due_date=r.due_date,
        window_days=r.window_days,
        status=_FOLLOW_UP_STATUS[r.status],
        title=r.title,
        protocol=r.protocol,
        pregnancy_id=r.pregnancy_id,
        result_date=r.result_date,
        swab_result=_SWAB_RESULT[r.swab_result] if r.swab_result else None,
        organism=r.organism,
        cervical_length_mm=r.cervical_length_mm,
        funnelling=r.funnelling,
        result_notes=r.result_notes,
        cancel_reason=r.cancel_reason,
        id=r.id,
        patient_id=r.patient_id,
        version=r.version,
        history=_changes(r.history, FollowUpChange),
    )


def follow_up_values(f: FollowUp) -> dict[str, Any]:
    return {
        "pregnancy_id": f.pregnancy_id,
        "kind": f.kind.value,
        "title": f.title,
        "protocol": f.protocol,
        "due_date": f.due_date,
        "window_days": f.window_days,
        "status": f.status.value,
        "result_date": f.result_date,
        "swab_result": f.swab_result.value if f.swab_result else None,
        "organism": f.organism,
        "cervical_length_mm": f.cervical_length_mm,
        "funnelling": f.funnelling,
        "result_notes": f.result_notes,
        "cancel_reason": f.cancel_reason,
        "history": changes_to_json(f.history),
    }


# -- bulk reading: plain rows straight to domain objects (batch alert evaluation) -----------------------

_PREGNANCY = table_of(CurrentPregnancyRec)
_PLAN = table_of(MedicationPlanRec)
_STEP = table_of(MedicationStepRec)
_FOLLOW_UP = table_of(FollowUpRec)
# Each row is made a named tuple and mapped by the same function as a record: reading a named tuple's field is a C
# attribute; reading an SQLAlchemy Row's by name made the whole clinic's batch reads twice as slow.
_PregnancyRow = namedtuple(
    "_PregnancyRow",
    (
        "id",
        "patient_id",
        "dating",
        "fetuses",
        "conception",
        "iup_confirmed_on",
        "iup_method",
        "heartbeat_on",
        "bleeding",
        "ended_on",
        "outcome",
        "sensitive",
        "version",
        "notes",
        "high_risk_care",
        "cerclage_on",
    ),
)
_PlanRow = namedtuple(
    "_PlanRow",
    (
        "id",
        "patient_id",
        "drug",
        "dose",
        "frequency",
        "start_date",
        "indication",
        "stop_on_date",
        "stop_gestation",
        "name",
        "unit",
        "route",
        "status",
        "stopped_on",
        "stop_reason",
        "notes",
        "pregnancy_id",
        "version",
        "history",
    ),
)
_StepRow = namedtuple("_StepRow", ("plan_id", "start_on_date", "start_gestation", "dose", "frequency"))
_FollowUpRow = namedtuple(
    "_FollowUpRow",
    (
        "id",
        "patient_id",
        "kind",
        "due_date",
        "window_days",
        "status",
        "title",
        "protocol",
        "pregnancy_id",
        "result_date",
        "swab_result",
        "organism",
        "cervical_length_mm",
        "funnelling",
        "result_notes",
        "cancel_reason",
        "version",
        "history",
    ),
)


def _members(enum: Any) -> dict[str, Any]:
    return {m.value: m for m in enum}


_CONCEPTION = _members(Conception)
_IUP_METHOD = _members(IupMethod)
_OUTCOME = _members(Outcome)
_BLEEDING_SEVERITY = _members(Severity)
_FREQUENCY = _members(Frequency)
_INDICATION = _members(Indication)
_ROUTE = _members(Route)
_PLAN_STATUS = _members(PlanStatus)
_FOLLOW_UP_KIND = _members(FollowUpKind)
_FOLLOW_UP_STATUS = _members(FollowUpStatus)
_SWAB_RESULT = _members(SwabResult)


def _check_version(rec: Tracked_, version: int) -> None:
    if rec.version != version:
        raise ConflictError("Someone else changed this record since you opened it. Reload and try again.")


Tracked_ = CurrentPregnancyRec | MedicationPlanRec | FollowUpRec


class SqlPregnancyRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- pregnancies ----------------------------------------------------------------------------------

    def pregnancies(self, patient_id: int) -> list[CurrentPregnancy]:
        q = select(CurrentPregnancyRec).where(CurrentPregnancyRec.patient_id == patient_id)
        return [_pregnancy(r) for r in self.s.scalars(q.order_by(CurrentPregnancyRec.id))]

    def open_pregnancy(self, patient_id: int) -> CurrentPregnancy | None:
        q = select(CurrentPregnancyRec).where(
            CurrentPregnancyRec.patient_id == patient_id, CurrentPregnancyRec.ended_on.is_(None)
        )
        r = self.s.scalars(q).first()
        return _pregnancy(r) if r else None

    def _pregnancy_rec(self, patient_id: int, pregnancy_id: int) -> CurrentPregnancyRec:
        r = self.s.get(CurrentPregnancyRec, pregnancy_id)
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("No such pregnancy for this patient.")
        return r

    def get_pregnancy(self, patient_id: int, pregnancy_id: int) -> CurrentPregnancy:
        return _pregnancy(self._pregnancy_rec(patient_id, pregnancy_id))

    def add_pregnancy(self, patient_id: int, p: CurrentPregnancy) -> int:
        rec = CurrentPregnancyRec(patient_id=patient_id, **pregnancy_values(p))
        self.s.add(rec)
        with translate_errors():
            self.s.flush()
        return rec.id

    def update_pregnancy(
        self, patient_id: int, pregnancy_id: int, version: int, p: CurrentPregnancy, history_id: int | None = None
    ) -> None:
        rec = self._pregnancy_rec(patient_id, pregnancy_id)
        _check_version(rec, version)
        for k, v in pregnancy_values(p).items():
            setattr(rec, k, v)
        if history_id is not None:
            rec.history_pregnancy_id = history_id
        self.s.flush()

    # -- plans ---------------------------------------------------------------------------------------------

    def plans(self, patient_id: int) -> list[MedicationPlan]:
        q = (
            select(MedicationPlanRec)
            .where(MedicationPlanRec.patient_id == patient_id)
            .options(selectinload(MedicationPlanRec.steps))
            .order_by(MedicationPlanRec.start_date, MedicationPlanRec.id)
        )
        return [_plan(r) for r in self.s.scalars(q)]

    def _plan_rec(self, patient_id: int, plan_id: int) -> MedicationPlanRec:
        q = (
            select(MedicationPlanRec)
            .where(MedicationPlanRec.id == plan_id)
            .options(selectinload(MedicationPlanRec.steps))
        )
        r = self.s.scalars(q).first()
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("No such medication plan for this patient.")
        return r

    def get_plan(self, patient_id: int, plan_id: int) -> MedicationPlan:
        return _plan(self._plan_rec(patient_id, plan_id))

    def add_plan(self, patient_id: int, plan: MedicationPlan, edd: dt.date | None) -> int:
        rec = MedicationPlanRec(patient_id=patient_id, **plan_values(plan, edd))
        rec.steps = _steps(plan, edd)
        self.s.add(rec)
        self.s.flush()
        return rec.id

    def update_plan(
        self, patient_id: int, plan_id: int, version: int, plan: MedicationPlan, edd: dt.date | None
    ) -> None:
        rec = self._plan_rec(patient_id, plan_id)
        _check_version(rec, version)
        for k, v in plan_values(plan, edd).items():
            setattr(rec, k, v)
        rec.steps = _steps(plan, edd)
        self.s.flush()

    def refresh_dates(
        self, patient_id: int, pregnancy_id: int, old_edd: dt.date, edd: dt.date, change: PlanChange
    ) -> int:
        """After redating: re-resolve gestation-anchored stops and steps of the pregnancy's plans, and move
        its still-due series follow-ups (anchored to a gestation by their protocol) with the EDD. Each moved
        record gets ``change`` in its history. Returns how many records moved."""
        moved = 0
        q = (
            select(MedicationPlanRec)
            .where(MedicationPlanRec.patient_id == patient_id, MedicationPlanRec.pregnancy_id == pregnancy_id)
            .options(selectinload(MedicationPlanRec.steps))
        )
        for rec in self.s.scalars(q):
            plan = _plan(rec)
            before = (rec.stop_date, [st.start_date for st in rec.steps])
            rec.stop_date = plan.stop_date(edd)
            for step_rec, step in zip(rec.steps, plan.taper, strict=True):
                step_rec.start_date = step.start.resolve(edd)
            if before != (rec.stop_date, [st.start_date for st in rec.steps]):
                note = PlanChange(
                    change.at,
                    change.by,
                    change.reason,
                    f"dates moved with the EDD: stop {before[0]} -> {rec.stop_date}",
                )
                rec.history = changes_to_json((*plan.history, note))
                moved += 1
        shift = edd - old_edd
        fq = select(FollowUpRec).where(
            FollowUpRec.patient_id == patient_id,
            FollowUpRec.pregnancy_id == pregnancy_id,
            FollowUpRec.status == FollowUpStatus.DUE.value,
            FollowUpRec.protocol != "",
        )
        for f in self.s.scalars(fq):
            if shift:
                old = f.due_date
                f.due_date = old + shift
                note_f = FollowUpChange(change.at, change.by, change.reason, f"due {old} -> {f.due_date} with the EDD")
                f.history = changes_to_json((*_changes(f.history, FollowUpChange), note_f))
                moved += 1
        self.s.flush()
        return moved

    # -- follow-ups -------------------------------------------------------------------------------------

    def follow_ups(self, patient_id: int) -> list[FollowUp]:
        q = (
            select(FollowUpRec)
            .where(FollowUpRec.patient_id == patient_id)
            .order_by(FollowUpRec.due_date, FollowUpRec.id)
        )
        return [_follow_up(r) for r in self.s.scalars(q)]

    def _follow_up_rec(self, patient_id: int, follow_up_id: int) -> FollowUpRec:
        r = self.s.get(FollowUpRec, follow_up_id)
        if r is None or r.patient_id != patient_id:
            raise NotFoundError("No such follow-up for this patient.")
        return r

    def get_follow_up(self, patient_id: int, follow_up_id: int) -> FollowUp:
        return _follow_up(self._follow_up_rec(patient_id, follow_up_id))

    def add_follow_ups(self, patient_id: int, items: Sequence[FollowUp]) -> list[int]:
        recs = [FollowUpRec(patient_id=patient_id, **follow_up_values(f)) for f in items]
        self.s.add_all(recs)
        self.s.flush()
        return [r.id for r in recs]

    def update_follow_up(self, patient_id: int, follow_up_id: int, version: int, f: FollowUp) -> None:
        rec = self._follow_up_rec(patient_id, follow_up_id)
        _check_version(rec, version)
        for k, v in follow_up_values(f).items():
            setattr(rec, k, v)
        self.s.flush()

    def for_patients(
        self, patient_ids: Sequence[int]
    ) -> dict[int, tuple[list[CurrentPregnancy], list[MedicationPlan], list[FollowUp]]]:
        """Pregnancies, plans (with their steps) and follow-ups of many patients in four queries of plain rows
        (batch alert evaluation): the same objects, in the same order, as the single-patient readers give."""
        ids = list(patient_ids)
        out: dict[int, tuple[list[CurrentPregnancy], list[MedicationPlan], list[FollowUp]]] = {
            pid: ([], [], []) for pid in ids
        }
        if not ids:
            return out
        if self.s.autoflush:
            self.s.flush()  # as an ORM query would: pending changes are read back
        conn = self.s.connection()
        pt, mt, st, ft = _PREGNANCY, _PLAN, _STEP, _FOLLOW_UP
        pq = select(*(pt.c[n] for n in _PregnancyRow._fields)).where(pt.c.patient_id.in_(ids)).order_by(pt.c.id)
        for prow in map(_PregnancyRow._make, conn.execute(pq)):
            out[prow.patient_id][0].append(_pregnancy(prow))
        steps: dict[int, list[Any]] = {}
        sq = (
            select(*(st.c[n] for n in _StepRow._fields))
            .join(mt, mt.c.id == st.c.plan_id)
            .where(mt.c.patient_id.in_(ids))
            .order_by(st.c.seq, st.c.id)
        )
        for srow in map(_StepRow._make, conn.execute(sq)):
            steps.setdefault(srow.plan_id, []).append(srow)
        mq = (
            select(*(mt.c[n] for n in _PlanRow._fields))
            .where(mt.c.patient_id.in_(ids))
            .order_by(mt.c.start_date, mt.c.id)
        )
        for mrow in map(_PlanRow._make, conn.execute(mq)):
            out[mrow.patient_id][1].append(_plan(mrow, steps.get(mrow.id, ())))
        fq = (
            select(*(ft.c[n] for n in _FollowUpRow._fields))
            .where(ft.c.patient_id.in_(ids))
            .order_by(ft.c.due_date, ft.c.id)
        )
        for frow in map(_FollowUpRow._make, conn.execute(fq)):
            out[frow.patient_id][2].append(_follow_up(frow))
        return out

    # -- bulk (demo data, import) ----------------------------------------------------------------------

    def add_many(
        self,
        pregnancies: Sequence[tuple[int, CurrentPregnancy]],
        plans: Sequence[tuple[int, int | None, MedicationPlan]],
        follow_ups: Sequence[tuple[int, int | None, FollowUp]],
    ) -> None:
        """Pregnancies (patient id, pregnancy); plans and follow-ups name their pregnancy by its index in
        ``pregnancies`` (or None). One executemany per table, ids read back in parameter order."""
        preg_ids: list[int] = []
        if pregnancies:
            t = table_of(CurrentPregnancyRec)
            rows = [{"patient_id": pid, **pregnancy_values(p)} for pid, p in pregnancies]
            preg_ids = list(self.s.scalars(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows))
        edds = [p.edd for _, p in pregnancies]
        if plans:
            t = table_of(MedicationPlanRec)
            rows = []
            for patient_id, idx, plan in plans:
                values = plan_values(plan, edds[idx] if idx is not None else None)
                values["pregnancy_id"] = preg_ids[idx] if idx is not None else None
                rows.append({"patient_id": patient_id, **values})
            plan_ids = list(self.s.scalars(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows))
            step_rows = [
                {
                    "plan_id": plan_id,
                    "seq": rec.seq,
                    "start_on_date": rec.start_on_date,
                    "start_gestation": rec.start_gestation,
                    "start_date": rec.start_date,
                    "dose": rec.dose,
                    "frequency": rec.frequency,
                }
                for plan_id, (_, idx, plan) in zip(plan_ids, plans, strict=True)
                for rec in _steps(plan, edds[idx] if idx is not None else None)
            ]
            if step_rows:
                self.s.execute(table_of(MedicationStepRec).insert(), step_rows)
        if follow_ups:
            rows = []
            for patient_id, idx, f in follow_ups:
                values = follow_up_values(f)
                values["pregnancy_id"] = preg_ids[idx] if idx is not None else None
                rows.append({"patient_id": patient_id, **values})
            self.s.execute(table_of(FollowUpRec).insert(), rows)

    # -- worklist -------------------------------------------------------------------------------------------

    def worklist_follow_ups(self, start: dt.date, end: dt.date, overdue_from: dt.date) -> list[WorklistRow]:
        """Follow-ups still due with a due date in [overdue_from, end]: those before ``start`` are overdue
        (patients archived are left out; their names are looked up by id, see ``listed_names``)."""
        q = (
            select(FollowUpRec, CurrentPregnancyRec.edd)
            .outerjoin(
                CurrentPregnancyRec,
                and_(CurrentPregnancyRec.id == FollowUpRec.pregnancy_id, CurrentPregnancyRec.ended_on.is_(None)),
            )
            .where(
                FollowUpRec.status == FollowUpStatus.DUE.value,
                FollowUpRec.due_date >= overdue_from,
                FollowUpRec.due_date <= end,
            )
            .order_by(FollowUpRec.due_date, FollowUpRec.id)
        )
        found = self.s.execute(q).all()
        names = listed_names(self.s.connection(), [f.patient_id for f, _ in found])
        return [
            WorklistRow(
                f.kind,
                f.patient_id,
                *names[f.patient_id],
                f.due_date,
                edd,
                "follow_up",
                f.id,
                f.version,
                {"follow_up": _follow_up(f)},
            )
            for f, edd in found
            if f.patient_id in names
        ]

    def worklist_plan_events(self, start: dt.date, end: dt.date, today: dt.date) -> list[WorklistRow]:
        """Plans whose stop or a taper step falls in [start, end]: active plans, and plans a clinician has
        stopped early from a date still to come (a stop already in effect needs no reminder)."""
        plan_cols = (
            MedicationPlanRec,
            PatientRec.hospital_number,
            PatientRec.family_name,
            PatientRec.given_name,
            CurrentPregnancyRec.edd,
        )
        base = (
            select(*plan_cols)
            .join(PatientRec, PatientRec.id == MedicationPlanRec.patient_id)
            .outerjoin(
                CurrentPregnancyRec,
                and_(CurrentPregnancyRec.id == MedicationPlanRec.pregnancy_id, CurrentPregnancyRec.ended_on.is_(None)),
            )
            .where(
                or_(
                    MedicationPlanRec.status == PlanStatus.ACTIVE.value,
                    and_(MedicationPlanRec.status == PlanStatus.STOPPED.value, MedicationPlanRec.stop_date > today),
                ),
                PatientRec.archived_at.is_(None),
            )
        )
        out: list[WorklistRow] = []
        stops = base.where(MedicationPlanRec.stop_date >= start, MedicationPlanRec.stop_date <= end)
        for plan, hosp, family, given, edd in self.s.execute(stops.options(selectinload(MedicationPlanRec.steps))):
            out.append(
                WorklistRow(
                    "medication_stop",
                    plan.patient_id,
                    hosp,
                    family,
                    given,
                    plan.stop_date,
                    edd,
                    "plan",
                    plan.id,
                    plan.version,
                    {"plan": _plan(plan)},
                )
            )
        steps = (
            base.add_columns(MedicationStepRec.start_date, MedicationStepRec.seq)
            .join(MedicationStepRec, MedicationStepRec.plan_id == MedicationPlanRec.id)
            .where(
                MedicationStepRec.start_date >= start,
                MedicationStepRec.start_date <= end,
                # a step on or after the stop (an early stop, or a redating) is never taken
                or_(MedicationPlanRec.stop_date.is_(None), MedicationStepRec.start_date < MedicationPlanRec.stop_date),
            )
            .options(selectinload(MedicationPlanRec.steps))
        )
        for plan, hosp, family, given, edd, step_date, seq in self.s.execute(steps):
            out.append(
                WorklistRow(
                    "taper_step",
                    plan.patient_id,
                    hosp,
                    family,
                    given,
                    step_date,
                    edd,
                    "plan",
                    plan.id,
                    plan.version,
                    {"plan": _plan(plan), "step": seq},
                )
            )
        return out

    def open_pregnancies_with_edd(self, ranges: Sequence[tuple[dt.date, dt.date]]) -> list[WorklistRow]:
        """Open pregnancies whose EDD falls in any of the ranges (a milestone reached in the period)."""
        if not ranges:
            return []
        q = (
            select(
                CurrentPregnancyRec.id,
                CurrentPregnancyRec.patient_id,
                CurrentPregnancyRec.edd,
                CurrentPregnancyRec.version,
                PatientRec.hospital_number,
                PatientRec.family_name,
                PatientRec.given_name,
            )
            .join(PatientRec, PatientRec.id == CurrentPregnancyRec.patient_id)
            .where(
                CurrentPregnancyRec.ended_on.is_(None),
                PatientRec.archived_at.is_(None),
                or_(*(and_(CurrentPregnancyRec.edd >= lo, CurrentPregnancyRec.edd <= hi) for lo, hi in ranges)),
            )
        )
        return [
            WorklistRow("milestone", pid, hosp, family, given, edd, edd, "pregnancy", preg_id, version, {})
            for preg_id, pid, edd, version, hosp, family, given in self.s.execute(q)
        ]
