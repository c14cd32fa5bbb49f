"""NHS and hospital numbers: what a nurse types must be caught before it reaches the record."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from rmclinic.domain.identifiers import (
    format_nhs_number,
    hospital_number_problem,
    is_valid_nhs_number,
    nhs_check_digit,
    nhs_number_problem,
    normalise_hospital_number,
)

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


def test_known_valid_and_invalid_nhs_numbers() -> None:
    # 943 476 5919 is NHS Digital's published example of a valid number.
    assert is_valid_nhs_number("943 476 5919")
    assert is_valid_nhs_number("943-476-5919")
    assert not is_valid_nhs_number("943 476 5918")
    assert not is_valid_nhs_number("94347659")
    assert not is_valid_nhs_number("94347659AB")


def test_nhs_problem_messages_are_plain() -> None:
    assert nhs_number_problem("") is None
    assert "10 digits" in (nhs_number_problem("12345") or "")
    assert "check digit" in (nhs_number_problem("9434765918") or "")
    assert format_nhs_number("9434765919") == "943 476 5919"


@given(nine_digits)
def test_number_with_computed_check_digit_is_valid(first: str) -> None:
    check = nhs_check_digit(first)
    assume(check is not None)
    assert is_valid_nhs_number(first + str(check))


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_typo_is_detected(first: str, position: int, delta: int) -> None:
    check = nhs_check_digit(first)
    assume(check is not None)
    number = first + str(check)
    typo = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not is_valid_nhs_number(typo)


@given(nine_digits, st.integers(0, 8))
def test_swapping_two_neighbouring_digits_is_detected(first: str, position: int) -> None:
    check = nhs_check_digit(first)
    assume(check is not None)
    number = first + str(check)
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert not is_valid_nhs_number(swapped)


def test_hospital_number_normalised_and_checked() -> None:
    assert normalise_hospital_number(" rm 0012 ") == "RM0012"
    assert hospital_number_problem("") == "Hospital number is required."
    assert hospital_number_problem("RM/12-3") is None
    assert hospital_number_problem("RM#12") is not None
