"""Alerts on the record, on both databases: recording, responses ending with the data, critical alerts
blocking a save, clinic rule settings, and the clinic-wide refresh that feeds the worklist."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from conftest import act_as

from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.errors import ValidationError
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.domain.workup import ResultValue
from rmclinic.rules.lifecycle import EventKind, OverrideReason, Status
from rmclinic.services.alerts import CriticalAlertBlocked, Override
from rmclinic.services.container import Services
from rmclinic.services.session import PermissionDenied

TODAY = dt.date(2026, 11, 22)
LOSSES = tuple(PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 4, 2), 7 * 7) for y in (2023, 2024, 2025))
BETH = PatientData("RM7", "Okafor", "Beth", dt.date(1990, 6, 1), pregnancies=LOSSES)


def progesterone() -> MedicationPlan:
    return MedicationPlan(
        "progesterone_vaginal",
        400,
        Frequency.TWICE_DAILY,
        TODAY,
        Indication.THREATENED_MISCARRIAGE,
        Anchor(gestation_days=112),
    )


def by_rule(views):  # type: ignore[no-untyped-def]
    return {v.alert.rule.id: v for v in views}


def test_a_response_ends_when_the_data_no_longer_meets_the_rule(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(BETH).id
    r13 = by_rule(services.alerts.for_patient(pid))["R13"]
    services.alerts.respond(pid, "R13", r13.alert.episode, EventKind.ACKNOWLEDGED)
    assert by_rule(services.alerts.for_patient(pid))["R13"].status is Status.ACKNOWLEDGED
    services.workup.request(pid, ["tsh", "tpo"])  # the reminder is acted on: it stops firing and ends
    assert "R13" not in by_rule(services.alerts.for_patient(pid))
    with pytest.raises(ValidationError, match="no longer applies"):
        services.alerts.respond(pid, "R13", "workup", EventKind.ACKNOWLEDGED)


def test_override_rules_and_snooze_validation(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(BETH).id
    services.alerts.for_patient(pid)
    with pytest.raises(ValidationError) as bad:
        services.alerts.respond(pid, "R3", "workup", EventKind.OVERRIDDEN, "clinical_judgement", "")
    assert bad.value.for_field("comment")
    with pytest.raises(ValidationError) as bad:
        services.alerts.respond(pid, "R3", "workup", EventKind.SNOOZED, comment="away", until=TODAY)
    assert "after today" in bad.value.for_field("until")[0]
    views = services.alerts.respond(
        pid, "R3", "workup", EventKind.SNOOZED, comment="away", until=TODAY + dt.timedelta(days=3)
    )
    assert by_rule(views)["R3"].status is Status.SNOOZED


def test_a_critical_alert_blocks_the_save_and_writes_nothing_until_a_consultant_overrides(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(BETH).id
    view = services.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=44)))
    with pytest.raises(CriticalAlertBlocked) as blocked:
        services.pregnancy.save_plan(pid, progesterone())
    assert [a.rule.id for a in blocked.value.alerts] == ["R23"]
    assert services.pregnancy.view(pid).plans == ()
    with pytest.raises(PermissionDenied):
        services.pregnancy.save_plan(pid, progesterone(), override=Override(OverrideReason.DONE_ELSEWHERE))
    assert services.pregnancy.view(pid).plans == ()
    act_as(services, Role.CONSULTANT, "drlee")
    services.pregnancy.save_plan(
        pid, progesterone(), override=Override(OverrideReason.DONE_ELSEWHERE, "scan elsewhere")
    )
    assert len(services.pregnancy.view(pid).plans) == 1
    assert by_rule(services.alerts.for_patient(pid))["R23"].status is Status.OVERRIDDEN
    # once the scan is recorded the alert ends, and the override with it
    p = view.pregnancy
    assert p is not None and p.id is not None
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    seen = replace(p, iup_confirmed_on=TODAY, iup_method=IupMethod.TRANSVAGINAL)
    services.pregnancy.update(pid, p.id, p.version, seen)
    assert "R23" not in by_rule(services.alerts.for_patient(pid))


def test_clinic_can_disable_rules_and_tune_parameters_within_cited_bounds(services: Services) -> None:
    act_as(services, Role.ADMIN, "admin")
    with pytest.raises(ValidationError, match=r"2\.5 to 4 mIU/L"):
        services.settings.set("rule_settings", json.dumps({"parameters": {"R14": {"tsh_threshold": 1.0}}}))
    with pytest.raises(ValidationError, match="rule ids"):
        services.settings.set("rule_settings", json.dumps({"disabled": ["R99"]}))
    services.settings.set(
        "rule_settings", json.dumps({"disabled": ["R41"], "parameters": {"R14": {"tsh_threshold": 2.5}}})
    )
    act_as(services, Role.NURSE, "nina")
    smoker = replace(BETH, risk=replace(BETH.risk, smoking="current"))
    pid = services.patients.register(smoker).id
    services.workup.record_result(pid, "tsh", ResultValue(numeric=3.0, unit="mIU/L", lab_low=0.4, lab_high=4.0), TODAY)
    services.workup.record_result(pid, "ft4", ResultValue(numeric=14, unit="pmol/L", lab_low=10, lab_high=22), TODAY)
    views = by_rule(services.alerts.for_patient(pid))
    assert "R41" not in views  # disabled
    assert "R14" in views and "2.5" in " ".join(views["R14"].alert.because)  # TSH 3.0 above the clinic's 2.5


def test_the_nightly_refresh_feeds_the_worklist_and_a_response_takes_the_alert_off(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(BETH).id
    services.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=44)))
    act_as(services, Role.CONSULTANT, "drlee")
    services.pregnancy.save_plan(
        pid, progesterone(), override=Override(OverrideReason.CLINICAL_JUDGEMENT, "PUL excluded")
    )
    assert services.alerts.refresh_all() == 1
    items = services.worklist.items(TODAY, 1, ["alert"])
    titles = {i.description for i in items}
    assert any(t.startswith("WARNING: Antiphospholipid antibodies not tested") for t in titles)
    assert not any("R23" in t for t in titles)  # overridden: nothing to do
    assert all(i.tab == "alerts" and i.hospital_number == "RM7" for i in items)
    # tomorrow the same warnings are no longer new, so only critical ones stay on the list
    assert services.worklist.items(TODAY + dt.timedelta(days=1), 1, ["alert"]) == []
    services.alerts.respond(pid, "R3", "workup", EventKind.ACKNOWLEDGED)
    assert not any("(R3)" in i.description for i in services.worklist.items(TODAY, 1, ["alert"]))


def test_a_critical_rule_that_cannot_be_evaluated_blocks_the_save(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmclinic.rules import engine

    act_as(services, Role.CONSULTANT, "drlee")
    pid = services.patients.register(BETH).id
    view = services.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=44)))
    p = view.pregnancy
    assert p is not None and p.id is not None
    seen = replace(p, iup_confirmed_on=TODAY, iup_method=IupMethod.TRANSVAGINAL)
    services.pregnancy.update(pid, p.id, p.version, seen)  # R23 itself would not fire now

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("bug in the rule")

    services.alerts.rule_set()  # the rule logic is registered before one rule is broken
    monkeypatch.setitem(engine.LOGIC, "R23", broken)  # a critical rule
    with pytest.raises(CriticalAlertBlocked) as blocked:
        services.pregnancy.save_plan(pid, progesterone())
    assert [a.rule.id for a in blocked.value.alerts] == ["R23"] and blocked.value.alerts[0].error
    assert services.pregnancy.view(pid).plans == ()  # nothing written
    monkeypatch.undo()
    services.pregnancy.save_plan(pid, progesterone())  # fixed: the save goes through
    assert len(services.pregnancy.view(pid).plans) == 1


def test_blocking_covers_future_starts_and_new_plans_but_not_unrelated_ones(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    allergic = replace(BETH, risk=replace(BETH.risk, drug_allergies=("Aspirin", "Heparin")))
    pid = services.patients.register(allergic).id
    services.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=44)))
    tomorrow = replace(progesterone(), start=TODAY + dt.timedelta(days=1))
    with pytest.raises(CriticalAlertBlocked):  # starting tomorrow is no way round a missing scan
        services.pregnancy.save_plan(pid, tomorrow)
    aspirin = MedicationPlan("aspirin", 75, Frequency.ONCE_DAILY, TODAY, Indication.APS, Anchor(gestation_days=34 * 7))
    with pytest.raises(CriticalAlertBlocked):
        services.pregnancy.save_plan(pid, aspirin)
    act_as(services, Role.CONSULTANT, "drlee")
    services.pregnancy.save_plan(pid, aspirin, override=Override(OverrideReason.CLINICAL_JUDGEMENT, "desensitised"))
    act_as(services, Role.NURSE, "nina")
    folic = MedicationPlan("folic_acid", 0.4, Frequency.ONCE_DAILY, TODAY, Indication.OTHER, None)
    services.pregnancy.save_plan(pid, folic)  # unrelated to the allergy alert: not blocked
    heparin = MedicationPlan(
        "enoxaparin", 40, Frequency.ONCE_DAILY, TODAY, Indication.APS, Anchor(gestation_days=34 * 7)
    )
    with pytest.raises(CriticalAlertBlocked):  # the aspirin override does not cover a new heparin plan
        services.pregnancy.save_plan(pid, heparin)
    x1 = by_rule(services.alerts.for_patient(pid))["X1"]
    with pytest.raises(PermissionDenied):  # a nurse may not acknowledge (or snooze) a critical alert away
        services.alerts.respond(pid, "X1", x1.alert.episode, EventKind.ACKNOWLEDGED)
