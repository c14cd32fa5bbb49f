"""Export and import complete patient records as versioned JSON (docs/export-format.md)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from .. import __version__
from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.dating import entry_from_dict, entry_to_dict, plausible_edd
from ..domain.errors import DomainError, ValidationError
from ..domain.followup import (
    FollowUp,
    FollowUpChange,
    FollowUpKind,
    FollowUpStatus,
    SwabResult,
    schedule_problems,
)
from ..domain.followup import result_problems as follow_up_result_problems
from ..domain.investigations import Catalogue
from ..domain.medication import (
    Anchor,
    DoseStep,
    Frequency,
    Indication,
    MedicationPlan,
    PlanChange,
    PlanStatus,
    Route,
    plan_problems,
)
from ..domain.obstetric import Conception, Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory, validate_patient
from ..domain.pregnancy import (
    SENSITIVE_OUTCOMES,
    Bleeding,
    CurrentPregnancy,
    IupMethod,
    Severity,
    end_problems,
    pregnancy_problems,
)
from ..domain.typecheck import text_problem
from ..domain.workup import HistoryEntry, ResultValue, Status, WorkupItem, result_problems
from ..paths import resource
from ..rules.lifecycle import AlertEvent, EventKind, OverrideReason
from .base import ServiceBase
from .dto import PatientRecord
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import SessionContext
from .workup import value_columns

FORMAT_NAME = "rmclinic-patients"
FORMAT_VERSION = 3  # 2 adds the workup, 3 the pregnancies, medication plans and follow-ups
READABLE_VERSIONS = (1, 2, 3)  # older files (without the later parts) are still read
FHIR_SYSTEM_SETTING = "fhir_hospital_number_system"  # clinic setting: the hospital number's identifier system
# Internal setting (not in SettingsService.SPECS, so never shown or edited): the installation's random secret mixed
# into the FHIR resource ids, so two installations' ids differ and none can be traced back to a hospital number.
FHIR_ID_SECRET_SETTING = "fhir_identifier_secret"
READ_CHUNK = 500  # patients read per round of bulk queries by the exports

# Domain field names -> JSON names, so a problem is reported at the path the file uses.
_JSON_NAMES = {"pregnancies": "previous_pregnancies", "risk": "risk_history"}


class _Record(NamedTuple):
    """One patient as an export reads it."""

    record: PatientRecord
    workup: list[WorkupItem]
    pregnancies: list[CurrentPregnancy]
    plans: list[MedicationPlan]
    follow_ups: list[FollowUp]
    alert_events: list[AlertEvent]


class Parsed(NamedTuple):
    data: PatientData
    archived: bool
    items: tuple[ImportedItem, ...]
    # Version 3: plans and follow-ups name their pregnancy by its index in ``pregnancies`` (or None).
    pregnancies: tuple[CurrentPregnancy, ...] = ()
    plans: tuple[tuple[int | None, MedicationPlan], ...] = ()
    follow_ups: tuple[tuple[int | None, FollowUp], ...] = ()
    alert_events: tuple[AlertEvent, ...] = ()


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
            "oligo_amenorrhoea": r.oligo_amenorrhoea,
            "aps_diagnosed": r.aps_diagnosed,
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
            oligo_amenorrhoea=risk.get("oligo_amenorrhoea"),
            aps_diagnosed=risk.get("aps_diagnosed", False),
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


# -- version 3: pregnancies under the clinic's care, medication plans, follow-ups -----------------------


def _anchor_json(a: Anchor | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"date": a.date.isoformat()} if a.date is not None else {"gestation_days": a.gestation_days}


def _anchor(obj: dict[str, Any]) -> Anchor:
    """Exactly one of ``date`` and ``gestation_days`` (the schema checks it; ValueError otherwise)."""
    return Anchor(date=_date(obj.get("date")), gestation_days=obj.get("gestation_days"))


def _changes_json(changes: Sequence[PlanChange | FollowUpChange]) -> list[dict[str, Any]]:
    return [{"at": _dt(c.at), "by": c.by, "reason": c.reason, "summary": c.summary} for c in changes]


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def pregnancy_to_json(p: CurrentPregnancy) -> dict[str, Any]:
    return {
        "dating": [entry_to_dict(e) for e in p.dating],
        "fetuses": p.fetuses,
        "conception": p.conception.value,
        "iup_confirmed_on": _d(p.iup_confirmed_on),
        "iup_method": p.iup_method.value if p.iup_method else None,
        "heartbeat_on": _d(p.heartbeat_on),
        "bleeding": [{"date": b.date.isoformat(), "severity": b.severity.value, "notes": b.notes} for b in p.bleeding],
        "ended_on": _d(p.ended_on),
        "outcome": p.outcome.value if p.outcome else None,
        "sensitive": p.sensitive,
        "notes": p.notes,
        "high_risk_care": p.high_risk_care,
        "cerclage_on": _d(p.cerclage_on),
    }


def pregnancy_from_json(obj: dict[str, Any]) -> CurrentPregnancy:
    """One schema-valid pregnancy; raises ValueError on an impossible date."""
    outcome = Outcome(obj["outcome"]) if obj.get("outcome") else None
    return CurrentPregnancy(
        id=None,
        dating=tuple(entry_from_dict(e) for e in obj["dating"]),
        fetuses=obj.get("fetuses", 1),
        conception=Conception(obj.get("conception", "spontaneous")),
        iup_confirmed_on=_date(obj.get("iup_confirmed_on")),
        iup_method=IupMethod(obj["iup_method"]) if obj.get("iup_method") else None,
        heartbeat_on=_date(obj.get("heartbeat_on")),
        bleeding=tuple(
            Bleeding(dt.date.fromisoformat(b["date"]), Severity(b["severity"]), b.get("notes", ""))
            for b in obj.get("bleeding", [])
        ),
        ended_on=_date(obj.get("ended_on")),
        outcome=outcome,
        sensitive=obj.get("sensitive", outcome in SENSITIVE_OUTCOMES),
        notes=obj.get("notes", ""),
        high_risk_care=obj.get("high_risk_care"),
        cerclage_on=_date(obj.get("cerclage_on")),
    )


def plan_to_json(plan: MedicationPlan, pregnancy: int | None) -> dict[str, Any]:
    return {
        "pregnancy": pregnancy,
        "drug": plan.drug,
        "name": plan.name,
        "unit": plan.unit,
        "route": plan.route.value if plan.route else None,
        "dose": plan.dose,
        "frequency": plan.frequency.value,
        "indication": plan.indication.value,
        "start": plan.start.isoformat(),
        "stop": _anchor_json(plan.stop),
        "taper": [
            {"start": _anchor_json(step.start), "dose": step.dose, "frequency": step.frequency.value}
            for step in plan.taper
        ],
        "status": plan.status.value,
        "stopped_on": _d(plan.stopped_on),
        "stop_reason": plan.stop_reason,
        "notes": plan.notes,
        "history": _changes_json(plan.history),
    }


def plan_from_json(obj: dict[str, Any]) -> MedicationPlan:
    """One schema-valid plan (without its pregnancy link); raises ValueError on an impossible date."""
    return MedicationPlan(
        drug=obj["drug"],
        dose=obj["dose"],
        frequency=Frequency(obj["frequency"]),
        start=dt.date.fromisoformat(obj["start"]),
        indication=Indication(obj["indication"]),
        stop=_anchor(obj["stop"]) if obj.get("stop") is not None else None,
        taper=tuple(
            DoseStep(_anchor(step["start"]), step["dose"], Frequency(step["frequency"]))
            for step in obj.get("taper", [])
        ),
        name=obj.get("name", ""),
        unit=obj.get("unit", ""),
        route=Route(obj["route"]) if obj.get("route") else None,
        status=PlanStatus(obj.get("status", "active")),
        stopped_on=_date(obj.get("stopped_on")),
        stop_reason=obj.get("stop_reason", ""),
        notes=obj.get("notes", ""),
        history=tuple(PlanChange(_at(c["at"]), c["by"], c["reason"], c["summary"]) for c in obj.get("history", [])),
    )


def follow_up_to_json(f: FollowUp, pregnancy: int | None) -> dict[str, Any]:
    return {
        "pregnancy": pregnancy,
        "kind": f.kind.value,
        "title": f.title,
        "protocol": f.protocol,
        "due_date": f.due_date.isoformat(),
        "window_days": f.window_days,
        "status": f.status.value,
        "result_date": _d(f.result_date),
        "swab_result": f.swab_result.value if f.swab_result else None,
        "organism": f.organism,
        "cervical_length_mm": f.cervical_length_mm,
        "funnelling": f.funnelling,
        "result_notes": f.result_notes,
        "cancel_reason": f.cancel_reason,
        "history": _changes_json(f.history),
    }


def follow_up_from_json(obj: dict[str, Any]) -> FollowUp:
    """One schema-valid follow-up (without its pregnancy link); raises ValueError on an impossible date."""
    return FollowUp(
        kind=FollowUpKind(obj["kind"]),
        due_date=dt.date.fromisoformat(obj["due_date"]),
        window_days=obj.get("window_days", 0),
        status=FollowUpStatus(obj.get("status", "due")),
        title=obj.get("title", ""),
        protocol=obj.get("protocol", ""),
        result_date=_date(obj.get("result_date")),
        swab_result=SwabResult(obj["swab_result"]) if obj.get("swab_result") else None,
        organism=obj.get("organism", ""),
        cervical_length_mm=obj.get("cervical_length_mm"),
        funnelling=obj.get("funnelling"),
        result_notes=obj.get("result_notes", ""),
        cancel_reason=obj.get("cancel_reason", ""),
        history=tuple(FollowUpChange(_at(c["at"]), c["by"], c["reason"], c["summary"]) for c in obj.get("history", [])),
    )


def alert_event_to_json(e: AlertEvent) -> dict[str, Any]:
    return {
        "rule_id": e.rule_id,
        "rule_version": e.rule_version,
        "episode": e.episode,
        "kind": e.kind.value,
        "at": e.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "by": e.username,
        "role": e.role,
        "reason_code": e.reason_code or None,
        "comment": e.comment,
        "until": _d(e.until),
    }


def alert_events_from_json(obj: dict[str, Any], path: list[Any]) -> tuple[list[AlertEvent], list[ImportProblem]]:
    """Alert history (responses included). Unknown rule ids are kept: a later rule set may drop a rule, and
    the history of what was shown and answered must survive."""
    out: list[AlertEvent] = []
    problems: list[ImportProblem] = []
    for k, raw in enumerate(obj.get("alert_events", [])):
        where = [*path, "alert_events", k]
        try:
            e = AlertEvent(
                rule_id=raw["rule_id"],
                rule_version=int(raw["rule_version"]),
                episode=raw["episode"],
                kind=EventKind(raw["kind"]),
                at=_at(raw["at"]),
                username=raw["by"],
                role=raw["role"],
                reason_code=raw.get("reason_code") or "",
                comment=raw.get("comment", ""),
                until=_date(raw.get("until")),
            )
        except (KeyError, ValueError) as err:
            problems.append(ImportProblem(_json_path(where), f"invalid alert event: {err}"))
            continue
        if e.kind is EventKind.OVERRIDDEN and e.reason_code not in {r.value for r in OverrideReason}:
            problems.append(ImportProblem(_json_path([*where, "reason_code"]), "an override needs a coded reason"))
        if e.kind is EventKind.SNOOZED and e.until is None:
            problems.append(ImportProblem(_json_path([*where, "until"]), "a snooze needs its end date"))
        problems += _text_problems(e.comment, [*where, "comment"])
        out.append(e)
    return out, problems


def _at_fields(path: list[Any], found: dict[str, str]) -> list[ImportProblem]:
    """Domain problems keyed ``taper.0.dose`` -> problems at ``<path>.taper[0].dose``."""
    return [
        ImportProblem(_json_path([*path, *(int(b) if b.isdigit() else b for b in key.split("."))]), message)
        for key, message in found.items()
    ]


def _text_problems(value: Any, path: list[Any]) -> list[ImportProblem]:
    """Characters that cannot be stored, anywhere in a (schema-valid) object."""
    if isinstance(value, str):
        problem = text_problem(value)
        return [ImportProblem(_json_path(path), problem)] if problem else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _text_problems(v, [*path, k])]
    if isinstance(value, list):
        return [p for k, v in enumerate(value) for p in _text_problems(v, [*path, k])]
    return []


_RESULT_FIELDS = ("result_date", "swab_result", "cervical_length_mm", "funnelling")


def care_from_json(
    obj: dict[str, Any], path: list[Any], today: dt.date
) -> tuple[
    tuple[CurrentPregnancy, ...],
    tuple[tuple[int | None, MedicationPlan], ...],
    tuple[tuple[int | None, FollowUp], ...],
    list[ImportProblem],
]:
    """Check a patient's pregnancies, medication plans and follow-ups (format version 3) with the rules the
    app applies when they are entered; problems carry their JSON path."""
    problems: list[ImportProblem] = []
    for key in ("pregnancies", "medication_plans", "follow_ups"):
        problems += _text_problems(obj.get(key, []), [*path, key])
    if problems:
        return (), (), (), problems

    pregnancies: list[CurrentPregnancy | None] = []
    open_at: int | None = None
    for j, raw in enumerate(obj.get("pregnancies", [])):
        where = [*path, "pregnancies", j]
        try:
            p = pregnancy_from_json(raw)
        except ValueError as e:
            problems.append(ImportProblem(_json_path(where), f"invalid value: {e}"))
            pregnancies.append(None)
            continue
        pregnancies.append(p)
        found = pregnancy_problems(p, today)
        if p.dating and (p.ended_on is None) != (p.outcome is None):
            found["outcome" if p.outcome is None else "ended_on"] = (
                "An ended pregnancy needs both its outcome and the date it ended."
            )
        elif p.dating and p.ended_on is not None and p.outcome is not None:
            found.update(end_problems(p, p.outcome, p.ended_on, today))
        elif p.dating:
            edd_problem = plausible_edd(p.edd, today)
            if edd_problem:
                found[f"dating.{len(p.dating) - 1}.edd"] = edd_problem
            if open_at is not None:
                found.setdefault(
                    "ended_on",
                    f"A patient has at most one open pregnancy; {_json_path([*path, 'pregnancies', open_at])} "
                    "is open too.",
                )
            else:
                open_at = j
        problems += _at_fields(where, found)

    def pregnancy_ref(raw: dict[str, Any], where: list[Any]) -> tuple[bool, int | None]:
        index = raw.get("pregnancy")
        if index is not None and index >= len(pregnancies):
            n = len(pregnancies)
            problems.append(
                ImportProblem(
                    _json_path([*where, "pregnancy"]),
                    f"no pregnancy {index}: this patient has {n} in 'pregnancies' (counted from 0)",
                )
            )
            return False, None
        return True, index

    plans: list[tuple[int | None, MedicationPlan]] = []
    for k, raw in enumerate(obj.get("medication_plans", [])):
        where = [*path, "medication_plans", k]
        ok, index = pregnancy_ref(raw, where)
        try:
            plan = plan_from_json(raw)
        except ValueError as e:
            problems.append(ImportProblem(_json_path(where), f"invalid value: {e}"))
            continue
        if not ok:
            continue
        linked = pregnancies[index] if index is not None else None
        if index is not None and linked is None:
            continue  # the pregnancy itself could not be read; reported above
        # Gestation anchors resolve through the pregnancy's EDD, as they were stored (ended ones too).
        found = plan_problems(plan, linked.edd if linked is not None else None)
        if plan.status is PlanStatus.STOPPED and plan.stopped_on is None:
            found["stopped_on"] = "A stopped plan needs the date it was stopped."
        elif plan.stopped_on is not None and plan.stopped_on <= plan.start:
            found["stopped_on"] = "The stop must be after the start."
        problems += _at_fields(where, found)
        plans.append((index, plan))

    follow_ups: list[tuple[int | None, FollowUp]] = []
    for k, raw in enumerate(obj.get("follow_ups", [])):
        where = [*path, "follow_ups", k]
        ok, index = pregnancy_ref(raw, where)
        try:
            f = follow_up_from_json(raw)
        except ValueError as e:
            problems.append(ImportProblem(_json_path(where), f"invalid value: {e}"))
            continue
        if not ok:
            continue
        found = schedule_problems(f, today)
        found.pop("due_date", None)  # the due-date window is relative to today; history may be older
        if f.status is FollowUpStatus.DONE:
            found.update(follow_up_result_problems(f, today))
        else:
            for name in _RESULT_FIELDS:
                if getattr(f, name) is not None:
                    found[name] = f"A follow-up that is {f.status.value} has no result yet."
        problems += _at_fields(where, found)
        follow_ups.append((index, f))

    if problems:
        return (), (), (), problems
    return tuple(p for p in pregnancies if p is not None), tuple(plans), tuple(follow_ups), []


class TransferService(ServiceBase):
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, session: SessionContext, catalogue: Callable[[], Catalogue]
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._catalogue = catalogue

    @staticmethod
    def _patient_ids(uow: UnitOfWork, hospital_numbers: Sequence[str] | None) -> list[int]:
        """The named patients (DomainError naming an unknown hospital number; a number named twice counts once),
        or every patient."""
        from ..domain.identifiers import normalise_hospital_number

        if not hospital_numbers:
            return uow.patients.all_ids()
        ids: list[int] = []
        for h in hospital_numbers:
            pid = uow.patients.id_for_hospital_number(normalise_hospital_number(h))
            if pid is None:
                raise DomainError(f"No patient with hospital number {normalise_hospital_number(h)}.")
            if pid not in ids:
                ids.append(pid)
        return ids

    @staticmethod
    def _read(uow: UnitOfWork, ids: Sequence[int]) -> list[_Record]:
        """Everything an export holds of these patients, ordered by hospital number (native and FHIR exports).
        Read in chunks with the bulk readers (a few queries per chunk, not six per patient): the same objects as
        the single-patient readers build (tests/test_bulk_loading.py)."""
        out = []
        for i in range(0, len(ids), READ_CHUNK):
            chunk = ids[i : i + READ_CHUNK]
            records = uow.patients.get_many(chunk)
            workups = uow.workup.for_patients(chunk)
            care = uow.pregnancy.for_patients(chunk)
            events = uow.alerts.events_for(chunk)
            for r in records:
                pregnancies, plans, follow_ups = care[r.id]
                out.append(_Record(r, workups[r.id], pregnancies, plans, follow_ups, events[r.id]))
        out.sort(key=lambda r: r.record.data.hospital_number)
        return out

    def export(self, hospital_numbers: list[str] | None = None) -> dict[str, Any]:
        """Complete records; every exported patient gets an audit entry (written before the document is handed
        back). The records are read in a read-only transaction, so other workstations can save meanwhile."""
        actor = self._actor(Permission.EXPORT)
        with self._uow(read_only=True) as uow:  # no write lock while reading
            ids = self._patient_ids(uow, hospital_numbers)
            read = self._read(uow, ids)
        with self._uow() as uow:  # a short writer: the audit entries only
            self._audit(uow, actor, *(AuditEvent(Action.EXPORT, "patient", str(pid), pid) for pid in ids))
            uow.commit()
        patients = []
        for r in read:
            obj = patient_to_json(r.record.data, r.record.archived)
            obj["investigations"] = [item_to_json(i) for i in r.workup]
            # Plans and follow-ups name their pregnancy by its position in "pregnancies", not by database id.
            index = {p.id: j for j, p in enumerate(r.pregnancies)}
            obj["pregnancies"] = [pregnancy_to_json(p) for p in r.pregnancies]
            obj["medication_plans"] = [plan_to_json(plan, index.get(plan.pregnancy_id)) for plan in r.plans]
            obj["follow_ups"] = [follow_up_to_json(f, index.get(f.pregnancy_id)) for f in r.follow_ups]
            obj["alert_events"] = [alert_event_to_json(e) for e in r.alert_events]
            patients.append(obj)
        from .alerts import shipped_rule_set

        return {
            "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
            "rule_set_version": shipped_rule_set().version,
            "exported_at": self._clock.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "generator": f"rmclinic {__version__}",
            "patients": patients,
        }

    def export_fhir(self, hospital_numbers: Sequence[str] | None = None) -> dict[str, Any]:
        """The patients (named, or all) as a FHIR R4 collection Bundle (docs/fhir-export.md), with the alerts the
        rules raise on their data today; every exported patient gets an audit entry (written before the bundle is
        handed back). Records are read in a read-only transaction (no write lock: other workstations can save
        meanwhile), the alerts evaluated on them, and a short writer then appends the audit entries."""
        from ..rules.engine import evaluator
        from ..rules.lifecycle import by_alert, history_of, status_of, transitions
        from .alerts import AlertService, _snapshot
        from .fhir import CurrentAlert, ExportContext, PatientExport, bundle

        actor = self._actor(Permission.EXPORT)
        now = self._clock.now()
        today = self._clock.today()
        alerts = AlertService(self._uow, self._clock, self._session, self._catalogue)
        cat = self._catalogue()
        with self._uow(read_only=True) as uow:  # no write lock while reading
            ids = self._patient_ids(uow, hospital_numbers)
            read = self._read(uow, ids)
            settings = alerts.rule_settings(uow)
            system = uow.settings.get(FHIR_SYSTEM_SETTING) or ""
            secret = uow.settings.get(FHIR_ID_SECRET_SETTING) or ""
        if not secret:  # the installation's first FHIR export
            secret = self._make_identifier_secret(actor)
        run = evaluator(alerts.rule_set(), settings.parameters, settings.disabled)
        patients = []
        for r in read:
            # The alerts the rules raise today, evaluated on the records just read (as the alert service's
            # snapshots are built), as the patient's record would show them now: nothing is recorded here.
            found = run(_snapshot(r.record, r.workup, (r.pregnancies, r.plans, r.follow_ups), cat), today)
            events = [*r.alert_events, *transitions(found, r.alert_events, now)]
            grouped = by_alert(events)
            current = []
            for a in found:
                mine = grouped.get(a.key, [])
                status, response = status_of(a, mine, today)
                fired = [e.at for e in history_of(a, mine) if e.kind is EventKind.FIRED]
                current.append(CurrentAlert(a, status, response, fired[-1] if fired else None))
            patients.append(
                PatientExport(
                    r.record.data,
                    r.record.archived,
                    r.workup,
                    r.pregnancies,
                    r.plans,
                    r.follow_ups,
                    current,
                )
            )
        ctx = ExportContext(
            now, __version__, actor.username, alerts.rule_set().version, system, day=today, id_secret=secret
        )
        doc = bundle(patients, cat, ctx)
        with self._uow() as uow:  # a short writer: the audit entries only
            self._audit(
                uow,
                actor,
                *(AuditEvent(Action.EXPORT, "patient", str(pid), pid, {"format": "fhir-r4"}) for pid in ids),
            )
            uow.commit()
        return doc

    def _make_identifier_secret(self, actor: Actor) -> str:
        """This installation's random secret in the FHIR resource ids, made once (at the first FHIR export; a
        concurrent first export on another workstation finds the one stored first). The audit entry records that
        it was made, never the value."""
        try:
            with self._uow() as uow:
                secret = uow.settings.get(FHIR_ID_SECRET_SETTING)
                if not secret:
                    secret = secrets.token_hex(32)
                    uow.settings.set(FHIR_ID_SECRET_SETTING, secret)
                    self._audit(
                        uow,
                        actor,
                        AuditEvent(
                            Action.SETTINGS_CHANGE,
                            "setting",
                            FHIR_ID_SECRET_SETTING,
                            changes={FHIR_ID_SECRET_SETTING: [None, "(a new random secret)"]},
                        ),
                    )
                    uow.commit()
            return secret
        except Exception:
            # PostgreSQL: another workstation stored its secret between our read and our insert; use that one.
            with self._uow(read_only=True) as uow:
                stored = uow.settings.get(FHIR_ID_SECRET_SETTING)
            if not stored:
                raise
            return stored

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
            clean: PatientData | None = None
            try:
                data, archived = patient_from_json(obj)
                clean = validate_patient(data, today)
            except ValidationError as e:
                problems += [ImportProblem(_domain_field_path(i, p.field), p.message) for p in e.problems]
            except ValueError as e:
                problems.append(ImportProblem(_json_path(["patients", i]), f"invalid value: {e}"))
            # The rest of the record is checked even when the demographics are wrong: every problem at once.
            items = []
            for k, raw in enumerate(obj.get("investigations", [])):
                item, found = item_from_json(raw, cat, ["patients", i, "investigations", k])
                problems += found
                if item is not None:
                    items.append(item)
            pregnancies, plans, follow_ups, found = care_from_json(obj, ["patients", i], today)
            problems += found
            alert_events, found = alert_events_from_json(obj, ["patients", i])
            problems += found
            if clean is None:
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
            parsed.append(Parsed(clean, archived, tuple(items), pregnancies, plans, follow_ups, tuple(alert_events)))
        return parsed, problems

    def import_document(self, document: Any) -> int:
        """Validate everything first; write all patients in one transaction, or nothing."""
        actor = self._actor(Permission.IMPORT)
        parsed, problems = self.validate(document)
        if not problems:
            with self._uow() as uow:
                for i, data in enumerate(p.data for p in parsed):
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
                    pregnancies: list[tuple[int, CurrentPregnancy]] = []
                    plans: list[tuple[int, int | None, MedicationPlan]] = []
                    follow_ups: list[tuple[int, int | None, FollowUp]] = []
                    events = []
                    alert_rows: list[tuple[int, AlertEvent]] = []
                    for pid, p in zip(ids, parsed, strict=True):
                        alert_rows += [(pid, e) for e in p.alert_events]
                        for item in p.items:
                            uow.workup.add(pid, item.investigation_id, item.values, item.history)
                        # The file's pregnancy index is per patient; add_many's is into the whole list.
                        base = len(pregnancies)
                        pregnancies += [(pid, preg) for preg in p.pregnancies]
                        plans += [(pid, None if k is None else base + k, plan) for k, plan in p.plans]
                        follow_ups += [(pid, None if k is None else base + k, f) for k, f in p.follow_ups]
                        counts = {
                            "investigations": len(p.items),
                            "current_pregnancies": len(p.pregnancies),
                            "medication_plans": len(p.plans),
                            "follow_ups": len(p.follow_ups),
                            "alert_events": len(p.alert_events),
                        }
                        changes: dict[str, Any] = {k: [None, n] for k, n in counts.items() if n}
                        events.append(AuditEvent(Action.IMPORT, "patient", str(pid), pid, changes))
                    if pregnancies or plans or follow_ups:
                        uow.pregnancy.add_many(pregnancies, plans, follow_ups)
                    uow.alerts.add_many(alert_rows)
                    self._audit(uow, actor, *events)
                    uow.commit()
            if not problems:
                self._after_bulk_load()
                return len(parsed)
        raise ImportRejected(problems)
