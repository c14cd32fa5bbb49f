"""Plain, frozen data objects returned by services (never ORM instances)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..domain.obstetric import ObstetricSummary, PreviousPregnancy, summarise
from ..domain.patient import PatientData


@dataclass(frozen=True)
class PregnancyRecord:
    id: int
    version: int
    data: PreviousPregnancy


@dataclass(frozen=True)
class PatientRecord:
    """A patient as stored: identity, lock version, archive state and the full clinical data."""

    id: int
    version: int
    archived: bool
    data: PatientData
    pregnancy_records: tuple[PregnancyRecord, ...] = ()
    risk_version: int = 0

    @property
    def summary(self) -> ObstetricSummary:
        return summarise(self.data.pregnancies)


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list."""

    id: int
    hospital_number: str
    nhs_number: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    archived: bool


@dataclass(frozen=True)
class PatientPage:
    rows: tuple[PatientRow, ...]
    total: int
    offset: int


SORT_KEYS = ("name", "hospital_number", "nhs_number", "date_of_birth")


@dataclass(frozen=True)
class PatientQuery:
    text: str = ""
    sort: str = "name"
    descending: bool = False
    include_archived: bool = False
