"""Patient records as an HL7 FHIR R4 ``Bundle`` (type ``collection``): the pure mapping (docs/fhir-export.md).

Domain objects in, JSON-ready dicts out: no database, no Qt, no I/O. ``TransferService.export_fhir`` reads the
records (the same reads as the native export) and the patients' current alerts, and calls ``bundle``.

Codes: a coding is sent only when its code is in the verified lists below (the evidence base, §7 and §11);
everything else is sent as ``CodeableConcept.text`` only, never with an invented code. A LOINC code names a
property (mass per volume, units per volume, ...): a numeric result is sent with its LOINC code only when its unit
fits that property (``LOINC_UNIT_KINDS``), else with the text alone; values are never converted. Units are UCUM
only where the mapping is unambiguous (``UCUM_UNITS``); other units travel as text (``Quantity.unit``) alone.

Internal references are ``urn:uuid:`` full URLs, derived with uuid5 from a namespace of this installation (a
fixed rmclinic namespace and the installation's random secret, ``ExportContext.id_secret``), the patient's
hospital number and a key naming the resource (e.g. ``plan/12``): exporting unchanged data again gives the same
identifiers, two installations give different ones, and an identifier cannot be traced back to a hospital number
without the secret.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..domain.dating import gestation_days_on
from ..domain.followup import FollowUp, FollowUpKind, FollowUpStatus, is_short_cervix, result_summary
from ..domain.gestation import GestationalAge
from ..domain.investigations import Catalogue, Interpretation, Investigation
from ..domain.medication import (
    INDICATION_LABELS,
    Frequency,
    Indication,
    MedicationPlan,
    PlanStatus,
    Segment,
    describe_dose,
    dosed_days,
    segments,
)
from ..domain.obstetric import summarise
from ..domain.patient import PatientData
from ..domain.pregnancy import CurrentPregnancy
from ..domain.workup import ResultValue, Status, WorkupItem
from ..rules.lifecycle import AlertEvent, EventKind, OverrideReason
from ..rules.lifecycle import Status as AlertStatus
from ..rules.model import Alert, Severity
from ..rules.snapshot import item_key, plan_key

FHIR_VERSION = "4.0.1"

# -- code systems (FHIR R4 canonical URIs) ----------------------------------------------------------------
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"  # HL7 terminology's URI for WHO ATC (CodeSystem v3-WC)
UCUM = "http://unitsofmeasure.org"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"  # NHS England's identifier system for the NHS number
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

# -- verified clinical codes: the evidence base's ✔ rows, nothing else --------------------------------------
# LOINC, evidence base §7 (✔) and §11 (the lupus anticoagulant codes verified there).
VERIFIED_LOINC = frozenset(
    {
        "3016-3",  # TSH
        "11580-8",  # TSH, high-sensitivity variant (code seen)
        "3024-7",  # free T4
        "8099-4",  # TPO antibody
        "3181-5",  # anticardiolipin IgG by immunoassay
        "8065-5",  # anticardiolipin IgG (no method)
        "3182-3",  # anticardiolipin IgM
        "44448-9",  # anti-beta2-glycoprotein-I IgG
        "44449-7",  # anti-beta2-glycoprotein-I IgM
        "3282-1",  # lupus anticoagulant, hexagonal-phase confirm
        "6303-2",  # dRVVT screen time
        "57838-5",  # dRVVT confirm
        "50410-0",  # dRVVT screen/confirm ratio
        "34571-0",  # aPTT lupus-sensitive
        "75884-7",  # aPTT-LA screen/confirm ratio
        "75514-0",  # lupus anticoagulant interpretation (two screening tests)
        "75515-7",  # lupus anticoagulant panel
        "75881-3",  # lupus anticoagulant panel
        "2842-3",  # prolactin
        "20568-2",  # prolactin by immunoassay
        "4548-4",  # HbA1c
        "2839-9",  # progesterone
        "62292-8",  # 25-OH vitamin D
        "11961-0",  # cervix length by ultrasound
    }
)
LOINC_CERVICAL_LENGTH = "11961-0"

# The kind of quantity each verified LOINC code measures (its LOINC property, from the code's name in the evidence
# base: "[Mass/volume]", "[Units/volume]", "Hemoglobin A1c/Hemoglobin.total", "[Time]", "ratio", "[Length]"). A
# numeric result is sent with the code only when its unit is of that kind (``unit_kind``); a code not listed here
# (panels, interpretations, a property the evidence base does not name) is sent with non-numeric results only.
MASS_PER_VOLUME = "mass/volume"  # LOINC MCnc: ng/mL, ng/dL, ... (not nmol/L, pmol/L: that is SCnc)
UNITS_PER_VOLUME = "units/volume"  # LOINC ACnc: IU/mL, mIU/L, and an assay's own units (GPL U/mL, U/mL)
PERCENT = "percent"  # a fraction reported in %
TIME = "time"
RATIO = "ratio"
LENGTH = "length"
LOINC_UNIT_KINDS: dict[str, str] = {
    "3016-3": UNITS_PER_VOLUME,  # Thyrotropin [Units/volume]
    "11580-8": UNITS_PER_VOLUME,  # Thyrotropin, detection limit <= 0.005 mIU/L variant
    "3024-7": MASS_PER_VOLUME,  # Thyroxine (T4) free [Mass/volume]
    "8099-4": UNITS_PER_VOLUME,  # Thyroperoxidase Ab [Units/volume]
    "3181-5": UNITS_PER_VOLUME,  # Cardiolipin IgG Ab [Units/volume] by immunoassay
    "8065-5": UNITS_PER_VOLUME,  # Cardiolipin IgG Ab [Units/volume]
    "3182-3": UNITS_PER_VOLUME,  # Cardiolipin IgM Ab [Units/volume]
    "44448-9": UNITS_PER_VOLUME,  # Beta 2 glycoprotein 1 IgG Ab [Units/volume]
    "44449-7": UNITS_PER_VOLUME,  # Beta 2 glycoprotein 1 IgM Ab [Units/volume]
    "3282-1": TIME,  # Lupus anticoagulant neutralization hexagonal phase phospholipid [Time]
    "6303-2": TIME,  # dRVVT screen time
    "50410-0": RATIO,  # dRVVT screen/confirm ratio
    "75884-7": RATIO,  # aPTT-LA screen/confirm ratio
    "2842-3": MASS_PER_VOLUME,  # Prolactin [Mass/volume]
    "20568-2": MASS_PER_VOLUME,  # Prolactin [Mass/volume], by immunoassay (the same row of the evidence base)
    "4548-4": PERCENT,  # Hemoglobin A1c/Hemoglobin.total (the IFCC mmol/mol code is not verified: text only)
    "2839-9": MASS_PER_VOLUME,  # Progesterone [Mass/volume]
    "62292-8": MASS_PER_VOLUME,  # 25-Hydroxyvitamin D3+25-Hydroxyvitamin D2 [Mass/volume]
    "11961-0": LENGTH,  # Cervix [Length] US
}
_MASS = frozenset({"kg", "g", "mg", "µg", "ug", "mcg", "microgram", "ng", "pg"})
_VOLUME = frozenset({"L", "dL", "cL", "mL"})
# SNOMED CT, evidence base §7 (✔). "Habitual aborter" and "septate uterus" are NV there: text only.
VERIFIED_SNOMED = frozenset({"102878001", "26843008", "269836004", "117010004"})
# Catalogue items whose SNOMED code names less than the item: 117010004 is a chromosomal karyotype determination,
# and pregnancy-tissue testing may be a microarray, which is not one. Sent as text only.
SNOMED_TEXT_ONLY = frozenset({"poc_genetics"})
SNOMED_RECURRENT_MISCARRIAGE = "102878001"
SNOMED_APS = "26843008"
# WHO ATC, evidence base §7 (✔); dalteparin and tinzaparin are NV there (and have no ATC in domain.medication).
VERIFIED_ATC = frozenset({"G03DA04", "G03DB01", "B01AC06", "B01AB05", "H03AA01"})

# Units as rmclinic records them -> UCUM. Only unambiguous ones: "U/mL" (an assay's arbitrary units, not the
# UCUM enzyme unit "U") and the GPL/MPL units have no UCUM code and are sent as text.
UCUM_UNITS: dict[str, str] = {
    "mIU/L": "m[IU]/L",
    "µIU/mL": "u[IU]/mL",
    "IU/mL": "[IU]/mL",
    "kIU/L": "k[IU]/L",
    "IU/dL": "[IU]/dL",
    "IU": "[IU]",
    "pmol/L": "pmol/L",
    "nmol/L": "nmol/L",
    "ng/dL": "ng/dL",
    "ng/mL": "ng/mL",
    "mmol/mol": "mmol/mol",
    "%": "%",
    "kg/m²": "kg/m2",
    "mm": "mm",
    "mg": "mg",
    "microgram": "ug",
}

_INTERPRETATION_CODES = {
    Interpretation.NORMAL: "N",
    Interpretation.ABNORMAL: "A",
    Interpretation.POSITIVE: "POS",
    Interpretation.NEGATIVE: "NEG",
}
_SEVERITY = {Severity.CRITICAL: "high", Severity.WARNING: "moderate", Severity.INFO: "low"}
_DOSES = {  # frequency -> (doses, per this many days)
    Frequency.ONCE_DAILY: (1, 1),
    Frequency.TWICE_DAILY: (2, 1),
    Frequency.THREE_TIMES_DAILY: (3, 1),
    Frequency.ALTERNATE_DAYS: (1, 2),
}
_OVERRIDE_LABELS: dict[str, str] = {
    OverrideReason.DONE_ELSEWHERE: "Already done elsewhere",
    OverrideReason.PATIENT_DECLINED: "Patient declined",
    OverrideReason.CLINICAL_JUDGEMENT: "Clinical judgement",
    OverrideReason.NOT_APPLICABLE: "Not applicable / data error",
}
_RM_INDICATIONS = frozenset({Indication.RM_NO_BLEEDING, Indication.THREATENED_MISCARRIAGE, Indication.UNEXPLAINED_RPL})

# Fixed namespace of rmclinic's FHIR identifiers (a random uuid chosen once; never change it, or every
# resource of a re-export gets a new identity). Each installation's identifiers are in its own namespace within
# it, made from the installation's secret (``id_namespace``).
NAMESPACE = uuid.UUID("15693675-4bf2-4d09-a48a-1e98a21ff77e")


@dataclass(frozen=True)
class CurrentAlert:
    """An alert the rules raise on the patient's data today, with its answer (if any)."""

    alert: Alert
    status: AlertStatus
    response: AlertEvent | None
    identified: dt.datetime | None  # when it last fired


@dataclass(frozen=True)
class PatientExport:
    """Everything exported of one patient (what the native export reads, and the current alerts)."""

    data: PatientData
    archived: bool
    workup: Sequence[WorkupItem]
    pregnancies: Sequence[CurrentPregnancy]
    plans: Sequence[MedicationPlan]
    follow_ups: Sequence[FollowUp]
    alerts: Sequence[CurrentAlert]


@dataclass(frozen=True)
class ExportContext:
    now: dt.datetime
    generator_version: str
    exported_by: str  # the user's name (staff, not a patient identifier)
    rule_set_version: str
    hospital_number_system: str = ""  # the clinic's identifier system URI; empty: sent without a system
    day: dt.date | None = None  # the clinic's date today (the service clock's, as alerts use); None: now's UTC date
    id_secret: str = ""  # the installation's random secret in the resource ids (``id_namespace``)

    @property
    def today(self) -> dt.date:
        return self.day if self.day is not None else self.now.date()

    @property
    def namespace(self) -> uuid.UUID:
        return id_namespace(self.id_secret)


# -- small builders ----------------------------------------------------------------------------------------


def id_namespace(secret: str) -> uuid.UUID:
    """The namespace of one installation's identifiers: uuid5 of rmclinic's namespace and the installation's
    secret (an empty secret: rmclinic's namespace itself, for tests of the pure mapping)."""
    return uuid.uuid5(NAMESPACE, f"installation/{secret}") if secret else NAMESPACE


def full_url(name: str, namespace: uuid.UUID = NAMESPACE) -> str:
    return f"urn:uuid:{uuid.uuid5(namespace, name)}"


def _instant(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _ref(url: str) -> dict[str, Any]:
    return {"reference": url}


def _concept(text: str, *codings: tuple[str, str]) -> dict[str, Any]:
    """A CodeableConcept: the codings given (system, code) and always the text."""
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = [{"system": system, "code": code} for system, code in codings]
    out["text"] = text
    return out


def _quantity(value: float, unit: str) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit:
        q["unit"] = unit
        code = UCUM_UNITS.get(unit)
        if code is not None:
            q["system"] = UCUM
            q["code"] = code
    return q


def unit_kind(unit: str) -> str | None:
    """The kind of quantity a unit as recorded measures (the kinds of ``LOINC_UNIT_KINDS``), None when not
    recognised. Units per volume include an assay's arbitrary units (``GPL U/mL``, ``U/mL``)."""
    u = unit.strip()
    if u == "%":
        return PERCENT
    if u in ("mm", "cm"):
        return LENGTH
    if u in ("s", "sec", "seconds"):
        return TIME
    if u in ("", "ratio", "{ratio}"):
        return RATIO
    top, slash, bottom = u.rpartition("/")
    if not slash or bottom.strip() not in _VOLUME:
        return None
    top = top.strip()
    if top in _MASS:
        return MASS_PER_VOLUME
    if top.endswith("U") or top in ("GPL", "MPL"):  # IU, mIU, µIU, kIU, U, GPL U, MPL U, ...
        return UNITS_PER_VOLUME
    return None


def loinc_coding(code: str | None, unit: str | None = None) -> tuple[tuple[str, str], ...]:
    """The LOINC coding when the code is verified; for a numeric result (``unit`` given, "" for none) only when
    the unit is of the kind the code measures."""
    if not code or code not in VERIFIED_LOINC:
        return ()
    if unit is not None and (LOINC_UNIT_KINDS.get(code) is None or unit_kind(unit) != LOINC_UNIT_KINDS[code]):
        return ()
    return ((LOINC, code),)


def snomed_coding(code: str | None) -> tuple[tuple[str, str], ...]:
    return ((SNOMED, code),) if code and code in VERIFIED_SNOMED else ()


def atc_coding(code: str | None) -> tuple[tuple[str, str], ...]:
    return ((ATC, code),) if code and code in VERIFIED_ATC else ()


def _status_concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


class _Entries:
    """The bundle's entries of one patient, each with its deterministic full URL."""

    def __init__(self, scope: str, namespace: uuid.UUID) -> None:
        self.scope = scope
        self.namespace = namespace
        self.entries: list[dict[str, Any]] = []

    def url(self, key: str) -> str:
        return full_url(f"{self.scope}/{key}", self.namespace)

    def add(self, key: str, resource: dict[str, Any]) -> str:
        url = self.url(key)
        resource = {"resourceType": resource.pop("resourceType"), "id": url.removeprefix("urn:uuid:"), **resource}
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


# -- the bundle --------------------------------------------------------------------------------------------


def bundle(patients: Sequence[PatientExport], catalogue: Catalogue, ctx: ExportContext) -> dict[str, Any]:
    """A FHIR R4 collection Bundle of these patients (in the order given)."""
    device = _Entries("rmclinic", ctx.namespace)
    device_url = device.add(
        "device",
        {
            "resourceType": "Device",
            "deviceName": [{"name": "rmclinic", "type": "user-friendly-name"}],
            "version": [{"value": ctx.generator_version}],
            "note": [{"text": f"Exported the data; alert rule set {ctx.rule_set_version}."}],
        },
    )
    entries = list(device.entries)
    for p in patients:
        entries += _patient_entries(p, catalogue, ctx, device_url)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(ctx.now),
        "entry": entries,
    }


def _patient_entries(
    p: PatientExport, catalogue: Catalogue, ctx: ExportContext, device_url: str
) -> list[dict[str, Any]]:
    d = p.data
    e = _Entries(f"patient/{d.hospital_number}", ctx.namespace)
    patient = e.add("patient", _patient(p, ctx))
    subject = _ref(patient)
    partner = None
    if d.partner is not None:
        pname: dict[str, Any] = {"family": d.partner.family_name}
        if d.partner.given_name:
            pname["given"] = [d.partner.given_name]
        rp: dict[str, Any] = {
            "resourceType": "RelatedPerson",
            "patient": subject,
            "relationship": [{"text": "Partner"}],
            "name": [pname],
        }
        if d.partner.date_of_birth:
            rp["birthDate"] = d.partner.date_of_birth.isoformat()
        partner = e.add("partner", rp)

    # Obstetric history counts
    summary = summarise(d.pregnancies)
    counts = (
        ("gravidity", "Gravidity (pregnancies recorded, ectopic and molar included)", summary.gravidity),
        ("parity", "Parity (births at or after 24+0, live or still)", summary.parity),
        ("losses", "Pregnancy losses before 24+0", summary.total_losses),
        ("first-trimester-losses", "First-trimester losses (before 12+0)", summary.first_trimester_losses),
        ("second-trimester-losses", "Second-trimester losses (12+0 to 23+6)", summary.second_trimester_losses),
        ("consecutive-losses", "Consecutive pregnancy losses", summary.consecutive_losses),
        ("live-births", "Live births", summary.live_births),
    )
    history_obs = [
        e.add(
            f"history/{key}",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": _concept(text),
                "subject": subject,
                "effectiveDateTime": ctx.today.isoformat(),
                "valueInteger": n,
            },
        )
        for key, text, n in counts
    ]

    # Conditions
    conditions: dict[str, str] = {}
    if summary.meets_eshre or summary.meets_rcog:
        met = [
            name
            for name, ok in (
                ("ESHRE 2022 (two or more pregnancy losses before 24 weeks)", summary.meets_eshre),
                (
                    "RCOG 2023 (three or more first-trimester or one or more second-trimester miscarriages)",
                    summary.meets_rcog,
                ),
            )
            if ok
        ]
        conditions["rm"] = e.add(
            "condition/recurrent-miscarriage",
            {
                "resourceType": "Condition",
                **_problem(confirmed=True),
                "code": _concept(
                    f"Recurrent miscarriage ({summary.rm_type})", *snomed_coding(SNOMED_RECURRENT_MISCARRIAGE)
                ),
                "subject": subject,
                "evidence": [{"detail": [_ref(u) for u in history_obs]}],
                "note": [{"text": "Definitions met: " + "; ".join(met) + "."}],
            },
        )
    if d.risk.aps_diagnosed:
        conditions["aps"] = e.add(
            "condition/antiphospholipid-syndrome",
            {
                "resourceType": "Condition",
                **_problem(confirmed=True),
                "code": _concept("Antiphospholipid syndrome", *snomed_coding(SNOMED_APS)),
                "subject": subject,
            },
        )
    if d.risk.vte_history:
        vte: dict[str, Any] = {
            "resourceType": "Condition",
            "code": _concept("History of venous thromboembolism"),
            "subject": subject,
        }
        if d.risk.vte_notes:
            vte["note"] = [{"text": d.risk.vte_notes}]
        e.add("condition/vte-history", vte)
    for i, allergy in enumerate(d.risk.drug_allergies):
        # R4 invariant ait-1: a clinical status unless entered in error. rmclinic records a drug allergy as the
        # patient reports it, without its certainty: active, unconfirmed.
        e.add(
            f"allergy/{i}",
            {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": _status_concept(ALLERGY_CLINICAL, "active"),
                "verificationStatus": _status_concept(ALLERGY_VERIFICATION, "unconfirmed"),
                "code": _concept(allergy),
                "patient": subject,
            },
        )

    # Investigations: results as Observations, outstanding requests as ServiceRequests
    activities: list[str] = []
    implicable: dict[str, list[str]] = {}  # an alert episode naming a plan or a result -> its resources
    latest_uterine: tuple[WorkupItem, str] | None = None
    for item in p.workup:
        inv = catalogue.investigations.get(item.investigation_id)
        name = inv.name if inv is not None else item.investigation_id
        value = item.value if item.has_result else None
        numeric_unit = value.unit if value is not None and value.numeric is not None else None  # None: no quantity
        codings: tuple[tuple[str, str], ...] = ()
        if inv is not None:
            snomed = snomed_coding(inv.snomed) if inv.id not in SNOMED_TEXT_ONLY else ()
            codings = (*loinc_coding(inv.loinc, numeric_unit), *snomed)
        focus = [_ref(partner)] if partner and inv is not None and inv.applies_to == "partner" else None
        key = f"workup/{item.id}"
        if value is not None:
            url = e.add(key, _observation(item, value, inv, _concept(name, *codings), subject, focus))
            implicable.setdefault(f"item:{item_key(item)}", []).append(url)
            when = item.sample_date or dt.date.min
            uterine = inv is not None and inv.result_type == "uterine"
            if uterine and (latest_uterine is None or (latest_uterine[0].sample_date or dt.date.min) <= when):
                latest_uterine = (item, url)
        else:
            sr: dict[str, Any] = {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "category": [{"text": "Investigation"}],
                "code": _concept(name, *codings),
                "subject": subject,
            }
            if item.requested_on:
                sr["authoredOn"] = item.requested_on.isoformat()
            if item.requested_by:
                sr["requester"] = {"display": item.requested_by}
            if item.sample_date:
                sr["note"] = [{"text": f"Sample taken {item.sample_date.isoformat()}."}]
            url = e.add(key, sr)
            activities.append(url)
            implicable.setdefault(f"item:{item_key(item)}", []).append(url)
    if latest_uterine is not None:
        item, url = latest_uterine
        assert item.value is not None
        inv = catalogue.investigations.get(item.investigation_id)
        abnormal = inv.abnormal_values if inv is not None else frozenset()
        for finding in item.value.findings:
            if finding in abnormal:
                c: dict[str, Any] = {
                    "resourceType": "Condition",
                    "code": _concept(f"Uterine finding: {finding}"),
                    "subject": subject,
                    "evidence": [{"detail": [_ref(url)]}],
                }
                if item.sample_date:
                    c["recordedDate"] = item.sample_date.isoformat()
                conditions[f"uterine/{finding}"] = e.add(f"condition/uterine/{finding}", c)

    # Pregnancies under the clinic's care
    edd_of: dict[int | None, dt.date] = {}
    for k, preg in enumerate(p.pregnancies):
        if not preg.dating:
            continue
        edd_of[preg.id] = preg.edd
        entry = preg.dating[-1]
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept("Estimated date of delivery"),
            "subject": subject,
            "effectiveDateTime": entry.recorded_on.isoformat(),
            "valueDateTime": preg.edd.isoformat(),
        }
        notes = [f"Dated by {entry.method.value.replace('_', ' ')}."]
        if preg.ended_on is not None and preg.outcome is not None:
            notes.append(f"Pregnancy ended {preg.ended_on.isoformat()}: {preg.outcome.value.replace('_', ' ')}.")
        obs["note"] = [{"text": " ".join(notes)}]
        e.add(f"pregnancy/{preg.id if preg.id is not None else f'n{k}'}/edd", obs)

    # Medication plans
    for k, plan in enumerate(p.plans):
        key = f"plan/{plan.id if plan.id is not None else f'n{k}'}"
        reasons = []
        if plan.indication is Indication.APS and "aps" in conditions:
            reasons.append(_ref(conditions["aps"]))
        if plan.indication in _RM_INDICATIONS and "rm" in conditions:
            reasons.append(_ref(conditions["rm"]))
        url = e.add(key, _medication_request(plan, edd_of.get(plan.pregnancy_id), subject, reasons, ctx.today))
        activities.append(url)
        implicable.setdefault(f"plan:{plan_key(plan)}", []).append(url)

    # Follow-ups: ServiceRequest (and Appointment for clinic appointments not yet held), results as Observations
    for k, f in enumerate(p.follow_ups):
        key = f"follow-up/{f.id if f.id is not None else f'n{k}'}"
        sr_url = e.add(key, _follow_up_request(f, subject))
        activities.append(sr_url)
        if f.kind is FollowUpKind.APPOINTMENT and f.status in (FollowUpStatus.DUE, FollowUpStatus.CANCELLED):
            appt: dict[str, Any] = {
                "resourceType": "Appointment",
                "status": "proposed" if f.status is FollowUpStatus.DUE else "cancelled",
                "description": f.label,
                "basedOn": [_ref(sr_url)],
                "requestedPeriod": [_window(f)],
                "participant": [{"actor": subject, "status": "needs-action"}],
            }
            if f.status is FollowUpStatus.CANCELLED and f.cancel_reason:
                appt["cancelationReason"] = {"text": f.cancel_reason}
            activities.append(e.add(f"{key}/appointment", appt))
        result = _follow_up_result(f, edd_of.get(f.pregnancy_id), subject, sr_url)
        if result is not None:
            e.add(f"{key}/result", result)

    # Current alerts
    for a in p.alerts:
        issue = _detected_issue(a, subject, ctx)
        implicated = implicable.get(a.alert.episode)
        if implicated:  # the plan or result the alert is about (its episode names it: rules/snapshot.py)
            issue["implicated"] = [_ref(u) for u in implicated]
        e.add(f"alert/{a.alert.rule.id}/{a.alert.episode}", issue)

    # The care plan, then the provenance of everything above
    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "completed" if p.archived else "active",
        "intent": "plan",
        "title": "Recurrent miscarriage clinic care plan",
        "subject": subject,
    }
    if conditions:
        care_plan["addresses"] = [_ref(u) for u in conditions.values()]
    if activities:
        care_plan["activity"] = [{"reference": _ref(u)} for u in activities]
    e.add("care-plan", care_plan)
    targets = [_ref(entry["fullUrl"]) for entry in e.entries]
    e.add(
        "provenance",
        {
            "resourceType": "Provenance",
            "target": targets,
            "recorded": _instant(ctx.now),
            "activity": {"text": "Export from rmclinic as FHIR R4"},
            "agent": [
                {"type": _status_concept(PROVENANCE_AGENT, "assembler"), "who": _ref(device_url)},
                {"who": {"display": ctx.exported_by}},
            ],
        },
    )
    return e.entries


def _patient(p: PatientExport, ctx: ExportContext) -> dict[str, Any]:
    d = p.data
    hosp: dict[str, Any] = {
        "use": "usual",
        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}], "text": "Hospital number"},
    }
    if ctx.hospital_number_system:
        hosp["system"] = ctx.hospital_number_system
    hosp["value"] = d.hospital_number
    identifiers = [hosp]
    if d.nhs_number:
        identifiers.append({"use": "official", "system": NHS_NUMBER, "value": d.nhs_number})
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "active": not p.archived,
        "name": [{"use": "official", "family": d.family_name, "given": [d.given_name]}],
    }
    telecom = []
    if d.phone:
        telecom.append({"system": "phone", "value": d.phone})
    if d.email:
        telecom.append({"system": "email", "value": d.email})
    if telecom:
        out["telecom"] = telecom
    out["birthDate"] = d.date_of_birth.isoformat()
    if d.address:
        out["address"] = [{"text": d.address}]
    if d.gp_practice:
        out["generalPractitioner"] = [{"display": d.gp_practice}]
    return out


def _problem(*, confirmed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"clinicalStatus": _status_concept(CONDITION_CLINICAL, "active")}
    if confirmed:
        out["verificationStatus"] = _status_concept(CONDITION_VERIFICATION, "confirmed")
    out["category"] = [_status_concept(CONDITION_CATEGORY, "problem-list-item")]
    return out


def _observation(
    item: WorkupItem,
    value: ResultValue,
    inv: Investigation | None,
    code: dict[str, Any],
    subject: dict[str, Any],
    focus: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    # Entered but not yet reviewed by a clinician: preliminary; reviewed after a correction: corrected.
    status = ("corrected" if item.history else "final") if item.status is Status.REVIEWED else "preliminary"
    if inv is not None and inv.result_type == "uterine":
        category = "imaging"
    elif inv is not None and inv.id == "bmi":
        category = "exam"
    else:
        category = "laboratory"
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": status,
        "category": [_status_concept(OBSERVATION_CATEGORY, category)],
        "code": code,
        "subject": subject,
    }
    if focus:
        obs["focus"] = focus
    if item.sample_date:
        obs["effectiveDateTime"] = item.sample_date.isoformat()
    if item.entered_at:
        obs["issued"] = _instant(item.entered_at)
    if value.numeric is not None:
        obs["valueQuantity"] = _quantity(value.numeric, value.unit)
    elif value.findings:
        obs["valueCodeableConcept"] = _concept(", ".join(value.findings))
    elif value.text:
        obs["valueCodeableConcept"] = _concept(value.text)
    interpretation = item.interpretation
    if interpretation is not None and interpretation in _INTERPRETATION_CODES:
        obs["interpretation"] = [
            _concept(interpretation.value.capitalize(), (INTERPRETATION, _INTERPRETATION_CODES[interpretation]))
        ]
    elif interpretation is Interpretation.EQUIVOCAL:
        obs["interpretation"] = [_concept("Equivocal")]
    notes = []
    if value.method:
        obs["method"] = _concept(value.method)
    if item.review_comment:
        notes.append({"text": item.review_comment})
    if notes:
        obs["note"] = notes
    ranges = _reference_range(value, inv)
    if ranges:
        obs["referenceRange"] = ranges
    return obs


def _reference_range(value: ResultValue, inv: Investigation | None) -> list[dict[str, Any]]:
    """The laboratory's own range when typed (it is what the result was judged by); else the catalogue's cited
    threshold, as numbers only when the result is in the catalogue's unit."""
    if value.numeric is None:
        if inv is not None and inv.threshold is not None:
            return [{"text": inv.threshold.text}]
        return []
    if value.lab_low is not None or value.lab_high is not None:
        rng: dict[str, Any] = {}
        if value.lab_low is not None:
            rng["low"] = _quantity(value.lab_low, value.unit)
        if value.lab_high is not None:
            rng["high"] = _quantity(value.lab_high, value.unit)
        rng["text"] = "The laboratory's reference range"
        return [rng]
    if inv is None or inv.threshold is None:
        return []
    th = inv.threshold
    rng = {}
    if value.unit == inv.unit:
        if th.lower is not None:
            rng["low"] = _quantity(th.lower, value.unit)
        if th.upper is not None:
            rng["high"] = _quantity(th.upper, value.unit)
    rng["text"] = th.text
    return [rng]


def _bounds(seg: Segment) -> dict[str, Any]:
    """The period's first and last day with a dose (FHIR period ends are inclusive; rmclinic's stop is the first
    day without a dose, and an every-other-day period may end on a rest day)."""
    days = dosed_days(seg)
    if days is None:  # open-ended
        return {"start": seg.start.isoformat()}
    return {"start": days[0].isoformat(), "end": days[1].isoformat()}


def _medication_request(
    plan: MedicationPlan, edd: dt.date | None, subject: dict[str, Any], reasons: list[dict[str, Any]], today: dt.date
) -> dict[str, Any]:
    unit = plan.display_unit
    route = {"text": plan.route.value if plan.route else plan.drug_def.route.value}
    # A cancelled plan is shown as it was planned (its status says it was never taken).
    planned = replace(plan, status=PlanStatus.ACTIVE) if plan.status is PlanStatus.CANCELLED else plan
    periods = segments(planned, edd)
    dosage = []
    for i, seg in enumerate(periods, start=1):
        doses, days = _DOSES[seg.frequency]
        bounds = _bounds(seg)
        text = describe_dose(seg.dose, unit, seg.frequency)
        text += f" from {bounds['start']}"
        if "end" in bounds:
            text += f" to {bounds['end']}"
        if seg.taper:
            text += " (taper step)"
        dosage.append(
            {
                "sequence": i,
                "text": text,
                "timing": {"repeat": {"boundsPeriod": bounds, "frequency": doses, "period": days, "periodUnit": "d"}},
                "route": route,
                "doseAndRate": [{"doseQuantity": _quantity(seg.dose, unit)}],
            }
        )
    if not dosage:  # no dose at all (e.g. a gestation-anchored stop that moved before the start): no timing
        planned_dose = describe_dose(plan.dose, unit, plan.frequency)
        dosage.append(
            {
                "sequence": 1,
                "text": f"No doses: the stop is on or before the start (planned: {planned_dose}).",
                "route": route,
            }
        )
    # The stop date is the first day without a dose: active until then; stopped (by a clinician, early) or
    # completed (as planned) from that day on.
    stop = plan.stop_date(edd)
    if plan.status is PlanStatus.CANCELLED:
        status = "cancelled"
    elif plan.status is PlanStatus.STOPPED and plan.stopped_on is None:
        status = "stopped"  # stopped without a date (not written by rmclinic): it says stopped
    elif stop is not None and stop <= today:
        early = plan.status is PlanStatus.STOPPED and plan.stopped_on == stop
        status = "stopped" if early else "completed"
    else:
        status = "active"
    notes = []
    if plan.stop is not None:
        anchor = str(plan.stop)
        first_free = plan.stop.resolve(edd)
        if plan.stop.gestation_days is not None and first_free is not None:
            notes.append(f"Planned stop at {anchor}: {first_free.isoformat()} is the first day without a dose.")
        else:
            notes.append(f"Planned stop {anchor} (the first day without a dose).")
    if plan.status is PlanStatus.STOPPED and plan.stopped_on is not None:
        verb = "Stopped from" if plan.stopped_on <= today else "To stop from"
        notes.append(
            f"{verb} {plan.stopped_on.isoformat()} (the first day without a dose): {plan.stop_reason}".rstrip(": ")
            + "."
        )
    if plan.notes:
        notes.append(plan.notes)
    out: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": status,
        "intent": "plan",
        "medicationCodeableConcept": _concept(plan.display_name, *atc_coding(plan.atc)),
        "subject": subject,
    }
    if plan.history:
        out["authoredOn"] = _instant(min(c.at for c in plan.history))
    out["reasonCode"] = [_concept(INDICATION_LABELS[plan.indication])]
    if reasons:
        out["reasonReference"] = reasons
    if notes:
        out["note"] = [{"text": n} for n in notes]
    out["dosageInstruction"] = dosage
    return out


def _window(f: FollowUp) -> dict[str, Any]:
    w = dt.timedelta(days=f.window_days)
    return {"start": (f.due_date - w).isoformat(), "end": (f.due_date + w).isoformat()}


def _follow_up_request(f: FollowUp, subject: dict[str, Any]) -> dict[str, Any]:
    status = {
        FollowUpStatus.DUE: "active",
        FollowUpStatus.DONE: "completed",
        FollowUpStatus.MISSED: "revoked",
        FollowUpStatus.CANCELLED: "revoked",
    }[f.status]
    sr: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": status,
        "intent": "plan",
        "category": [{"text": "Follow-up"}],
        "code": _concept(f.label),
        "subject": subject,
    }
    if f.window_days:
        sr["occurrencePeriod"] = _window(f)
    else:
        sr["occurrenceDateTime"] = f.due_date.isoformat()
    notes = []
    if f.protocol:
        notes.append(f"Series protocol: {f.protocol} (local protocol).")
    summary = result_summary(f)
    if summary:
        notes.append(summary if f.status is not FollowUpStatus.DONE else f"Result: {summary}")
    if notes:
        sr["note"] = [{"text": n} for n in notes]
    return sr


def _follow_up_result(f: FollowUp, edd: dt.date | None, subject: dict[str, Any], request: str) -> dict[str, Any] | None:
    if f.status is not FollowUpStatus.DONE:
        return None
    if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.cervical_length_mm is not None:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "basedOn": [_ref(request)],
            "status": "final",
            "category": [_status_concept(OBSERVATION_CATEGORY, "imaging")],
            "code": _concept("Cervical length by transvaginal ultrasound", *loinc_coding(LOINC_CERVICAL_LENGTH)),
            "subject": subject,
        }
        if f.result_date:
            obs["effectiveDateTime"] = f.result_date.isoformat()
        obs["valueQuantity"] = _quantity(f.cervical_length_mm, "mm")
        ga = None
        if edd is not None and f.result_date is not None:
            ga = gestation_days_on(edd, f.result_date)
        if ga is not None and 16 * 7 <= ga <= 24 * 7:
            short = is_short_cervix(f.cervical_length_mm, ga)
            obs["interpretation"] = [
                _concept("Short cervix" if short else "Normal", (INTERPRETATION, "A" if short else "N"))
            ]
        obs["referenceRange"] = [{"text": "25 mm or less between 16+0 and 24+0 is a short cervix (NICE NG25)"}]
        notes = []
        if ga is not None and 0 <= ga <= 45 * 7:
            notes.append(f"At {GestationalAge(ga)}.")
        if f.result_notes:
            notes.append(f.result_notes)
        if notes:
            obs["note"] = [{"text": " ".join(notes)}]
        if f.funnelling is not None:
            obs["component"] = [{"code": _concept("Funnelling"), "valueBoolean": f.funnelling}]
        return obs
    if f.kind is FollowUpKind.SWAB and f.swab_result is not None:
        swab: dict[str, Any] = {
            "resourceType": "Observation",
            "basedOn": [_ref(request)],
            "status": "final",
            "category": [_status_concept(OBSERVATION_CATEGORY, "laboratory")],
            "code": _concept(f.label),
            "subject": subject,
            "valueCodeableConcept": _concept(result_summary(f)),
        }
        if f.result_date:
            swab["effectiveDateTime"] = f.result_date.isoformat()
        if f.result_notes:
            swab["note"] = [{"text": f.result_notes}]
        return swab
    return None


def _detected_issue(a: CurrentAlert, subject: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
    alert = a.alert
    rule = alert.rule
    detail = alert.message
    if alert.because:
        detail += " Because: " + "; ".join(alert.because) + "."
    if rule.citations:
        detail += " Evidence: " + "; ".join(c.label.rstrip(". ") for c in rule.citations) + "."
    detail += f" (Rule {rule.id} version {rule.version}, rule set {alert.rule_set_version}; status {a.status.value}.)"
    out: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "status": "final",
        "code": _concept(rule.title),
        "severity": _SEVERITY[alert.severity],
        "patient": subject,
        "identifiedDateTime": _instant(a.identified or ctx.now),
        "detail": detail,
    }
    # The evidence link: the first citation's verified DOI, else its URL (a DOI marked unconfirmed is not linked).
    links = (f"https://doi.org/{c.doi}" if c.doi and not c.doi_unverified else c.url for c in rule.citations)
    link = next((x for x in links if x), None)
    if link:
        out["reference"] = link
    r = a.response
    if r is not None and a.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.OVERRIDDEN, AlertStatus.SNOOZED):
        if r.kind is EventKind.OVERRIDDEN:
            reason = _OVERRIDE_LABELS.get(r.reason_code, r.reason_code)
            action = "Overridden" + (f": {reason}" if reason else "")
        elif r.kind is EventKind.SNOOZED:
            action = "Snoozed" + (f" until {r.until.isoformat()}" if r.until else "")
        else:
            action = "Acknowledged"
        if r.comment:
            action += f" ({r.comment})"
        out["mitigation"] = [{"action": _concept(action), "date": _instant(r.at), "author": {"display": r.username}}]
    return out


__all__ = [
    "FHIR_VERSION",
    "LOINC_UNIT_KINDS",
    "NAMESPACE",
    "SNOMED_TEXT_ONLY",
    "UCUM_UNITS",
    "VERIFIED_ATC",
    "VERIFIED_LOINC",
    "VERIFIED_SNOMED",
    "CurrentAlert",
    "ExportContext",
    "PatientExport",
    "bundle",
    "full_url",
    "id_namespace",
    "unit_kind",
]
