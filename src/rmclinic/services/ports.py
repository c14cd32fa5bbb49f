"""What the services need from persistence, as protocols: persistence implements them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..domain.accounts import Actor, Role
from ..domain.audit import AuditEntry, AuditEvent, ChainReport
from ..domain.obstetric import PreviousPregnancy
from ..domain.patient import Partner, PatientData, RiskHistory
from ..domain.search import SearchTerm
from ..domain.workup import HistoryEntry, WorkupItem
from .dto import AuditFilter, PatientPage, PatientRecord, PatientRow, ReviewRow, UserRecord


class PatientRepository(Protocol):
    def add(self, data: PatientData) -> int: ...

    def add_many(self, patients: Sequence[PatientData], archived: Sequence[bool] = ()) -> list[int]: ...

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


class UserRepository(Protocol):
    def count(self) -> int: ...

    def get(self, username: str) -> UserRecord | None: ...

    def password_hash(self, username: str) -> str | None: ...

    def list(self) -> list[UserRecord]: ...

    def add(self, username: str, display_name: str, role: Role, password_hash: str) -> UserRecord: ...

    def update(self, username: str, version: int | None = None, **values: object) -> UserRecord: ...

    def record_login(self, username: str, ok: bool, now: dt.datetime, locked_until: dt.datetime | None) -> None: ...


class AuditLog(Protocol):
    def append(self, actor: Actor, events: Sequence[AuditEvent], at: dt.datetime) -> None: ...

    def iter_entries(self, batch: int = 5000) -> Iterator[AuditEntry]: ...

    def verify(self) -> ChainReport: ...

    def query(self, f: AuditFilter, offset: int = 0, limit: int = 500) -> tuple[list[AuditEntry], int]: ...

    def last_for(self, entity: str, entity_id: str) -> AuditEntry | None: ...


class SettingsRepository(Protocol):
    def get(self, key: str) -> str | None: ...

    def all(self) -> dict[str, str]: ...

    def set(self, key: str, value: str) -> str | None: ...


class WorkupRepository(Protocol):
    def for_patient(self, patient_id: int) -> list[WorkupItem]: ...

    def get(self, patient_id: int, item_id: int) -> WorkupItem: ...

    def add(
        self, patient_id: int, investigation_id: str, values: dict[str, Any], history: Sequence[HistoryEntry] = ()
    ) -> int: ...

    def update(
        self,
        patient_id: int,
        item_id: int,
        version: int,
        values: dict[str, Any],
        keep_history: HistoryEntry | None = None,
    ) -> None: ...

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def review_queue(self, offset: int, limit: int) -> tuple[list[ReviewRow], int]: ...


class UnitOfWork(AbstractContextManager["UnitOfWork"], Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    patients: PatientRepository
    users: UserRepository
    audit: AuditLog
    settings: SettingsRepository
    workup: WorkupRepository

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, read_only: bool = False) -> UnitOfWork: ...
