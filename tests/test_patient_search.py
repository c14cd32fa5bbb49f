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


@pytest.mark.postgres
def test_identifier_prefixes_are_found_on_a_postgresql_database_with_a_linguistic_collation(
    pg_server: object, clock: object
) -> None:
    """Clinics create their database with the server's default locale, often en_US. Under a linguistic
    collation the prefix range breaks: ":" (the bound after a typed 9) sorts before the digits, and "-" is
    ignored. Migration 0010 makes the identifiers compare byte by byte, as the name keys already do."""
    import psycopg
    from conftest import act_as
    from pgserver import PostgresServer

    from rmclinic.app import build_services

    if pg_server is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    assert isinstance(pg_server, PostgresServer)
    name = "icu_" + nhs_number(1)
    with psycopg.connect(
        host=str(pg_server.socket_dir), port=pg_server.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            " LOCALE 'C.UTF-8'"
        )
    svc = build_services(pg_server.url(name), clock=clock)  # type: ignore[arg-type]
    try:
        act_as(svc)
        numbers = ["RM-0519", "RM0519", "RM-0529", "RM/0519"]
        nhs = [nhs_number(n) for n in range(40, 400, 9)]
        nines = [n for n in nhs if n[5] == "9"] or [n for n in nhs if "9" in n[:-1]]
        assert nines, "the fixture needs an NHS number with a 9 to type up to"
        for i, hosp in enumerate(numbers):
            data = PatientData(
                hospital_number=hosp,
                family_name="Collation",
                given_name=GIVENS[i],
                date_of_birth=dt.date(1990, 1, 1 + i),
                nhs_number=nines[0] if i == 0 else "",
            )
            svc.patients.register(data, confirm_possible_duplicate=True)

        def found(text: str, sort: str = "name") -> list[str]:
            return [r.hospital_number for r in svc.patients.search(PatientQuery(text=text, sort=sort)).rows]

        assert sorted(found("RM-05")) == ["RM-0519", "RM-0529"]
        assert found("RM05") == ["RM0519"]
        assert found("RM-0519") == ["RM-0519"]
        typed = nines[0][: nines[0].index("9", 1) + 1]  # up to and including a 9
        assert found(typed) == ["RM-0519"], typed
        assert found("RM", sort="hospital_number") == sorted(numbers)  # byte order: "-" < "/" < "0"
    finally:
        svc.close()


@pytest.mark.parametrize("walk_cap", [0, 3, 1000])
def test_postgresql_collects_or_walks_the_other_name_matches_with_the_same_rows(
    services: Services, clinic: list[tuple[PatientRow, bool]], walk_cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many matches sorted by name: PostgreSQL collects the other (non-family) matches and sorts them when
    they are few (under ``WALK_CAP``), else lets the planner walk the name index. Dense ("s", "rm") and sparse
    ("sm0", "claire") prefixes, one term and several, give the same rows either way (SQLite: the same too)."""
    monkeypatch.setattr(patient_search, "COUNT_CAP", 2)
    monkeypatch.setattr(patient_search, "WALK_CAP", walk_cap)
    for text in ["s", "sm", "rm", "r", "sm0", "claire", "s a", "a s", "w", "01/02/1986"]:
        for descending in (False, True):
            for archived in (False, True):
                want = reference(clinic, text, "name", descending, archived)
                query = PatientQuery(text=text, sort="name", descending=descending, include_archived=archived)
                got: list[int] = []
                page = services.patients.search(query, 0, 3)
                while page.rows:
                    got += [r.id for r in page.rows]
                    page = services.patients.search(query, len(got), 3)
                assert got == want, f"{text!r}{' desc' if descending else ''}, archived {archived}"
