"""Loss counting as ESHRE 2022 and RCOG 2023 define it (evidence.md §1)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from rmclinic.domain.obstetric import (
    LOSS_OUTCOMES,
    Outcome,
    PreviousPregnancy,
    TissueGenetics,
    pregnancy_problems,
    summarise,
)

TODAY = dt.date(2026, 11, 22)


def preg(year: int, outcome: Outcome, days: int | None = None, month: int = 6) -> PreviousPregnancy:
    return PreviousPregnancy(year=year, outcome=outcome, date=dt.date(year, month, 1), gestation_days=days)


def test_amira_three_early_losses_meets_both_definitions_primary() -> None:
    s = summarise(
        [
            preg(2023, Outcome.EARLY_MISCARRIAGE, 6 * 7 + 2),
            preg(2024, Outcome.EARLY_MISCARRIAGE, 8 * 7),
            preg(2025, Outcome.EARLY_MISCARRIAGE, 7 * 7 + 4),
        ]
    )
    assert (s.gravidity, s.parity, s.total_losses, s.consecutive_losses) == (3, 0, 3, 3)
    assert (s.first_trimester_losses, s.second_trimester_losses) == (3, 0)
    assert s.meets_eshre
    assert s.meets_rcog
    assert s.rm_type == "primary"


def test_ectopic_and_molar_do_not_count_but_biochemical_does() -> None:
    s = summarise(
        [
            preg(2020, Outcome.ECTOPIC, 7 * 7),
            preg(2021, Outcome.MOLAR, 10 * 7),
            preg(2022, Outcome.BIOCHEMICAL, 5 * 7),
        ]
    )
    assert s.gravidity == 3
    assert s.total_losses == 1
    assert not s.meets_eshre


def test_two_losses_meet_eshre_not_rcog() -> None:
    s = summarise([preg(2022, Outcome.BIOCHEMICAL), preg(2023, Outcome.EARLY_MISCARRIAGE, 9 * 7)])
    assert s.meets_eshre
    assert not s.meets_rcog


def test_one_second_trimester_loss_meets_rcog() -> None:
    s = summarise([preg(2025, Outcome.LATE_MISCARRIAGE, 17 * 7)])
    assert s.second_trimester_losses == 1
    assert s.meets_rcog
    assert not s.meets_eshre


def test_live_birth_breaks_the_consecutive_run_and_makes_rm_secondary() -> None:
    s = summarise(
        [
            preg(2018, Outcome.EARLY_MISCARRIAGE, 8 * 7),
            preg(2019, Outcome.EARLY_MISCARRIAGE, 8 * 7),
            preg(2020, Outcome.LIVE_BIRTH, 39 * 7),
            preg(2022, Outcome.EARLY_MISCARRIAGE, 7 * 7),
            preg(2023, Outcome.ECTOPIC, 6 * 7),
            preg(2024, Outcome.BIOCHEMICAL, 5 * 7),
        ]
    )
    assert s.total_losses == 4
    assert s.consecutive_losses == 2  # the ectopic neither counts nor breaks the run
    assert s.parity == 1
    assert s.secondary


def test_gestation_decides_trimester_when_known() -> None:
    # Recorded as "early" but the gestation says 12+1: the gestation wins for counting.
    s = summarise([PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE, gestation_days=12 * 7 + 1)])
    assert s.second_trimester_losses == 1


def test_inconsistent_gestation_for_outcome_is_refused() -> None:
    p = PreviousPregnancy(2024, Outcome.LATE_MISCARRIAGE, gestation_days=10 * 7)
    problems = dict(pregnancy_problems(p, TODAY))
    assert "12+0" in problems["gestation_days"]
    assert dict(pregnancy_problems(PreviousPregnancy(2030, Outcome.LIVE_BIRTH), TODAY))["year"]


outcomes = st.sampled_from(list(Outcome))
pregnancies = st.lists(
    st.builds(
        PreviousPregnancy,
        year=st.integers(1990, 2026),
        outcome=outcomes,
        tissue_genetics=st.sampled_from(list(TissueGenetics)),
    ),
    max_size=12,
)


@given(pregnancies)
def test_counts_are_consistent(ps: list[PreviousPregnancy]) -> None:
    s = summarise(ps)
    assert s.gravidity == len(ps)
    assert s.total_losses == sum(1 for p in ps if p.outcome in LOSS_OUTCOMES)
    assert s.first_trimester_losses + s.second_trimester_losses == s.total_losses
    assert 0 <= s.consecutive_losses <= s.total_losses
    assert s.meets_eshre == (s.total_losses >= 2)
    assert s.parity == sum(1 for p in ps if p.outcome in (Outcome.LIVE_BIRTH, Outcome.STILLBIRTH))


@given(pregnancies, st.sampled_from([Outcome.ECTOPIC, Outcome.MOLAR]), st.integers(1990, 2026))
def test_adding_ectopic_or_molar_never_changes_loss_counts(
    ps: list[PreviousPregnancy], extra: Outcome, year: int
) -> None:
    before = summarise(ps)
    after = summarise([*ps, PreviousPregnancy(year, extra)])
    assert after.gravidity == before.gravidity + 1
    assert (after.total_losses, after.consecutive_losses, after.meets_eshre, after.meets_rcog) == (
        before.total_losses,
        before.consecutive_losses,
        before.meets_eshre,
        before.meets_rcog,
    )


@given(pregnancies, st.randoms())
def test_totals_do_not_depend_on_entry_order(ps: list[PreviousPregnancy], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(ps)
    rnd.shuffle(shuffled)
    a, b = summarise(ps), summarise(shuffled)
    assert (a.total_losses, a.gravidity, a.parity, a.meets_eshre, a.meets_rcog) == (
        b.total_losses,
        b.gravidity,
        b.parity,
        b.meets_eshre,
        b.meets_rcog,
    )
