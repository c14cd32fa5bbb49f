"""The patient registry through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from rmclinic.domain.errors import ConflictError, DuplicateError, ValidationError
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import CervicalExcision, Partner, PatientData, RiskHistory
from rmclinic.services.container import Services
from rmclinic.services.dto import PatientQuery
from rmclinic.services.patients import PossibleDuplicate


def person(hosp: str, family: str, given: str, dob: dt.date, nhs: str = "", **kw: object) -> PatientData:
    return PatientData(
        hospital_number=hosp,
        family_name=family,
        given_name=given,
        date_of_birth=dob,
        nhs_number=nhs,
        **kw,  # type: ignore[arg-type]
    )


AMIRA = person(
    "RM1",
    "Haddad",
    "Amira",
    dt.date(1992, 3, 14),
    "9434765919",
    partner=Partner("Haddad", "Omar", dt.date(1990, 8, 2)),
    risk=RiskHistory(
        smoking="current",
        height_cm=163,
        weight_kg=71,
        drug_allergies=("Penicillin",),
        cervical_excisions=(CervicalExcision(year=2015, depth_mm=9),),
    ),
    pregnancies=(
        PreviousPregnancy(2023, Outcome.EARLY_MISCARRIAGE, gestation_days=44),
        PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE, gestation_days=56),
        PreviousPregnancy(2025, Outcome.EARLY_MISCARRIAGE, gestation_days=53),
    ),
)


def names(services: Services, text: str, **kw: object) -> list[str]:
    page = services.patients.search(PatientQuery(text=text, **kw))  # type: ignore[arg-type]
    return [f"{r.given_name} {r.family_name}" for r in page.rows]


def test_register_and_read_back_everything(services: Services) -> None:
    rec = services.patients.register(AMIRA)
    got = services.patients.get(rec.id)
    assert got.data == AMIRA
    assert got.summary.total_losses == 3
    assert got.summary.meets_rcog
    assert got.data.risk.bmi == 26.7


def test_search_by_name_accent_number_and_date(services: Services) -> None:
    services.patients.register(AMIRA)
    services.patients.register(person("RM2", "Wiśniewska", "Łucja", dt.date(1995, 5, 2), "9990000018"))
    services.patients.register(person("XY77", "Nguyễn", "Thu", dt.date(1988, 1, 9)))
    assert names(services, "lucja") == ["Łucja Wiśniewska"]
    assert names(services, "WISN") == ["Łucja Wiśniewska"]
    assert names(services, "nguyen t") == ["Thu Nguyễn"]
    assert names(services, "xy7") == ["Thu Nguyễn"]
    assert names(services, "999 000") == ["Łucja Wiśniewska"]
    assert names(services, "14/03/1992") == ["Amira Haddad"]
    assert names(services, "zzz") == []
    assert len(names(services, "")) == 3


def test_sorting_and_paging_happen_in_the_database(services: Services) -> None:
    for i in range(25):
        services.patients.register(
            person(f"P{i:03d}", f"Family{'abcde'[i % 5]}", f"Given{chr(65 + i)}", dt.date(1990, 1, 1 + i))
        )
    page = services.patients.search(PatientQuery(sort="date_of_birth", descending=True), offset=10, limit=10)
    assert page.total == 25
    assert len(page.rows) == 10
    assert page.rows[0].date_of_birth == dt.date(1990, 1, 15)
    first = services.patients.search(PatientQuery(sort="name"), 0, 5).rows
    assert [r.family_name for r in first] == ["Familya"] * 5


def test_duplicate_numbers_are_refused_and_names_ask(services: Services) -> None:
    services.patients.register(AMIRA)
    with pytest.raises(DuplicateError) as e:
        services.patients.register(person(" rm1 ", "Other", "Person", dt.date(1990, 1, 1)))
    assert e.value.field == "hospital_number"
    with pytest.raises(DuplicateError) as e:
        services.patients.register(person("RM9", "Other", "Person", dt.date(1990, 1, 1), "943 476 5919"))
    assert e.value.field == "nhs_number"
    with pytest.raises(PossibleDuplicate) as dup:
        services.patients.register(person("RM3", "HADDAD", "amira", dt.date(1992, 3, 14)))
    assert [m.hospital_number for m in dup.value.matches] == ["RM1"]
    services.patients.register(person("RM3", "HADDAD", "amira", dt.date(1992, 3, 14)), confirm_possible_duplicate=True)
    assert services.patients.count() == 2


def test_second_save_from_a_stale_copy_is_refused(services: Services) -> None:
    rec = services.patients.register(AMIRA)
    from dataclasses import replace

    first = services.patients.update_demographics(rec.id, rec.version, replace(AMIRA, phone="01234 567890"))
    assert first.version == rec.version + 1
    with pytest.raises(ConflictError):
        services.patients.update_demographics(rec.id, rec.version, replace(AMIRA, phone="09999 999999"))
    assert services.patients.get(rec.id).data.phone == "01234 567890"


def test_partner_only_change_still_bumps_the_version(services: Services) -> None:
    from dataclasses import replace

    rec = services.patients.register(AMIRA)
    after = services.patients.update_demographics(rec.id, rec.version, replace(AMIRA, partner=None))
    assert after.data.partner is None
    assert after.version > rec.version


def test_archive_hides_from_list_until_asked(services: Services) -> None:
    rec = services.patients.register(AMIRA)
    services.patients.set_archived(rec.id, rec.version, True)
    assert names(services, "amira") == []
    assert names(services, "amira", include_archived=True) == ["Amira Haddad"]
    assert services.patients.get(rec.id).archived


def test_history_edits(services: Services) -> None:
    rec = services.patients.register(AMIRA)
    after = services.patients.add_pregnancy(
        rec.id, PreviousPregnancy(2026, Outcome.LATE_MISCARRIAGE, gestation_days=119)
    )
    assert after.summary.second_trimester_losses == 1
    newest = after.pregnancy_records[-1]
    with pytest.raises(ValidationError):
        services.patients.update_pregnancy(
            rec.id, newest.id, newest.version, PreviousPregnancy(2026, Outcome.LATE_MISCARRIAGE, gestation_days=70)
        )
    after = services.patients.remove_pregnancy(rec.id, newest.id, newest.version)
    assert after.summary.total_losses == 3
    risk = services.patients.update_risk(rec.id, after.risk_version, RiskHistory(smoking="former"))
    assert risk.data.risk.smoking == "former"
    assert risk.data.risk.drug_allergies == ()
    with pytest.raises(ConflictError):
        services.patients.update_risk(rec.id, after.risk_version, RiskHistory(smoking="never"))


def test_failed_registration_writes_nothing(services: Services) -> None:
    bad = person(
        "RM5", "Valid", "Name", dt.date(1990, 1, 1), pregnancies=(PreviousPregnancy(1800, Outcome.LIVE_BIRTH),)
    )
    with pytest.raises(ValidationError):
        services.patients.register(bad)
    assert services.patients.count() == 0
