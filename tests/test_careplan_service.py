"""Care plans through the services: the data both variants are drawn from, the record hash, printing and
exporting (audited, nurses and consultants only), batch printing of a day's worklist, and consultant
sign-off with exact reprints and out-of-date marks. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import replace

import pytest
from conftest import act_as
from pypdf import PdfReader

from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.errors import DomainError, ValidationError
from rmclinic.domain.followup import FollowUp, FollowUpKind
from rmclinic.domain.medication import Anchor, DoseStep, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.domain.timeline import Lane
from rmclinic.domain.workup import ResultValue
from rmclinic.rules.lifecycle import EventKind
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.session import PermissionDenied

TODAY = dt.date(2026, 11, 22)
ZOE = PatientData(
    "RM77",
    "Łukasiewicz-Nguyễn",
    "Zoë",
    dt.date(1986, 5, 9),
    pregnancies=(
        PreviousPregnancy(2022, Outcome.EARLY_MISCARRIAGE, dt.date(2022, 3, 1), 8 * 7),
        PreviousPregnancy(2023, Outcome.EARLY_MISCARRIAGE, dt.date(2023, 6, 10), 7 * 7),
        PreviousPregnancy(2025, Outcome.LATE_MISCARRIAGE, dt.date(2025, 2, 2), 17 * 7, fetuses=2),
    ),
)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def setup_patient(services: Services) -> int:
    """Zoë: three losses, an abnormal lupus anticoagulant, 9+0 today with progesterone to 16+0 and a taper,
    a swab due in a week and a cervical-length scan due at 16+0."""
    pid = services.patients.register(ZOE).id
    services.workup.record_result(pid, "la", ResultValue(text="positive"), TODAY - dt.timedelta(days=30))
    entry = date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=63))
    view = services.pregnancy.start(pid, entry)
    p = view.pregnancy
    assert p is not None and p.id is not None
    services.pregnancy.update(
        pid,
        p.id,
        p.version,
        replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL),
    )
    plan = MedicationPlan(
        "progesterone_vaginal",
        400.0,
        Frequency.TWICE_DAILY,
        TODAY - dt.timedelta(days=7),
        Indication.THREATENED_MISCARRIAGE,
        stop=Anchor(gestation_days=16 * 7),
        taper=(DoseStep(Anchor(gestation_days=14 * 7), 200.0, Frequency.TWICE_DAILY),),
    )
    services.pregnancy.save_plan(pid, plan)
    services.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, TODAY + dt.timedelta(days=7), pregnancy_id=p.id))
    services.pregnancy.add_follow_up(
        pid, FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, TODAY + dt.timedelta(days=49), pregnancy_id=p.id)
    )
    return pid


def test_data_holds_the_record_and_the_hash_follows_it(services: Services) -> None:
    pid = setup_patient(services)
    data = services.careplans.data(pid, "clinician")
    assert data.patient.hospital_number == "RM77"
    assert data.gestation is not None and str(data.gestation) == "9+0"
    assert [p.drug for p in data.plans] == ["progesterone_vaginal"]
    assert [f.kind for f in data.follow_ups] == [FollowUpKind.SWAB, FollowUpKind.CERVICAL_LENGTH_SCAN]
    assert data.results[0].flagged and data.results[0].name.startswith("Lupus anticoagulant")  # abnormal results first
    assert data.summary.total_losses == 3 and data.diagnoses
    # references are numbered in the order the alerts cite them
    assert data.alerts and data.references
    first = data.alerts[0].alert.rule.citations[0]
    assert data.citation_number(first.key) == 1
    # the timeline carries the plan bars and the follow-ups of this pregnancy
    gestation = next(p for p in data.timeline.panels if p.axis == "gestation")
    assert sum(1 for m in gestation.marks if m.lane is Lane.TREATMENT and m.x_end is not None) == 2  # dose + taper
    assert sorted(m.label for m in gestation.marks if m.lane is Lane.FOLLOW_UPS) == ["scan due", "swab due"]
    # the hash is the record's: stable, the same for both variants, and changed by any edit
    again = services.careplans.data(pid, "patient")
    assert again.record_hash == data.record_hash and len(data.record_hash) == 64
    services.pregnancy.add_follow_up(
        pid, FollowUp(FollowUpKind.BLOOD_TEST, TODAY + dt.timedelta(days=3), title="TSH", pregnancy_id=None)
    )
    assert services.careplans.data(pid, "clinician").record_hash != data.record_hash
    with pytest.raises(ValidationError, match="variant"):
        services.careplans.data(pid, "gp")


def test_printing_needs_a_nurse_or_consultant_and_is_audited(services: Services) -> None:
    pid = setup_patient(services)
    act_as(services, Role.NURSE, "nurse1")
    pdf = services.careplans.render(pid, "patient", destination="printer")
    text = text_of(pdf)
    assert "RM77" in text and "Zoë" in text and "Łukasiewicz-Nguyễn" in text
    assert "Page 1 of" in text
    services.careplans.render(pid, "clinician", destination="file")
    act_as(services, Role.ADMIN, "admin1")
    with pytest.raises(PermissionDenied):
        services.careplans.render(pid, "patient")
    act_as(services, Role.ADMIN)
    entries = [e for e in services.audit.query(AuditFilter(patient_id=pid))[0] if e.entity == "care_plan"]
    got = sorted((e.action, e.username, json.loads(e.details)["variant"], json.loads(e.details)["to"]) for e in entries)
    assert got == [("export", "nurse1", "clinician", "file"), ("print", "nurse1", "patient", "printer")]
    assert all(json.loads(e.details)["record_hash"] == services.careplans.data(pid).record_hash for e in entries)


def test_sign_off_stores_the_exact_pdf_and_marks_it_out_of_date(services: Services) -> None:
    pid = setup_patient(services)
    act_as(services, Role.NURSE, "nurse1")
    with pytest.raises(PermissionDenied):
        services.careplans.sign(pid, "patient")
    act_as(services, Role.CONSULTANT, "drlee")
    first = services.careplans.sign(pid, "patient", comment="Discussed with Zoë")
    assert (first.version, first.signed_by, first.variant) == (1, "drlee", "patient")
    [status] = services.careplans.signatures(pid)
    assert not status.out_of_date and status.signature.id == first.id
    info, pdf = services.careplans.signed_pdf(first.id)
    assert hashlib.sha256(pdf).hexdigest() == first.pdf_sha256 == info.pdf_sha256
    assert "Signed by" in text_of(pdf) and "drlee" in text_of(pdf)
    # a reprint is the same bytes, however much later
    assert services.careplans.signed_pdf(first.id)[1] == pdf
    # the record changes: the signed version is out of date, and says why
    services.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.APPOINTMENT, TODAY + dt.timedelta(days=14)))
    [status] = services.careplans.signatures(pid)
    assert status.out_of_date and "record has changed" in status.reason
    second = services.careplans.sign(pid, "patient")
    assert second.version == 2
    statuses = services.careplans.signatures(pid)
    assert [(s.signature.version, s.out_of_date) for s in statuses] == [(2, False), (1, True)]
    # the clinician copy is numbered on its own
    assert services.careplans.sign(pid, "clinician").version == 1
    act_as(services, Role.ADMIN)
    entries = [e for e in services.audit.query(AuditFilter(patient_id=pid))[0] if e.entity == "care_plan_signature"]
    assert sorted(e.action for e in entries) == ["create", "create", "create", "export", "export"]


def test_batch_prints_every_patient_on_the_days_worklist(services: Services) -> None:
    pid = setup_patient(services)
    other = services.patients.register(PatientData("RM78", "Okafor", "Beth", dt.date(1988, 7, 2))).id
    services.pregnancy.add_follow_up(
        other, FollowUp(FollowUpKind.BLOOD_TEST, TODAY + dt.timedelta(days=7), title="TSH")
    )
    services.patients.register(PatientData("RM79", "Nobody", "Due", dt.date(1990, 1, 1)))
    seen: list[tuple[int, int]] = []
    pdf, n = services.careplans.render_batch(TODAY + dt.timedelta(days=7), "patient", lambda d, t: seen.append((d, t)))
    assert n == 2
    text = text_of(pdf)
    assert "RM77" in text and "RM78" in text and "RM79" not in text
    assert text.count("Page 1 of") == 2  # each care plan is numbered on its own
    assert seen and seen[-1][0] == seen[-1][1]
    act_as(services, Role.ADMIN)
    entries = [e for e in services.audit.query(AuditFilter())[0] if e.entity == "care_plan"]
    assert sorted(e.patient_id for e in entries) == sorted([pid, other])
    act_as(services, Role.NURSE)
    with pytest.raises(DomainError, match="Nobody is on the worklist"):
        services.careplans.render_batch(TODAY - dt.timedelta(days=300))


def test_plans_of_an_ended_pregnancy_are_never_printed_as_current(services: Services) -> None:
    pid = setup_patient(services)
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    # the pregnancy ends but the "stop plans" box was unticked: the progesterone is still active
    services.pregnancy.end(pid, p.id, p.version, Outcome.EARLY_MISCARRIAGE, TODAY, stop_plans=False)
    data = services.careplans.data(pid, "patient")
    assert data.sensitive and data.plans == ()
    assert [pl.drug for pl in data.unresolved_plans] == ["progesterone_vaginal"]
    text = text_of(services.careplans.render(pid, "patient"))
    assert "Progesterone" not in text and "progesterone" not in text
    clinician = " ".join(text_of(services.careplans.render(pid, "clinician")).split())
    assert "still active after the pregnancy ended" in clinician


def test_the_last_dose_of_an_every_other_day_plan_is_a_dosing_day(services: Services) -> None:
    pid = setup_patient(services)
    start, stop = TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=11)  # doses on days 0, 2, ... 8
    services.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "enoxaparin",
            40.0,
            Frequency.ALTERNATE_DAYS,
            start,
            Indication.VTE_PROPHYLAXIS,
            stop=Anchor(stop),
        ),
    )
    text = " ".join(text_of(services.careplans.render(pid, "patient")).split())
    last = start + dt.timedelta(days=8)
    assert f"Take your last dose on {last.strftime('%A %d/%m/%Y')}" in text


def test_a_plan_stopped_from_a_date_still_to_come_is_still_current(services: Services) -> None:
    pid = setup_patient(services)
    plan = services.pregnancy.view(pid).plans[0]
    assert plan.id is not None
    stop_on = TODAY + dt.timedelta(days=8)
    services.pregnancy.stop_plan(pid, plan.id, plan.version, stop_on, "bleeding settled")
    data = services.careplans.data(pid, "patient")
    assert [pl.stop_date(data.edd_for(pl.pregnancy_id)) for pl in data.plans] == [stop_on]
    text = " ".join(text_of(services.careplans.render(pid, "patient")).split())
    assert f"Stop on {stop_on.strftime('%A %d/%m/%Y')}" in text, text


def test_a_signed_version_goes_out_of_date_with_what_it_prints(services: Services, clock: FixedClock) -> None:
    pid = setup_patient(services)
    first = services.careplans.sign(pid, "patient")
    assert first.valid_until == TODAY + dt.timedelta(days=7)  # the swab due in a week is the first date in it
    assert not services.careplans.signatures(pid)[0].out_of_date
    # the clinic's telephone number changes: a reprint would give the old number
    act_as(services, Role.ADMIN)
    services.settings.set("clinic_phone", "0161 555 0101")
    act_as(services, Role.CONSULTANT)
    [status] = services.careplans.signatures(pid)
    assert status.out_of_date and "clinic's details" in status.reason
    second = services.careplans.sign(pid, "patient")
    assert not services.careplans.signatures(pid)[0].out_of_date
    # an alert is acknowledged: the clinician copy prints alert responses
    clinician = services.careplans.sign(pid, "clinician")
    view = services.alerts.for_patient(pid)[0]
    services.alerts.respond(pid, view.alert.rule.id, view.alert.episode, EventKind.ACKNOWLEDGED)
    latest = {s.signature.id: s for s in services.careplans.signatures(pid)}
    assert latest[clinician.id].out_of_date and latest[second.id].out_of_date
    # and once the first date in it has passed, a signed version describes a plan that has moved on
    third = services.careplans.sign(pid, "patient")
    clock.at += dt.timedelta(days=8)
    latest = {s.signature.id: s for s in services.careplans.signatures(pid)}
    assert latest[third.id].out_of_date and "a date in it has passed" in latest[third.id].reason
