"""FHIR R4 export (docs/fhir-export.md): every resource valid against fhir.resources' models, every reference
resolving inside the bundle, only verified codes, tapers as sequenced dosage, alert answers as mitigation, the
command line contract and the audit trail."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import fhir.resources.R4B as R4B
import pytest
from conftest import TODAY, act_as
from sqlalchemy import event

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.errors import DomainError, ValidationError
from rmclinic.domain.investigations import is_valid_loinc
from rmclinic.domain.medication import (
    Anchor,
    Frequency,
    Indication,
    MedicationPlan,
    PlanStatus,
    apply_template,
    last_dose_day,
)
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import Partner, PatientData, RiskHistory
from rmclinic.domain.workup import ResultValue
from rmclinic.persistence.db import sqlite_file
from rmclinic.rules.lifecycle import EventKind, OverrideReason, Status
from rmclinic.services.catalogue import merged_catalogue
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.fhir import NAMESPACE, ExportContext, PatientExport, bundle
from rmclinic.services.session import PermissionDenied
from rmclinic.services.transfer import TransferService

# The evidence base's verified codes (shared/evidence.md §7 and §11), written out here rather than imported, so
# a code slipped into the exporter's own lists is caught too.
EVIDENCE_LOINC = {
    "3016-3", "11580-8", "3024-7", "8099-4", "3181-5", "8065-5", "3182-3", "44448-9", "44449-7", "3282-1",
    "6303-2", "57838-5", "50410-0", "34571-0", "75884-7", "75514-0", "75515-7", "75881-3", "2842-3", "20568-2",
    "4548-4", "2839-9", "62292-8", "11961-0",
}  # fmt: skip
EVIDENCE_SNOMED = {"102878001", "26843008", "269836004", "117010004"}
EVIDENCE_ATC = {"G03DA04", "G03DB01", "B01AC06", "B01AB05", "H03AA01"}
UCUM_CODES = {
    "m[IU]/L", "u[IU]/mL", "[IU]/mL", "k[IU]/L", "[IU]/dL", "[IU]", "pmol/L", "nmol/L", "ng/dL", "ng/mL",
    "mmol/mol", "%", "kg/m2", "mm", "mg", "ug",
}  # fmt: skip
# Code systems that may appear at all: the clinical ones above, and FHIR's own (bound by the R4 specification).
SYSTEMS = {
    "http://loinc.org": EVIDENCE_LOINC,
    "http://snomed.info/sct": EVIDENCE_SNOMED,
    "http://www.whocc.no/atc": EVIDENCE_ATC,
    "http://unitsofmeasure.org": UCUM_CODES,
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": {"N", "A", "POS", "NEG"},
    "http://terminology.hl7.org/CodeSystem/observation-category": {"laboratory", "imaging", "exam"},
    "http://terminology.hl7.org/CodeSystem/condition-clinical": {"active"},
    "http://terminology.hl7.org/CodeSystem/condition-ver-status": {"confirmed"},
    "http://terminology.hl7.org/CodeSystem/condition-category": {"problem-list-item"},
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical": {"active"},
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification": {"unconfirmed"},
    "http://terminology.hl7.org/CodeSystem/v2-0203": {"MR"},
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type": {"assembler"},
}
# Required bindings of FHIR R4 that fhir.resources does not check.
STATUSES = {
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error"},
    "MedicationRequest": {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft"},
    "ServiceRequest": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "CarePlan": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "Appointment": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "waitlist"},
    "DetectedIssue": {"registered", "preliminary", "final", "amended", "corrected", "cancelled"},
}
YEARS = (2023, 2024, 2025)
INTENTS = {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "option"}
# The kind of quantity each LOINC code measures, from its name in the evidence base (§7: "[Mass/volume]",
# "[Units/volume]", "Hemoglobin A1c/Hemoglobin.total"), with the units as rmclinic records them that fit it.
MASS_PER_VOLUME_UNITS = frozenset({"ng/dL", "ng/mL", "pg/mL", "µg/L", "ug/L", "mg/L"})
UNITS_PER_VOLUME_UNITS = frozenset({"mIU/L", "µIU/mL", "IU/mL", "kIU/L", "U/mL", "GPL U/mL", "MPL U/mL"})
LOINC_UNITS = {
    **dict.fromkeys(("3024-7", "2842-3", "2839-9", "62292-8"), MASS_PER_VOLUME_UNITS),
    **dict.fromkeys(("3016-3", "8099-4", "3181-5", "3182-3", "44448-9", "44449-7"), UNITS_PER_VOLUME_UNITS),
    "4548-4": frozenset({"%"}),
    "11961-0": frozenset({"mm"}),
}


def _resources(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in doc["entry"]]


def _walk(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key``, at any depth."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)


def _references(doc: dict[str, Any]) -> list[str]:
    """Every Reference.reference, at any depth (DetectedIssue.reference is a URI, not a Reference)."""
    out = []
    for r in _resources(doc):
        body = {k: v for k, v in r.items() if not (r["resourceType"] == "DetectedIssue" and k == "reference")}
        out += [v for v in _walk(body, "reference") if isinstance(v, str)]
    return out


def _unresolved(doc: dict[str, Any]) -> set[str]:
    """The references that resolve to no entry of the bundle (the suite's reference-resolution check)."""
    return set(_references(doc)) - {e["fullUrl"] for e in doc["entry"]}


def _periods(node: Any) -> Iterator[dict[str, Any]]:
    for key in ("boundsPeriod", "occurrencePeriod", "requestedPeriod"):
        for v in _walk(node, key):
            yield from v if isinstance(v, list) else [v]


def _invariant_problems(doc: dict[str, Any]) -> list[str]:
    """FHIR R4 (4.0.1) invariants that fhir.resources does not evaluate, for the resources and elements the export
    uses: ait-1, ait-2, con-3, con-5, obs-3, obs-6, obs-7, per-1, qty-3, cpl-3, app-3."""
    out = []
    for r in _resources(doc):
        kind = r["resourceType"]
        verification = [c["code"] for c in r.get("verificationStatus", {}).get("coding", [])]
        erroneous = "entered-in-error" in verification
        if kind == "AllergyIntolerance" and ("clinicalStatus" in r) == erroneous:
            out.append(f"ait-1/ait-2: {r}")
        if kind == "Condition":
            categories = {c["code"] for cat in r.get("category", []) for c in cat.get("coding", [])}
            if "problem-list-item" in categories and not erroneous and "clinicalStatus" not in r:
                out.append(f"con-3: {r}")
            if erroneous and "clinicalStatus" in r:
                out.append(f"con-5: {r}")
        if kind == "Observation":
            if any(not ({"low", "high", "text"} & rr.keys()) for rr in r.get("referenceRange", [])):
                out.append(f"obs-3: {r}")
            has_value = any(k.startswith("value") for k in r)
            if "dataAbsentReason" in r and has_value:
                out.append(f"obs-6: {r}")
            if any(c["code"] == r["code"] and any(k.startswith("value") for k in c) for c in r.get("component", [])):
                out.append(f"obs-7: {r}")
        if kind == "CarePlan" and any({"reference", "detail"} <= a.keys() for a in r.get("activity", [])):
            out.append(f"cpl-3: {r}")
        unscheduled = r.get("status") in ("proposed", "cancelled", "waitlist")
        if kind == "Appointment" and not unscheduled and not {"start", "end"} <= r.keys():
            out.append(f"app-3: {r}")
        for period in _periods(r):
            if "start" in period and "end" in period and period["end"] < period["start"]:
                out.append(f"per-1: {period} in {kind}")
        for key in ("valueQuantity", "doseQuantity", "low", "high"):
            for q in _walk(r, key):
                if "code" in q and "system" not in q:
                    out.append(f"qty-3: {q} in {kind}")
    return out


def _of(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in _resources(doc) if r["resourceType"] == kind]


def _by_url(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in doc["entry"]}


def _answer_two_alerts(services: Services, hospital_number: str) -> tuple[str, str, str]:
    """Acknowledge one of the patient's alerts and override another; returns their rule ids and an unanswered one's."""
    record = services.patients.find_by_hospital_number(hospital_number)
    assert record is not None
    views = [v for v in services.alerts.for_patient(record.id) if v.status is Status.ACTIVE and not v.alert.error]
    assert len(views) >= 3, [v.alert.rule.id for v in views]
    ack, over, left = views[0].alert, views[1].alert, views[2].alert
    services.alerts.respond(record.id, ack.rule.id, ack.episode, EventKind.ACKNOWLEDGED)
    services.alerts.respond(
        record.id, over.rule.id, over.episode, EventKind.OVERRIDDEN, OverrideReason.PATIENT_DECLINED, "Discussed"
    )
    return ack.rule.id, over.rule.id, left.rule.id


def _records(services: Services, n: int = 40) -> list[Any]:
    found = [services.patients.find_by_hospital_number(f"RM{i:06d}") for i in range(1, n + 1)]
    assert all(r is not None for r in found)
    return found


def _patient_with_alerts(services: Services, least: int = 3) -> str:
    for r in _records(services):
        active = [v for v in services.alerts.for_patient(r.id) if v.status is Status.ACTIVE and not v.alert.error]
        if len(active) >= least:
            return str(r.data.hospital_number)
    raise AssertionError("no demo patient has enough alerts")


@pytest.fixture
def demo(services: Services) -> Services:
    services.demo.create(40, seed=3, today=TODAY)
    return services


def test_every_resource_and_the_bundle_parse_and_every_reference_resolves(demo: Services) -> None:
    doc = demo.transfer.export_fhir()
    assert doc["resourceType"] == "Bundle"
    assert doc["type"] == "collection"
    kinds = Counter(r["resourceType"] for r in _resources(doc))
    assert kinds["Patient"] == 40
    for kind in ("RelatedPerson", "Condition", "Observation", "MedicationRequest", "CarePlan", "ServiceRequest"):
        assert kinds[kind] > 0, kind
    for kind in ("DetectedIssue", "Provenance", "Device"):
        assert kinds[kind] > 0, kind
    for resource in _resources(doc):
        model = R4B.get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)  # raises on a structural error
        if resource["resourceType"] in STATUSES:
            assert resource["status"] in STATUSES[resource["resourceType"]], resource
        if "intent" in resource:
            assert resource["intent"] in INTENTS
    R4B.get_fhir_model_class("Bundle").model_validate(doc)
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert len(urls) == len(set(urls))
    assert all(
        u.startswith("urn:uuid:") and u.removeprefix("urn:uuid:") == e["resource"]["id"]
        for u, e in zip(urls, doc["entry"], strict=True)
    )
    targets = _references(doc)
    assert len(targets) > 1000
    assert not _unresolved(doc)
    assert not _invariant_problems(doc)
    assert kinds["AllergyIntolerance"] > 0  # ait-1 had something to check
    assert all(
        a["clinicalStatus"]["coding"][0]["code"] == "active"
        and a["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
        for a in _of(doc, "AllergyIntolerance")
    )


def test_the_validator_catches_a_broken_resource(demo: Services) -> None:
    """The checks above can fail: a resource with a wrong field, a reference to nowhere injected into a real
    bundle, or a broken invariant, is caught."""
    doc = demo.transfer.export_fhir(["RM000001"])
    observation = dict(_of(doc, "Observation")[0])
    observation["valueQuantity"] = {"value": "not a number"}
    with pytest.raises(ValueError, match="valid"):
        R4B.get_fhir_model_class("Observation").model_validate(observation)
    assert not _unresolved(doc)
    dangling = "urn:uuid:00000000-0000-0000-0000-000000000000"
    broken = copy.deepcopy(doc)
    next(r for r in _resources(broken) if r["resourceType"] == "CarePlan")["subject"] = {"reference": dangling}
    assert _unresolved(broken) == {dangling}
    # a reference nested deep inside a resource is found too
    broken = copy.deepcopy(doc)
    provenance = next(r for r in _resources(broken) if r["resourceType"] == "Provenance")
    provenance["target"].append({"reference": dangling})
    assert _unresolved(broken) == {dangling}
    # invariants: an allergy without its clinical status (ait-1), a period ending before it starts (per-1)
    assert not _invariant_problems(doc)
    allergy = {"resourceType": "AllergyIntolerance", "code": {"text": "penicillin"}, "patient": {"reference": "x"}}
    request = next(r for r in _resources(doc) if r["resourceType"] == "MedicationRequest")
    bad_request = copy.deepcopy(request)
    bad_request["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] = {
        "start": "2026-02-01",
        "end": "2026-01-31",
    }
    problems = _invariant_problems({"entry": [{"resource": allergy}, {"resource": bad_request}]})
    assert [p.split(":")[0] for p in problems] == ["ait-1/ait-2", "per-1"]


def test_only_verified_codes_are_sent(demo: Services) -> None:
    doc = demo.transfer.export_fhir()
    codings = [c for c in _walk(doc, "coding") for c in c]
    quantities = [q for key in ("valueQuantity", "doseQuantity", "low", "high") for q in _walk(doc, key)]
    sent: dict[str, set[str]] = {}
    for c in [*codings, *(q for q in quantities if "system" in q)]:
        assert c["system"] in SYSTEMS, c
        sent.setdefault(c["system"], set()).add(c["code"])
        assert c["code"] in SYSTEMS[c["system"]], c
    assert all(is_valid_loinc(code) for code in sent["http://loinc.org"])
    # The demo data uses them: the assertions above had something to check.
    assert {"3016-3", "11961-0"} <= sent["http://loinc.org"]
    assert {"102878001"} <= sent["http://snomed.info/sct"]
    assert sent["http://www.whocc.no/atc"]
    # Units without a UCUM code travel as text only.
    units = {q.get("unit"): q.get("code") for q in quantities}
    assert units.get("GPL U/mL", "absent") is None
    assert units.get("mIU/L") == "m[IU]/L"
    # A LOINC code goes only with a result in a unit of the kind the code measures (never converted).
    for o in _of(doc, "Observation"):
        for c in o["code"].get("coding", []):
            if c["system"] == "http://loinc.org" and "valueQuantity" in o:
                assert o["valueQuantity"].get("unit") in LOINC_UNITS[c["code"]], o
    # A code the evidence base leaves unverified is text only: Factor V Leiden has no code at all.
    texts = {o["code"]["text"]: o["code"] for o in _of(doc, "Observation")}
    assert all("coding" not in code for name, code in texts.items() if "Factor V" in name or "Protein" in name)
    septate = [c for c in _of(doc, "Condition") if "Uterine finding" in c["code"]["text"]]
    assert all("coding" not in c["code"] for c in septate)


def _plan_bundle(plan: MedicationPlan, day: dt.date | None = None) -> dict[str, Any]:
    data = PatientData(
        "RM9", "Okafor", "Beth", dt.date(1990, 6, 1), partner=Partner("Okafor", "Chidi"),
        pregnancies=tuple(PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 4, 2), 49) for y in YEARS),
    )  # fmt: skip
    ctx = ExportContext(dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), "0.test", "consultant", "2026.1", day=day)
    export = PatientExport(data, False, (), (), (plan,), (), ())
    return bundle([export], merged_catalogue(), ctx)


def test_results_in_units_the_loinc_code_does_not_measure_are_sent_as_text(demo: Services) -> None:
    """Free T4 in pmol/L is not "Thyroxine free [Mass/volume]"; in ng/dL it is. HbA1c in % is 4548-4; in mmol/mol
    (the IFCC unit, another LOINC code, not verified) it is text only. Values are never converted."""
    record = demo.patients.find_by_hospital_number("RM000001")
    assert record is not None
    day = TODAY - dt.timedelta(days=3)
    demo.workup.record_result(record.id, "ft4", ResultValue(numeric=1.1, unit="ng/dL"), day)
    demo.workup.record_result(record.id, "hba1c", ResultValue(numeric=5.4, unit="%"), day)
    demo.workup.record_result(record.id, "progesterone", ResultValue(numeric=14.0, unit="ng/mL"), day)
    other = demo.patients.find_by_hospital_number("RM000002")
    assert other is not None
    for iid, value, unit in (
        ("progesterone", 40.0, "nmol/L"),
        ("vitamin_d", 60.0, "nmol/L"),
        ("hba1c", 36.0, "mmol/mol"),
    ):
        demo.workup.record_result(other.id, iid, ResultValue(numeric=value, unit=unit), day)
    demo.workup.record_result(other.id, "prolactin", ResultValue(numeric=250.0, unit="mIU/L"), day)
    doc = demo.transfer.export_fhir()
    seen: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for o in _of(doc, "Observation"):
        if "valueQuantity" in o:
            codes = tuple(c["code"] for c in o["code"].get("coding", []))
            seen.setdefault((o["code"]["text"], o["valueQuantity"].get("unit", "")), set()).add(codes)
    # the catalogue's units (the demo clinic's free T4 among them): no LOINC code
    for name, unit in (
        ("Free T4", "pmol/L"),
        ("Serum progesterone", "nmol/L"),
        ("Prolactin", "mIU/L"),
        ("25-OH vitamin D", "nmol/L"),
        ("HbA1c", "mmol/mol"),
    ):
        assert seen[(name, unit)] == {()}, (name, unit)
    assert seen[("Free T4", "ng/dL")] == {("3024-7",)}
    assert seen[("HbA1c", "%")] == {("4548-4",)}
    assert seen[("Serum progesterone", "ng/mL")] == {("2839-9",)}
    assert seen[("TSH", "mIU/L")] == {("3016-3",)}  # units per volume: TSH in mIU/L is what 3016-3 measures
    assert seen[("Anticardiolipin IgG", "GPL U/mL")] == {("3181-5",)}  # arbitrary units per volume too
    (value,) = [
        o["valueQuantity"] for o in _of(doc, "Observation") if o["code"]["text"] == "Free T4" and "coding" in o["code"]
    ]
    assert value == {"value": 1.1, "unit": "ng/dL", "system": "http://unitsofmeasure.org", "code": "ng/dL"}
    # an investigation requested, not yet resulted, keeps its code (no unit to contradict it)
    requested = [r for r in _of(doc, "ServiceRequest") if r["code"]["text"] == "TSH" and r.get("intent") == "order"]
    assert requested and all(
        r["code"]["coding"] == [{"system": "http://loinc.org", "code": "3016-3"}] for r in requested
    )


def test_pregnancy_tissue_genetics_is_text_only_parental_karyotypes_keep_their_code(demo: Services) -> None:
    """SNOMED 117010004 is a karyotype determination; pregnancy-tissue testing may be a microarray."""
    doc = demo.transfer.export_fhir()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in [*_of(doc, "Observation"), *_of(doc, "ServiceRequest")]:
        by_name.setdefault(r["code"]["text"], []).append(r["code"])
    tissue = by_name["Pregnancy-tissue karyotype or microarray"]
    assert tissue and all("coding" not in code for code in tissue)
    karyotype = [*by_name.get("Parental karyotype (woman)", []), *by_name.get("Parental karyotype (partner)", [])]
    assert karyotype
    assert all(code["coding"] == [{"system": "http://snomed.info/sct", "code": "117010004"}] for code in karyotype)


def test_a_taper_becomes_sequenced_dosage_instructions_bounded_by_dates() -> None:
    plan = MedicationPlan(
        "progesterone_vaginal", 400, Frequency.TWICE_DAILY, dt.date(2026, 10, 1), Indication.RM_NO_BLEEDING,
        stop=Anchor(date=dt.date(2026, 12, 31)), id=7,
    )  # fmt: skip
    plan = MedicationPlan(**{**plan.__dict__, "taper": apply_template(plan, "halve_quarter")})
    doc = _plan_bundle(plan)
    (request,) = _of(doc, "MedicationRequest")
    assert request["status"] == "active"
    assert request["medicationCodeableConcept"]["coding"] == [{"system": "http://www.whocc.no/atc", "code": "G03DA04"}]
    steps = request["dosageInstruction"]
    assert [s["sequence"] for s in steps] == [1, 2, 3]
    assert [s["timing"]["repeat"]["boundsPeriod"] for s in steps] == [
        {"start": "2026-10-01", "end": "2026-12-16"},
        {"start": "2026-12-17", "end": "2026-12-23"},
        {"start": "2026-12-24", "end": "2026-12-30"},  # the last dose the day before the stop
    ]
    assert [s["doseAndRate"][0]["doseQuantity"]["value"] for s in steps] == [400, 200, 100]
    twice_daily = {"frequency": 2, "period": 1, "periodUnit": "d"}
    assert all({k: v for k, v in s["timing"]["repeat"].items() if k != "boundsPeriod"} == twice_daily for s in steps)
    assert request["reasonReference"] == [{"reference": _of_condition(doc, "102878001")}]
    R4B.get_fhir_model_class("MedicationRequest").model_validate(request)
    # A plan without a taper has one instruction; a stopped one says so.
    single = MedicationPlan(
        **{**plan.__dict__, "taper": (), "status": PlanStatus.STOPPED, "stopped_on": dt.date(2026, 11, 1)}
    )
    (request,) = _of(_plan_bundle(single), "MedicationRequest")
    assert request["status"] == "stopped"
    assert [s["timing"]["repeat"]["boundsPeriod"] for s in request["dosageInstruction"]] == [
        {"start": "2026-10-01", "end": "2026-10-31"}
    ]


def test_a_plan_stopped_from_a_later_day_is_active_until_that_day() -> None:
    """The stop date is the first day without a dose: active until then, stopped from that day on."""
    plan = MedicationPlan(
        "progesterone_vaginal", 400, Frequency.TWICE_DAILY, dt.date(2026, 10, 1), Indication.RM_NO_BLEEDING,
        stop=Anchor(date=dt.date(2026, 12, 31)), status=PlanStatus.STOPPED, stopped_on=dt.date(2026, 11, 30),
        stop_reason="Bleeding settled", id=8,
    )  # fmt: skip
    statuses = {}
    for day in (dt.date(2026, 11, 22), dt.date(2026, 11, 29), dt.date(2026, 11, 30), dt.date(2027, 1, 5)):
        (request,) = _of(_plan_bundle(plan, day), "MedicationRequest")
        statuses[day.isoformat()] = request["status"]
        assert request["dosageInstruction"][-1]["timing"]["repeat"]["boundsPeriod"]["end"] == "2026-11-29"
    assert statuses == {
        "2026-11-22": "active",
        "2026-11-29": "active",
        "2026-11-30": "stopped",
        "2027-01-05": "stopped",
    }
    (request,) = _of(_plan_bundle(plan, dt.date(2026, 11, 22)), "MedicationRequest")
    assert "To stop from 2026-11-30 (the first day without a dose): Bleeding settled." in [
        n["text"] for n in request["note"]
    ]
    # a plan that ran to its planned stop is completed from the stop on, active before
    done = MedicationPlan(**{**plan.__dict__, "status": PlanStatus.ACTIVE, "stopped_on": None, "stop_reason": ""})
    assert _of(_plan_bundle(done, dt.date(2026, 12, 30)), "MedicationRequest")[0]["status"] == "active"
    assert _of(_plan_bundle(done, dt.date(2026, 12, 31)), "MedicationRequest")[0]["status"] == "completed"


def test_every_other_day_periods_end_on_their_last_dose() -> None:
    """Doses on days 0, 2, 4, ... of an every-other-day period: a period ending on a rest day ends, in the text
    and the bounds, on the dose day before it (the domain's ``last_dose_day``)."""
    plan = MedicationPlan(
        "progesterone_vaginal", 400, Frequency.ALTERNATE_DAYS, dt.date(2026, 10, 1), Indication.RM_NO_BLEEDING,
        stop=Anchor(date=dt.date(2026, 10, 11)), id=9,
    )  # fmt: skip
    # 1 Oct to 10 Oct is ten days: doses on 1, 3, 5, 7, 9 Oct; 10 Oct is a rest day
    assert last_dose_day(plan, None) == dt.date(2026, 10, 9)
    (request,) = _of(_plan_bundle(plan), "MedicationRequest")
    (dosage,) = request["dosageInstruction"]
    assert dosage["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-10-01", "end": "2026-10-09"}
    assert dosage["timing"]["repeat"]["frequency"] == 1 and dosage["timing"]["repeat"]["period"] == 2
    assert dosage["text"].endswith("from 2026-10-01 to 2026-10-09")
    # a taper step every other day, before a last step
    steps = MedicationPlan(
        **{
            **plan.__dict__,
            "frequency": Frequency.TWICE_DAILY,
            "stop": Anchor(date=dt.date(2026, 10, 20)),
            "taper": apply_template(plan, "halve_quarter"),
        }
    )
    (request,) = _of(_plan_bundle(steps), "MedicationRequest")
    for d in request["dosageInstruction"]:
        bounds = d["timing"]["repeat"]["boundsPeriod"]
        assert d["text"].endswith(f"from {bounds['start']} to {bounds['end']}") or d["text"].endswith("(taper step)")


def test_a_plan_with_no_dose_at_all_has_no_timing_bounds() -> None:
    """A stop on or before the start (a gestation-anchored stop after the EDD moved) leaves no dose: no open-ended
    period, and a text that says so."""
    plan = MedicationPlan(
        "progesterone_vaginal", 400, Frequency.TWICE_DAILY, dt.date(2026, 10, 1), Indication.RM_NO_BLEEDING,
        stop=Anchor(date=dt.date(2026, 10, 1)), id=10,
    )  # fmt: skip
    (request,) = _of(_plan_bundle(plan), "MedicationRequest")
    (dosage,) = request["dosageInstruction"]
    assert "timing" not in dosage and "doseAndRate" not in dosage
    assert dosage["text"].startswith("No doses: the stop is on or before the start")
    R4B.get_fhir_model_class("MedicationRequest").model_validate(request)


def _of_condition(doc: dict[str, Any], snomed: str) -> str:
    for e in doc["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Condition" and {"system": "http://snomed.info/sct", "code": snomed} in r["code"].get(
            "coding", []
        ):
            return str(e["fullUrl"])
    raise AssertionError(f"no Condition coded {snomed}")


def test_partner_care_plan_and_follow_ups_are_linked(demo: Services) -> None:
    doc = demo.transfer.export_fhir()
    urls = _by_url(doc)
    for rp in _of(doc, "RelatedPerson"):
        assert urls[rp["patient"]["reference"]]["resourceType"] == "Patient"
    plans = _of(doc, "CarePlan")
    assert len(plans) == 40
    planned = {a["reference"]["reference"] for p in plans for a in p.get("activity", [])}
    for e in doc["entry"]:
        r = e["resource"]
        if r["resourceType"] in ("MedicationRequest", "Appointment") or (
            r["resourceType"] == "ServiceRequest" and r["status"] == "active"
        ):
            assert e["fullUrl"] in planned, r
    # each care plan lists only its own patient's requests
    for p in plans:
        for a in p.get("activity", []):
            target = urls[a["reference"]["reference"]]
            assert target.get("subject", target.get("participant", [{}])[0].get("actor")) == p["subject"]
    cervix = [o for o in _of(doc, "Observation") if o["code"].get("coding", [{}])[0].get("code") == "11961-0"]
    assert cervix and all(o["valueQuantity"]["code"] == "mm" for o in cervix)
    assert all(urls[o["basedOn"][0]["reference"]]["resourceType"] == "ServiceRequest" for o in cervix)


def test_alerts_about_a_plan_or_a_result_implicate_it(demo: Services) -> None:
    """An alert whose episode names a medication plan ("plan:<drug>:<start>") or a result ("item:<test>:<sample
    date>") implicates that MedicationRequest or Observation (or the ServiceRequest of a test not yet resulted)."""
    doc = demo.transfer.export_fhir()
    urls = _by_url(doc)
    patient_of = {
        e["fullUrl"]: e["resource"]["identifier"][0]["value"]
        for e in doc["entry"]
        if e["resource"]["resourceType"] == "Patient"
    }
    issues: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for issue in _of(doc, "DetectedIssue"):
        rule = issue["detail"].split("(Rule ")[1].split(" ")[0]
        issues.setdefault((patient_of[issue["patient"]["reference"]], rule), []).append(issue)
    expected: dict[tuple[str, str], str] = {}  # (patient, rule) whose one alert names a plan or an item
    for record in _records(demo):
        views = demo.alerts.for_patient(record.id)
        rules = Counter(v.alert.rule.id for v in views)
        for v in views:
            if rules[v.alert.rule.id] == 1 and v.alert.episode.startswith(("plan:", "item:")):
                expected[(record.data.hospital_number, v.alert.rule.id)] = v.alert.episode.split(":")[0]
    kinds = {"plan": {"MedicationRequest"}, "item": {"Observation", "ServiceRequest"}}
    assert {"plan", "item"} <= set(expected.values())
    for (hosp, rule), kind in expected.items():
        (issue,) = issues[(hosp, rule)]
        assert issue["implicated"], (hosp, rule)
        for ref in issue["implicated"]:
            target = urls[ref["reference"]]
            assert target["resourceType"] in kinds[kind]
            assert target["subject"] == issue["patient"]
    implicated = [i for found in issues.values() for i in found if "implicated" in i]
    assert {urls[r["reference"]]["resourceType"] for i in implicated for r in i["implicated"]} >= {
        "MedicationRequest",
        "Observation",
    }
    R4B.get_fhir_model_class("DetectedIssue").model_validate(implicated[0])


def test_alert_answers_become_mitigation_and_the_evidence_link_the_reference(demo: Services) -> None:
    hosp = _patient_with_alerts(demo)
    ack, over, left = _answer_two_alerts(demo, hosp)
    doc = demo.transfer.export_fhir([hosp])
    issues = {}
    for issue in _of(doc, "DetectedIssue"):
        rule = issue["detail"].split("(Rule ")[1].split(" ")[0]
        issues[rule] = issue
    assert {ack, over, left} <= issues.keys()
    (m,) = issues[ack]["mitigation"]
    assert m["action"]["text"] == "Acknowledged"
    assert m["author"] == {"display": "consultant"}
    assert m["date"] == "2026-11-22T09:30:00Z"
    (m,) = issues[over]["mitigation"]
    assert m["action"]["text"] == "Overridden: Patient declined (Discussed)"
    assert "mitigation" not in issues[left]
    rules = {r.id: r for r in demo.alerts.rule_set().rules}
    for rule_id, issue in issues.items():
        assert issue["severity"] in {"high", "moderate", "low"}
        citation_links = {c.link for c in rules[rule_id].citations}
        if any(citation_links):
            assert issue["reference"] in citation_links
            assert issue["reference"].startswith("https://")


def test_patient_option_limits_the_bundle_and_an_unknown_number_is_refused(demo: Services) -> None:
    doc = demo.transfer.export_fhir(["rm000002"])  # normalised as the native export does
    (patient,) = _of(doc, "Patient")
    assert patient["identifier"][0]["value"] == "RM000002"
    assert "system" not in patient["identifier"][0]  # no system configured: none invented
    own = next(e["fullUrl"] for e in doc["entry"] if e["resource"]["resourceType"] == "Patient")
    assert {s["reference"] for key in ("subject", "patient") for s in _walk(doc, key)} == {own}
    with pytest.raises(DomainError, match="No patient with hospital number RM999999"):
        demo.transfer.export_fhir(["RM000001", "RM999999"])


def test_identifiers_and_the_clinic_identifier_system(demo: Services) -> None:
    act_as(demo, Role.ADMIN)
    with pytest.raises(ValidationError):
        demo.settings.set("fhir_hospital_number_system", "not a uri")
    for bad in (
        "urn:oid:1.2.x",
        "urn:oid:1",  # one arc
        "urn:oid:3.2.826",  # the first arc is 0, 1 or 2
        "urn:oid:1.02.826",  # no leading zeros
        "urn:oid:1..2",
        "urn:uuid:",
        "urn:uuid:not-a-uuid",
        "urn:uuid:6F4C1C3A-2D6B-4E0D-9C27-6C51B1B1E6B1",  # FHIR's uuid is lower case
        "urn:uuid:6f4c1c3a2d6b4e0d9c276c51b1b1e6b1",  # without its hyphens
    ):
        with pytest.raises(ValidationError):
            demo.settings.set("fhir_hospital_number_system", bad)
    for good in ("urn:uuid:6f4c1c3a-2d6b-4e0d-9c27-6c51b1b1e6b1", "urn:oid:2.16.840.1.113883.2.1.4.1", "urn:oid:0.0"):
        demo.settings.set("fhir_hospital_number_system", good)
    demo.settings.set("fhir_hospital_number_system", "urn:oid:1.2.826.0.1.999")
    doc = demo.transfer.export_fhir(["RM000003"])
    (patient,) = _of(doc, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.826.0.1.999"
    record = demo.patients.find_by_hospital_number("RM000003")
    assert record is not None
    nhs = [i for i in patient["identifier"] if i.get("system") == "https://fhir.nhs.uk/Id/nhs-number"]
    assert [i["value"] for i in nhs] == ([record.data.nhs_number] if record.data.nhs_number else [])


def test_identifiers_differ_between_installations_and_hide_the_hospital_number(
    demo: Services, clock: FixedClock, tmp_path: Path
) -> None:
    """Each installation mixes its own random secret into the ids: the same demo data in two databases gives two
    sets of ids (no collision when bundles meet), the same database gives the same ids every time, and no id is the
    uuid5 of the hospital number in rmclinic's published namespace (which anyone could recompute)."""
    first = demo.transfer.export_fhir(["RM000001"])
    assert demo.transfer.export_fhir(["RM000001"]) == first
    other = build_services(f"sqlite:///{tmp_path / 'other-clinic.sqlite3'}", clock=clock)
    try:
        act_as(other)
        other.demo.create(40, seed=3, today=TODAY)
        elsewhere = other.transfer.export_fhir(["RM000001"])
    finally:
        other.close()
    assert [e["resource"]["resourceType"] for e in first["entry"]] == [
        e["resource"]["resourceType"] for e in elsewhere["entry"]
    ]
    ours = {e["fullUrl"] for e in first["entry"]}
    assert not ours & {e["fullUrl"] for e in elsewhere["entry"]}
    (patient,) = [e["fullUrl"] for e in first["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient != f"urn:uuid:{uuid.uuid5(NAMESPACE, 'patient/RM000001/patient')}"
    # the secret is made once, kept out of the settings screen, and its value never reaches the audit trail
    act_as(demo, Role.ADMIN)
    assert "fhir_identifier_secret" not in demo.settings.all()
    trail, _ = demo.audit.query(AuditFilter(action="settings_change"), limit=100)
    made = [e for e in trail if "fhir_identifier_secret" in e.details]
    assert len(made) == 1
    assert json.loads(made[0].details) == {"fhir_identifier_secret": [None, "(a new random secret)"]}


def test_export_is_deterministic_audited_and_needs_the_export_permission(demo: Services) -> None:
    first = demo.transfer.export_fhir()
    second = demo.transfer.export_fhir()
    assert first == second  # same data, same clock: the same bundle, identifiers included
    pids = [r.id for r in _records(demo)]
    act_as(demo, Role.ADMIN)
    trail, _ = demo.audit.query(AuditFilter(action="export"), limit=1000)
    fhir = [e for e in trail if json.loads(e.details) == {"format": "fhir-r4"}]
    assert Counter(e.patient_id for e in fhir) == Counter({pid: 2 for pid in pids})
    act_as(demo, Role.NURSE)
    with pytest.raises(PermissionDenied):
        demo.transfer.export_fhir()


@pytest.fixture
def demo_cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    assert main(["--database", sqlite_url, "demo-data", "--patients", "8", "--today", TODAY.isoformat()]) == 0
    return sqlite_url


def test_command_line_writes_an_owner_only_file_and_prints_one_line(
    demo_cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out = tmp_path / "all.json"
    assert main(["--database", demo_cli, "export-fhir", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    assert printed.startswith("exported 8 patients (")
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_bytes().count(b"\n") == 1  # compact JSON (no indent: a third of the size), one final newline
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(_of(doc, "Patient")) == 8
    one = tmp_path / "one.json"
    assert (
        main(["--database", demo_cli, "export-fhir", "--patient", "RM000002", "--patient", "RM000004", "-o", str(one)])
        == 0
    )
    doc = json.loads(one.read_text(encoding="utf-8"))
    assert sorted(p["identifier"][0]["value"] for p in _of(doc, "Patient")) == ["RM000002", "RM000004"]


def test_command_line_unknown_patient_is_one_clear_line(
    demo_cli: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out = tmp_path / "x.json"
    assert main(["--database", demo_cli, "export-fhir", "--patient", "RM999999", "-o", str(out)]) != 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "No patient with hospital number RM999999" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


@pytest.fixture
def sqlite_demo(sqlite_services: Services) -> Services:
    sqlite_services.demo.create(12, seed=3, today=TODAY)
    return sqlite_services


@pytest.mark.parametrize("export", ["export", "export_fhir"])
def test_another_workstation_can_save_while_an_export_reads(
    sqlite_demo: Services, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, export: str
) -> None:
    """The records are read (and the alerts evaluated) in a read-only transaction: on SQLite a writer's
    transaction would hold the database's write lock for the whole read, and every other workstation's save
    would wait for it, or time out. Here another connection takes the write lock in the middle of the read."""
    path = sqlite_file(sqlite_url)
    assert path is not None
    read = TransferService._read
    saves: list[str] = []

    def read_while_another_saves(uow: Any, ids: Sequence[int]) -> Any:
        out = read(uow, ids)
        con = sqlite3.connect(path, timeout=0.2, isolation_level=None)  # a short wait: the lock is free or not
        try:
            con.execute("BEGIN IMMEDIATE")  # what a save on another workstation does first
            con.execute("ROLLBACK")
            saves.append("saved")
        except sqlite3.OperationalError as e:
            saves.append(str(e))
        finally:
            con.close()
        return out

    monkeypatch.setattr(TransferService, "_read", staticmethod(read_while_another_saves))
    getattr(sqlite_demo.transfer, export)(["RM000001", "RM000002"])
    assert saves == ["saved"]
    # and the audit entries were still written, before the export returned
    act_as(sqlite_demo, Role.ADMIN)
    trail, _ = sqlite_demo.audit.query(AuditFilter(action="export"), limit=100)
    assert len(trail) == 2


def _count_statements(svc: Services, work: Callable[[], object]) -> int:
    with svc.transfer._uow(read_only=True) as uow:
        engine = uow.session.get_bind()  # type: ignore[attr-defined]
    count = 0

    def counted(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", counted)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count


def test_exports_read_in_bulk_not_patient_by_patient(demo: Services) -> None:
    """A few queries per 500 patients (the bulk readers), not six per patient: 40 patients take about as many
    statements as 2."""
    few = _count_statements(demo, lambda: demo.transfer.export_fhir(["RM000001", "RM000002"]))
    every = _count_statements(demo, lambda: demo.transfer.export_fhir())
    assert every <= few + 2, (few, every)
    native_few = _count_statements(demo, lambda: demo.transfer.export(["RM000001", "RM000002"]))
    native_every = _count_statements(demo, lambda: demo.transfer.export())
    assert native_every <= native_few + 2, (native_few, native_every)


class _EveningClock(FixedClock):
    """23:30 UTC on 22 November, already the 23rd where the clinic is (UTC+1)."""

    def today(self) -> dt.date:
        return (self.at + dt.timedelta(hours=1)).date()


def test_the_export_day_is_the_clinic_clocks_today(tmp_path: Path) -> None:
    """The alerts are evaluated on the service clock's today (local); the bundle uses the same day, not the UTC
    date of the export time."""
    clock = _EveningClock(dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC))
    svc = build_services(f"sqlite:///{tmp_path / 'evening.sqlite3'}", clock=clock)
    try:
        act_as(svc)
        svc.demo.create(3, seed=3, today=TODAY)
        doc = svc.transfer.export_fhir()
    finally:
        svc.close()
    counts = [o for o in _of(doc, "Observation") if "valueInteger" in o]
    assert counts and {o["effectiveDateTime"] for o in counts} == {"2026-11-23"}
    assert doc["timestamp"] == "2026-11-22T23:30:00Z"


def test_a_drug_allergy_has_its_clinical_and_verification_status() -> None:
    data = PatientData("RM9", "Okafor", "Beth", dt.date(1990, 6, 1), risk=RiskHistory(drug_allergies=("penicillin",)))
    ctx = ExportContext(dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), "0.test", "consultant", "2026.1")
    doc = bundle([PatientExport(data, False, (), (), (), (), ())], merged_catalogue(), ctx)
    (allergy,) = _of(doc, "AllergyIntolerance")
    assert allergy["clinicalStatus"] == {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]
    }
    assert allergy["verificationStatus"] == {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "unconfirmed"}
        ]
    }
    assert not _invariant_problems(doc)
    R4B.get_fhir_model_class("AllergyIntolerance").model_validate(allergy)
