"""Patient identifiers: hospital number and NHS number."""

from __future__ import annotations

import re

_HOSPNO_ALLOWED = re.compile(r"^[A-Z0-9][A-Z0-9/\-]{0,31}$")
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def normalise_hospital_number(raw: str) -> str:
    """Upper-case and strip spaces so ``ab 123`` and ``AB123`` are the same patient."""
    return re.sub(r"\s+", "", raw).upper()


def hospital_number_problem(raw: str) -> str | None:
    """Return a plain-words problem with a hospital number, or ``None`` when it is acceptable."""
    value = normalise_hospital_number(raw)
    if not value:
        return "Hospital number is required."
    if not _HOSPNO_ALLOWED.match(value):
        return "Hospital number may hold letters, digits, '/' and '-' only (at most 32)."
    return None


def normalise_nhs_number(raw: str) -> str:
    """Keep digits only: ``943 476 5919`` and ``943-476-5919`` are the same number."""
    return re.sub(r"[\s\-]", "", raw)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit of the first nine digits, or ``None`` when no valid one exists.

    NHS Digital's algorithm: weight the digits 10..2, sum, take 11 - (sum mod 11);
    11 becomes 0 and 10 means the number can never be valid.
    """
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(raw: str) -> bool:
    value = normalise_nhs_number(raw)
    if len(value) != 10 or not value.isdigit():
        return False
    return nhs_check_digit(value[:9]) == int(value[9])


def nhs_number_problem(raw: str) -> str | None:
    value = normalise_nhs_number(raw)
    if not value:
        return None
    if not value.isdigit() or len(value) != 10:
        return "NHS number must have 10 digits."
    if not is_valid_nhs_number(value):
        return "NHS number fails its check digit: please check it for a typing error."
    return None


def format_nhs_number(value: str) -> str:
    """Display as 3-3-4, the form printed on NHS cards."""
    v = normalise_nhs_number(value)
    return f"{v[:3]} {v[3:6]} {v[6:]}" if len(v) == 10 else v
