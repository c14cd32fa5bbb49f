"""Pregnancy, medication-plan and follow-up use cases and the worklist, on both databases."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from conftest import act_as

from rmclinic.domain import dating
from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.errors import ConflictError, ValidationError
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus, SwabResult
from rmclinic.domain.medication import (
    Anchor,
    DoseStep,
    Frequency,
    Indication,
    MedicationPlan,
    PlanStatus,
    apply_template,
)
from rmclinic.domain.obstetric import Outcome
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.session import PermissionDenied

TODAY = dt.date(2026, 11, 22)
AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))
BETH = PatientData("RM2", "Okafor", "Beth", dt.date(1988, 7, 2))


def lmp_at(ga_days: int) -> dt.date:
    """The LMP that makes today ``ga_days`` of gestation."""
    return TODAY - dt.timedelta(days=ga_days)


def start(services: Services, pid: int, ga_today: int, confirm: bool = True) -> int:
    """Start a pregnancy ``ga_today`` days along; with ``confirm``, an intrauterine pregnancy seen yesterday."""
    entry = date_entry(DatingMethod.LMP, TODAY, lmp=lmp_at(ga_today))
    view = services.pregnancy.start(pid, entry)
    assert view.pregnancy is not None and view.pregnancy.id is not None
    if confirm:
        p = view.pregnancy
        services.pregnancy.update(
            pid,
            p.id,
            p.version,
            replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL),
        )
    return view.pregnancy.id


def progesterone(**kw: object) -> MedicationPlan:
    base: dict[str, object] = {
        "drug": "progesterone_vaginal",
        "dose": 400.0,
        "frequency": Frequency.TWICE_DAILY,
        "start": TODAY - dt.timedelta(days=20),
        "indication": Indication.THREATENED_MISCARRIAGE,
        "stop": Anchor(gestation_days=16 * 7),
    }
    base.update(kw)
    return MedicationPlan(**base)  # type: ignore[arg-type]


def test_start_redate_moves_plan_stops_and_keeps_dating_history(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    preg_id = start(services, pid, 9 * 7)  # 9+0 today
    with pytest.raises(ValidationError, match="already has a current pregnancy"):
        start(services, pid, 9 * 7)
    view = services.pregnancy.save_plan(pid, progesterone())
    plan = view.plans[0]
    assert plan.pregnancy_id == preg_id
    assert view.pregnancy is not None
    assert plan.stop_date(view.pregnancy.edd) == lmp_at(63) + dt.timedelta(days=112)
    # the scan says 8+2 (CRL 18 mm -> 8.052*sqrt(18)+23.73 = 57.9 -> 58 days): a 5-day difference at
    # 9+0 is within ACOG's 7 days, so no redating is advised; the clinician may still redate with a reason
    scan = date_entry(DatingMethod.CRL, TODAY, "dating scan", scan_date=TODAY, crl_mm=18.0)
    advice = dating.redating_advice(view.pregnancy.edd, TODAY, scan.edd)
    assert (advice.difference_days, advice.redate) == (5, False)
    with pytest.raises(ValidationError, match="reason"):
        services.pregnancy.redate(
            pid, preg_id, view.pregnancy.version, date_entry(DatingMethod.CRL, TODAY, scan_date=TODAY, crl_mm=18.0)
        )
    view = services.pregnancy.redate(pid, preg_id, view.pregnancy.version, scan)
    assert view.pregnancy is not None
    assert [e.method for e in view.pregnancy.dating] == [DatingMethod.LMP, DatingMethod.CRL]
    assert view.pregnancy.dating[-1].recorded_by == "consultant"
    assert str(view.pregnancy.gestation_on(TODAY)) == "8+2"
    # the stop at 16+0 moved with the EDD, and the worklist finds it on the new date
    new_stop = dating.date_at(scan.edd, 112)
    assert view.plans[0].stop_date(scan.edd) == new_stop
    stops = services.worklist.items(new_stop, 1, ["medication_stop"])
    assert [(i.hospital_number, i.gestation) for i in stops] == [("RM1", "16+0")]
    assert services.worklist.items(new_stop - dt.timedelta(days=5), 1, ["medication_stop"]) == []
    act_as(services, Role.ADMIN, "auditor")
    trail, _ = services.audit.query(AuditFilter(patient_id=pid))
    assert any(e.entity == "current_pregnancy" and "reason" in e.details for e in trail)


def test_taper_steps_and_plan_history(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    start(services, pid, 10 * 7)
    view = services.pregnancy.save_plan(pid, progesterone())
    plan = view.plans[0]
    tapered = MedicationPlan(**{**plan.__dict__, "taper": apply_template(plan, "halve_1w")})
    with pytest.raises(ValidationError, match="reason"):
        services.pregnancy.save_plan(pid, tapered)
    view = services.pregnancy.save_plan(pid, tapered, reason="Patient anxious about stopping abruptly")
    plan = view.plans[0]
    assert len(plan.taper) == 1 and plan.taper[0].dose == 200
    assert [c.reason for c in plan.history] == ["New plan", "Patient anxious about stopping abruptly"]
    assert plan.history[-1].by == "consultant"
    edd = view.pregnancy.edd  # type: ignore[union-attr]
    step_day = dating.date_at(edd, 15 * 7)
    items = services.worklist.items(step_day, 1, ["taper_step"])
    assert len(items) == 1 and "200 mg twice a day" in items[0].description and items[0].gestation == "15+0"
    # a stale editor cannot overwrite a newer version
    with pytest.raises(ConflictError):
        services.pregnancy.save_plan(pid, tapered, reason="stale")


def test_invalid_plan_saves_nothing(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    start(services, pid, 8 * 7)
    with pytest.raises(ValidationError) as bad:
        services.pregnancy.save_plan(pid, progesterone(dose=4000.0))
    assert "check the dose" in bad.value.for_field("dose")[0]
    assert services.pregnancy.view(pid).plans == ()


def test_series_results_short_cervix_and_missed(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    start(services, pid, 15 * 7)
    view = services.pregnancy.schedule_series(pid, "cl_2weekly")
    scans = [f for f in view.follow_ups if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN]
    assert [view.pregnancy.gestation_days_on(f.due_date) for f in scans] == [112, 126, 140, 154, 168]  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="Nothing left"):
        services.pregnancy.schedule_series(pid, "cl_2weekly")
    first = scans[0]
    assert first.id is not None
    result = FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, first.due_date, result_date=TODAY, cervical_length_mm=-3)
    with pytest.raises(ValidationError) as bad:
        services.pregnancy.record_result(pid, first.id, first.version, result)
    assert bad.value.for_field("cervical_length_mm")
    ok = FollowUp(
        FollowUpKind.CERVICAL_LENGTH_SCAN, first.due_date, result_date=TODAY, cervical_length_mm=24, funnelling=False
    )
    view = services.pregnancy.record_result(pid, first.id, first.version, ok)
    done = next(f for f in view.follow_ups if f.id == first.id)
    assert done.status is FollowUpStatus.DONE and done.cervical_length_mm == 24
    second = next(f for f in view.follow_ups if f.status is FollowUpStatus.DUE)
    assert second.id is not None
    view = services.pregnancy.reschedule(
        pid, second.id, second.version, second.due_date + dt.timedelta(days=2), "Clinic closed"
    )
    moved = next(f for f in view.follow_ups if f.id == second.id)
    assert moved.history[-1].reason == "Clinic closed"
    view = services.pregnancy.mark_missed(pid, moved.id, moved.version)  # type: ignore[arg-type]
    assert next(f for f in view.follow_ups if f.id == second.id).status is FollowUpStatus.MISSED


def test_swab_overdue_stays_on_the_worklist(services: Services) -> None:
    pid = services.patients.register(BETH).id
    start(services, pid, 13 * 7)
    old = TODAY - dt.timedelta(days=40)
    services.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, old, window_days=3))
    items = services.worklist.items(TODAY, 1, ["swab"])
    assert len(items) == 1 and items[0].overdue and items[0].due_date == old
    assert items[0].description == "Vaginal swab OVERDUE (±3 days)"
    f = services.pregnancy.view(pid).follow_ups[0]
    assert f.id is not None
    services.pregnancy.record_result(
        pid, f.id, f.version, FollowUp(FollowUpKind.SWAB, old, result_date=TODAY, swab_result=SwabResult.NEGATIVE)
    )
    assert services.worklist.items(TODAY, 1, ["swab"]) == []


def test_ending_with_a_loss_moves_to_history_and_cancels_antenatal_follow_ups(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    preg_id = start(services, pid, 17 * 7)
    services.pregnancy.save_plan(
        pid, progesterone(stop=Anchor(gestation_days=20 * 7), indication=Indication.PRETERM_PREVIOUS_BIRTH)
    )
    view = services.pregnancy.schedule_series(pid, "cl_2weekly")
    pending, plans = services.pregnancy.pending_on_end(pid, preg_id)
    assert len(pending) == 4 and len(plans) == 1  # 18+0, 20+0, 22+0, 24+0
    assert view.pregnancy is not None
    with pytest.raises(ValidationError) as bad:
        services.pregnancy.end(pid, preg_id, view.pregnancy.version, Outcome.EARLY_MISCARRIAGE, TODAY)
    assert "17+0" in bad.value.for_field("outcome")[0]
    view = services.pregnancy.end(pid, preg_id, view.pregnancy.version, Outcome.LATE_MISCARRIAGE, TODAY)
    assert view.pregnancy is None and view.sensitive
    assert all(f.status is FollowUpStatus.CANCELLED for f in view.follow_ups)
    assert view.plans[0].status is PlanStatus.STOPPED and view.plans[0].stopped_on == TODAY
    record = services.patients.get(pid)
    (prev,) = record.data.pregnancies
    assert (prev.outcome, prev.gestation_days, prev.date) == (Outcome.LATE_MISCARRIAGE, 119, TODAY)
    assert services.worklist.items(TODAY, 30) == []
    # a new pregnancy can start afterwards
    start(services, pid, 5 * 7)
    assert not services.pregnancy.view(pid).sensitive


def test_milestones_and_permissions(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    start(services, pid, 11 * 7 - 1)  # reaches 11+2 in three days
    items = services.worklist.items(TODAY, 7, ["milestone"])
    assert [(i.due_date, i.gestation) for i in items] == [(TODAY + dt.timedelta(days=3), "11+2")]
    assert "Dating-scan window" in items[0].description and "NICE antenatal care" in items[0].description
    act_as(services, Role.READ_ONLY, "viewer")
    assert services.worklist.items(TODAY, 7, ["milestone"])  # read-only users may look
    with pytest.raises(PermissionDenied):
        services.pregnancy.save_plan(pid, progesterone())
    with pytest.raises(ValidationError, match="Days"):
        services.worklist.items(TODAY, 0)


def test_clinic_protocols_and_milestones_are_settings_that_must_cite_something(services: Services) -> None:
    import json

    act_as(services, Role.ADMIN, "admin")
    weekly = {
        "key": "cl_weekly",
        "label": "Cervical length weekly, 16+0 to 20+0",
        "kind": "cervical_length_scan",
        "from": "16+0",
        "to": "20+0",
        "interval_days": 7,
        "window_days": 1,
        "source": "",
    }
    with pytest.raises(ValidationError, match="rests on"):
        services.settings.set("followup_protocols", json.dumps([weekly]))
    with pytest.raises(ValidationError, match=r"JSON|Expecting"):
        services.settings.set("worklist_milestones", "[{")
    services.settings.set("followup_protocols", json.dumps([{**weekly, "source": "Local protocol (Dr Lee, 2026)"}]))
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(AMIRA).id
    start(services, pid, 15 * 7)
    assert [p.key for p in services.pregnancy.protocols()] == ["cl_weekly"]
    view = services.pregnancy.schedule_series(pid, "cl_weekly")
    assert [view.pregnancy.gestation_days_on(f.due_date) for f in view.follow_ups] == [112, 119, 126, 133, 140]  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="Choose a protocol"):
        services.pregnancy.schedule_series(pid, "cl_2weekly")


def test_redating_moves_series_and_records_why_and_flags_plans_it_breaks(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    preg_id = start(services, pid, 15 * 7)
    view = services.pregnancy.schedule_series(pid, "cl_2weekly")
    # a hand-typed taper step by date, then a redating that puts the stop before it
    plan = progesterone(stop=Anchor(gestation_days=16 * 7 + 5), indication=Indication.PRETERM_PREVIOUS_BIRTH)
    step_day = lmp_at(15 * 7) + dt.timedelta(days=16 * 7 + 2)
    plan = replace(plan, taper=(DoseStep(Anchor(date=step_day), 200, Frequency.TWICE_DAILY),))
    view = services.pregnancy.save_plan(pid, plan)
    first = next(f for f in view.follow_ups if f.status is FollowUpStatus.DUE)
    assert first.id is not None
    services.pregnancy.reschedule(pid, first.id, first.version, first.due_date + dt.timedelta(days=2), "Clinic closed")
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None
    scan = date_entry(DatingMethod.MANUAL, TODAY, "Fetal medicine unit", edd=p.edd - dt.timedelta(days=10))
    view = services.pregnancy.redate(pid, preg_id, p.version, scan)
    assert view.pregnancy is not None
    due = [f for f in view.follow_ups if f.status is FollowUpStatus.DUE]
    # every series item keeps its gestation (the rescheduled one keeps its 2 extra days)
    assert sorted(view.pregnancy.gestation_days_on(f.due_date) for f in due) == [114, 126, 140, 154, 168]
    assert all(f.history[-1].reason == "EDD changed: Fetal medicine unit" for f in due)
    (saved,) = view.plans
    assert saved.history[-1].reason == "EDD changed: Fetal medicine unit" and "dates moved" in saved.history[-1].summary
    assert "stop" in view.plan_warnings[saved.id]  # type: ignore[index]
    # the step now falls after the stop: never on the worklist
    assert services.worklist.items(step_day, 1, ["taper_step"]) == []
    # scheduling the series again adds nothing: every slot is taken, rescheduled or not
    with pytest.raises(ValidationError, match="Nothing left"):
        services.pregnancy.schedule_series(pid, "cl_2weekly")


def test_an_early_stop_still_to_come_is_on_the_worklist_and_ending_cancels_unstarted_plans(
    services: Services,
) -> None:
    pid = services.patients.register(AMIRA).id
    preg_id = start(services, pid, 10 * 7)
    view = services.pregnancy.save_plan(pid, progesterone(start=TODAY - dt.timedelta(days=3)))
    plan = view.plans[0]
    assert plan.id is not None
    later = TODAY + dt.timedelta(days=5)
    services.pregnancy.stop_plan(pid, plan.id, plan.version, later, "Side effects")
    assert [i.type for i in services.worklist.items(later, 1, ["medication_stop"])] == ["medication_stop"]
    services.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "enoxaparin", 40, Frequency.ONCE_DAILY, TODAY + dt.timedelta(days=7), Indication.VTE_PROPHYLAXIS
        ),
    )
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None
    view = services.pregnancy.end(pid, preg_id, p.version, Outcome.EARLY_MISCARRIAGE, TODAY)
    lmwh = next(pl for pl in view.plans if pl.drug == "enoxaparin")
    assert lmwh.status is PlanStatus.CANCELLED  # never begun: no dose after the loss


def test_two_workstations_opening_a_pregnancy_at_once_get_a_clear_message(services: Services) -> None:
    from rmclinic.domain.pregnancy import CurrentPregnancy

    pid = services.patients.register(AMIRA).id
    entry = date_entry(DatingMethod.LMP, TODAY, lmp=lmp_at(60))
    factory = services.pregnancy._uow  # the race: both passed the "no open pregnancy" check
    with factory() as uow:
        uow.pregnancy.add_pregnancy(pid, CurrentPregnancy(None, (entry,)))
        uow.commit()
    with factory() as uow, pytest.raises(ValidationError, match="already has a current pregnancy"):
        uow.pregnancy.add_pregnancy(pid, CurrentPregnancy(None, (entry,)))
