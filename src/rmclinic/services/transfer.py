"""Export and import complete patient records as versioned JSON (docs/export-format.md)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import __version__
from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent
from ..domain.errors import DomainError, ValidationError
from ..domain.obstetric import Conception, Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory, validate_patient
from ..paths import resource
from .base import ServiceBase

FORMAT_NAME = "rmclinic-patients"
FORMAT_VERSION = 1
SCHEMA_FILE = ("schemas", "patients-export-v1.schema.json")

# Domain field names -> JSON names, so a problem is reported at the path the file uses.
_JSON_NAMES = {"pregnancies": "previous_pregnancies", "risk": "risk_history"}


@dataclass(frozen=True)
class ImportProblem:
    path: str  # JSON path, e.g. $.patients[2].date_of_birth
    message: str


class ImportRejected(DomainError):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found; nothing was imported")


@cache
def load_schema() -> dict[str, Any]:
    with resource(*SCHEMA_FILE).open(encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


def _d(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def patient_to_json(data: PatientData, archived: bool) -> dict[str, Any]:
    r = data.risk
    return {
        "hospital_number": data.hospital_number,
        "nhs_number": data.nhs_number or None,
        "family_name": data.family_name,
        "given_name": data.given_name,
        "date_of_birth": data.date_of_birth.isoformat(),
        "phone": data.phone,
        "email": data.email,
        "address": data.address,
        "gp_practice": data.gp_practice,
        "notes": data.notes,
        "archived": archived,
        "partner": None
        if data.partner is None
        else {
            "family_name": data.partner.family_name,
            "given_name": data.partner.given_name,
            "date_of_birth": _d(data.partner.date_of_birth),
        },
        "risk_history": {
            "cervical_excisions": [
                {"date": _d(e.date), "year": e.year, "kind": e.kind, "depth_mm": e.depth_mm}
                for e in r.cervical_excisions
            ],
            "previous_cerclage": r.previous_cerclage,
            "cerclage_notes": r.cerclage_notes,
            "vte_history": r.vte_history,
            "vte_notes": r.vte_notes,
            "smoking": r.smoking,
            "alcohol_units_per_week": r.alcohol_units_per_week,
            "height_cm": r.height_cm,
            "weight_kg": r.weight_kg,
            "drug_allergies": list(r.drug_allergies),
        },
        "previous_pregnancies": [
            {
                "year": p.year,
                "date": _d(p.date),
                "outcome": p.outcome.value,
                "gestation_days": p.gestation_days,
                "fetuses": p.fetuses,
                "conception": p.conception.value,
                "preterm_birth": p.preterm_birth,
                "tissue_genetics": p.tissue_genetics.value,
                "notes": p.notes,
            }
            for p in data.pregnancies
        ],
    }


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def patient_from_json(obj: dict[str, Any]) -> tuple[PatientData, bool]:
    """Build domain data from one schema-valid object; raises ValueError on an impossible date."""
    risk = obj.get("risk_history") or {}
    partner = obj.get("partner")
    data = PatientData(
        hospital_number=obj["hospital_number"],
        nhs_number=obj.get("nhs_number") or "",
        family_name=obj["family_name"],
        given_name=obj["given_name"],
        date_of_birth=dt.date.fromisoformat(obj["date_of_birth"]),
        phone=obj.get("phone", ""),
        email=obj.get("email", ""),
        address=obj.get("address", ""),
        gp_practice=obj.get("gp_practice", ""),
        notes=obj.get("notes", ""),
        partner=None
        if partner is None
        else Partner(partner["family_name"], partner.get("given_name", ""), _date(partner.get("date_of_birth"))),
        risk=RiskHistory(
            cervical_excisions=tuple(
                CervicalExcision(
                    date=_date(e.get("date")),
                    year=e.get("year"),
                    kind=e.get("kind", "lletz"),
                    depth_mm=e.get("depth_mm"),
                )
                for e in risk.get("cervical_excisions", [])
            ),
            previous_cerclage=risk.get("previous_cerclage", False),
            cerclage_notes=risk.get("cerclage_notes", ""),
            vte_history=risk.get("vte_history", False),
            vte_notes=risk.get("vte_notes", ""),
            smoking=risk.get("smoking", "unknown"),
            alcohol_units_per_week=risk.get("alcohol_units_per_week"),
            height_cm=risk.get("height_cm"),
            weight_kg=risk.get("weight_kg"),
            drug_allergies=tuple(risk.get("drug_allergies", [])),
        ),
        pregnancies=tuple(
            PreviousPregnancy(
                year=p["year"],
                outcome=Outcome(p["outcome"]),
                date=_date(p.get("date")),
                gestation_days=p.get("gestation_days"),
                fetuses=p.get("fetuses", 1),
                conception=Conception(p.get("conception", "spontaneous")),
                preterm_birth=p.get("preterm_birth", False),
                tissue_genetics=TissueGenetics(p.get("tissue_genetics", "not_sent")),
                notes=p.get("notes", ""),
            )
            for p in obj.get("previous_pregnancies", [])
        ),
    )
    return data, bool(obj.get("archived", False))


def _json_path(parts: list[Any] | tuple[Any, ...]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _domain_field_path(index: int, field: str) -> str:
    parts: list[Any] = ["patients", index]
    for bit in field.split("."):
        parts.append(int(bit) if bit.isdigit() else _JSON_NAMES.get(bit, bit))
    return _json_path(parts)


class TransferService(ServiceBase):
    def export(self, hospital_numbers: list[str] | None = None) -> dict[str, Any]:
        """Complete records; every exported patient gets an audit entry."""
        from ..domain.identifiers import normalise_hospital_number

        actor = self._actor(Permission.EXPORT)
        with self._uow() as uow:
            if hospital_numbers:
                ids = []
                for h in hospital_numbers:
                    pid = uow.patients.id_for_hospital_number(normalise_hospital_number(h))
                    if pid is None:
                        raise DomainError(f"No patient with hospital number {normalise_hospital_number(h)}.")
                    ids.append(pid)
            else:
                ids = uow.patients.all_ids()
            records = [uow.patients.get(pid) for pid in ids]
            self._audit(uow, actor, *(AuditEvent(Action.EXPORT, "patient", str(pid), pid) for pid in ids))
            uow.commit()
        records.sort(key=lambda r: r.data.hospital_number)
        return {
            "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
            "exported_at": self._clock.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "generator": f"rmclinic {__version__}",
            "patients": [patient_to_json(r.data, r.archived) for r in records],
        }

    def validate(self, document: Any) -> tuple[list[tuple[PatientData, bool]], list[ImportProblem]]:
        """Check the whole document; returns the parsed patients and every problem found."""
        from jsonschema import Draft202012Validator, FormatChecker

        validator = Draft202012Validator(load_schema(), format_checker=FormatChecker())
        problems = [
            ImportProblem(_json_path(list(e.absolute_path)), e.message)
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        ]
        if problems:
            return [], problems
        today = self._clock.today()
        parsed: list[tuple[PatientData, bool]] = []
        seen: dict[str, int] = {}
        seen_nhs: dict[str, int] = {}
        for i, obj in enumerate(document["patients"]):
            try:
                data, archived = patient_from_json(obj)
                clean = validate_patient(data, today)
            except ValidationError as e:
                problems += [ImportProblem(_domain_field_path(i, p.field), p.message) for p in e.problems]
                continue
            except ValueError as e:
                problems.append(ImportProblem(_json_path(["patients", i]), f"invalid value: {e}"))
                continue
            if clean.hospital_number in seen:
                problems.append(
                    ImportProblem(
                        _json_path(["patients", i, "hospital_number"]),
                        f"duplicates the hospital number of $.patients[{seen[clean.hospital_number]}]",
                    )
                )
            seen.setdefault(clean.hospital_number, i)
            if clean.nhs_number:
                if clean.nhs_number in seen_nhs:
                    problems.append(
                        ImportProblem(
                            _json_path(["patients", i, "nhs_number"]),
                            f"duplicates the NHS number of $.patients[{seen_nhs[clean.nhs_number]}]",
                        )
                    )
                seen_nhs.setdefault(clean.nhs_number, i)
            parsed.append((clean, archived))
        return parsed, problems

    def import_document(self, document: Any) -> int:
        """Validate everything first; write all patients in one transaction, or nothing."""
        actor = self._actor(Permission.IMPORT)
        parsed, problems = self.validate(document)
        if not problems:
            with self._uow() as uow:
                for i, (data, _archived) in enumerate(parsed):
                    if uow.patients.id_for_hospital_number(data.hospital_number) is not None:
                        problems.append(
                            ImportProblem(
                                _json_path(["patients", i, "hospital_number"]),
                                f"hospital number {data.hospital_number} is already in this database",
                            )
                        )
                    if data.nhs_number and uow.patients.id_for_nhs_number(data.nhs_number) is not None:
                        problems.append(
                            ImportProblem(
                                _json_path(["patients", i, "nhs_number"]),
                                "this NHS number is already in this database",
                            )
                        )
                if not problems:
                    ids = uow.patients.add_many([d for d, _ in parsed], [a for _, a in parsed])
                    self._audit(uow, actor, *(AuditEvent(Action.IMPORT, "patient", str(pid), pid) for pid in ids))
                    uow.commit()
                    return len(parsed)
        raise ImportRejected(problems)
