"""What the services need from persistence, as protocols: persistence implements them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from ..domain.obstetric import PreviousPregnancy
from ..domain.patient import Partner, PatientData, RiskHistory
from ..domain.search import SearchTerm
from .dto import PatientPage, PatientRecord, PatientRow


class PatientRepository(Protocol):
    def add(self, data: PatientData) -> int: ...

    def add_many(self, patients: Sequence[PatientData], archived: Sequence[bool] = ()) -> None: ...

    def delete_all(self) -> int: ...

    def get(self, patient_id: int) -> PatientRecord: ...

    def id_for_hospital_number(self, hospital_number: str) -> int | None: ...

    def id_for_nhs_number(self, nhs_number: str) -> int | None: ...

    def ids_with_name_and_dob(self, family_fold: str, given_fold: str, dob: object) -> list[int]: ...

    def update_demographics(
        self, patient_id: int, version: int, data: PatientData, partner: Partner | None
    ) -> None: ...

    def set_archived(self, patient_id: int, version: int, archived: bool) -> None: ...

    def update_risk(self, patient_id: int, version: int, risk: RiskHistory) -> None: ...

    def add_pregnancy(self, patient_id: int, pregnancy: PreviousPregnancy) -> int: ...

    def update_pregnancy(
        self, patient_id: int, pregnancy_id: int, version: int, pregnancy: PreviousPregnancy
    ) -> None: ...

    def remove_pregnancy(self, patient_id: int, pregnancy_id: int, version: int) -> None: ...

    def search(
        self,
        terms: Sequence[SearchTerm],
        sort: str,
        descending: bool,
        include_archived: bool,
        offset: int,
        limit: int,
    ) -> PatientPage: ...

    def rows_for_ids(self, ids: Iterable[int]) -> list[PatientRow]: ...

    def all_ids(self) -> list[int]: ...

    def count(self) -> int: ...


class UnitOfWork(AbstractContextManager["UnitOfWork"], Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    patients: PatientRepository

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
