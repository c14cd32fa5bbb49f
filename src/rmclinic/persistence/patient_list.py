"""The patient list's reads: a page of the search and the count, in plain SQL (``patient_search``), with no
mapped classes, so the first window's list needs no ORM model (see ``tables``)."""

from __future__ import annotations

from collections.abc import Sequence

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

    def count(self) -> int:
        """Every patient, archived or not."""
        return patient_search.count_listed(self.s.connection(), include_archived=True)
