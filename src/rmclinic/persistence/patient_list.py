"""The patient list's reads: a page of the search with its count, in plain SQL (``patient_search``), with no
mapped classes, so the first window's list needs no ORM model (see ``tables``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from ..domain.search import SearchTerm
from ..services.dto import PatientPage
from . import patient_search


class SqlPatientList:
    def __init__(self, session: Session) -> None:
        self.s = session

    def search(
        self,
        terms: Sequence[SearchTerm],
        sort: str,
        descending: bool,
        include_archived: bool,
        offset: int,
        limit: int,
    ) -> PatientPage:
        """One page of the list, and how many match (exactly up to a cap, else "more than"): see
        ``patient_search`` for why it is written as it is."""
        return patient_search.search(self.s.connection(), terms, sort, descending, include_archived, offset, limit)


_NAMES = text(
    "SELECT id, hospital_number, family_name, given_name FROM patient WHERE id IN :ids AND archived_at IS NULL"
).bindparams(bindparam("ids", expanding=True))
# PostgreSQL takes the ids as one array parameter (a thousand placeholders cost more to send and parse)
_NAMES_PG = text(
    "SELECT id, hospital_number, family_name, given_name FROM patient WHERE id = ANY(:ids) AND archived_at IS NULL"
)


def listed_names(conn: Connection, patient_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """Hospital number, family and given name of these patients, leaving out the archived: for lists that
    name a few thousand patients (the worklist). Looked up by id, where a join let PostgreSQL hash the whole
    patient table first (100,000 rows, ~60 ms, for a thousand follow-ups)."""
    ids = sorted(set(patient_ids))
    out: dict[int, tuple[str, str, str]] = {}
    stmt = _NAMES_PG if conn.dialect.name == "postgresql" else _NAMES
    for i in range(0, len(ids), 10_000):  # well under SQLite's bound-parameter limit
        for pid, hosp, family, given in conn.execute(stmt, {"ids": ids[i : i + 10_000]}):
            out[pid] = (hosp, family, given)
    return out
