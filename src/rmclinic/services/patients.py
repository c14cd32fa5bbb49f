"""Patient registry use cases."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..domain.clock import Clock
from ..domain.errors import DuplicateError, FieldProblem, ValidationError
from ..domain.obstetric import PreviousPregnancy, pregnancy_problems
from ..domain.patient import PatientData, RiskHistory, risk_problems, validate_patient
from ..domain.search import parse_query
from ..domain.text import fold
from .dto import SORT_KEYS, PatientPage, PatientQuery, PatientRecord, PatientRow
from .ports import UnitOfWork, UnitOfWorkFactory

MAX_PAGE = 500


@dataclass(frozen=True)
class PossibleDuplicate(Exception):
    """Registration matched an existing patient's names and date of birth; the user must confirm."""

    matches: tuple[PatientRow, ...]

    def __str__(self) -> str:
        return "A patient with the same names and date of birth is already registered."


class PatientService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------

    def get(self, patient_id: int) -> PatientRecord:
        with self._uow() as uow:
            return uow.patients.get(patient_id)

    def find_by_hospital_number(self, hospital_number: str) -> PatientRecord | None:
        from ..domain.identifiers import normalise_hospital_number

        with self._uow() as uow:
            pid = uow.patients.id_for_hospital_number(normalise_hospital_number(hospital_number))
            return None if pid is None else uow.patients.get(pid)

    def search(self, query: PatientQuery, offset: int = 0, limit: int = 100) -> PatientPage:
        if query.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {query.sort!r}")
        limit = max(1, min(limit, MAX_PAGE))
        with self._uow() as uow:
            return uow.patients.search(
                parse_query(query.text),
                query.sort,
                query.descending,
                query.include_archived,
                max(0, offset),
                limit,
            )

    def count(self) -> int:
        with self._uow() as uow:
            return uow.patients.count()

    # -- registering and editing --------------------------------------------------------------

    def register(self, data: PatientData, confirm_possible_duplicate: bool = False) -> PatientRecord:
        """Register a patient. Raises ``PossibleDuplicate`` unless confirmed when names+DOB match."""
        clean = validate_patient(data, self._clock.today())
        with self._uow() as uow:
            self._check_unique(uow, clean, exclude_id=None)
            if not confirm_possible_duplicate:
                ids = uow.patients.ids_with_name_and_dob(
                    fold(clean.family_name), fold(clean.given_name), clean.date_of_birth
                )
                if ids:
                    raise PossibleDuplicate(tuple(uow.patients.rows_for_ids(ids)))
            pid = uow.patients.add(clean)
            uow.commit()
            return uow.patients.get(pid)

    def update_demographics(self, patient_id: int, version: int, data: PatientData) -> PatientRecord:
        """Save the demographic fields and partner; history and risk are saved by their own calls."""
        with self._uow() as uow:
            current = uow.patients.get(patient_id)
            merged = replace(data, risk=current.data.risk, pregnancies=current.data.pregnancies)
            clean = validate_patient(merged, self._clock.today())
            self._check_unique(uow, clean, exclude_id=patient_id)
            uow.patients.update_demographics(patient_id, version, clean, clean.partner)
            uow.commit()
            return uow.patients.get(patient_id)

    def set_archived(self, patient_id: int, version: int, archived: bool) -> PatientRecord:
        with self._uow() as uow:
            uow.patients.set_archived(patient_id, version, archived)
            uow.commit()
            return uow.patients.get(patient_id)

    def update_risk(self, patient_id: int, risk_version: int, risk: RiskHistory) -> PatientRecord:
        problems = risk_problems(risk, self._clock.today())
        if problems:
            raise ValidationError(problems)
        clean = replace(
            risk,
            drug_allergies=tuple(a.strip() for a in risk.drug_allergies),
            cerclage_notes=risk.cerclage_notes.strip(),
            vte_notes=risk.vte_notes.strip(),
        )
        with self._uow() as uow:
            uow.patients.update_risk(patient_id, risk_version, clean)
            uow.commit()
            return uow.patients.get(patient_id)

    def add_pregnancy(self, patient_id: int, pregnancy: PreviousPregnancy) -> PatientRecord:
        self._check_pregnancy(pregnancy)
        with self._uow() as uow:
            uow.patients.add_pregnancy(patient_id, pregnancy)
            uow.commit()
            return uow.patients.get(patient_id)

    def update_pregnancy(
        self, patient_id: int, pregnancy_id: int, version: int, pregnancy: PreviousPregnancy
    ) -> PatientRecord:
        self._check_pregnancy(pregnancy)
        with self._uow() as uow:
            uow.patients.update_pregnancy(patient_id, pregnancy_id, version, pregnancy)
            uow.commit()
            return uow.patients.get(patient_id)

    def remove_pregnancy(self, patient_id: int, pregnancy_id: int, version: int) -> PatientRecord:
        """Remove a history entry entered in error (the patient herself is never deleted)."""
        with self._uow() as uow:
            uow.patients.remove_pregnancy(patient_id, pregnancy_id, version)
            uow.commit()
            return uow.patients.get(patient_id)

    # -- helpers ------------------------------------------------------------------------------

    def _check_pregnancy(self, pregnancy: PreviousPregnancy) -> None:
        found = pregnancy_problems(pregnancy, self._clock.today())
        if found:
            raise ValidationError([FieldProblem(f, m) for f, m in found])

    @staticmethod
    def _check_unique(uow: UnitOfWork, clean: PatientData, exclude_id: int | None) -> None:
        repo = uow.patients
        other = repo.id_for_hospital_number(clean.hospital_number)
        if other is not None and other != exclude_id:
            raise DuplicateError("hospital_number", f"Hospital number {clean.hospital_number} is already registered.")
        if clean.nhs_number:
            other = repo.id_for_nhs_number(clean.nhs_number)
            if other is not None and other != exclude_id:
                raise DuplicateError("nhs_number", "This NHS number is already registered to another patient.")
