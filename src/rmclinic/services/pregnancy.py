"""Use cases of the current pregnancy: dating and redating, details, ending it, medication plans and
follow-ups. Every change is audited; every plan and follow-up change keeps its reason and user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.dating import DatingEntry, plausible_edd
from ..domain.errors import ValidationError
from ..domain.followup import (
    ANTENATAL_KINDS,
    DEFAULT_PROTOCOLS,
    FollowUp,
    FollowUpChange,
    FollowUpStatus,
    SeriesProtocol,
    build_series,
    due_date_problem,
    parse_protocols,
    result_problems,
    result_summary,
    schedule_problems,
    series_slot,
)
from ..domain.medication import MedicationPlan, PlanChange, PlanStatus, plan_problems, summary
from ..domain.obstetric import Conception, Outcome, TissueGenetics
from ..domain.pregnancy import SENSITIVE_OUTCOMES, CurrentPregnancy, end_problems, pregnancy_problems, to_history
from ..domain.typecheck import text_problem
from ..rules.snapshot import plan_key
from .alerts import AlertService, Override
from .base import ServiceBase
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import SessionContext


@dataclass(frozen=True)
class PregnancyView:
    """Everything the pregnancy tab shows for one patient."""

    pregnancy: CurrentPregnancy | None  # the open one
    ended: tuple[CurrentPregnancy, ...]
    plans: tuple[MedicationPlan, ...]
    follow_ups: tuple[FollowUp, ...]
    today: dt.date
    plan_warnings: dict[int, str] = field(default_factory=dict)  # active plans made inconsistent (e.g. by redating)

    def edd_for(self, pregnancy_id: int | None) -> dt.date | None:
        """The EDD that resolves a plan's or follow-up's gestation anchors (an ended pregnancy keeps its EDD)."""
        for p in (self.pregnancy, *self.ended):
            if p is not None and pregnancy_id is not None and p.id == pregnancy_id:
                return p.edd
        return None

    def gestation_label(self, pregnancy_id: int | None, day: dt.date) -> str:
        """W+D on ``day`` for an item of the open pregnancy; empty otherwise (no antenatal wording after it ended)."""
        p = self.pregnancy
        if p is None or pregnancy_id is None or p.id != pregnancy_id:
            return ""
        ga = p.gestation_on(day)
        return str(ga) if ga else ""

    @property
    def sensitive(self) -> bool:
        """The last pregnancy ended in a loss and no new one is open: no antenatal wording."""
        return self.pregnancy is None and bool(self.ended) and self.ended[-1].sensitive


def _event(action: Action, entity: str, entity_id: int, patient_id: int, changes: dict[str, Any]) -> AuditEvent:
    return AuditEvent(action, entity, str(entity_id), patient_id, changes)


class PregnancyService(ServiceBase):
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, session: SessionContext, alerts: AlertService | None = None
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._alerts = alerts

    # -- reading --------------------------------------------------------------------------------------

    def view(self, patient_id: int) -> PregnancyView:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            uow.patients.require(patient_id)  # NotFoundError for an unknown patient
            return self._view(uow, patient_id)

    def _view(self, uow: UnitOfWork, patient_id: int) -> PregnancyView:
        all_p = uow.pregnancy.pregnancies(patient_id)
        open_p = next((p for p in all_p if p.is_open), None)
        plans = tuple(uow.pregnancy.plans(patient_id))
        edds = {p.id: p.edd for p in all_p}
        warnings = {}
        for plan in plans:
            if plan.status is PlanStatus.ACTIVE and plan.id is not None:
                problems = plan_problems(plan, edds.get(plan.pregnancy_id) if plan.pregnancy_id else None)
                if problems:
                    warnings[plan.id] = " ".join(problems.values())
        return PregnancyView(
            open_p,
            tuple(p for p in all_p if not p.is_open),
            plans,
            tuple(uow.pregnancy.follow_ups(patient_id)),
            self._clock.today(),
            warnings,
        )

    def protocols(self) -> tuple[SeriesProtocol, ...]:
        with self._uow(read_only=True) as uow:
            text = uow.settings.get("followup_protocols")
        return parse_protocols(text) if text else DEFAULT_PROTOCOLS

    # -- the pregnancy ----------------------------------------------------------------------------------

    def start(
        self,
        patient_id: int,
        entry: DatingEntry,
        fetuses: int = 1,
        conception: Conception = Conception.SPONTANEOUS,
    ) -> PregnancyView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        today = self._clock.today()
        entry = replace(entry, recorded_by=actor.username, reason=entry.reason or "Booking")
        p = CurrentPregnancy(None, (entry,), fetuses=fetuses, conception=conception)
        self._check_pregnancy(p, today)
        with self._uow() as uow:
            uow.patients.require(patient_id)
            if uow.pregnancy.open_pregnancy(patient_id) is not None:
                raise ValidationError.single("dating", "This patient already has a current pregnancy.")
            pid = uow.pregnancy.add_pregnancy(patient_id, p)
            self._audit(
                uow,
                actor,
                _event(
                    Action.CREATE,
                    "current_pregnancy",
                    pid,
                    patient_id,
                    {"edd": [None, entry.edd.isoformat()], "dating": [None, entry.basis()]},
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    def _check_pregnancy(self, p: CurrentPregnancy, today: dt.date) -> None:
        problems = pregnancy_problems(p, today)
        edd_problem = plausible_edd(p.edd, today)
        if edd_problem:
            problems["dating"] = edd_problem
        if problems:
            raise ValidationError.from_dict(problems)

    def redate(self, patient_id: int, pregnancy_id: int, version: int, entry: DatingEntry) -> PregnancyView:
        """A new EDD with its reason; the earlier ones are kept. Plans' gestation-anchored dates move."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        if not entry.reason.strip():
            raise ValidationError.single("reason", "Give the reason for changing the EDD.")
        problem = text_problem(entry.reason)
        if problem:
            raise ValidationError.single("reason", problem)
        entry = replace(entry, recorded_by=actor.username)
        with self._uow() as uow:
            p = uow.pregnancy.get_pregnancy(patient_id, pregnancy_id)
            if not p.is_open:
                raise ValidationError.single("dating", "This pregnancy has ended; its dating is closed.")
            new = replace(p, dating=(*p.dating, entry))
            self._check_pregnancy(new, self._clock.today())
            uow.pregnancy.update_pregnancy(patient_id, pregnancy_id, version, new)
            note = PlanChange(self._clock.now(), actor.username, f"EDD changed: {entry.reason}", "")
            moved = uow.pregnancy.refresh_dates(patient_id, pregnancy_id, p.edd, entry.edd, note)
            self._audit(
                uow,
                actor,
                _event(
                    Action.UPDATE,
                    "current_pregnancy",
                    pregnancy_id,
                    patient_id,
                    {
                        "edd": [p.edd.isoformat(), entry.edd.isoformat()],
                        "reason": [None, entry.reason],
                        "records_moved": [None, moved],
                    },
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    def update(self, patient_id: int, pregnancy_id: int, version: int, details: CurrentPregnancy) -> PregnancyView:
        """Fetuses, confirmation, heartbeat, bleeding and notes. The dating is changed only by ``redate``."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            p = uow.pregnancy.get_pregnancy(patient_id, pregnancy_id)
            new = replace(
                p,
                fetuses=details.fetuses,
                conception=details.conception,
                iup_confirmed_on=details.iup_confirmed_on,
                iup_method=details.iup_method,
                heartbeat_on=details.heartbeat_on,
                bleeding=tuple(sorted(details.bleeding, key=lambda b: b.date)),
                notes=details.notes,
                high_risk_care=details.high_risk_care,
                cerclage_on=details.cerclage_on,
            )
            problems = pregnancy_problems(new, self._clock.today())
            if problems:
                raise ValidationError.from_dict(problems)
            uow.pregnancy.update_pregnancy(patient_id, pregnancy_id, version, new)
            changes: dict[str, Any] = {
                k: [str(getattr(p, k)), str(getattr(new, k))]
                for k in (
                    "fetuses",
                    "conception",
                    "iup_confirmed_on",
                    "iup_method",
                    "heartbeat_on",
                    "notes",
                    "high_risk_care",
                    "cerclage_on",
                )
                if getattr(p, k) != getattr(new, k)
            }
            if p.bleeding != new.bleeding:
                changes["bleeding_episodes"] = [len(p.bleeding), len(new.bleeding)]
            self._audit(uow, actor, _event(Action.UPDATE, "current_pregnancy", pregnancy_id, patient_id, changes))
            uow.commit()
            return self._view(uow, patient_id)

    def pending_on_end(self, patient_id: int, pregnancy_id: int) -> tuple[list[FollowUp], list[MedicationPlan]]:
        """What ending this pregnancy offers to cancel and stop: due antenatal follow-ups, active plans."""
        view = self.view(patient_id)
        follow_ups = [
            f
            for f in view.follow_ups
            if f.pregnancy_id == pregnancy_id and f.status is FollowUpStatus.DUE and f.kind in ANTENATAL_KINDS
        ]
        plans = [p for p in view.plans if p.pregnancy_id == pregnancy_id and p.status is PlanStatus.ACTIVE]
        return follow_ups, plans

    def end(
        self,
        patient_id: int,
        pregnancy_id: int,
        version: int,
        outcome: Outcome,
        ended_on: dt.date,
        *,
        cancel_follow_ups: bool = True,
        stop_plans: bool = True,
        tissue_genetics: TissueGenetics = TissueGenetics.NOT_SENT,
        preterm_birth: bool = False,
        notes: str = "",
    ) -> PregnancyView:
        """Record the outcome, move the pregnancy into the obstetric history, and in the same transaction
        (optionally) cancel its pending antenatal follow-ups and stop its active medication plans."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        today = self._clock.today()
        now = self._clock.now()
        with self._uow() as uow:
            p = uow.pregnancy.get_pregnancy(patient_id, pregnancy_id)
            if not p.is_open:
                raise ValidationError.single("outcome", "This pregnancy has already ended.")
            problems = end_problems(p, outcome, ended_on, today)
            if problems:
                raise ValidationError.from_dict(problems)
            history = to_history(
                p, outcome, ended_on, preterm_birth=preterm_birth, tissue_genetics=tissue_genetics, notes=notes
            )
            history_id = uow.patients.add_pregnancy(patient_id, history)
            sensitive = outcome in SENSITIVE_OUTCOMES
            ended = replace(p, ended_on=ended_on, outcome=outcome, sensitive=sensitive)
            uow.pregnancy.update_pregnancy(patient_id, pregnancy_id, version, ended, history_id=history_id)
            events = [
                _event(
                    Action.UPDATE,
                    "current_pregnancy",
                    pregnancy_id,
                    patient_id,
                    {"outcome": [None, outcome.value], "ended_on": [None, ended_on.isoformat()]},
                ),
                _event(
                    Action.CREATE,
                    "previous_pregnancy",
                    history_id,
                    patient_id,
                    {"from_pregnancy": [None, pregnancy_id]},
                ),
            ]
            reason = "Pregnancy ended"
            if cancel_follow_ups:
                for f in uow.pregnancy.follow_ups(patient_id):
                    if f.pregnancy_id == pregnancy_id and f.status is FollowUpStatus.DUE and f.kind in ANTENATAL_KINDS:
                        assert f.id is not None
                        f_change = FollowUpChange(now, actor.username, reason, "cancelled")
                        new_f = replace(
                            f, status=FollowUpStatus.CANCELLED, cancel_reason=reason, history=(*f.history, f_change)
                        )
                        uow.pregnancy.update_follow_up(patient_id, f.id, f.version, new_f)
                        events.append(
                            _event(Action.UPDATE, "follow_up", f.id, patient_id, {"status": ["due", "cancelled"]})
                        )
            if stop_plans:
                for plan in uow.pregnancy.plans(patient_id):
                    if plan.pregnancy_id == pregnancy_id and plan.status is PlanStatus.ACTIVE:
                        assert plan.id is not None
                        planned = plan.stop_date(p.edd)
                        if planned is not None and planned <= ended_on:
                            continue  # finished by the time the pregnancy ended
                        if plan.start >= ended_on:  # not begun yet: never to be taken
                            status, stopped_on, text = PlanStatus.CANCELLED, None, "cancelled"
                        else:
                            status, stopped_on, text = PlanStatus.STOPPED, ended_on, f"stopped from {ended_on}"
                        change = PlanChange(now, actor.username, reason, text)
                        new_plan = replace(
                            plan,
                            status=status,
                            stopped_on=stopped_on,
                            stop_reason=reason,
                            history=(*plan.history, change),
                        )
                        uow.pregnancy.update_plan(patient_id, plan.id, plan.version, new_plan, p.edd)
                        events.append(
                            _event(
                                Action.UPDATE,
                                "medication_plan",
                                plan.id,
                                patient_id,
                                {"status": ["active", status.value]},
                            )
                        )
            self._audit(uow, actor, *events)
            uow.commit()
            return self._view(uow, patient_id)

    # -- medication plans -------------------------------------------------------------------------------

    def _edd(self, uow: UnitOfWork, patient_id: int, pregnancy_id: int | None) -> dt.date | None:
        if pregnancy_id is None:
            return None
        return uow.pregnancy.get_pregnancy(patient_id, pregnancy_id).edd

    def save_plan(
        self, patient_id: int, plan: MedicationPlan, reason: str = "", override: Override | None = None
    ) -> PregnancyView:
        """Add a plan (``plan.id`` None) or change one; a change needs a reason and is kept in its history.
        A critical alert the plan would raise (e.g. progesterone without a confirmed intrauterine pregnancy)
        blocks the save — nothing is written — unless a consultant gives ``override``."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        if override is not None:
            self._actor(Permission.OVERRIDE_CRITICAL_ALERTS)  # refused (and audited) before anything is written
        now = self._clock.now()
        with self._uow() as uow:
            uow.patients.require(patient_id)
            if plan.id is None and plan.pregnancy_id is None:
                current = uow.pregnancy.open_pregnancy(patient_id)
                plan = replace(plan, pregnancy_id=current.id if current else None)
            edd = self._edd(uow, patient_id, plan.pregnancy_id)
            problems = plan_problems(plan, edd)
            if plan.start > self._clock.today() + dt.timedelta(days=366):
                problems["start"] = "The start must be within a year from today."
            if plan.id is not None and not reason.strip():
                problems["reason"] = "Give the reason for the change."
            if problems:
                raise ValidationError.from_dict(problems)
            if plan.id is None:
                change = PlanChange(now, actor.username, reason or "New plan", summary(plan, edd))
                plan_id = uow.pregnancy.add_plan(patient_id, replace(plan, history=(change,)), edd)
                self._audit(
                    uow,
                    actor,
                    _event(Action.CREATE, "medication_plan", plan_id, patient_id, {"plan": [None, change.summary]}),
                )
            else:
                old = uow.pregnancy.get_plan(patient_id, plan.id)
                change = PlanChange(now, actor.username, reason, summary(plan, edd))
                new = replace(plan, history=(*old.history, change))
                uow.pregnancy.update_plan(patient_id, plan.id, plan.version, new, edd)
                self._audit(
                    uow,
                    actor,
                    _event(
                        Action.UPDATE,
                        "medication_plan",
                        plan.id,
                        patient_id,
                        {"plan": [summary(old, edd), change.summary], "reason": [None, reason]},
                    ),
                )
            if self._alerts is not None:
                self._alerts.check_blocking(uow, patient_id, f"plan:{plan_key(plan)}", actor, override)
            uow.commit()
            return self._view(uow, patient_id)

    def stop_plan(
        self, patient_id: int, plan_id: int, version: int, stopped_on: dt.date, reason: str, cancel: bool = False
    ) -> PregnancyView:
        """Stop a plan early from ``stopped_on`` (no dose that day), or cancel it as never taken."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        if not reason.strip():
            raise ValidationError.single("reason", "Give the reason.")
        with self._uow() as uow:
            plan = uow.pregnancy.get_plan(patient_id, plan_id)
            if plan.status is not PlanStatus.ACTIVE:
                raise ValidationError.single("status", f"This plan is already {plan.status.value}.")
            if not cancel and stopped_on <= plan.start:
                raise ValidationError.single("stopped_on", "The stop must be after the start.")
            edd = self._edd(uow, patient_id, plan.pregnancy_id)
            status = PlanStatus.CANCELLED if cancel else PlanStatus.STOPPED
            text = "cancelled" if cancel else f"stopped from {stopped_on.isoformat()}"
            change = PlanChange(self._clock.now(), actor.username, reason, text)
            new = replace(
                plan,
                status=status,
                stopped_on=None if cancel else stopped_on,
                stop_reason=reason,
                history=(*plan.history, change),
            )
            uow.pregnancy.update_plan(patient_id, plan_id, version, new, edd)
            self._audit(
                uow,
                actor,
                _event(
                    Action.UPDATE,
                    "medication_plan",
                    plan_id,
                    patient_id,
                    {"status": ["active", status.value], "reason": [None, reason]},
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    # -- follow-ups --------------------------------------------------------------------------------------

    def add_follow_up(self, patient_id: int, f: FollowUp) -> PregnancyView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        problems = schedule_problems(f, self._clock.today())
        if problems:
            raise ValidationError.from_dict(problems)
        with self._uow() as uow:
            uow.patients.require(patient_id)
            if f.pregnancy_id is None:
                current = uow.pregnancy.open_pregnancy(patient_id)
                f = replace(f, pregnancy_id=current.id if current else None)
            change = FollowUpChange(self._clock.now(), actor.username, "Scheduled", f"due {f.due_date.isoformat()}")
            (fid,) = uow.pregnancy.add_follow_ups(
                patient_id, [replace(f, status=FollowUpStatus.DUE, history=(change,))]
            )
            self._audit(
                uow,
                actor,
                _event(
                    Action.CREATE,
                    "follow_up",
                    fid,
                    patient_id,
                    {"kind": [None, f.kind.value], "due": [None, f.due_date.isoformat()]},
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    def schedule_series(self, patient_id: int, protocol_key: str) -> PregnancyView:
        """Create the protocol's follow-ups for the current pregnancy from today on; dates already
        scheduled for the same protocol are not duplicated."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        protocol = next((p for p in self.protocols() if p.key == protocol_key), None)
        if protocol is None:
            raise ValidationError.single("protocol", "Choose a protocol from the list.")
        today = self._clock.today()
        with self._uow() as uow:
            current = uow.pregnancy.open_pregnancy(patient_id)
            if current is None:
                raise ValidationError.single("protocol", "A series needs a current, dated pregnancy.")
            # a slot of the series is taken by any item of the protocol near its gestation, even if rescheduled
            taken = {
                series_slot(protocol, current.gestation_days_on(f.due_date))
                for f in uow.pregnancy.follow_ups(patient_id)
                if f.pregnancy_id == current.id
                and f.protocol == protocol.key
                and f.status is not FollowUpStatus.CANCELLED
            }
            change = FollowUpChange(self._clock.now(), actor.username, "Scheduled", protocol.label)
            items = [
                replace(f, history=(change,))
                for f in build_series(protocol, current.edd, today, current.id)
                if series_slot(protocol, current.gestation_days_on(f.due_date)) not in taken
            ]
            if not items:
                raise ValidationError.single("protocol", "Nothing left to schedule: the series is in place or past.")
            ids = uow.pregnancy.add_follow_ups(patient_id, items)
            self._audit(
                uow,
                actor,
                *(
                    _event(
                        Action.CREATE,
                        "follow_up",
                        fid,
                        patient_id,
                        {"protocol": [None, protocol.key], "due": [None, f.due_date.isoformat()]},
                    )
                    for fid, f in zip(ids, items, strict=True)
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    def record_result(self, patient_id: int, follow_up_id: int, version: int, result: FollowUp) -> PregnancyView:
        """Mark a follow-up done with its result (or correct a result; the earlier one stays in the history)."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            f = uow.pregnancy.get_follow_up(patient_id, follow_up_id)
            if f.status is FollowUpStatus.CANCELLED:
                raise ValidationError.single("status", "This follow-up was cancelled; schedule a new one.")
            done = replace(
                f,
                status=FollowUpStatus.DONE,
                result_date=result.result_date,
                swab_result=result.swab_result,
                organism=result.organism.strip(),
                cervical_length_mm=result.cervical_length_mm,
                funnelling=result.funnelling,
                result_notes=result.result_notes,
            )
            problems = result_problems(done, self._clock.today())
            if problems:
                raise ValidationError.from_dict(problems)
            before = result_summary(f) or f.status.value
            change = FollowUpChange(
                self._clock.now(), actor.username, "Result entered", f"{before} -> {result_summary(done)}"
            )
            uow.pregnancy.update_follow_up(
                patient_id, follow_up_id, version, replace(done, history=(*f.history, change))
            )
            self._audit(
                uow,
                actor,
                _event(
                    Action.UPDATE, "follow_up", follow_up_id, patient_id, {"result": [before, result_summary(done)]}
                ),
            )
            uow.commit()
            return self._view(uow, patient_id)

    def _change_status(
        self, patient_id: int, follow_up_id: int, version: int, reason: str, actor: Actor, **values: Any
    ) -> PregnancyView:
        with self._uow() as uow:
            f = uow.pregnancy.get_follow_up(patient_id, follow_up_id)
            if f.status is not FollowUpStatus.DUE:
                raise ValidationError.single(
                    "status", f"Only a due follow-up can change; this one is {f.status.value}."
                )
            new = replace(f, **values)
            text = ", ".join(f"{k}: {getattr(f, k)} -> {v}" for k, v in values.items())
            change = FollowUpChange(self._clock.now(), actor.username, reason, text)
            uow.pregnancy.update_follow_up(
                patient_id, follow_up_id, version, replace(new, history=(*f.history, change))
            )
            changes: dict[str, Any] = {k: [str(getattr(f, k)), str(v)] for k, v in values.items()}
            changes["reason"] = [None, reason]
            self._audit(uow, actor, _event(Action.UPDATE, "follow_up", follow_up_id, patient_id, changes))
            uow.commit()
            return self._view(uow, patient_id)

    def reschedule(self, patient_id: int, follow_up_id: int, version: int, due: dt.date, reason: str) -> PregnancyView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        if not reason.strip():
            raise ValidationError.single("reason", "Give the reason for moving it.")
        problem = due_date_problem(due, self._clock.today())
        if problem:
            raise ValidationError.single("due_date", problem)
        return self._change_status(patient_id, follow_up_id, version, reason, actor, due_date=due)

    def cancel_follow_up(self, patient_id: int, follow_up_id: int, version: int, reason: str) -> PregnancyView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        if not reason.strip():
            raise ValidationError.single("reason", "Give the reason for cancelling.")
        return self._change_status(
            patient_id, follow_up_id, version, reason, actor, status=FollowUpStatus.CANCELLED, cancel_reason=reason
        )

    def mark_missed(
        self, patient_id: int, follow_up_id: int, version: int, reason: str = "Did not attend"
    ) -> PregnancyView:
        actor = self._actor(Permission.EDIT_PATIENTS)
        return self._change_status(patient_id, follow_up_id, version, reason, actor, status=FollowUpStatus.MISSED)
