"""Search folding, prefix ranges, typed dates and gestational age notation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmclinic.domain.gestation import GestationalAge, format_days, parse_weeks_days
from rmclinic.domain.search import parse_date_dmy, parse_query
from rmclinic.domain.text import fold, prefix_upper_bound


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("lucja", "Łucja"),
        ("zoe", "Zoë"),
        ("nguyen", "Nguyễn"),
        ("osullivan", "O'Sullivan"[:1] + "sullivan"),
        ("muller", "Müller"),
        ("strasse", "Straße"),
        ("wisniewska", "Wiśniewska"),
    ],
)
def test_fold_makes_accents_and_case_irrelevant(typed: str, stored: str) -> None:
    assert fold(stored).startswith(fold(typed))


@given(st.text(max_size=30))
def test_fold_is_idempotent(s: str) -> None:
    assert fold(fold(s)) == fold(s)


@given(st.text(min_size=1, max_size=6), st.text(max_size=12))
def test_prefix_range_matches_exactly_the_strings_with_that_prefix(prefix: str, s: str) -> None:
    hi = prefix_upper_bound(prefix)
    assert (prefix <= s < hi) == s.startswith(prefix) or "\U0010ffff" in prefix + s


def test_dates_typed_day_first() -> None:
    assert parse_date_dmy("14/03/1992") == dt.date(1992, 3, 14)
    assert parse_date_dmy("4.3.1992") == dt.date(1992, 3, 4)
    assert parse_date_dmy("31/02/1992") is None
    assert parse_date_dmy("1992-03-14") is None


def test_query_terms() -> None:
    (t,) = parse_query("943 476 5919")
    assert t.digits == "9434765919"
    a, b = parse_query("Łucja 02/05/1995")
    assert a.folded == "lucja"
    assert b.date == dt.date(1995, 5, 2)


def test_gestational_age_notation() -> None:
    assert str(GestationalAge.of(16, 0)) == "16+0"
    assert parse_weeks_days("8+3").days == 59
    assert parse_weeks_days(" 12 ").days == 84
    assert format_days(None) == ""
    with pytest.raises(ValueError, match="0 to 6"):
        parse_weeks_days("8+9")
    with pytest.raises(ValueError, match="weeks\\+days"):
        parse_weeks_days("eight")
