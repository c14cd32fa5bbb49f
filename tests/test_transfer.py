"""Export/import of complete records: lossless round trip; invalid files rejected whole, with paths."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import act_as
from jsonschema import Draft202012Validator

from rmclinic.app import build_services
from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.dating import DatingMethod, date_at, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, SwabResult
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan, apply_template, with_taper
from rmclinic.domain.obstetric import Outcome
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.transfer import READABLE_VERSIONS, ImportRejected, load_schema

TODAY = dt.date(2026, 11, 22)
V3_PARTS = ("pregnancies", "medication_plans", "follow_ups", "alert_events")


@pytest.mark.parametrize("version", READABLE_VERSIONS)
def test_schema_is_a_valid_json_schema(version: int) -> None:
    Draft202012Validator.check_schema(load_schema(version))


@pytest.fixture
def other(
    db_url: str, clock: FixedClock, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """A second, empty database on the same backend as ``services``, on the same day."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.sqlite3'}"
    else:
        url = str(request.getfixturevalue("pg_server").create_database())
    svc = build_services(url, clock=clock)
    act_as(svc, Role.ADMIN)
    try:
        yield svc
    finally:
        svc.close()


def test_round_trip_keeps_every_patient(
    db_url: str, services: Services, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory
) -> None:
    services.demo.create(60, seed=11)
    for n in (1, 2, 3):  # opening a record evaluates its alerts and records their firings
        services.alerts.for_patient(services.patients.find_by_hospital_number(f"RM{n:06d}").id)  # type: ignore[union-attr]
    first = services.transfer.export()
    assert first["format"] == {"name": "rmclinic-patients", "version": 3}
    assert sum(len(p["investigations"]) for p in first["patients"]) > 60  # the workup travels too
    for part in V3_PARTS:  # and the pregnancies, plans and follow-ups
        assert any(p[part] for p in first["patients"]), part
    Draft202012Validator(load_schema()).validate(first)
    # Always into SQLite (also from PostgreSQL). The same frozen day: the import checks dates against today.
    other_url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.sqlite3'}"
    other = build_services(other_url, clock=clock)
    act_as(other, Role.ADMIN)
    try:
        assert other.transfer.import_document(json.loads(json.dumps(first))) == 60
        second = other.transfer.export()
    finally:
        other.close()
    assert second["patients"] == first["patients"]
    assert any(p["archived"] for p in first["patients"]) or len(first["patients"]) < 100


def test_selected_patients_only(services: Services) -> None:
    services.demo.create(5, seed=2)
    doc = services.transfer.export(["rm000002", "RM000001"])
    assert [p["hospital_number"] for p in doc["patients"]] == ["RM000001", "RM000002"]


def test_invalid_file_is_rejected_whole_with_json_paths(services: Services) -> None:
    act_as(services, Role.ADMIN)
    services.demo.create(3, seed=2)
    doc = services.transfer.export()
    services.demo.create(1, seed=9, force=True)  # empty-ish target: one patient RM000001
    bad = copy.deepcopy(doc)
    for p in bad["patients"]:
        p["hospital_number"] = "NEW" + p["hospital_number"]
        p["nhs_number"] = None
    bad["patients"][1]["date_of_birth"] = "2031-01-01"
    bad["patients"][2]["previous_pregnancies"][0].update(outcome="early_miscarriage", gestation_days=100)
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(bad)
    paths = {p.path for p in e.value.problems}
    assert "$.patients[1].date_of_birth" in paths
    assert "$.patients[2].previous_pregnancies[0].gestation_days" in paths
    assert services.patients.count() == 1  # nothing written


def test_schema_errors_name_the_path(services: Services) -> None:
    act_as(services, Role.ADMIN)
    doc = {
        "format": {"name": "rmclinic-patients", "version": 1},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [
            {
                "hospital_number": "A1",
                "family_name": "X",
                "given_name": "Y",
                "date_of_birth": "1990-01-01",
                "previous_pregnancies": [{"year": 2020, "outcome": "abortion"}],
                "surprise": 1,
            }
        ],
    }
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    paths = {p.path for p in e.value.problems}
    assert "$.patients[0].previous_pregnancies[0].outcome" in paths
    assert "$.patients[0]" in paths  # the unexpected property
    assert services.patients.count() == 0


def test_wrong_format_version_is_refused(services: Services) -> None:
    act_as(services, Role.ADMIN)
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(
            {
                "format": {"name": "rmclinic-patients", "version": 4},
                "exported_at": "2026-11-22T10:00:00Z",
                "patients": [],
            }
        )
    assert e.value.problems[0].path == "$.format.version"


def test_patients_already_present_are_refused(services: Services) -> None:
    act_as(services, Role.ADMIN)
    services.demo.create(3, seed=2)
    doc = services.transfer.export()
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    assert "$.patients[0].hospital_number" in {p.path for p in e.value.problems}
    assert services.patients.count() == 3


def test_version_1_files_still_import(services: Services) -> None:
    act_as(services, Role.ADMIN)
    doc = {
        "format": {"name": "rmclinic-patients", "version": 1},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [
            {"hospital_number": "OLD1", "family_name": "Old", "given_name": "Format", "date_of_birth": "1990-01-01"}
        ],
    }
    assert services.transfer.import_document(doc) == 1


def test_workup_in_an_import_is_checked_against_the_catalogue(services: Services) -> None:
    act_as(services, Role.ADMIN)
    patient = {
        "hospital_number": "W1",
        "family_name": "Work",
        "given_name": "Up",
        "date_of_birth": "1990-01-01",
        "investigations": [
            {
                "investigation_id": "tsh",
                "status": "resulted",
                "sample_date": "2026-10-01",
                "value": {"numeric": 52, "unit": "mIU/L"},
            },
            {"investigation_id": "no_such_test", "status": "requested"},
            {"investigation_id": "la", "status": "requested", "value": {"text": "positive"}},
        ],
    }
    doc = {
        "format": {"name": "rmclinic-patients", "version": 2},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [patient],
    }
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    paths = {p.path for p in e.value.problems}
    assert paths == {
        "$.patients[0].investigations[0].value.value",
        "$.patients[0].investigations[1].investigation_id",
        "$.patients[0].investigations[2].value",
    }
    assert services.patients.count() == 0


# -- format version 3: pregnancies under the clinic's care, medication plans, follow-ups --------------------

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))


def _days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def _progesterone(start: dt.date, stop_ga: int) -> MedicationPlan:
    plan = MedicationPlan(
        "progesterone_vaginal",
        400.0,
        Frequency.TWICE_DAILY,
        start,
        Indication.PRETERM_PREVIOUS_BIRTH,
        Anchor(gestation_days=stop_ga),
    )
    return with_taper(plan, apply_template(plan, "halve_1w"))


def _patient_with_pregnancies(services: Services) -> int:
    """A loss at 15+0 six months ago (plan stopped, swab done, appointment still due) and a current
    pregnancy at about 17 weeks, redated by a scan, with a tapered plan and a cervical-length series."""
    act_as(services, Role.CONSULTANT)
    care = services.pregnancy
    pid = services.patients.register(AMIRA).id
    # Before any pregnancy: a plan and a follow-up that belong to none.
    care.save_plan(pid, MedicationPlan("levothyroxine", 50, Frequency.ONCE_DAILY, _days_ago(250), Indication.OTHER))
    view = care.add_follow_up(pid, FollowUp(FollowUpKind.BLOOD_TEST, _days_ago(260), title="TSH"))
    tsh = view.follow_ups[0]
    assert tsh.id is not None
    care.record_result(
        pid,
        tsh.id,
        tsh.version,
        FollowUp(FollowUpKind.BLOOD_TEST, tsh.due_date, result_date=_days_ago(259), result_notes="2.1 mIU/L"),
    )
    # The first pregnancy, ended in a late miscarriage at 15+0.
    lmp = _days_ago(300)
    view = care.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=lmp))
    assert view.pregnancy is not None and view.pregnancy.id is not None
    first = view.pregnancy.id
    care.save_plan(pid, _progesterone(lmp + dt.timedelta(days=60), 16 * 7))
    view = care.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, lmp + dt.timedelta(days=84), window_days=3))
    swab = next(f for f in view.follow_ups if f.kind is FollowUpKind.SWAB)
    assert swab.id is not None
    care.record_result(
        pid,
        swab.id,
        swab.version,
        FollowUp(FollowUpKind.SWAB, swab.due_date, result_date=swab.due_date, swab_result=SwabResult.NEGATIVE),
    )
    care.add_follow_up(pid, FollowUp(FollowUpKind.APPOINTMENT, lmp + dt.timedelta(days=120), title="Review"))
    view = care.view(pid)
    assert view.pregnancy is not None
    care.end(pid, first, view.pregnancy.version, Outcome.LATE_MISCARRIAGE, lmp + dt.timedelta(days=105))
    # The current pregnancy: booked by LMP, redated by a scan, details, a tapered plan and a series.
    lmp = _days_ago(119)
    view = care.start(pid, date_entry(DatingMethod.LMP, _days_ago(60), lmp=lmp))
    assert view.pregnancy is not None and view.pregnancy.id is not None
    second = view.pregnancy.id
    scan = date_entry(DatingMethod.CRL, TODAY, "dating scan", scan_date=_days_ago(60), crl_mm=18.0)
    view = care.redate(pid, second, view.pregnancy.version, scan)
    assert view.pregnancy is not None
    details = CurrentPregnancy(
        None,
        (),
        iup_confirmed_on=_days_ago(60),
        iup_method=IupMethod.TRANSVAGINAL,
        heartbeat_on=_days_ago(60),
        bleeding=(Bleeding(_days_ago(70), Severity.SPOTTING, "after exercise"),),
        notes="Very anxious after the last loss",
    )
    care.update(pid, second, view.pregnancy.version, details)
    care.save_plan(pid, _progesterone(_days_ago(14), 20 * 7))
    view = care.schedule_series(pid, "cl_2weekly")
    scans = [f for f in view.follow_ups if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN]
    assert len(scans) == 4 and scans[0].id is not None and scans[1].id is not None
    care.record_result(
        pid,
        scans[0].id,
        scans[0].version,
        FollowUp(
            FollowUpKind.CERVICAL_LENGTH_SCAN,
            scans[0].due_date,
            result_date=TODAY,
            cervical_length_mm=31.5,
            funnelling=False,
        ),
    )
    care.reschedule(pid, scans[1].id, scans[1].version, scans[1].due_date + dt.timedelta(days=2), "Clinic closed")
    return pid


def _export(svc: Services) -> dict[str, Any]:
    act_as(svc, Role.ADMIN)
    return svc.transfer.export()


def test_pregnancies_plans_and_follow_ups_round_trip(services: Services, other: Services) -> None:
    pid = _patient_with_pregnancies(services)
    first = _export(services)
    Draft202012Validator(load_schema()).validate(first)
    (patient,) = first["patients"]
    ended, current = patient["pregnancies"]
    assert (ended["outcome"], ended["ended_on"], ended["sensitive"]) == (
        "late_miscarriage",
        _days_ago(195).isoformat(),
        True,
    )
    assert (current["outcome"], current["ended_on"]) == (None, None)
    assert [d["method"] for d in current["dating"]] == ["lmp", "crl"]
    assert current["bleeding"] == [
        {"date": _days_ago(70).isoformat(), "severity": "spotting", "notes": "after exercise"}
    ]
    assert [p["outcome"] for p in patient["previous_pregnancies"]] == ["late_miscarriage"]
    # plans and follow-ups name their pregnancy by its position in "pregnancies"
    plans = patient["medication_plans"]
    assert [(p["drug"], p["pregnancy"], p["status"]) for p in plans] == [
        ("levothyroxine", None, "active"),
        ("progesterone_vaginal", 0, "stopped"),
        ("progesterone_vaginal", 1, "active"),
    ]
    assert plans[2]["stop"] == {"gestation_days": 140}
    assert plans[2]["taper"] == [{"start": {"gestation_days": 133}, "dose": 200.0, "frequency": "twice_daily"}]
    assert [c["reason"] for c in plans[1]["history"]] == ["New plan", "Pregnancy ended"]
    follow_ups = patient["follow_ups"]
    assert [(f["kind"], f["pregnancy"], f["status"]) for f in follow_ups] == [
        ("blood_test", None, "done"),
        ("swab", 0, "done"),
        ("appointment", 0, "due"),
        *[("cervical_length_scan", 1, s) for s in ("done", "due", "due", "due")],
    ]
    assert follow_ups[3]["cervical_length_mm"] == 31.5 and follow_ups[3]["funnelling"] is False
    assert follow_ups[4]["history"][-1]["reason"] == "Clinic closed"

    assert other.transfer.import_document(json.loads(json.dumps(first))) == 1
    second = _export(other)
    assert second["patients"] == first["patients"]
    # What the import wrote works like the original: one open pregnancy whose taper step (resolved through
    # its EDD) is on the worklist, and the obstetric history entry the ended pregnancy became, once.
    act_as(other, Role.CONSULTANT)
    record = other.patients.find_by_hospital_number("RM1")
    assert record is not None and len(record.data.pregnancies) == 1
    view = other.pregnancy.view(record.id)
    original = services.pregnancy.view(pid)
    assert view.pregnancy is not None and original.pregnancy is not None
    assert view.pregnancy.edd == original.pregnancy.edd and len(view.ended) == 1
    assert [p.pregnancy_id for p in view.plans] == [None, view.ended[0].id, view.pregnancy.id]
    step_day = date_at(view.pregnancy.edd, 19 * 7)
    for svc in (services, other):
        items = svc.worklist.items(step_day, 1, ["taper_step"])
        assert [(i.hospital_number, i.gestation) for i in items] == [("RM1", "19+0")]
    # The import is audited per patient, with what came with the record.
    act_as(other, Role.ADMIN, "auditor")
    trail, _ = other.audit.query(AuditFilter(patient_id=record.id, action="import"))
    (entry,) = trail
    assert json.loads(entry.details) == {
        "current_pregnancies": [None, 2],
        "follow_ups": [None, 7],
        "medication_plans": [None, 3],
    }


def test_demo_data_round_trip_on_the_same_backend(services: Services, other: Services) -> None:
    services.demo.create(50)
    first = _export(services)
    assert sum(len(p["pregnancies"]) for p in first["patients"]) >= 2
    assert any(s["taper"] for p in first["patients"] for s in p["medication_plans"])
    assert any(f["status"] == "done" for p in first["patients"] for f in p["follow_ups"])
    assert other.transfer.import_document(json.loads(json.dumps(first))) == 50
    assert _export(other)["patients"] == first["patients"]


def test_version_2_files_still_import(services: Services, other: Services) -> None:
    services.demo.create(3, seed=2)
    doc = _export(services)
    doc["format"]["version"] = 2
    with pytest.raises(ImportRejected) as e:  # version 2 has no pregnancies, plans or follow-ups
        other.transfer.import_document(doc)
    assert "$.patients[0]" in {p.path for p in e.value.problems}
    for p in doc["patients"]:
        for part in V3_PARTS:
            del p[part]
    del doc["rule_set_version"]  # version 3 additions too
    for p in doc["patients"]:
        del p["risk_history"]["oligo_amenorrhoea"]
        del p["risk_history"]["aps_diagnosed"]
    assert other.transfer.import_document(doc) == 3
    again = _export(other)["patients"]
    assert [p["investigations"] for p in again] == [p["investigations"] for p in doc["patients"]]
    assert all(not p[part] for p in again for part in V3_PARTS)


def test_invalid_pregnancy_plan_and_follow_up_reject_the_whole_file(services: Services, other: Services) -> None:
    _patient_with_pregnancies(services)
    bad = _export(services)
    patient = bad["patients"][0]
    patient["medication_plans"][1]["taper"][0]["dose"] = 800  # twice daily: more than the 400 before it
    patient["medication_plans"][0]["pregnancy"] = 5  # there are two
    patient["pregnancies"][0].update(ended_on=None, outcome=None)  # a second open pregnancy
    patient["follow_ups"][2]["result_date"] = TODAY.isoformat()  # a result on one still due
    patient["follow_ups"][3]["cervical_length_mm"] = 0
    with pytest.raises(ImportRejected) as e:
        other.transfer.import_document(bad)
    by_path = {p.path: p.message for p in e.value.problems}
    assert set(by_path) == {
        "$.patients[0].medication_plans[1].taper[0].dose",
        "$.patients[0].medication_plans[0].pregnancy",
        "$.patients[0].pregnancies[1].ended_on",
        "$.patients[0].follow_ups[2].result_date",
        "$.patients[0].follow_ups[3].cervical_length_mm",
    }
    assert "must not increase" in by_path["$.patients[0].medication_plans[1].taper[0].dose"]
    assert "at most one open pregnancy" in by_path["$.patients[0].pregnancies[1].ended_on"]
    assert other.patients.count() == 0  # nothing written


def test_version_3_enums_and_anchors_are_checked_by_the_schema(services: Services) -> None:
    _patient_with_pregnancies(services)
    doc = _export(services)
    patient = doc["patients"][0]
    patient["medication_plans"][2]["frequency"] = "hourly"
    patient["medication_plans"][2]["stop"] = {"date": TODAY.isoformat(), "gestation_days": 140}
    patient["follow_ups"][0]["status"] = "postponed"
    patient["pregnancies"][1]["dating"][0]["method"] = "guess"
    patient["pregnancies"][1]["surprise"] = True
    act_as(services, Role.ADMIN)
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    paths = {p.path for p in e.value.problems}
    assert {
        "$.patients[0].medication_plans[2].frequency",
        "$.patients[0].medication_plans[2].stop",
        "$.patients[0].follow_ups[0].status",
        "$.patients[0].pregnancies[1].dating[0].method",
        "$.patients[0].pregnancies[1]",
    } <= paths
    assert services.patients.count() == 1


def test_alert_history_and_responses_travel_with_the_patient(services: Services, other: Services) -> None:
    from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
    from rmclinic.domain.patient import PatientData
    from rmclinic.rules.lifecycle import EventKind, Status

    losses = tuple(PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 3, 1), 7 * 7) for y in (2023, 2024, 2025))
    act_as(services, Role.CONSULTANT, "drlee")
    pid = services.patients.register(PatientData("RMX1", "Okafor", "Beth", dt.date(1990, 1, 1), pregnancies=losses)).id
    views = services.alerts.for_patient(pid)
    r3 = next(v for v in views if v.alert.rule.id == "R3")
    services.alerts.respond(
        pid, "R3", r3.alert.episode, EventKind.OVERRIDDEN, "done_elsewhere", "Tested at St Elsewhere"
    )
    services.alerts.respond(pid, "R13", "workup", EventKind.SNOOZED, comment="Away", until=dt.date(2026, 12, 20))
    act_as(services, Role.ADMIN)
    doc = services.transfer.export()
    events = doc["patients"][0]["alert_events"]
    assert {e["kind"] for e in events} >= {"fired", "overridden", "snoozed"}
    assert doc["rule_set_version"]
    assert other.transfer.import_document(json.loads(json.dumps(doc))) == 1
    new_pid = other.patients.find_by_hospital_number("RMX1").id  # type: ignore[union-attr]
    act_as(other, Role.CONSULTANT, "drlee")
    again = {v.alert.rule.id: v for v in other.alerts.for_patient(new_pid)}
    assert again["R3"].status is Status.OVERRIDDEN and again["R3"].response.comment == "Tested at St Elsewhere"  # type: ignore[union-attr]
    assert again["R13"].status is Status.SNOOZED
    bad = json.loads(json.dumps(doc))
    bad["patients"][0]["hospital_number"] = "RMX2"
    bad["patients"][0]["nhs_number"] = None
    bad["patients"][0]["alert_events"][1]["kind"] = "overridden"
    bad["patients"][0]["alert_events"][1]["reason_code"] = None
    act_as(other, Role.ADMIN)
    with pytest.raises(ImportRejected) as e:
        other.transfer.import_document(bad)
    assert any(p.path == "$.patients[0].alert_events[1].reason_code" for p in e.value.problems)
