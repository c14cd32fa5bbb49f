"""Turn what a nurse types into the search the patient list runs.

Every whitespace-separated term must match (AND). A term matches when it is a prefix of the folded
family or given name, of the hospital number, of the NHS number (digits, spaces ignored), or when it
is a date typed dd/mm/yyyy (also d/m/yyyy, dd.mm.yyyy, dd-mm-yyyy) equal to the date of birth.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .identifiers import normalise_hospital_number
from .text import fold

_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_DIGITS_AND_SPACES = re.compile(r"^[\d\s]+$")


@dataclass(frozen=True)
class SearchTerm:
    """One typed term in the forms each column is stored in."""

    folded: str  # for names
    hospital_number: str  # normalised (upper case)
    digits: str  # for NHS number prefixes; empty when the term is not all digits
    date: dt.date | None  # a full date of birth


def parse_date_dmy(text: str) -> dt.date | None:
    m = _DATE.match(text.strip())
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_query(text: str) -> tuple[SearchTerm, ...]:
    raw = text.strip()
    if _DIGITS_AND_SPACES.match(raw):  # an NHS number typed as printed (3 3 4): one term
        raw = "".join(raw.split())
    terms = []
    for token in raw.replace(",", " ").split():
        date = parse_date_dmy(token)
        folded = fold(token)
        terms.append(
            SearchTerm(
                folded=folded,
                hospital_number=normalise_hospital_number(token),
                digits=token if token.isdigit() else "",
                date=date,
            )
        )
    return tuple(terms)
