"""Export/import of complete records: lossless round trip; invalid files rejected whole, with paths."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import act_as
from jsonschema import Draft202012Validator

from rmclinic.domain.accounts import Role
from rmclinic.services.container import Services
from rmclinic.services.transfer import ImportRejected, load_schema


def test_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(load_schema())


def test_round_trip_keeps_every_patient(
    db_url: str, services: Services, tmp_path_factory: pytest.TempPathFactory
) -> None:
    services.demo.create(60, seed=11)
    first = services.transfer.export()
    assert first["format"] == {"name": "rmclinic-patients", "version": 2}
    assert sum(len(p["investigations"]) for p in first["patients"]) > 60  # the workup travels too
    Draft202012Validator(load_schema()).validate(first)
    from rmclinic.app import build_services
    from rmclinic.domain.clock import SystemClock

    other_url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.sqlite3'}"
    other = build_services(other_url, clock=SystemClock())
    act_as(other, Role.ADMIN)
    try:
        assert other.transfer.import_document(json.loads(json.dumps(first))) == 60
        second = other.transfer.export()
    finally:
        other.close()
    assert second["patients"] == first["patients"]
    assert any(p["archived"] for p in first["patients"]) or len(first["patients"]) < 100


def test_selected_patients_only(services: Services) -> None:
    services.demo.create(5, seed=2)
    doc = services.transfer.export(["rm000002", "RM000001"])
    assert [p["hospital_number"] for p in doc["patients"]] == ["RM000001", "RM000002"]


def test_invalid_file_is_rejected_whole_with_json_paths(services: Services) -> None:
    act_as(services, Role.ADMIN)
    services.demo.create(3, seed=2)
    doc = services.transfer.export()
    services.demo.create(1, seed=9, force=True)  # empty-ish target: one patient RM000001
    bad = copy.deepcopy(doc)
    for p in bad["patients"]:
        p["hospital_number"] = "NEW" + p["hospital_number"]
        p["nhs_number"] = None
    bad["patients"][1]["date_of_birth"] = "2031-01-01"
    bad["patients"][2]["previous_pregnancies"][0].update(outcome="early_miscarriage", gestation_days=100)
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(bad)
    paths = {p.path for p in e.value.problems}
    assert "$.patients[1].date_of_birth" in paths
    assert "$.patients[2].previous_pregnancies[0].gestation_days" in paths
    assert services.patients.count() == 1  # nothing written


def test_schema_errors_name_the_path(services: Services) -> None:
    act_as(services, Role.ADMIN)
    doc = {
        "format": {"name": "rmclinic-patients", "version": 1},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [
            {
                "hospital_number": "A1",
                "family_name": "X",
                "given_name": "Y",
                "date_of_birth": "1990-01-01",
                "previous_pregnancies": [{"year": 2020, "outcome": "abortion"}],
                "surprise": 1,
            }
        ],
    }
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    paths = {p.path for p in e.value.problems}
    assert "$.patients[0].previous_pregnancies[0].outcome" in paths
    assert "$.patients[0]" in paths  # the unexpected property
    assert services.patients.count() == 0


def test_wrong_format_version_is_refused(services: Services) -> None:
    act_as(services, Role.ADMIN)
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(
            {
                "format": {"name": "rmclinic-patients", "version": 3},
                "exported_at": "2026-11-22T10:00:00Z",
                "patients": [],
            }
        )
    assert e.value.problems[0].path == "$.format.version"


def test_patients_already_present_are_refused(services: Services) -> None:
    act_as(services, Role.ADMIN)
    services.demo.create(3, seed=2)
    doc = services.transfer.export()
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    assert "$.patients[0].hospital_number" in {p.path for p in e.value.problems}
    assert services.patients.count() == 3


def test_version_1_files_still_import(services: Services) -> None:
    act_as(services, Role.ADMIN)
    doc = {
        "format": {"name": "rmclinic-patients", "version": 1},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [
            {"hospital_number": "OLD1", "family_name": "Old", "given_name": "Format", "date_of_birth": "1990-01-01"}
        ],
    }
    assert services.transfer.import_document(doc) == 1


def test_workup_in_an_import_is_checked_against_the_catalogue(services: Services) -> None:
    act_as(services, Role.ADMIN)
    patient = {
        "hospital_number": "W1",
        "family_name": "Work",
        "given_name": "Up",
        "date_of_birth": "1990-01-01",
        "investigations": [
            {
                "investigation_id": "tsh",
                "status": "resulted",
                "sample_date": "2026-10-01",
                "value": {"numeric": 52, "unit": "mIU/L"},
            },
            {"investigation_id": "no_such_test", "status": "requested"},
            {"investigation_id": "la", "status": "requested", "value": {"text": "positive"}},
        ],
    }
    doc = {
        "format": {"name": "rmclinic-patients", "version": 2},
        "exported_at": "2026-11-22T10:00:00Z",
        "patients": [patient],
    }
    with pytest.raises(ImportRejected) as e:
        services.transfer.import_document(doc)
    paths = {p.path for p in e.value.problems}
    assert paths == {
        "$.patients[0].investigations[0].value.value",
        "$.patients[0].investigations[1].investigation_id",
        "$.patients[0].investigations[2].value",
    }
    assert services.patients.count() == 0
