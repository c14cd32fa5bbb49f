"""The outcomes audit through the services, on both databases: a small clinic whose every figure was worked out by
hand (docs/outcomes-audit.md gives the definitions), permissions and audit entries, the CSV's columns, the PDF, and
the report on demo data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from dataclasses import dataclass, replace

import pytest
from conftest import act_as
from outcomes_demo import demo_clinic
from pypdf import PdfReader

from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus, SwabResult
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.outcomes import OutcomeClass, Proportion, Timing, first_responses
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import Bleeding, IupMethod, Severity
from rmclinic.domain.visit import Visit, VisitType
from rmclinic.domain.workup import ResultValue
from rmclinic.rules.lifecycle import EventKind, OverrideReason
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.outcomes import OUTCOMES_CSV_HEADER, OutcomesReport, _local_midnight
from rmclinic.services.session import PermissionDenied

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def at(clock: FixedClock, day: dt.date) -> None:
    clock.at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=dt.UTC)


def loss(day: dt.date) -> PreviousPregnancy:
    return PreviousPregnancy(day.year, Outcome.EARLY_MISCARRIAGE, day, 8 * 7)


def start(svc: Services, clock: FixedClock, pid: int, lmp: dt.date, booked: dt.date, **details: object) -> int:
    at(clock, booked)
    view = svc.pregnancy.start(pid, date_entry(DatingMethod.LMP, booked, lmp=lmp))
    p = view.pregnancy
    assert p is not None and p.id is not None
    svc.pregnancy.update(
        pid, p.id, p.version, replace(p, iup_confirmed_on=booked, iup_method=IupMethod.TRANSVAGINAL, **details)
    )  # type: ignore[arg-type]
    return p.id


def end(svc: Services, clock: FixedClock, pid: int, outcome: Outcome, day: dt.date) -> None:
    at(clock, day)
    p = svc.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    svc.pregnancy.end(pid, p.id, p.version, outcome, day)


def plan(drug: str, day: dt.date, indication: Indication, dose: float, freq: Frequency, stop: int) -> MedicationPlan:
    return MedicationPlan(drug, dose, freq, day, indication, Anchor(gestation_days=stop))


def visit(svc: Services, clock: FixedClock, pid: int, day: dt.date) -> None:
    at(clock, day)
    svc.visits.save_visit(pid, Visit(day, VisitType.FIRST, clinician="Dr Test"))


@dataclass
class Clinic:
    a: int
    b: int
    c: int
    d: int
    b_hospital_number: str


def hand_computed_clinic(svc: Services, clock: FixedClock) -> Clinic:
    """Five clinic pregnancies conceived in 2025 (one more before), hand-worked in the tests below."""
    at(clock, dt.date(2025, 1, 5))
    a = svc.patients.register(
        PatientData(
            "OA1",
            "Ashworth",
            "Ana",
            dt.date(1990, 6, 1),
            pregnancies=tuple(loss(dt.date(y, 3, 1)) for y in (2022, 2023, 2024)),
        )
    ).id
    b = svc.patients.register(
        PatientData(
            "OA2",
            "Brennan",
            "Bea",
            dt.date(1985, 3, 10),
            pregnancies=(loss(dt.date(2023, 5, 1)), loss(dt.date(2024, 1, 1))),
        )
    ).id
    c = svc.patients.register(
        PatientData("OA3", "Costa", "Cleo", dt.date(1998, 1, 1), pregnancies=(loss(dt.date(2023, 6, 1)),))
    ).id
    d = svc.patients.register(PatientData("OA4", "Dunne", "Dee", dt.date(1992, 5, 5))).id
    visit(svc, clock, b, dt.date(2025, 1, 5))  # B is first seen in the period; her workup is never done
    # A: three losses; conceived 29/01/2025; bleeding, then progesterone; live birth at 39+5
    visit(svc, clock, a, dt.date(2025, 2, 1))
    for iid, value, day in (
        ("la", ResultValue(text="negative"), dt.date(2025, 2, 10)),
        ("acl_igg", ResultValue(numeric=5, unit="GPL U/mL"), dt.date(2025, 2, 10)),
        ("acl_igm", ResultValue(numeric=4, unit="MPL U/mL"), dt.date(2025, 2, 10)),
        ("tsh", ResultValue(numeric=2.0, unit="mIU/L"), dt.date(2025, 2, 12)),
        ("tpo", ResultValue(numeric=10, unit="IU/mL"), dt.date(2025, 2, 12)),
        ("uterine", ResultValue(findings=("normal",), method="3D transvaginal ultrasound"), dt.date(2025, 3, 3)),
    ):
        at(clock, day)
        svc.workup.record_result(a, iid, value, day)
    start(
        svc,
        clock,
        a,
        dt.date(2025, 1, 15),
        dt.date(2025, 3, 1),
        bleeding=(Bleeding(dt.date(2025, 2, 25), Severity.LIGHT),),
    )
    svc.pregnancy.save_plan(
        a,
        plan(
            "progesterone_vaginal",
            dt.date(2025, 3, 1),
            Indication.THREATENED_MISCARRIAGE,
            400,
            Frequency.TWICE_DAILY,
            112,
        ),
    )
    for kind, due in (
        (FollowUpKind.SWAB, dt.date(2025, 6, 1)),
        (FollowUpKind.SWAB, dt.date(2025, 7, 1)),
        (FollowUpKind.CERVICAL_LENGTH_SCAN, dt.date(2025, 8, 1)),
        (FollowUpKind.CERVICAL_LENGTH_SCAN, dt.date(2025, 9, 1)),
    ):
        svc.pregnancy.add_follow_up(a, FollowUp(kind, due, 3))
    follow_ups = sorted(svc.pregnancy.view(a).follow_ups, key=lambda f: f.due_date)
    for f, done in zip(follow_ups[:2], (dt.date(2025, 6, 3), dt.date(2025, 7, 10)), strict=True):  # on time; late
        at(clock, done)
        assert f.id is not None
        svc.pregnancy.record_result(
            a,
            f.id,
            f.version,
            replace(f, status=FollowUpStatus.DONE, result_date=done, swab_result=SwabResult.NEGATIVE),
        )
    at(clock, dt.date(2025, 8, 10))
    missed = follow_ups[2]
    assert missed.id is not None
    svc.pregnancy.mark_missed(a, missed.id, missed.version)
    end(svc, clock, a, Outcome.LIVE_BIRTH, dt.date(2025, 10, 20))  # cancels the scan still due on 1 September
    # B: APS treatment, loss at 10+0; conceived again 15/08/2025 and never heard of again
    start(svc, clock, b, dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    for drug, dose in (("aspirin", 75.0), ("enoxaparin", 40.0)):
        svc.pregnancy.save_plan(b, plan(drug, dt.date(2025, 4, 1), Indication.APS, dose, Frequency.ONCE_DAILY, 34 * 7))
    end(svc, clock, b, Outcome.EARLY_MISCARRIAGE, dt.date(2025, 5, 10))  # 10+0
    start(svc, clock, b, dt.date(2025, 8, 1), dt.date(2025, 9, 1))  # never heard of again: lost to follow-up
    # C: conceived 15/11/2024 (before the period), ended; then conceived 24/12/2025, progestogen without bleeding
    start(svc, clock, c, dt.date(2024, 11, 1), dt.date(2024, 12, 1))
    end(svc, clock, c, Outcome.EARLY_MISCARRIAGE, dt.date(2025, 1, 20))
    visit(svc, clock, c, dt.date(2025, 3, 1))
    at(clock, dt.date(2025, 3, 5))
    svc.workup.record_result(c, "tsh", ResultValue(numeric=2.0, unit="mIU/L"), dt.date(2025, 3, 5))
    start(svc, clock, c, dt.date(2025, 12, 10), dt.date(2026, 1, 20))
    svc.pregnancy.save_plan(
        c,
        plan("progesterone_vaginal", dt.date(2026, 1, 20), Indication.RM_NO_BLEEDING, 400, Frequency.TWICE_DAILY, 112),
    )
    end(svc, clock, c, Outcome.LATE_MISCARRIAGE, dt.date(2026, 4, 1))  # 16+0
    # D: no losses; conceived 15/06/2025; still open past EDD + 6 weeks, but seen after the EDD: not lost
    start(svc, clock, d, dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    visit(svc, clock, d, dt.date(2026, 3, 20))
    at(clock, dt.date(2026, 11, 22))
    return Clinic(a, b, c, d, "OA2")


def row(table: tuple, group: str):  # type: ignore[no-untyped-def, type-arg]
    return next(r for r in table if r.group == group)


def test_every_figure_matches_the_hand_computed_clinic(services: Services, clock: FixedClock) -> None:
    clinic = hand_computed_clinic(services, clock)
    r = services.outcomes.report(START, END)
    o = r.outcomes
    # A live birth; B1 loss < 12+0; B2 unknown; C2 loss 12+0-23+6; D unknown. C1 was conceived in 2024.
    assert o.overall.total == 5 and o.overall.ended == 3
    assert o.overall.count(OutcomeClass.LIVE_BIRTH) == 1
    assert o.overall.count(OutcomeClass.LOSS_UNDER_12) == 1
    assert o.overall.count(OutcomeClass.LOSS_12_TO_24) == 1
    assert o.overall.count(OutcomeClass.UNKNOWN) == 2 and o.overall.count(OutcomeClass.ONGOING) == 0
    assert o.overall.live_birth.describe() == "1/3 (33 %, 95 % CI 6–79 %)"
    assert o.overall.losses.describe() == "2/3 (67 %, 95 % CI 21–94 %)"
    assert o.overall.live_birth.small  # 3 < 10: flagged
    # previous losses: D 0 -> 0-1; B1 2 and C2 2 (her 2024 pregnancy counts, B1's own entry does not) -> 2;
    # A 3 and B2 3 (B1 now counts) -> 3; nobody with 4 or more (an empty group, still listed)
    by_losses = o.by_previous_losses
    assert [(g.group, g.total) for g in by_losses] == [("0-1", 1), ("2", 2), ("3", 2), ("4 or more", 0)]
    assert row(by_losses, "0-1").count(OutcomeClass.UNKNOWN) == 1 and row(by_losses, "0-1").live_birth.n == 0
    assert row(by_losses, "2").live_birth.describe() == "0/2 (0 %, 95 % CI 0–66 %)"
    assert row(by_losses, "3").live_birth.describe() == "1/1 (100 %, 95 % CI 21–100 %)"
    assert row(by_losses, "4 or more").live_birth.describe() == "0/0"
    by_treatment = {g.group: g for g in o.by_treatment}
    assert by_treatment["Aspirin + heparin for APS"].count(OutcomeClass.LOSS_UNDER_12) == 1
    assert by_treatment["Progestogen, with bleeding"].count(OutcomeClass.LIVE_BIRTH) == 1
    assert by_treatment["Progestogen, no bleeding"].count(OutcomeClass.LOSS_12_TO_24) == 1
    assert by_treatment["No medication plan"].total == 2 and by_treatment["Other medication only"].total == 0
    assert [(g.group, g.total) for g in o.by_age] == [("under 30", 1), ("30-34", 2), ("35-39", 1), ("40 and over", 1)]
    # workup: A (first seen 01/02/2025) complete on 03/03/2025 -> 30 days; B (05/01/2025) nothing; C (01/03/2025)
    # TSH only. D was first seen in 2026.
    w = r.workup
    assert w.patients == 3
    shares = {i.investigation_id: i.done for i in w.items}
    assert (shares["tsh"].k, shares["tsh"].n) == (2, 3) and (shares["la"].k, shares["la"].n) == (1, 3)
    assert w.complete.describe() == "1/3 (33 %, 95 % CI 6–79 %)"
    assert w.days_to_complete is not None
    assert (w.days_to_complete.n, w.days_to_complete.median, w.days_to_complete.q1) == (1, 30, 30)
    # complete within 90 days, among all three first seen 90+ days before the report (not only the completers)
    assert w.complete_within_90 == Proportion(1, 3)
    # scans and swabs due in 2025: swabs on time and late; scans missed and cancelled (by the live birth)
    fu = {t.kind: t for t in r.follow_ups}
    swab, scan = fu[FollowUpKind.SWAB], fu[FollowUpKind.CERVICAL_LENGTH_SCAN]
    assert (swab.count(Timing.ON_TIME), swab.count(Timing.LATE), swab.total) == (1, 1, 2)
    assert (scan.count(Timing.MISSED), scan.count(Timing.CANCELLED), scan.total) == (1, 1, 2)
    assert (
        swab.on_time.describe() == "1/2 (50 %, 95 % CI 9–91 %)"
        and scan.on_time.describe() == "0/1 (0 %, 95 % CI 0–79 %)"
    )
    # lost to follow-up: B's second pregnancy only (D was seen after her EDD)
    assert [(p.hospital_number, p.edd, p.last_contact) for p in r.lost] == [
        (clinic.b_hospital_number, dt.date(2026, 5, 8), dt.date(2025, 9, 1))
    ]
    assert r.lost[0].patient_id == clinic.b


def test_an_empty_period_gives_empty_groups_not_errors(services: Services) -> None:
    r = services.outcomes.report(dt.date(2001, 1, 1), dt.date(2001, 12, 31))
    assert r.outcomes.overall.total == 0 and r.outcomes.overall.live_birth.describe() == "0/0"
    assert all(g.total == 0 for g in r.outcomes.by_age) and len(r.outcomes.by_age) == 4
    assert r.workup.patients == 0 and r.workup.days_to_complete is None
    assert r.lost == () and r.alerts.rules == ()
    assert services.outcomes.export(r, "pdf").startswith(b"%PDF")


def test_alert_analytics_count_only_the_periods_events(services: Services, clock: FixedClock) -> None:
    at(clock, dt.date(2025, 1, 5))
    pid = services.patients.register(
        PatientData(
            "OA9",
            "Evans",
            "Eve",
            dt.date(1990, 1, 1),
            pregnancies=(loss(dt.date(2023, 1, 1)), loss(dt.date(2024, 1, 1))),
        )
    ).id
    at(clock, dt.date(2025, 6, 1))
    services.alerts.refresh_all()
    views = [v for v in services.alerts.for_patient(pid) if v.alert.rule.severity.value != "critical"]
    assert views, "a patient with two losses and no workup has alerts"
    first = views[0]
    services.alerts.respond(
        pid,
        first.alert.rule.id,
        first.alert.episode,
        EventKind.OVERRIDDEN,
        OverrideReason.PATIENT_DECLINED.value,
        "declined",
    )
    at(clock, dt.date(2026, 11, 22))
    r = services.outcomes.report(START, END)
    fired = {x.rule: x.fired for x in r.alerts.rules}
    assert (
        fired
        and all(n == 1 for n in fired.values())
        and set(fired) == {v.alert.rule.id for v in services.alerts.for_patient(pid)}
    )
    over = next(x for x in r.alerts.rules if x.rule == first.alert.rule.id)
    assert over.overridden == 1 and over.override.describe() == "1/1 (100 %, 95 % CI 21–100 %)"
    assert [(x.role, x.overridden) for x in r.alerts.roles] == [("consultant", 1)]
    assert (
        r.alerts.reasons == (("patient_declined", 1),)
        and r.alerts.reason_label("patient_declined") == "Patient declined"
    )
    assert r.alerts.titles[first.alert.rule.id] == first.alert.rule.title
    before = services.outcomes.report(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert before.alerts.rules == ()


def test_the_loss_to_follow_up_list_covers_every_open_pregnancy_whatever_the_period(
    services: Services, clock: FixedClock
) -> None:
    clinic = hand_computed_clinic(services, clock)
    r = services.outcomes.report(dt.date(2024, 1, 1), dt.date(2024, 1, 31))  # B2 was conceived in 2025
    assert r.outcomes.overall.total == 0
    assert [(p.patient_id, p.edd) for p in r.lost] == [(clinic.b, dt.date(2026, 5, 8))]
    assert "whatever the period" in services.outcomes.export(r, "csv").decode("utf-8-sig")


def test_alerts_fired_before_the_period_and_answered_in_it_are_not_the_periods(
    services: Services, clock: FixedClock
) -> None:
    at(clock, dt.date(2025, 1, 5))
    pid = services.patients.register(
        PatientData("OA8", "Ford", "Fern", dt.date(1990, 1, 1), pregnancies=(loss(dt.date(2023, 1, 1)),) * 2)
    ).id
    at(clock, dt.date(2025, 6, 1))
    services.alerts.refresh_all()
    view = next(v for v in services.alerts.for_patient(pid) if v.alert.rule.severity.value != "critical")
    at(clock, dt.date(2025, 7, 1))
    services.alerts.respond(pid, view.alert.rule.id, view.alert.episode, EventKind.ACKNOWLEDGED, "", "")
    at(clock, dt.date(2026, 11, 22))
    july = services.outcomes.report(dt.date(2025, 7, 1), dt.date(2025, 7, 31))
    assert july.alerts.rules == () and july.alerts.roles == ()  # a response, but no alert fired in July
    june = services.outcomes.report(dt.date(2025, 6, 1), dt.date(2025, 6, 30))
    acked = next(x for x in june.alerts.rules if x.rule == view.alert.rule.id)
    assert (acked.fired, acked.acknowledged, acked.open, acked.acceptance) == (1, 1, 0, Proportion(1, 1))


def test_alert_days_are_local_days_on_sqlite(
    sqlite_services: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events are stored as UTC; the period's days are the machine's local days. 02:00 UTC on 2 June is 22:00 on
    1 June in New York, so an alert fired then belongs to 1 June there."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        svc = sqlite_services
        at(clock, dt.date(2025, 1, 5))
        svc.patients.register(
            PatientData("OA6", "Gale", "Gia", dt.date(1990, 1, 1), pregnancies=(loss(dt.date(2023, 1, 1)),) * 2)
        )
        clock.at = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.UTC)
        svc.alerts.refresh_all()
        at(clock, dt.date(2026, 11, 22))
        on_the_first = svc.outcomes.report(dt.date(2025, 6, 1), dt.date(2025, 6, 1)).alerts.rules
        on_the_second = svc.outcomes.report(dt.date(2025, 6, 2), dt.date(2025, 6, 2)).alerts.rules
        assert on_the_first and sum(x.fired for x in on_the_first) > 0
        assert on_the_second == ()
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_audit_entry_names_the_user_whose_permission_was_checked(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sqlite_services
    act_as(svc, Role.CONSULTANT, "drlee")
    build = svc.outcomes._build

    def build_then_switch(*args: object) -> OutcomesReport:
        report = build(*args)  # type: ignore[arg-type]
        act_as(svc, Role.ADMIN, "someoneelse")  # the session changes hands while the report is being built
        return report

    monkeypatch.setattr(svc.outcomes, "_build", build_then_switch)
    svc.outcomes.report(START, END)
    entries = [e for e in svc.audit.query(AuditFilter(action="view"))[0] if e.entity == "outcomes_report"]
    assert [e.username for e in entries] == ["drlee"]


@pytest.mark.parametrize("role", [Role.NURSE, Role.READ_ONLY])
def test_only_consultants_and_administrators_may_run_it_and_a_refusal_is_audited(
    sqlite_services: Services, role: Role
) -> None:
    for allowed in (Role.CONSULTANT, Role.ADMIN):
        act_as(sqlite_services, allowed)
        sqlite_services.outcomes.report(START, END)
    act_as(sqlite_services, role)
    with pytest.raises(PermissionDenied):
        sqlite_services.outcomes.report(START, END)
    act_as(sqlite_services, Role.ADMIN)
    denied = sqlite_services.audit.query(AuditFilter(action="permission_denied"))[0]
    assert [e.username for e in denied] == [role.value]


def test_each_report_and_export_is_audited_with_the_patients_it_names(
    sqlite_services: Services, clock: FixedClock
) -> None:
    svc = sqlite_services
    clinic = hand_computed_clinic(svc, clock)
    act_as(svc, Role.CONSULTANT, "drlee")
    r = svc.outcomes.report(START, END)
    svc.outcomes.export(r, "csv")
    act_as(svc, Role.ADMIN)
    entries = [e for e in svc.audit.query(AuditFilter(username="drlee"))[0] if e.entity == "outcomes_report"]
    summary = sorted((e.action, json.loads(e.details).get("format")) for e in entries if e.patient_id is None)
    assert summary == [("export", "csv"), ("view", "screen")]
    assert sorted((e.action, e.patient_id) for e in entries if e.patient_id is not None) == [
        ("export", clinic.b),
        ("view", clinic.b),
    ]
    assert {e.entity_id for e in entries} == {"2025-01-01 to 2025-12-31"}


def test_a_period_that_ends_before_it_starts_is_refused(sqlite_services: Services) -> None:
    from rmclinic.domain.errors import ValidationError

    with pytest.raises(ValidationError, match="ends before it starts"):
        sqlite_services.outcomes.report(END, START)


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for Excel
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_is_one_long_table_with_the_documented_columns(sqlite_services: Services, clock: FixedClock) -> None:
    svc = sqlite_services
    hand_computed_clinic(svc, clock)
    r = svc.outcomes.report(START, END)
    rows = _csv_rows(svc.outcomes.export(r, "csv"))
    assert (
        tuple(rows[0])
        == OUTCOMES_CSV_HEADER
        == (
            "Section",
            "Breakdown",
            "Group",
            "Measure",
            "Label",
            "Value",
            "Denominator",
            "Percent",
            "95% CI low %",
            "95% CI high %",
            "Too few to read as a rate",
            "Hospital number",
            "Family name",
            "Given name",
            "EDD",
            "Last contact",
        )
    )
    assert all(len(x) == len(OUTCOMES_CSV_HEADER) for x in rows)
    by_key = {(x[0], x[1], x[2], x[3]): x for x in rows[1:]}
    live = by_key[("outcomes", "overall", "All pregnancies", "live_birth")]
    assert live[5:11] == ["1", "3", "33.3", "6.1", "79.2", "yes"]
    assert by_key[("outcomes", "previous_losses", "4 or more", "pregnancies")][5] == "0"
    assert by_key[("workup", "days_first_visit_to_complete", "completed", "median_days")][5] == "30.0"
    assert by_key[("follow_up", "swab", "Vaginal swab", "on_time_rate")][5:8] == ["1", "2", "50.0"]
    # per-timing rows are counts only: the one rate is over the judged ones (no second denominator)
    assert by_key[("follow_up", "swab", "Vaginal swab", "late")][5:11] == ["1", "", "", "", "", ""]
    assert by_key[("follow_up", "swab", "Vaginal swab", "judged")][5] == "2"
    # an empty group has no rate, so it is not flagged "too few" either
    assert by_key[("outcomes", "previous_losses", "4 or more", "live_birth")][5:11] == ["0", "0", "", "", "", ""]
    # percentages rounded half-up from the exact ratio (1/3 -> 33.3; 2/3 -> 66.7)
    assert by_key[("outcomes", "overall", "All pregnancies", "any_loss")][7] == "66.7"
    assert by_key[("workup", "protocol", "first seen 90+ days before the report", "complete_within_90_days")][5:7] == [
        "1",
        "3",
    ]
    note = by_key[("report", "assessable", "2026-01-18", "not_yet_assessable")]
    assert note[5] == "0" and "not yet assessable: 0" in note[4]
    lost = [x for x in rows if x[0] == "loss_to_follow_up"]
    assert [x[11:] for x in lost] == [["OA2", "Brennan", "Bea", "2026-05-08", "2025-09-01"]]
    assert {x[0] for x in rows[1:]} == {"report", "outcomes", "workup", "follow_up", "loss_to_follow_up"}


def test_csv_cells_that_would_run_as_formulas_are_made_inert(sqlite_services: Services, clock: FixedClock) -> None:
    svc = sqlite_services
    at(clock, dt.date(2025, 1, 5))
    pid = svc.patients.register(PatientData("OA7", "=HYPERLINK", "Fay", dt.date(1990, 1, 1))).id
    start(svc, clock, pid, dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    at(clock, dt.date(2026, 11, 22))
    rows = _csv_rows(svc.outcomes.export(svc.outcomes.report(START, END), "csv"))
    assert [x[12] for x in rows if x[0] == "loss_to_follow_up"] == ["'=HYPERLINK"]


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_holds_the_figures(sqlite_services: Services, clock: FixedClock) -> None:
    svc = sqlite_services
    hand_computed_clinic(svc, clock)
    pdf = svc.outcomes.export(svc.outcomes.report(START, END), "pdf")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(_pdf_text(pdf).split())  # lines may wrap anywhere
    n = len(reader.pages)
    assert all(f"Page {i} of {n}" in p.extract_text() for i, p in enumerate(reader.pages, 1))
    for figure in (
        "1/3 (33 %, 95 % CI 6–79 %) †",  # live birth, flagged as a small group
        "2/3 (67 %, 95 % CI 21–94 %) †",  # any loss
        "1/3 33 % (6–79)",  # the rate chart's label
        "median 30 days (IQR 30–30), n = 1",
        "OA2",
        "Brennan, Bea",
        "08/05/2026",
        "Confidential: names patients",
    ):
        assert figure in text, figure
    fonts = {str(f) for p in reader.pages for f in (p["/Resources"].get("/Font") or {}).values()}
    assert fonts  # every font is embedded DejaVu (TrueType subsets)
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            assert "DejaVu" in f.get_object()["/BaseFont"]


def test_the_report_on_demo_data(sqlite_services: Services) -> None:
    svc = sqlite_services
    today = dt.date(2026, 11, 22)
    demo_clinic(svc, 150, today)
    r: OutcomesReport = svc.outcomes.report(today - dt.timedelta(days=364), today)
    o = r.outcomes.overall
    assert o.total > 10 and o.count(OutcomeClass.ONGOING) > 0
    # a period up to today: conceptions in the last 308 days are not yet assessable, and the report says so
    assert r.too_recent and r.last_assessable == today - dt.timedelta(days=308) and o.not_assessable > 0
    assert o.ended == o.assessable - o.closed_count(OutcomeClass.UNKNOWN) - o.closed_count(OutcomeClass.ONGOING)
    assert (
        o.closed_count(OutcomeClass.LIVE_BIRTH)
        + sum(o.closed_count(c) for c in (OutcomeClass.LOSS_UNDER_12, OutcomeClass.LOSS_12_TO_24))
        == o.ended
    )
    csv_text = svc.outcomes.export(r, "csv").decode("utf-8-sig")
    assert f"not yet assessable: {o.not_assessable}" in csv_text and "Warning: the period ends after" in csv_text
    pdf_text = " ".join(_pdf_text(svc.outcomes.export(r, "pdf")).split())
    assert f"not yet assessable: {o.not_assessable}" in pdf_text and "Warning: the period ends after" in pdf_text
    # every grouping accounts for every pregnancy
    for table in (r.outcomes.by_previous_losses, r.outcomes.by_treatment, r.outcomes.by_age):
        assert sum(g.total for g in table) == o.total
    assert r.workup.patients > 0 and 0 < r.workup.complete.k <= r.workup.patients
    assert sum(t.total for t in r.follow_ups) > 0
    assert r.alerts.rules and sum(x.fired for x in r.alerts.rules) > 0 and r.alerts.roles
    # the SQL count of first responses is the domain's definition, alert by alert
    since, until = _local_midnight(r.start), _local_midnight(r.end + dt.timedelta(days=1))
    with svc.outcomes._uow(read_only=True) as uow:
        in_sql = sorted(uow.outcomes.first_responses(since, until))
        events = uow.outcomes.events_of_alerts_fired(since, until)
    by_hand = Counter(first_responses(events, since, until))
    assert in_sql == sorted((*k, n) for k, n in by_hand.items())
    assert {o for _, o, _, _, _ in in_sql} >= {"open", "acknowledged", "overridden"}
    assert r.demo
    text = _pdf_text(svc.outcomes.export(r, "pdf"))
    assert "DEMO DATA" in text and f"n = {o.total}" in text
