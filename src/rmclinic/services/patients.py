"""Patient registry use cases: each checks the permission, runs in one unit of work and is audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent, field_changes
from ..domain.errors import ConflictError, DuplicateError, FieldProblem, ValidationError
from ..domain.identifiers import normalise_hospital_number
from ..domain.obstetric import PreviousPregnancy, pregnancy_problems
from ..domain.patient import PatientData, RiskHistory, risk_problems, validate_patient
from ..domain.search import parse_query
from ..domain.text import fold
from ..domain.typecheck import check_types
from . import audit_fields
from .base import ServiceBase
from .dto import SORT_KEYS, PatientPage, PatientQuery, PatientRecord, PatientRow
from .ports import UnitOfWork

MAX_PAGE = 500
EXPORT_LIMIT = 10_000_000  # the whole list
MAX_QUERY = 200


@dataclass(frozen=True)
class PossibleDuplicate(Exception):
    """Registration matched an existing patient's names and date of birth; the user must confirm."""

    matches: tuple[PatientRow, ...]

    def __str__(self) -> str:
        return "A patient with the same names and date of birth is already registered."


class StaleRecord(ConflictError):
    """A save refused because someone else saved first; says who, when and what they changed."""

    def __init__(self, current: PatientRecord | None, changed_by: str, changed_fields: list[str]) -> None:
        self.current = current
        self.changed_by = changed_by
        self.changed_fields = changed_fields
        what = ", ".join(changed_fields) if changed_fields else "the record"
        super().__init__(
            f"Not saved: {changed_by} saved this patient after you opened it (changed: {what}). "
            "Your input is kept; reload to see their version, then apply your changes again."
        )


def _patient_event(action: Action, patient_id: int, changes: Mapping[str, object] | None = None) -> AuditEvent:
    return AuditEvent(action, "patient", str(patient_id), patient_id, dict(changes or {}))


class PatientService(ServiceBase):
    # -- reading -----------------------------------------------------------------------------

    def get(self, patient_id: int) -> PatientRecord:
        """Open a patient record: audited as a view."""
        actor = self._actor(Permission.VIEW_PATIENTS)
        with self._uow() as uow:
            record = uow.patients.get(patient_id)
            self._audit(uow, actor, _patient_event(Action.VIEW, patient_id))
            uow.commit()
            return record

    def find_by_hospital_number(self, hospital_number: str) -> PatientRecord | None:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            pid = uow.patients.id_for_hospital_number(normalise_hospital_number(hospital_number))
        return None if pid is None else self.get(pid)

    def search(self, query: PatientQuery, offset: int = 0, limit: int = 100) -> PatientPage:
        """The patient list (names and numbers only): not audited per keystroke."""
        self._actor(Permission.VIEW_PATIENTS)
        if query.sort not in SORT_KEYS:
            raise ValidationError.single("sort", f"Sort by one of {', '.join(SORT_KEYS)}.")
        if not isinstance(query.text, str) or len(query.text) > MAX_QUERY:
            raise ValidationError.single("text", f"Search text is limited to {MAX_QUERY} characters.")
        limit = max(1, min(int(limit), MAX_PAGE))
        with self._uow(read_only=True) as uow:
            return uow.patient_list.search(
                parse_query(query.text),
                query.sort,
                query.descending,
                query.include_archived,
                max(0, int(offset)),
                limit,
            )

    def count(self) -> int:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            return uow.patients.count()

    def export_csv(
        self,
        query: PatientQuery,
        columns: Sequence[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[bytes, int]:
        """The patients the list shows for ``query``, in its order, with the chosen columns, as CSV (see
        csv_export). Needs the export permission; each exported patient gets an audit entry before the file is
        handed back. Returns the file's bytes and the number of patients."""
        from .csv_export import PATIENT_COLUMN_KEYS, Cell, needs_records, patient_cell, patient_header, to_csv

        actor = self._actor(Permission.EXPORT)
        unknown = [c for c in columns if c not in PATIENT_COLUMN_KEYS]
        if unknown or not columns:
            raise ValidationError.single(
                "columns", f"Choose columns from: {', '.join(PATIENT_COLUMN_KEYS)}." if columns else "Choose a column."
            )
        if query.sort not in SORT_KEYS:
            raise ValidationError.single("sort", f"Sort by one of {', '.join(SORT_KEYS)}.")
        terms = parse_query(query.text)
        today = self._clock.today()
        table: list[list[Cell]] = []
        with self._uow(read_only=True) as uow:  # one snapshot: the file is one consistent list
            # the whole list in one query (paging by offset would walk the list again for every page)
            rows = uow.patient_list.search(
                terms, query.sort, query.descending, query.include_archived, 0, EXPORT_LIMIT
            ).rows
            if progress is not None:
                progress(0, len(rows))
            full = needs_records(columns)
            for i in range(0, len(rows), 500):  # the cells are made batch by batch: no record is kept
                batch = rows[i : i + 500]
                records = {r.id: r for r in uow.patients.get_many([x.id for x in batch])} if full else {}
                table += ([patient_cell(r, records.get(r.id), key, today) for key in columns] for r in batch)
                if progress is not None:
                    progress(i + len(batch), len(rows))
        with self._uow() as uow:  # recorded before the file leaves: an export that cannot be audited is not made
            detail = {"format": "csv", "columns": list(columns)}
            self._audit(uow, actor, *(AuditEvent(Action.EXPORT, "patient", str(r.id), r.id, detail) for r in rows))
            uow.commit()
        return to_csv(patient_header(columns), table), len(rows)

    # -- registering and editing --------------------------------------------------------------

    def register(self, data: PatientData, confirm_possible_duplicate: bool = False) -> PatientRecord:
        """Register a patient. Raises ``PossibleDuplicate`` unless confirmed when names+DOB match."""
        actor = self._actor(Permission.EDIT_PATIENTS)
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
            after = audit_fields.demographics(clean)
            self._audit(uow, actor, _patient_event(Action.CREATE, pid, field_changes({}, after)))
            uow.commit()
            return uow.patients.get(pid)

    def _stale(
        self, uow: UnitOfWork, patient_id: int, entity: str, mine: dict[str, object], theirs: dict[str, object]
    ) -> StaleRecord:
        last = uow.audit.last_for(entity, str(patient_id)) if entity == "patient" else None
        who = last.username if last else "another user"
        try:
            current = uow.patients.get(patient_id)
        except Exception:
            current = None
        return StaleRecord(current, who, sorted(field_changes(mine, theirs)))

    def update_demographics(
        self, patient_id: int, version: int, data: PatientData, base: PatientData | None = None
    ) -> PatientRecord:
        """Save the demographic fields and partner. ``base`` is what the editor started from, so a
        refused save can say what the other user changed."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            current = uow.patients.get(patient_id)
            if current.version != version:
                raise self._stale(
                    uow,
                    patient_id,
                    "patient",
                    audit_fields.demographics(base or current.data),
                    audit_fields.demographics(current.data),
                )
            merged = replace(data, risk=current.data.risk, pregnancies=current.data.pregnancies)
            clean = validate_patient(merged, self._clock.today())
            self._check_unique(uow, clean, exclude_id=patient_id)
            uow.patients.update_demographics(patient_id, version, clean, clean.partner)
            changes = field_changes(audit_fields.demographics(current.data), audit_fields.demographics(clean))
            self._audit(uow, actor, _patient_event(Action.UPDATE, patient_id, changes))
            uow.commit()
            return uow.patients.get(patient_id)

    def set_archived(self, patient_id: int, version: int, archived: bool) -> PatientRecord:
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            uow.patients.set_archived(patient_id, version, archived)
            self._audit(uow, actor, _patient_event(Action.ARCHIVE if archived else Action.UNARCHIVE, patient_id))
            uow.commit()
            return uow.patients.get(patient_id)

    def update_risk(self, patient_id: int, risk_version: int, risk: RiskHistory) -> PatientRecord:
        actor = self._actor(Permission.EDIT_PATIENTS)
        check_types(risk, RiskHistory, "risk")
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
            before = uow.patients.get(patient_id).data.risk
            uow.patients.update_risk(patient_id, risk_version, clean)
            changes = field_changes(audit_fields.risk(before), audit_fields.risk(clean))
            self._audit(uow, actor, AuditEvent(Action.UPDATE, "risk_history", str(patient_id), patient_id, changes))
            uow.commit()
            return uow.patients.get(patient_id)

    def add_pregnancy(self, patient_id: int, pregnancy: PreviousPregnancy) -> PatientRecord:
        actor = self._actor(Permission.EDIT_PATIENTS)
        self._check_pregnancy(pregnancy)
        with self._uow() as uow:
            pid = uow.patients.add_pregnancy(patient_id, pregnancy)
            changes = field_changes({}, audit_fields.pregnancy(pregnancy))
            self._audit(uow, actor, AuditEvent(Action.CREATE, "previous_pregnancy", str(pid), patient_id, changes))
            uow.commit()
            return uow.patients.get(patient_id)

    def update_pregnancy(
        self, patient_id: int, pregnancy_id: int, version: int, pregnancy: PreviousPregnancy
    ) -> PatientRecord:
        actor = self._actor(Permission.EDIT_PATIENTS)
        self._check_pregnancy(pregnancy)
        with self._uow() as uow:
            before = next(
                (r.data for r in uow.patients.get(patient_id).pregnancy_records if r.id == pregnancy_id), None
            )
            uow.patients.update_pregnancy(patient_id, pregnancy_id, version, pregnancy)
            changes = field_changes(audit_fields.pregnancy(before) if before else {}, audit_fields.pregnancy(pregnancy))
            self._audit(
                uow, actor, AuditEvent(Action.UPDATE, "previous_pregnancy", str(pregnancy_id), patient_id, changes)
            )
            uow.commit()
            return uow.patients.get(patient_id)

    def remove_pregnancy(self, patient_id: int, pregnancy_id: int, version: int) -> PatientRecord:
        """Remove a history entry entered in error (the patient herself is never deleted)."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            before = next(
                (r.data for r in uow.patients.get(patient_id).pregnancy_records if r.id == pregnancy_id), None
            )
            uow.patients.remove_pregnancy(patient_id, pregnancy_id, version)
            changes = field_changes(audit_fields.pregnancy(before) if before else {}, {})
            self._audit(
                uow, actor, AuditEvent(Action.DELETE, "previous_pregnancy", str(pregnancy_id), patient_id, changes)
            )
            uow.commit()
            return uow.patients.get(patient_id)

    # -- helpers ------------------------------------------------------------------------------

    def _check_pregnancy(self, pregnancy: PreviousPregnancy) -> None:
        check_types(pregnancy, PreviousPregnancy)
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
