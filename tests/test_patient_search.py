"""The patient list's search plans (persistence/patient_search.py) give the rows a plain filter-and-sort would.

The plan changes with how many match, so the cap is made tiny here to take every path (few, many with the
others collected, many with the name index walked) on a small clinic, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from rmclinic.domain.patient import PatientData
from rmclinic.domain.search import parse_query
from rmclinic.domain.text import fold
from rmclinic.persistence import patient_search
from rmclinic.services.container import Services
from rmclinic.services.dto import SORT_KEYS, PatientQuery, PatientRow

FAMILIES = ["Smith", "Smithson", "Smyth", "Whitfield", "Wiśniewska", "Adeyemi", "Sánchez", "O'Brien", "Rahman"]
GIVENS = ["Sarah", "Claire", "Amira", "Smita", "Wendy", "Rhiannon", "Łucja", "Ana"]


def nhs_number(n: int) -> str:
    """A valid NHS number (modulus 11 check digit) from a serial."""
    while True:
        digits = f"{999000000 + n:09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return digits + str(check)
        n += 1000


@pytest.fixture
def clinic(services: Services) -> list[tuple[PatientRow, bool]]:
    rng = random.Random(7)
    made = []
    for i in range(60):
        data = PatientData(
            hospital_number=f"{'RS'[i % 2]}M{i:04d}",
            family_name=rng.choice(FAMILIES),
            given_name=rng.choice(GIVENS),
            date_of_birth=dt.date(1985 + i % 3, 1 + i % 12, 1 + i % 5),
            nhs_number=nhs_number(i * 7) if i % 3 else "",
        )
        rec = services.patients.register(data, confirm_possible_duplicate=True)
        archived = i % 9 == 0
        if archived:
            rec = services.patients.set_archived(rec.id, rec.version, True)
        made.append(
            (services.patients.search(PatientQuery(text=data.hospital_number, include_archived=True)).rows[0], archived)
        )
    return made


def reference(
    clinic: list[tuple[PatientRow, bool]], text: str, sort: str, descending: bool, archived: bool
) -> list[int]:
    terms = parse_query(text)

    def matches(r: PatientRow) -> bool:
        for t in terms:
            ok = (
                (t.folded and (fold(r.family_name).startswith(t.folded) or fold(r.given_name).startswith(t.folded)))
                or (t.hospital_number and r.hospital_number.startswith(t.hospital_number))
                or (t.digits and r.nhs_number.startswith(t.digits))
                or (t.date is not None and r.date_of_birth == t.date)
            )
            if not ok:
                return False
        return True

    def key(r: PatientRow) -> tuple[object, ...]:
        if sort == "name":
            return (fold(r.family_name), fold(r.given_name), r.id)
        if sort == "nhs_number":
            return (r.nhs_number or "", r.id)  # rows with none sort first on SQLite, last on PostgreSQL
        return (getattr(r, sort), r.id)

    rows = [r for r, gone in clinic if (archived or not gone) and matches(r)]
    return [r.id for r in sorted(rows, key=key, reverse=descending)]


QUERIES = [
    "",
    "s",
    "sm",
    "smith",
    "w",
    "rm",
    "sm0",
    "claire",
    "s a",
    "wi ł",
    "999",
    "01/02/1986",
    "zz",
    "o'b",
    "sanchez",
]


@pytest.mark.parametrize("cap", [2, 10, 1000])
def test_every_plan_returns_the_rows_a_plain_filter_and_sort_would(
    services: Services, clinic: list[tuple[PatientRow, bool]], cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patient_search, "COUNT_CAP", cap)
    for text in QUERIES:
        for sort in SORT_KEYS:
            for descending in (False, True):
                for archived in (False, True):
                    want = reference(clinic, text, sort, descending, archived)
                    query = PatientQuery(text=text, sort=sort, descending=descending, include_archived=archived)
                    got: list[int] = []
                    page = services.patients.search(query, 0, 7)
                    while page.rows:  # page through all of it, as the list does when scrolled
                        got += [r.id for r in page.rows]
                        page = services.patients.search(query, len(got), 7)
                    where = f"{text!r} sorted by {sort}{' desc' if descending else ''}, archived {archived}"
                    if sort == "nhs_number":  # NULLs sort differently on the two backends; compare as sets
                        assert sorted(got) == sorted(want), where
                    else:
                        assert got == want, where
                    first = services.patients.search(query, 0, 7)
                    if text and len(want) > cap:
                        assert first.total_at_least and first.total == cap, where
                    else:
                        assert not first.total_at_least and first.total == len(want), where
