"""Malformed input at every service entry point: a clear validation error, and the database unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import act_as
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmclinic.app import build_services
from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.errors import DomainError, ValidationError
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import CervicalExcision, Partner, PatientData, RiskHistory
from rmclinic.services.container import Services
from rmclinic.services.dto import PatientQuery

nasty_text = st.one_of(
    st.text(max_size=30),
    st.integers(10_001, 12_000).map(lambda n: "x" * n),
    st.sampled_from(["\x00", "a\x07b", "\ud800", "Robert'); DROP TABLE patient;--", "💥" * 50, " ", ""]),
)
anything = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    nasty_text,
    st.dates(),
    st.datetimes(),
    st.lists(st.integers(), max_size=3),
    st.just(object()),
)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    s = build_services(
        f"sqlite:///{tmp_path_factory.mktemp('bad') / 'bad.sqlite3'}",
        clock=FixedClock(dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)),
    )
    act_as(s, Role.CONSULTANT)
    s.patients.register(PatientData("BASE1", "Base", "Line", dt.date(1990, 1, 1)))
    yield s
    s.close()


def _snapshot(svc: Services) -> Any:
    act_as(svc, Role.ADMIN)
    exported = svc.transfer.export()["patients"]
    act_as(svc, Role.CONSULTANT)
    return exported


VALID = {
    "hospital_number": "RM77",
    "family_name": "Valid",
    "given_name": "Person",
    "date_of_birth": dt.date(1990, 5, 5),
}
FIELDS = [
    "hospital_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "nhs_number",
    "phone",
    "email",
    "address",
    "gp_practice",
    "notes",
    "partner",
    "risk",
    "pregnancies",
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(field=st.sampled_from(FIELDS), value=anything)
def test_register_with_any_bad_field(svc: Services, field: str, value: Any) -> None:
    before = _snapshot(svc)
    data = PatientData(**VALID)
    object.__setattr__(data, field, value)
    try:
        svc.patients.register(data, confirm_possible_duplicate=True)
    except ValidationError as e:
        assert e.problems and all(p.message for p in e.problems)
        assert _snapshot(svc) == before
    except DomainError:
        assert _snapshot(svc) == before
    else:  # the value happened to be acceptable: then it must be stored exactly as given, normalised
        after = _snapshot(svc)
        assert len(after) == len(before) + 1
        act_as(svc, Role.ADMIN)
        # a valid hospital number typed differently (e.g. "q") is stored normalised: export what was stored
        from rmclinic.domain.identifiers import normalise_hospital_number

        stored = normalise_hospital_number(str(data.hospital_number))
        svc.transfer.export([stored])  # readable back
        # remove it again for the next example (through the database: patients are never deleted)
        from sqlalchemy import text

        from rmclinic.persistence.db import make_engine

        eng = make_engine(svc.database_label)
        with eng.begin() as c:
            pid = c.execute(text("SELECT id FROM patient WHERE hospital_number = :h"), {"h": stored}).scalar()
            for t in ("drug_allergy", "cervical_excision", "previous_pregnancy", "risk_history", "partner"):
                c.execute(text(f"DELETE FROM {t} WHERE patient_id = :p"), {"p": pid})
            c.execute(text("DELETE FROM patient WHERE id = :p"), {"p": pid})
        eng.dispose()
        act_as(svc, Role.CONSULTANT)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    year=st.one_of(st.integers(-10, 5000), anything),
    gestation=st.one_of(st.integers(-100, 1000), anything),
    fetuses=st.one_of(st.integers(-5, 50), anything),
    notes=nasty_text,
)
def test_pregnancy_with_bad_values(svc: Services, year: Any, gestation: Any, fetuses: Any, notes: Any) -> None:
    pid = 1
    before = _snapshot(svc)
    p = PreviousPregnancy(2020, Outcome.EARLY_MISCARRIAGE)
    for k, v in (("year", year), ("gestation_days", gestation), ("fetuses", fetuses), ("notes", notes)):
        object.__setattr__(p, k, v)
    try:
        svc.patients.add_pregnancy(pid, p)
    except ValidationError:
        assert _snapshot(svc) == before
        return
    rec = svc.patients.get(pid)
    added = rec.pregnancy_records[-1]
    assert added.data == p
    svc.patients.remove_pregnancy(pid, added.id, added.version)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(height=anything, weight=anything, alcohol=anything, smoking=anything, allergy=nasty_text, depth=anything)
def test_risk_with_bad_values(
    svc: Services, height: Any, weight: Any, alcohol: Any, smoking: Any, allergy: Any, depth: Any
) -> None:
    rec = svc.patients.get(1)
    before = _snapshot(svc)
    risk = RiskHistory()
    for k, v in (
        ("height_cm", height),
        ("weight_kg", weight),
        ("alcohol_units_per_week", alcohol),
        ("smoking", smoking),
        ("drug_allergies", (allergy,)),
        ("cervical_excisions", (CervicalExcision(depth_mm=depth),)),
    ):
        object.__setattr__(risk, k, v)
    try:
        svc.patients.update_risk(rec.id, rec.risk_version, risk)
    except ValidationError:
        assert _snapshot(svc) == before
        return
    svc.patients.update_risk(rec.id, svc.patients.get(1).risk_version, RiskHistory())


@given(text=anything, sort=anything, offset=anything, limit=anything)
@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_search_with_bad_arguments(svc: Services, text: Any, sort: Any, offset: Any, limit: Any) -> None:
    try:
        svc.patients.search(PatientQuery(text=text, sort=sort), offset, limit)
    except ValidationError as e:
        assert e.problems


def test_partner_of_the_wrong_type(svc: Services) -> None:
    data = PatientData(**VALID, partner="Omar")  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as e:
        svc.patients.register(data)
    assert e.value.problems[0].field == "partner"
    ok = PatientData(**{**VALID, "hospital_number": "RM78"}, partner=Partner("Haddad", "Omar"))
    assert svc.patients.register(ok).data.partner == Partner("Haddad", "Omar")
