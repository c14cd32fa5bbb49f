"""FHIR R4 export (docs/fhir-export.md): every resource valid against fhir.resources' models, every reference
resolving inside the bundle, only verified codes, tapers as sequenced dosage, alert answers as mitigation, the
command line contract and the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fhir.resources.R4B as R4B
import pytest
from conftest import TODAY, act_as

from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.errors import DomainError, ValidationError
from rmclinic.domain.investigations import is_valid_loinc
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan, PlanStatus, apply_template
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import Partner, PatientData
from rmclinic.rules.lifecycle import EventKind, OverrideReason, Status
from rmclinic.services.catalogue import merged_catalogue
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.fhir import ExportContext, PatientExport, bundle
from rmclinic.services.session import PermissionDenied

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
    assert set(targets) <= set(urls), set(targets) - set(urls)


def test_the_validator_catches_a_broken_resource(demo: Services) -> None:
    """The check above can fail: a resource with a wrong field, or a reference to nowhere, is caught."""
    doc = demo.transfer.export_fhir(["RM000001"])
    observation = dict(_of(doc, "Observation")[0])
    observation["valueQuantity"] = {"value": "not a number"}
    with pytest.raises(ValueError, match="valid"):
        R4B.get_fhir_model_class("Observation").model_validate(observation)
    urls = {e["fullUrl"] for e in doc["entry"]}
    assert "urn:uuid:00000000-0000-0000-0000-000000000000" not in urls


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
    # A code the evidence base leaves unverified is text only: Factor V Leiden has no code at all.
    texts = {o["code"]["text"]: o["code"] for o in _of(doc, "Observation")}
    assert all("coding" not in code for name, code in texts.items() if "Factor V" in name or "Protein" in name)
    septate = [c for c in _of(doc, "Condition") if "Uterine finding" in c["code"]["text"]]
    assert all("coding" not in c["code"] for c in septate)


def _plan_bundle(plan: MedicationPlan) -> dict[str, Any]:
    data = PatientData(
        "RM9", "Okafor", "Beth", dt.date(1990, 6, 1), partner=Partner("Okafor", "Chidi"),
        pregnancies=tuple(PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 4, 2), 49) for y in YEARS),
    )  # fmt: skip
    ctx = ExportContext(dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), "0.test", "consultant", "2026.1")
    export = PatientExport(data, False, (), (), (plan,), (), ())
    return bundle([export], merged_catalogue(), ctx)


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
    with pytest.raises(ValidationError):
        demo.settings.set("fhir_hospital_number_system", "urn:oid:1.2.x")
    demo.settings.set("fhir_hospital_number_system", "urn:oid:1.2.826.0.1.999")
    doc = demo.transfer.export_fhir(["RM000003"])
    (patient,) = _of(doc, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.826.0.1.999"
    record = demo.patients.find_by_hospital_number("RM000003")
    assert record is not None
    nhs = [i for i in patient["identifier"] if i.get("system") == "https://fhir.nhs.uk/Id/nhs-number"]
    assert [i["value"] for i in nhs] == ([record.data.nhs_number] if record.data.nhs_number else [])


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
