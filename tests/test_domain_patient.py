"""Registration validation: every problem reported at its field, in plain words."""

from __future__ import annotations

import datetime as dt

import pytest

from rmclinic.domain.errors import ValidationError
from rmclinic.domain.patient import CervicalExcision, Partner, PatientData, RiskHistory, validate_patient

TODAY = dt.date(2026, 11, 22)


def data(**kw: object) -> PatientData:
    base: dict[str, object] = {
        "hospital_number": "rm 123",
        "family_name": "Haddad",
        "given_name": "Amira",
        "date_of_birth": dt.date(1992, 3, 14),
    }
    base.update(kw)
    return PatientData(**base)  # type: ignore[arg-type]


def test_valid_patient_is_normalised() -> None:
    clean = validate_patient(data(nhs_number="943 476 5919", family_name="  Haddad  "), TODAY)
    assert clean.hospital_number == "RM123"
    assert clean.nhs_number == "9434765919"
    assert clean.family_name == "Haddad"


def test_every_problem_is_reported_with_its_field() -> None:
    with pytest.raises(ValidationError) as e:
        validate_patient(
            data(
                hospital_number="",
                nhs_number="9434765918",
                given_name="",
                date_of_birth=dt.date(2027, 1, 1),
                email="not-an-email",
                partner=Partner(""),
                risk=RiskHistory(height_cm=16.5, cervical_excisions=(CervicalExcision(depth_mm=90),)),
            ),
            TODAY,
        )
    fields = {p.field for p in e.value.problems}
    assert fields == {
        "hospital_number",
        "nhs_number",
        "given_name",
        "date_of_birth",
        "email",
        "partner.family_name",
        "risk.height_cm",
        "risk.cervical_excisions.0.depth_mm",
    }
    assert e.value.for_field("date_of_birth") == ["Date of birth cannot be in the future."]


def test_implausible_age_names_the_age() -> None:
    with pytest.raises(ValidationError) as e:
        validate_patient(data(date_of_birth=dt.date(1926, 1, 1)), TODAY)
    assert "Age would be 100" in e.value.for_field("date_of_birth")[0]


def test_bmi_is_derived() -> None:
    assert RiskHistory(height_cm=163, weight_kg=71).bmi == 26.7
    assert RiskHistory(height_cm=163).bmi is None


def test_unicode_names_are_kept() -> None:
    clean = validate_patient(data(family_name="Nguyễn", given_name="Łucja Zoë"), TODAY)
    assert (clean.family_name, clean.given_name) == ("Nguyễn", "Łucja Zoë")
