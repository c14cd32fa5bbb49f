"""Dating, medication plans with tapers, dose calendars and follow-up series: the pure domain core."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmclinic.domain import dating
from rmclinic.domain.dating import DatingMethod, date_entry, redating_advice
from rmclinic.domain.followup import (
    DEFAULT_PROTOCOLS,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    SwabResult,
    build_series,
    is_short_cervix,
    parse_protocols,
    result_problems,
)
from rmclinic.domain.gestation import GestationalAge
from rmclinic.domain.medication import (
    Anchor,
    DoseStep,
    Frequency,
    Indication,
    MedicationPlan,
    apply_template,
    dose_calendar,
    plan_problems,
    segments,
    with_taper,
)
from rmclinic.domain.obstetric import Outcome
from rmclinic.domain.pregnancy import CurrentPregnancy, end_problems, to_history

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 1, 1))


# -- dating ---------------------------------------------------------------------------------------------


@given(dates)
def test_edd_minus_280_days_is_the_lmp_for_a_28_day_cycle(lmp: dt.date) -> None:
    edd = dating.edd_from_lmp(lmp)
    assert edd - dt.timedelta(days=280) == lmp
    assert dating.gestation_on(edd, lmp) == GestationalAge(0)
    assert dating.gestation_on(edd, edd) == GestationalAge(280)


@given(dates, st.integers(21, 45))
def test_cycle_length_moves_the_edd_by_the_difference_from_28(lmp: dt.date, cycle: int) -> None:
    assert (dating.edd_from_lmp(lmp, cycle) - dating.edd_from_lmp(lmp)).days == cycle - 28


@given(dates, st.integers(0, 315))
def test_date_at_and_gestation_on_are_inverse(edd: dt.date, ga: int) -> None:
    assert dating.gestation_days_on(edd, dating.date_at(edd, ga)) == ga


def test_cycle_length_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match="21 to 45"):
        dating.edd_from_lmp(dt.date(2026, 1, 1), 60)


@pytest.mark.parametrize(
    ("crl", "days"),
    [
        (5.0, round(8.052 * math.sqrt(5) + 23.73)),  # 42 days = 6+0
        (45.0, round(8.052 * math.sqrt(45) + 23.73)),  # 77.7 -> 78 = 11+1
        (84.0, round(8.052 * math.sqrt(84) + 23.73)),  # 97.5 -> 98 = 14+0
    ],
)
def test_crl_uses_the_original_robinson_fleming_formula(crl: float, days: int) -> None:
    assert dating.gestation_from_crl(crl) == days
    assert dating.gestation_from_crl(45.0) == 78  # hand-computed: 8.052 * 6.7082 + 23.73 = 77.75


def test_crl_dating_gives_the_edd_from_the_scan_date() -> None:
    scan = dt.date(2026, 3, 10)
    edd = dating.edd_from_crl(scan, 45.0)
    assert dating.gestation_days_on(edd, scan) == 78


@pytest.mark.parametrize("crl", [4.9, 84.1, float("nan"), -1.0])
def test_crl_outside_the_formula_range_is_refused(crl: float) -> None:
    with pytest.raises(ValueError, match="Crown-rump length"):
        dating.gestation_from_crl(crl)


def test_day5_blastocyst_transfer_gives_edd_261_days_later() -> None:
    transfer = dt.date(2026, 5, 1)
    assert (dating.edd_from_transfer(transfer, 5) - transfer).days == 261
    assert (dating.edd_from_transfer(transfer, 3) - transfer).days == 263
    assert dating.gestation_on(dating.edd_from_transfer(transfer, 5), transfer) == GestationalAge.of(2, 5)


@pytest.mark.parametrize(
    ("ga_at_scan", "threshold"),
    [
        (8 * 7 + 6, 5),
        (9 * 7, 7),
        (13 * 7 + 6, 7),
        (14 * 7, 7),
        (15 * 7 + 6, 7),
        (16 * 7, 10),
        (21 * 7 + 6, 10),
        (22 * 7, 14),
        (27 * 7 + 6, 14),
        (28 * 7, 21),
        (40 * 7, 21),
    ],
)
def test_acog_redating_thresholds_at_band_edges(ga_at_scan: int, threshold: int) -> None:
    assert dating.redating_threshold(ga_at_scan) == threshold


@pytest.mark.parametrize(("diff", "redate"), [(5, False), (6, True), (-5, False), (-6, True)])
def test_redating_before_9_weeks_needs_more_than_5_days(diff: int, redate: bool) -> None:
    lmp_edd = dt.date(2026, 12, 1)
    scan = dating.date_at(lmp_edd, 8 * 7)
    advice = redating_advice(lmp_edd, scan, lmp_edd + dt.timedelta(days=diff))
    assert advice.redate is redate
    assert advice.threshold_days == 5
    assert "ACOG" in advice.explain()


@given(st.integers(0, 300), st.integers(-40, 40))
def test_redating_advice_agrees_with_the_table(ga: int, diff: int) -> None:
    edd = dt.date(2027, 1, 1)
    scan = dating.date_at(edd, ga)
    advice = redating_advice(edd, scan, edd + dt.timedelta(days=diff))
    assert advice.redate == (abs(diff) > dating.redating_threshold(ga))


def test_date_entry_refuses_future_lmp_and_manual_without_reason() -> None:
    today = dt.date(2026, 11, 22)
    with pytest.raises(ValueError, match="future"):
        date_entry(DatingMethod.LMP, today, lmp=today + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="where this EDD comes from"):
        date_entry(DatingMethod.MANUAL, today, edd=today)
    e = date_entry(DatingMethod.LMP, today, "booking", lmp=dt.date(2026, 10, 1), cycle_days=32)
    assert e.edd == dt.date(2026, 10, 1) + dt.timedelta(days=284)
    assert "32-day cycle" in e.basis()


# -- ending a pregnancy ------------------------------------------------------------------------------------


def _pregnancy(edd: dt.date) -> CurrentPregnancy:
    entry = dating.DatingEntry(edd, DatingMethod.LMP, dt.date(2026, 9, 1), "", lmp=edd - dt.timedelta(days=280))
    return CurrentPregnancy(1, (entry,), fetuses=2)


def test_ending_a_pregnancy_records_gestation_and_checks_the_outcome_band() -> None:
    edd = dt.date(2027, 4, 1)
    p = _pregnancy(edd)
    ended = dating.date_at(edd, 17 * 7 + 2)
    prev = to_history(p, Outcome.LATE_MISCARRIAGE, ended)
    assert (prev.gestation_days, prev.fetuses, prev.year, prev.date) == (121, 2, ended.year, ended)
    problems = end_problems(p, Outcome.EARLY_MISCARRIAGE, ended, dt.date(2030, 1, 1))
    assert "17+2" in problems["outcome"]
    assert end_problems(p, Outcome.LATE_MISCARRIAGE, ended, dt.date(2030, 1, 1)) == {}
    assert "future" in end_problems(p, Outcome.LATE_MISCARRIAGE, ended, ended - dt.timedelta(days=1))["ended_on"]


# -- medication plans ---------------------------------------------------------------------------------------

EDD = dt.date(2027, 6, 22)  # day 0 is 2026-09-15; 16+0 is 2027-01-05


def _prog(**kw: object) -> MedicationPlan:
    base: dict[str, object] = {
        "drug": "progesterone_vaginal",
        "dose": 400.0,
        "frequency": Frequency.TWICE_DAILY,
        "start": dt.date(2026, 11, 1),
        "indication": Indication.THREATENED_MISCARRIAGE,
        "stop": Anchor(gestation_days=16 * 7),
    }
    base.update(kw)
    return MedicationPlan(**base)  # type: ignore[arg-type]


def test_stop_by_gestation_resolves_through_the_edd_and_moves_when_redated() -> None:
    plan = _prog()
    assert plan.stop_date(EDD) == dt.date(2027, 1, 5)
    assert dating.gestation_on(EDD, dt.date(2027, 1, 5)) == GestationalAge.of(16)
    redated = EDD + dt.timedelta(days=9)
    assert plan.stop_date(redated) == dt.date(2027, 1, 14)
    cal = dose_calendar(plan, EDD)
    assert cal[-1].date == dt.date(2027, 1, 4)  # last dose on 15+6
    assert str(cal[-1].gestation) == "15+6"


def test_halve_for_one_week_template_ends_at_the_stop() -> None:
    plan = _prog()
    steps = apply_template(plan, "halve_1w")
    assert steps == (DoseStep(Anchor(gestation_days=15 * 7), 200.0, Frequency.TWICE_DAILY),)
    tapered = with_taper(plan, steps)
    assert plan_problems(tapered, EDD) == {}
    segs = segments(tapered, EDD)
    assert [(s.start, s.end, s.dose) for s in segs] == [
        (dt.date(2026, 11, 1), dt.date(2026, 12, 29), 400.0),
        (dt.date(2026, 12, 29), dt.date(2027, 1, 5), 200.0),
    ]


def test_calendar_crosses_month_and_year_ends_without_gaps() -> None:
    plan = with_taper(_prog(), apply_template(_prog(), "halve_quarter"))
    cal = dose_calendar(plan, EDD)
    days = [c.date for c in cal]
    assert days[0] == dt.date(2026, 11, 1)
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))
    assert dt.date(2026, 12, 31) in days and dt.date(2027, 1, 1) in days
    doses = {c.date: c.dose for c in cal}
    assert doses[dt.date(2026, 12, 21)] == 400.0 and doses[dt.date(2026, 12, 22)] == 200.0  # halve from 14+0
    assert doses[dt.date(2026, 12, 29)] == 100.0  # quarter from 15+0
    assert doses[dt.date(2027, 1, 4)] == 100.0 and dt.date(2027, 1, 5) not in doses


def test_alternate_day_periods_dose_every_other_day() -> None:
    plan = _prog(frequency=Frequency.ALTERNATE_DAYS, stop=Anchor(date=dt.date(2026, 11, 6)))
    assert [c.dose for c in dose_calendar(plan, None)] == [400, 0, 400, 0, 400]


def test_taper_validation_catches_order_overlap_increase_and_after_stop() -> None:
    steps = (
        DoseStep(Anchor(date=dt.date(2026, 12, 20)), 200, Frequency.TWICE_DAILY),
        DoseStep(Anchor(date=dt.date(2026, 12, 20)), 100, Frequency.TWICE_DAILY),  # overlap
        DoseStep(Anchor(date=dt.date(2026, 12, 27)), 300, Frequency.TWICE_DAILY),  # increase
        DoseStep(Anchor(date=dt.date(2027, 1, 5)), 50, Frequency.ONCE_DAILY),  # on the stop
    )
    problems = plan_problems(with_taper(_prog(), steps), EDD)
    assert "date order" in problems["taper.1.start"]
    assert "increase" in problems["taper.2.dose"]
    assert "stop" in problems["taper.3.start"]
    assert "taper.0.start" not in problems


def test_plausible_dose_guard_and_stop_after_start() -> None:
    problems = plan_problems(_prog(dose=4000.0, stop=Anchor(date=dt.date(2026, 10, 1))), EDD)
    assert "outside 25-800 mg" in problems["dose"]
    assert "must be after the start" in problems["stop"]
    assert "dated pregnancy" in plan_problems(_prog(), None)["stop"]


def test_taper_is_never_required() -> None:
    assert plan_problems(_prog(), EDD) == {}


def test_early_stop_wins_over_the_planned_stop() -> None:
    plan = _prog(stopped_on=dt.date(2026, 12, 1))
    assert plan.stop_date(EDD) == dt.date(2026, 12, 1)
    assert dose_calendar(plan, EDD)[-1].date == dt.date(2026, 11, 30)


# -- follow-ups ---------------------------------------------------------------------------------------


def test_cervical_length_series_every_two_weeks_from_16_to_24_weeks() -> None:
    cl = DEFAULT_PROTOCOLS[0]
    series = build_series(cl, EDD, dt.date(2026, 1, 1), pregnancy_id=7)
    gestations = [dating.gestation_days_on(EDD, f.due_date) for f in series]
    assert gestations == [112, 126, 140, 154, 168]
    assert all(f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.pregnancy_id == 7 for f in series)
    assert "Local protocol" in cl.source
    later = build_series(cl, EDD, dating.date_at(EDD, 130), None)
    assert [dating.gestation_days_on(EDD, f.due_date) for f in later] == [140, 154, 168]


@pytest.mark.parametrize(
    ("mm", "ga", "short"),
    [
        (25.0, 16 * 7, True),
        (25.1, 20 * 7, False),
        (20.0, 16 * 7 - 1, False),
        (20.0, 24 * 7, True),
        (20, 24 * 7 + 1, False),
    ],
)
def test_short_cervix_is_25mm_or_less_between_16_and_24_weeks(mm: float, ga: int, short: bool) -> None:
    assert is_short_cervix(mm, ga) is short


def test_protocol_setting_roundtrip_and_errors() -> None:
    import json

    text = json.dumps([p.to_json() for p in DEFAULT_PROTOCOLS])
    assert parse_protocols(text) == DEFAULT_PROTOCOLS
    with pytest.raises(ValueError, match="source"):
        parse_protocols(json.dumps([{**DEFAULT_PROTOCOLS[0].to_json(), "source": ""}]))
    bad = DEFAULT_PROTOCOLS[0].to_json()
    del bad["interval_days"]
    with pytest.raises(ValueError, match="needs 'interval_days'"):
        parse_protocols(json.dumps([bad]))


def test_result_problems_per_kind() -> None:
    today = dt.date(2026, 11, 22)
    swab = FollowUp(
        FollowUpKind.SWAB, today, status=FollowUpStatus.DONE, result_date=today, swab_result=SwabResult.ORGANISM
    )
    assert "organism" in result_problems(swab, today)
    scan = FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, today, status=FollowUpStatus.DONE, result_date=today)
    assert "cervical_length_mm" in result_problems(scan, today)
    assert FollowUp(FollowUpKind.SWAB, today - dt.timedelta(days=4), window_days=3).overdue(today)
    assert not FollowUp(FollowUpKind.SWAB, today - dt.timedelta(days=3), window_days=3).overdue(today)


def test_a_taper_may_not_raise_the_single_dose_even_if_the_daily_total_falls() -> None:
    plan = _prog(drug="dydrogesterone_oral", dose=10.0)
    step = DoseStep(Anchor(date=dt.date(2026, 12, 20)), 30, Frequency.ALTERNATE_DAYS)  # 15 mg a day, 30 mg a dose
    assert "increase" in plan_problems(with_taper(plan, (step,)), EDD)["taper.0.dose"]


def test_default_dose_sources_never_claim_a_benefit_the_trials_did_not_show() -> None:
    from rmclinic.domain.medication import default_source

    assert "PRISM" in default_source("progesterone_vaginal", Indication.THREATENED_MISCARRIAGE)
    assert "no benefit" in default_source("progesterone_vaginal", Indication.RM_NO_BLEEDING)
    assert "no live-birth benefit" in default_source("levothyroxine", Indication.EUTHYROID_TPO_MISCARRIAGE)
    assert "no live-birth benefit" in default_source("dalteparin", Indication.INHERITED_THROMBOPHILIA)
    assert "RCOG 2023" in default_source("enoxaparin", Indication.APS)


def test_redating_advice_is_only_against_lmp_dating() -> None:
    lmp = date_entry(DatingMethod.LMP, dt.date(2026, 11, 1), lmp=dt.date(2026, 9, 20))
    art = date_entry(
        DatingMethod.EMBRYO_TRANSFER, dt.date(2026, 11, 1), transfer_date=dt.date(2026, 10, 7), embryo_age_days=5
    )
    assert dating.lmp_entry((lmp, art)) == lmp
    assert dating.lmp_entry((art,)) is None


def test_last_dose_day_of_daily_and_every_other_day_plans() -> None:
    from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan, last_dose_day

    start = dt.date(2026, 11, 23)
    daily = MedicationPlan(
        "aspirin", 75, Frequency.ONCE_DAILY, start, Indication.APS, stop=Anchor(dt.date(2026, 12, 3))
    )
    assert last_dose_day(daily, None) == dt.date(2026, 12, 2)
    alternate = MedicationPlan(
        "enoxaparin", 40, Frequency.ALTERNATE_DAYS, start, Indication.APS, stop=Anchor(dt.date(2026, 12, 3))
    )
    assert last_dose_day(alternate, None) == dt.date(2026, 12, 1)  # 02/12 is a rest day
    open_ended = MedicationPlan("levothyroxine", 50, Frequency.ONCE_DAILY, start, Indication.APS)
    assert last_dose_day(open_ended, None) is None
