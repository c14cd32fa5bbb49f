"""Export and import complete patient records as versioned JSON (docs/export-format.md)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from .. import __version__
from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.errors import DomainError, ValidationError
from ..domain.investigations import Catalogue
from ..domain.obstetric import Conception, Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory, validate_patient
from ..domain.workup import HistoryEntry, ResultValue, Status, WorkupItem, result_problems
from ..paths import resource
from .base import ServiceBase
from .ports import UnitOfWorkFactory
from .session import SessionContext
from .workup import value_columns

FORMAT_NAME = "rmclinic-patients"
FORMAT_VERSION = 2  # 2 adds the workup; version 1 files (no workup) are still read
READABLE_VERSIONS = (1, 2)

# Domain field names -> JSON names, so a problem is reported at the path the file uses.
_JSON_NAMES = {"pregnancies": "previous_pregnancies", "risk": "risk_history"}


class Parsed(NamedTuple):
    data: PatientData
    archived: bool
    items: tuple[ImportedItem, ...]


@dataclass(frozen=True)
class ImportProblem:
    path: str  # JSON path, e.g. $.patients[2].date_of_birth
    message: str


class ImportRejected(DomainError):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found; nothing was imported")


@cache
def load_schema(version: int = FORMAT_VERSION) -> dict[str, Any]:
    with resource("schemas", f"patients-export-v{version}.schema.json").open(encoding="utf-8") as f:
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


def _dt(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _value_json(v: ResultValue) -> dict[str, Any]:
    return {
        "numeric": v.numeric,
        "unit": v.unit,
        "text": v.text,
        "findings": list(v.findings),
        "method": v.method,
        "lab_low": v.lab_low,
        "lab_high": v.lab_high,
    }


def _value_from(obj: dict[str, Any]) -> ResultValue:
    return ResultValue(
        numeric=obj.get("numeric"),
        unit=obj.get("unit", ""),
        text=obj.get("text", ""),
        findings=tuple(obj.get("findings", [])),
        method=obj.get("method", ""),
        lab_low=obj.get("lab_low"),
        lab_high=obj.get("lab_high"),
    )


def item_to_json(i: WorkupItem) -> dict[str, Any]:
    return {
        "investigation_id": i.investigation_id,
        "status": i.status.value,
        "requested_on": _d(i.requested_on),
        "requested_by": i.requested_by,
        "sample_date": _d(i.sample_date),
        "value": _value_json(i.value) if i.value else None,
        "interpretation": i.interpretation.value if i.interpretation else None,
        "entered_by": i.entered_by,
        "entered_at": _dt(i.entered_at),
        "reviewed_by": i.reviewed_by,
        "reviewed_at": _dt(i.reviewed_at),
        "review_comment": i.review_comment,
        "history": [
            {
                "value": _value_json(h.value),
                "sample_date": _d(h.sample_date),
                "entered_by": h.entered_by,
                "entered_at": _dt(h.entered_at),
            }
            for h in i.history
        ],
    }


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@dataclass(frozen=True)
class ImportedItem:
    investigation_id: str
    values: dict[str, Any]
    history: tuple[HistoryEntry, ...]


def item_from_json(
    obj: dict[str, Any], cat: Catalogue, path: list[Any]
) -> tuple[ImportedItem | None, list[ImportProblem]]:
    """Check one investigation of an import against the catalogue; problems carry their JSON path."""
    problems: list[ImportProblem] = []
    iid = obj["investigation_id"]
    if iid not in cat.investigations:
        return None, [ImportProblem(_json_path([*path, "investigation_id"]), f"unknown investigation {iid!r}")]
    inv = cat.get(iid)
    status = Status(obj["status"])
    value = _value_from(obj["value"]) if obj.get("value") else None
    sample = _date(obj.get("sample_date"))
    if status in (Status.RESULTED, Status.REVIEWED):
        if value is None or sample is None:
            problems.append(ImportProblem(_json_path(path), "a resulted investigation needs its value and sample date"))
        else:
            value, found = result_problems(inv, value)
            problems += [ImportProblem(_json_path([*path, "value", f]), m) for f, m in found.items()]
    elif value is not None:
        problems.append(
            ImportProblem(_json_path([*path, "value"]), f"a {status.value} investigation has no result yet")
        )
    if problems:
        return None, problems
    history = []
    for h in obj.get("history", []):
        entered = _when(h["entered_at"])
        if entered is None:
            continue
        history.append(HistoryEntry(_value_from(h["value"]), _date(h.get("sample_date")), h["entered_by"], entered))
    columns: dict[str, Any] = {
        "status": status.value,
        "requested_on": _date(obj.get("requested_on")),
        "requested_by": obj.get("requested_by", ""),
        "sample_date": sample,
        **value_columns(value),
        "normalised": inv.normalise(value.numeric, value.unit) if value and value.numeric is not None else None,
        "interpretation": obj.get("interpretation"),
        "entered_by": obj.get("entered_by", ""),
        "entered_at": _when(obj.get("entered_at")),
        "reviewed_by": obj.get("reviewed_by", ""),
        "reviewed_at": _when(obj.get("reviewed_at")),
        "review_comment": obj.get("review_comment", ""),
    }
    return ImportedItem(iid, columns, tuple(history)), []


class TransferService(ServiceBase):
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, session: SessionContext, catalogue: Callable[[], Catalogue]
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._catalogue = catalogue

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
            workups = {pid: uow.workup.for_patient(pid) for pid in ids}
            self._audit(uow, actor, *(AuditEvent(Action.EXPORT, "patient", str(pid), pid) for pid in ids))
            uow.commit()
        records.sort(key=lambda r: r.data.hospital_number)
        patients = []
        for r in records:
            obj = patient_to_json(r.data, r.archived)
            obj["investigations"] = [item_to_json(i) for i in workups[r.id]]
            patients.append(obj)
        return {
            "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
            "exported_at": self._clock.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "generator": f"rmclinic {__version__}",
            "patients": patients,
        }

    def validate(self, document: Any) -> tuple[list[Parsed], list[ImportProblem]]:
        """Check the whole document; returns the parsed patients and every problem found."""
        from jsonschema import Draft202012Validator, FormatChecker

        fmt = document.get("format") if isinstance(document, dict) else None
        version = fmt.get("version") if isinstance(fmt, dict) else None
        schema = load_schema(version if version in READABLE_VERSIONS else FORMAT_VERSION)
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        problems = [
            ImportProblem(_json_path(list(e.absolute_path)), e.message)
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        ]
        if problems:
            return [], problems
        today = self._clock.today()
        cat = self._catalogue()
        parsed: list[Parsed] = []
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
            items = []
            for k, raw in enumerate(obj.get("investigations", [])):
                item, found = item_from_json(raw, cat, ["patients", i, "investigations", k])
                problems += found
                if item is not None:
                    items.append(item)
            parsed.append(Parsed(clean, archived, tuple(items)))
        return parsed, problems

    def import_document(self, document: Any) -> int:
        """Validate everything first; write all patients in one transaction, or nothing."""
        actor = self._actor(Permission.IMPORT)
        parsed, problems = self.validate(document)
        if not problems:
            with self._uow() as uow:
                for i, (data, _archived, _items) in enumerate(parsed):
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
                    ids = uow.patients.add_many([p.data for p in parsed], [p.archived for p in parsed])
                    for pid, p in zip(ids, parsed, strict=True):
                        for item in p.items:
                            uow.workup.add(pid, item.investigation_id, item.values, item.history)
                    self._audit(uow, actor, *(AuditEvent(Action.IMPORT, "patient", str(pid), pid) for pid in ids))
                    uow.commit()
                    return len(parsed)
        raise ImportRejected(problems)
