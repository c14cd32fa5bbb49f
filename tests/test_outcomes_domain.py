"""The outcomes audit's pure parts against hand-computed values: Wilson intervals (checked against the standard
formula worked by hand, z = 1.959964), quartiles, bands, and how pregnancies, follow-ups and alert counts are
classified."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmclinic.domain.dating import DatingEntry, DatingMethod
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan, PlanStatus
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.outcomes import (
    AGE_BANDS,
    OutcomeClass,
    Proportion,
    Timing,
    Treatment,
    age_band,
    alert_rows,
    classify,
    completed_on,
    conceived_between,
    conception_date,
    contact_dates,
    loss_band,
    lost_to_follow_up,
    median_iqr,
    plans_in,
    previous_losses,
    quantile,
    tabulate,
    timing,
    timing_rows,
    treatment,
    wilson,
)
from rmclinic.domain.pregnancy import Bleeding, CurrentPregnancy, Severity
from rmclinic.domain.workup import ResultValue, Status, WorkupItem

TODAY = dt.date(2026, 11, 22)


def pct(interval: tuple[float, float] | None) -> tuple[float, float]:
    assert interval is not None
    return round(100 * interval[0], 1), round(100 * interval[1], 1)


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # worked by hand: centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·sqrt(p(1-p)/n + z²/4n²)
        (2, 3, (20.8, 93.9)),
        (0, 5, (0.0, 43.4)),
        (5, 5, (56.6, 100.0)),
        (1, 1, (20.7, 100.0)),  # a one-patient group
        (0, 1, (0.0, 79.3)),
        (1, 2, (9.5, 90.5)),
        (1, 3, (6.1, 79.2)),
        (50, 100, (40.4, 59.6)),
        (262, 398, (61.0, 70.3)),  # PROMISE's progesterone arm, 65.8 %
    ],
)
def test_wilson_interval_against_hand_computed_values(k: int, n: int, expected: tuple[float, float]) -> None:
    assert pct(wilson(k, n)) == expected


def test_wilson_of_an_empty_group_is_none_and_a_count_above_its_denominator_is_refused() -> None:
    assert wilson(0, 0) is None
    with pytest.raises(ValueError, match="not a proportion"):
        wilson(4, 3)


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_contains_the_estimate_and_stays_within_0_and_1(k: int, n: int) -> None:
    k = min(k, n)
    lo, hi = wilson(k, n)  # type: ignore[misc]
    assert 0 <= lo <= k / n <= hi <= 1
    assert (lo == 0) == (k == 0) and (hi == 1) == (k == n)


def test_proportion_text_never_a_bare_percentage() -> None:
    assert Proportion(2, 3).describe() == "2/3 (67 %, 95 % CI 21–94 %)"
    assert Proportion(0, 5).describe() == "0/5 (0 %, 95 % CI 0–43 %)"
    assert Proportion(5, 5).describe() == "5/5 (100 %, 95 % CI 57–100 %)"
    assert Proportion(0, 0).describe() == "0/0" and Proportion(0, 0).rate is None and not Proportion(0, 0).small
    assert Proportion(3, 2).describe() == "3/2" and Proportion(3, 2).ci is None  # responses to earlier firings
    assert Proportion(1, 9).small and not Proportion(1, 10).small


def test_median_and_quartiles_by_linear_interpolation() -> None:
    assert median_iqr([]) is None
    one = median_iqr([30])
    assert one is not None and (one.n, one.median, one.q1, one.q3) == (1, 30, 30, 30)
    s = median_iqr([7, 1, 3, 5])  # sorted 1 3 5 7: h = 3q -> q1 at 0.75 -> 2.5, median 4, q3 at 2.25 -> 5.5
    assert s is not None and (s.median, s.q1, s.q3) == (4, 2.5, 5.5)
    assert s.describe() == "median 4 days (IQR 2.5–5.5), n = 4"
    assert quantile([10, 20, 30], 0.5) == 20


def test_bands() -> None:
    assert [age_band(a) for a in (18, 29, 30, 34, 35, 39, 40, 47)] == [
        AGE_BANDS[0],
        AGE_BANDS[0],
        AGE_BANDS[1],
        AGE_BANDS[1],
        AGE_BANDS[2],
        AGE_BANDS[2],
        AGE_BANDS[3],
        AGE_BANDS[3],
    ]
    assert [loss_band(n) for n in (0, 1, 2, 3, 4, 9)] == ["0-1", "0-1", "2", "3", "4 or more", "4 or more"]


def preg(
    lmp: dt.date, outcome: Outcome | None = None, ended: dt.date | None = None, pid: int = 1, **kw: object
) -> CurrentPregnancy:
    entry = DatingEntry(lmp + dt.timedelta(days=280), DatingMethod.LMP, lmp + dt.timedelta(days=35), "Booking", lmp=lmp)
    return CurrentPregnancy(pid, (entry,), ended_on=ended, outcome=outcome, **kw)  # type: ignore[arg-type]


LMP = dt.date(2025, 3, 1)  # EDD 06/12/2025; day 0 01/03/2025


def on(ga_days: int) -> dt.date:
    return LMP + dt.timedelta(days=ga_days)


def test_conceived_in_the_period_means_edd_minus_266_days() -> None:
    p = preg(LMP)
    assert conception_date(p.edd) == dt.date(2025, 3, 15)
    assert conceived_between(p, dt.date(2025, 3, 15), dt.date(2025, 3, 15))
    assert not conceived_between(p, dt.date(2025, 3, 16), dt.date(2025, 12, 31))
    assert not conceived_between(p, dt.date(2025, 1, 1), dt.date(2025, 3, 14))


@pytest.mark.parametrize(
    ("outcome", "ga", "expected"),
    [
        (Outcome.LIVE_BIRTH, 39 * 7, OutcomeClass.LIVE_BIRTH),
        (Outcome.LIVE_BIRTH, 24 * 7, OutcomeClass.LIVE_BIRTH),
        (Outcome.LIVE_BIRTH, 24 * 7 - 1, OutcomeClass.OTHER),  # a live birth before 24+0 is not "live birth ≥ 24"
        (Outcome.BIOCHEMICAL, 5 * 7, OutcomeClass.LOSS_UNDER_12),
        (Outcome.EARLY_MISCARRIAGE, 12 * 7 - 1, OutcomeClass.LOSS_UNDER_12),
        (Outcome.LATE_MISCARRIAGE, 12 * 7, OutcomeClass.LOSS_12_TO_24),
        (Outcome.LATE_MISCARRIAGE, 24 * 7 - 1, OutcomeClass.LOSS_12_TO_24),
        (Outcome.STILLBIRTH, 30 * 7, OutcomeClass.STILLBIRTH),
        (Outcome.ECTOPIC, 7 * 7, OutcomeClass.ECTOPIC_MOLAR),
        (Outcome.MOLAR, 10 * 7, OutcomeClass.ECTOPIC_MOLAR),
        (Outcome.TERMINATION, 10 * 7, OutcomeClass.OTHER),
    ],
)
def test_outcome_classes_by_gestation_on_the_day_it_ended(outcome: Outcome, ga: int, expected: OutcomeClass) -> None:
    assert classify(preg(LMP, outcome, on(ga)), TODAY) is expected


def test_an_open_pregnancy_is_ongoing_until_edd_plus_6_weeks_then_unknown() -> None:
    p = preg(LMP)
    assert classify(p, p.edd + dt.timedelta(days=42)) is OutcomeClass.ONGOING
    assert classify(p, p.edd + dt.timedelta(days=43)) is OutcomeClass.UNKNOWN


def test_previous_losses_are_those_before_day_0_and_not_its_own_history_entry() -> None:
    p = preg(LMP, Outcome.EARLY_MISCARRIAGE, on(70))
    history = [
        PreviousPregnancy(2023, Outcome.EARLY_MISCARRIAGE, dt.date(2023, 4, 1)),
        PreviousPregnancy(2024, Outcome.BIOCHEMICAL),  # no date: the year is before day 0's
        PreviousPregnancy(2024, Outcome.LIVE_BIRTH, dt.date(2024, 1, 1)),  # not a loss
        PreviousPregnancy(2024, Outcome.ECTOPIC, dt.date(2024, 6, 1)),  # not counted (ESHRE)
        PreviousPregnancy(2025, Outcome.EARLY_MISCARRIAGE, on(70)),  # this pregnancy, moved to the history
        PreviousPregnancy(2026, Outcome.LATE_MISCARRIAGE, dt.date(2026, 2, 1)),  # a later one
    ]
    assert previous_losses(history, p) == 2
    assert previous_losses([], p) == 0


def plan(drug: str, start: dt.date, indication: Indication = Indication.OTHER, **kw: object) -> MedicationPlan:
    return MedicationPlan(drug, 1, Frequency.ONCE_DAILY, start, indication, Anchor(gestation_days=16 * 7), **kw)  # type: ignore[arg-type]


def test_treatment_groups_in_order_of_precedence() -> None:
    bled = preg(LMP, bleeding=(Bleeding(on(50), Severity.LIGHT),))
    aps = [plan("aspirin", on(30), Indication.APS), plan("enoxaparin", on(30), Indication.APS)]
    progesterone = plan("progesterone_vaginal", on(50), Indication.THREATENED_MISCARRIAGE)
    assert treatment(bled, [*aps, progesterone]) is Treatment.ASPIRIN_HEPARIN_APS
    assert treatment(bled, [plan("aspirin", on(30)), plan("enoxaparin", on(30))]) is Treatment.OTHER  # not for APS
    assert treatment(bled, [aps[0]]) is Treatment.OTHER  # aspirin alone
    assert treatment(bled, [progesterone]) is Treatment.PROGESTOGEN_BLEEDING  # bled the day it started
    late = plan("dydrogesterone_oral", on(49), Indication.RM_NO_BLEEDING)
    assert treatment(bled, [late]) is Treatment.PROGESTOGEN_NO_BLEEDING  # the bleeding came after the start
    assert treatment(preg(LMP), [progesterone]) is Treatment.PROGESTOGEN_NO_BLEEDING
    assert treatment(bled, [plan("levothyroxine", on(10))]) is Treatment.OTHER
    assert treatment(bled, []) is Treatment.NONE


def test_the_pregnancys_plans_linked_or_taken_during_it_never_cancelled_ones() -> None:
    p = preg(LMP, Outcome.LIVE_BIRTH, on(270), pid=7)
    linked = plan("aspirin", on(30), pregnancy_id=7)
    other = plan("aspirin", on(30), pregnancy_id=8)
    preconception = MedicationPlan("aspirin", 75, Frequency.ONCE_DAILY, LMP - dt.timedelta(days=60), Indication.APS)
    stopped_before = plan("levothyroxine", LMP - dt.timedelta(days=90), stopped_on=LMP - dt.timedelta(days=10))
    after = plan("levothyroxine", on(275))
    cancelled = plan("enoxaparin", on(30), pregnancy_id=7, status=PlanStatus.CANCELLED)
    kept = plans_in(p, [linked, other, preconception, stopped_before, after, cancelled], TODAY)
    assert kept == [linked, preconception]


def item(
    iid: str, sample: dt.date | None, status: Status = Status.RESULTED, entered: dt.date | None = None
) -> WorkupItem:
    at = dt.datetime.combine(entered or sample or TODAY, dt.time(12), tzinfo=dt.UTC)
    return WorkupItem(1, iid, status, 1, sample_date=sample, value=ResultValue(text="negative"), entered_at=at)


def test_workup_completed_on_the_day_the_last_protocol_item_was_first_done() -> None:
    protocol = ["la", "tsh"]
    items = [
        item("la", dt.date(2025, 2, 10)),
        item("la", dt.date(2025, 6, 1)),  # a repeat does not move the date
        item("tsh", None, entered=dt.date(2025, 3, 1)),  # no sample date: the day it was entered
    ]
    assert completed_on(protocol, items) == dt.date(2025, 3, 1)
    assert completed_on(protocol, items[:2]) is None
    assert completed_on(protocol, [*items[:2], item("tsh", None, Status.REQUESTED)]) is None


def test_follow_up_timing() -> None:
    due = dt.date(2025, 6, 1)

    def f(status: FollowUpStatus, result: dt.date | None = None) -> FollowUp:
        return FollowUp(FollowUpKind.SWAB, due, 3, status=status, result_date=result)

    assert timing(f(FollowUpStatus.DONE, dt.date(2025, 5, 20)), TODAY) is Timing.ON_TIME  # early counts
    assert timing(f(FollowUpStatus.DONE, dt.date(2025, 6, 4)), TODAY) is Timing.ON_TIME  # last day of the window
    assert timing(f(FollowUpStatus.DONE, dt.date(2025, 6, 5)), TODAY) is Timing.LATE
    assert timing(f(FollowUpStatus.DONE), TODAY) is Timing.UNDATED
    assert timing(f(FollowUpStatus.MISSED), dt.date(2025, 6, 2)) is Timing.MISSED
    assert timing(f(FollowUpStatus.DUE), dt.date(2025, 6, 4)) is Timing.PENDING
    assert timing(f(FollowUpStatus.DUE), dt.date(2025, 6, 5)) is Timing.MISSED
    assert timing(f(FollowUpStatus.CANCELLED), TODAY) is Timing.CANCELLED
    rows = timing_rows(
        [(FollowUpKind.SWAB, Timing.ON_TIME), (FollowUpKind.SWAB, Timing.LATE), (FollowUpKind.BLOOD_TEST, Timing.LATE)]
    )
    swab = next(r for r in rows if r.kind is FollowUpKind.SWAB)
    scan = next(r for r in rows if r.kind is FollowUpKind.CERVICAL_LENGTH_SCAN)
    assert swab.total == 2 and swab.on_time == Proportion(1, 2) and scan.total == 0 and scan.on_time == Proportion(0, 0)
    assert sum(r.total for r in rows) == 2  # blood tests are not audited here


def test_lost_to_follow_up_means_no_contact_on_or_after_the_edd() -> None:
    p = preg(LMP)  # EDD 06/12/2025
    late = p.edd + dt.timedelta(days=43)
    assert lost_to_follow_up(p, [dt.date(2025, 5, 1)], late)
    assert not lost_to_follow_up(p, [dt.date(2025, 5, 1), p.edd], late)  # seen on the EDD
    assert not lost_to_follow_up(p, [], p.edd + dt.timedelta(days=42))  # not yet past EDD + 6 weeks
    assert not lost_to_follow_up(preg(LMP, Outcome.LIVE_BIRTH, on(280)), [], late)  # an outcome is recorded


def test_contact_dates_come_from_every_kind_of_entry_but_not_requests_or_bookings() -> None:
    p = preg(LMP, bleeding=(Bleeding(on(40), Severity.SPOTTING),), heartbeat_on=on(45))
    contacts = contact_dates(
        [dt.date(2025, 1, 2)],
        [item("la", dt.date(2025, 1, 3), entered=dt.date(2025, 1, 4)), item("tsh", None, Status.REQUESTED)],
        [p],
        [plan("aspirin", dt.date(2025, 1, 5), stopped_on=dt.date(2025, 1, 6))],
        [
            FollowUp(
                FollowUpKind.SWAB, dt.date(2025, 1, 7), status=FollowUpStatus.DONE, result_date=dt.date(2025, 1, 8)
            ),
            FollowUp(FollowUpKind.SWAB, dt.date(2025, 9, 9)),  # still due: not contact
        ],
    )
    assert sorted(set(contacts)) == sorted(
        {
            dt.date(2025, 1, 2),
            dt.date(2025, 1, 3),
            dt.date(2025, 1, 4),
            dt.date(2025, 1, 5),
            dt.date(2025, 1, 6),
            dt.date(2025, 1, 8),
            p.dating[0].recorded_on,
            on(40),
            on(45),
        }
    )


def test_tabulate_lists_every_group_even_empty_ones() -> None:
    rows = tabulate(
        [("a", OutcomeClass.LIVE_BIRTH), ("a", OutcomeClass.ONGOING), ("b", OutcomeClass.LOSS_UNDER_12)],
        ["a", "b", "c"],
    )
    assert [r.group for r in rows] == ["a", "b", "c"]
    a, b, c = rows
    assert (a.total, a.ended, a.live_birth, a.losses) == (2, 1, Proportion(1, 1), Proportion(0, 1))
    assert (b.total, b.ended, b.losses) == (1, 1, Proportion(1, 1))
    assert (c.total, c.ended, c.live_birth.describe()) == (0, 0, "0/0")


def test_alert_counts_per_rule_role_and_reason() -> None:
    rules, roles, reasons = alert_rows(
        [
            ("X10", "fired", "system", "", 4),
            ("X2", "fired", "system", "", 10),
            ("X2", "acknowledged", "nurse", "", 3),
            ("X2", "acknowledged", "consultant", "", 2),
            ("X2", "overridden", "consultant", "patient_declined", 1),
            ("X2", "overridden", "consultant", "not_applicable", 2),
            ("X10", "snoozed", "nurse", "", 1),
            ("X10", "ended", "system", "", 4),
        ]
    )
    assert [r.rule for r in rules] == ["X2", "X10"]  # by number, not as text
    r2, r10 = rules
    assert (r2.fired, r2.acknowledged, r2.overridden) == (10, 5, 3)
    assert r2.acceptance.describe() == "5/10 (50 %, 95 % CI 24–76 %)" and r2.override == Proportion(3, 10)
    assert (r10.snoozed, r10.ended, r10.acceptance) == (1, 4, Proportion(0, 4))
    assert [(r.role, r.acknowledged, r.overridden, r.snoozed) for r in roles] == [
        ("consultant", 2, 3, 0),
        ("nurse", 3, 0, 1),
    ]
    assert roles[0].override == Proportion(3, 5)
    assert reasons == (("not_applicable", 2), ("patient_declined", 1))
    assert alert_rows([]) == ((), (), ())
    assert math.isclose(Proportion(5, 10).rate or 0, 0.5)
