"""Visits and GP letters through the services, on SQLite and PostgreSQL: booking the next visit, the
worklist's booked patients, what was done in a visit, letters drafted from the record, edited, signed
(then immutable) and corrected by a new version; every step audited."""

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
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.errors import ConflictError, ValidationError
from rmclinic.domain.followup import FollowUp, FollowUpKind
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.domain.visit import LetterStatus, Visit, VisitStatus, VisitType
from rmclinic.domain.workup import ResultValue
from rmclinic.rules.lifecycle import EventKind
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.session import PermissionDenied

TODAY = dt.date(2026, 11, 22)
AMIRA = PatientData(
    "RM31",
    "Haddad",
    "Amira",
    dt.date(1992, 3, 14),
    gp_practice="Riverside Medical Practice\n1 High Street",
    pregnancies=tuple(
        PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 5, 1), 8 * 7) for y in (2023, 2024, 2025)
    ),
)


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def pregnant(services: Services) -> int:
    pid = services.patients.register(AMIRA).id
    services.workup.record_result(pid, "la", ResultValue(text="positive"), TODAY - dt.timedelta(days=40))
    view = services.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=56)))
    p = view.pregnancy
    assert p is not None and p.id is not None
    services.pregnancy.update(
        pid,
        p.id,
        p.version,
        replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL),
    )
    services.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "progesterone_vaginal",
            400.0,
            Frequency.TWICE_DAILY,
            TODAY,
            Indication.THREATENED_MISCARRIAGE,
            stop=Anchor(gestation_days=16 * 7),
        ),
    )
    services.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, TODAY + dt.timedelta(days=14), pregnancy_id=p.id))
    return pid


def test_a_visit_books_the_next_and_the_worklist_lists_it(services: Services) -> None:
    pid = pregnant(services)
    act_as(services, Role.NURSE, "nina")
    nxt = TODAY + dt.timedelta(days=28)
    saved = services.visits.save_visit(
        pid,
        Visit(
            TODAY,
            VisitType.EARLY_PREGNANCY,
            clinician="Dr Lee",
            partner_attended=True,
            plan="Scan at 8 weeks",
            next_visit=nxt,
        ),
    )
    views = services.visits.visits(pid)
    assert [(v.visit.date, v.visit.status) for v in views] == [(TODAY, VisitStatus.ATTENDED), (nxt, VisitStatus.BOOKED)]
    # what the record shows was done that day: the progesterone started
    assert any("started" in d and "progesterone" in d.lower() for d in views[0].done)
    items = [i for i in services.worklist.items(nxt, 1) if i.type == "visit"]
    assert [(i.hospital_number, i.tab, i.ref_id) for i in items] == [("RM31", "visits", views[1].visit.id)]
    # saving the visit again with the same next date books nothing more
    services.visits.save_visit(pid, replace(saved, findings="Well"))
    assert len(services.visits.visits(pid)) == 2
    # the version guards against a second workstation's older copy
    with pytest.raises(ConflictError):
        services.visits.save_visit(pid, replace(saved, findings="Older copy"))


@pytest.mark.parametrize(
    ("visit", "field"),
    [
        (Visit(TODAY + dt.timedelta(days=3)), "date"),
        (Visit(TODAY, next_visit=TODAY), "next_visit"),
        (Visit(TODAY, patient_attended=False, partner_attended=False), "attendees"),
        (Visit(TODAY, history="x\x00y"), "history"),
    ],
)
def test_bad_visits_are_refused_in_place_and_nothing_is_written(services: Services, visit: Visit, field: str) -> None:
    pid = services.patients.register(AMIRA).id
    with pytest.raises(ValidationError) as e:
        services.visits.save_visit(pid, visit)
    assert field in {p.field for p in e.value.problems}
    assert services.visits.visits(pid) == []


def test_letters_are_drafted_edited_signed_and_corrected(services: Services) -> None:
    pid = pregnant(services)
    act_as(services, Role.NURSE, "nina")
    visit = services.visits.save_visit(
        pid,
        Visit(
            TODAY,
            VisitType.EARLY_PREGNANCY,
            discussion="We discussed progesterone.",
            next_visit=TODAY + dt.timedelta(days=28),
        ),
    )
    assert visit.id is not None
    draft = services.visits.start_letter(pid, visit.id)
    body = draft.body
    assert draft.status is LetterStatus.DRAFT and draft.version == 1
    assert draft.recipient.startswith("Riverside Medical Practice")
    assert "3 pregnancy losses before 24 weeks" in body
    assert "Abnormal: Lupus anticoagulant" in body
    last_dose = TODAY - dt.timedelta(days=56) + dt.timedelta(days=16 * 7 - 1)
    assert f"last dose {last_dose.strftime('%d/%m/%Y')} (15+6)" in body
    assert f"Vaginal swab on {(TODAY + dt.timedelta(days=14)).strftime('%d/%m/%Y')}" in body
    assert f"next appointment in the clinic is on {(TODAY + dt.timedelta(days=28)).strftime('%d/%m/%Y')}" in body
    assert "We discussed progesterone." in body and "## References" in body and "[1]" in body
    assert services.visits.start_letter(pid, visit.id).id == draft.id  # one open draft per visit
    edited = services.visits.save_draft(
        pid, draft.id, draft.row_version, body + "\nEdited by hand.\n", draft.recipient, True
    )  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        services.visits.sign(pid, edited.id, edited.row_version)  # type: ignore[arg-type]
    act_as(services, Role.CONSULTANT, "drlee")
    signed = services.visits.sign(pid, edited.id, edited.row_version)  # type: ignore[arg-type]
    assert signed.status is LetterStatus.SIGNED and signed.signed_by == "drlee"
    pdf = services.visits.pdf(pid, signed.id)  # type: ignore[arg-type]
    assert hashlib.sha256(pdf).hexdigest() == signed.pdf_sha256
    text = text_of(pdf)
    assert "RM31" in text and "Amira" in text and "Edited by hand." in text
    # a signed letter never changes
    with pytest.raises(ConflictError):
        services.visits.save_draft(pid, signed.id, signed.row_version, "changed", "", True)  # type: ignore[arg-type]
    with pytest.raises(ConflictError):
        services.visits.sign(pid, signed.id, signed.row_version)  # type: ignore[arg-type]
    assert services.visits.pdf(pid, signed.id) == pdf  # type: ignore[arg-type]
    # a correction is a new version that names the old one
    correction = services.visits.start_letter(pid, visit.id)
    assert (correction.version, correction.supersedes_id, correction.status) == (2, signed.id, LetterStatus.DRAFT)
    assert "Edited by hand." in correction.body
    assert services.visits.letter_for(pid) == signed  # the latest signed version is what goes out until then
    v2 = services.visits.sign(pid, correction.id, correction.row_version)  # type: ignore[arg-type]
    assert "corrects the letter" in text_of(services.visits.pdf(pid, v2.id))  # type: ignore[arg-type]
    assert services.visits.letter_for(pid, TODAY) == v2
    act_as(services, Role.ADMIN)
    entries = [e for e in services.audit.query(AuditFilter(patient_id=pid))[0] if e.entity == "letter"]
    assert sorted(e.action for e in entries).count("export") == 3
    assert any(json.loads(e.details).get("status") == ["draft", "signed"] for e in entries)


def test_after_a_loss_the_letter_has_no_antenatal_wording(services: Services) -> None:
    pid = pregnant(services)
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    services.pregnancy.end(pid, p.id, p.version, Outcome.EARLY_MISCARRIAGE, TODAY)
    visit = services.visits.save_visit(pid, Visit(TODAY, VisitType.FOLLOW_UP))
    body = services.visits.start_letter(pid, visit.id).body  # type: ignore[arg-type]
    assert f"most recent pregnancy ended on {TODAY.strftime('%d/%m/%Y')}" in body
    for word in ("weeks pregnant", "due date", "congratulat", "+"):
        assert word not in body.split("## References")[0]


def test_review_fixes_for_letters_and_bookings(services: Services) -> None:
    pid = pregnant(services)
    nxt = TODAY + dt.timedelta(days=20)
    visit = services.visits.save_visit(pid, Visit(TODAY, patient_attended=False, partner_attended=True, next_visit=nxt))
    # moving the next visit replaces the old booking instead of leaving it on the worklist
    services.visits.save_visit(pid, replace(visit, next_visit=nxt + dt.timedelta(days=7)))
    booked = [v.visit.date for v in services.visits.visits(pid) if v.visit.status is VisitStatus.BOOKED]
    assert booked == [nxt + dt.timedelta(days=7)]
    # an overridden alert is not sent to the GP as a recommendation
    target = next(v for v in services.alerts.for_patient(pid) if v.alert.rule.id == "R13")
    services.alerts.respond(pid, "R13", target.alert.episode, EventKind.OVERRIDDEN, "patient_declined", "Declined")
    draft = services.visits.start_letter(pid, visit.id)  # type: ignore[arg-type]
    assert "Order TSH" not in draft.body
    assert "I saw the partner of Amira Haddad" in draft.body  # she did not attend
    assert f"next appointment in the clinic is on {(nxt + dt.timedelta(days=7)).strftime('%d/%m/%Y')}" in draft.body
    # a draft written during the pregnancy cannot be signed after a loss without redrafting
    p = services.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    services.pregnancy.end(pid, p.id, p.version, Outcome.EARLY_MISCARRIAGE, TODAY)
    with pytest.raises(ConflictError, match="redraft"):
        services.visits.sign(pid, draft.id, draft.row_version)  # type: ignore[arg-type]
    redrafted = services.visits.redraft(pid, draft.id, draft.row_version)  # type: ignore[arg-type]
    assert services.visits.sign(pid, redrafted.id, redrafted.row_version).status is LetterStatus.SIGNED  # type: ignore[arg-type]
