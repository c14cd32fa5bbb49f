"""Workup use cases on both databases: request, sample, result, correction, review, the review queue."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import act_as

from rmclinic.domain.accounts import Role
from rmclinic.domain.errors import ValidationError
from rmclinic.domain.investigations import Interpretation
from rmclinic.domain.patient import PatientData
from rmclinic.domain.workup import PanelState, ResultValue, Status
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.session import PermissionDenied

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))
DAY = dt.date(2026, 11, 2)


def state(view, iid: str) -> PanelState:  # type: ignore[no-untyped-def]
    return next(e.state for entries in view.panel.values() for e in entries if e.investigation.id == iid)


def test_request_sample_result_review(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(AMIRA).id
    view = services.workup.request(pid, ["la", "acl_igg", "tsh", "tpo"])
    assert state(view, "la") is PanelState.REQUESTED
    assert services.workup.request(pid, ["la"]).items == view.items  # no duplicate open request
    la = next(i for i in view.items if i.investigation_id == "la")
    view = services.workup.record_sample(pid, la.id, la.version, DAY)
    assert state(view, "la") is PanelState.PENDING
    la = next(i for i in view.items if i.investigation_id == "la")
    view = services.workup.record_result(pid, "la", ResultValue(text="negative"), DAY, la.id, la.version)
    assert state(view, "la") is PanelState.RESULT
    tsh = next(i for i in view.items if i.investigation_id == "tsh")
    with pytest.raises(ValidationError) as bad:
        services.workup.record_result(pid, "tsh", ResultValue(numeric=52, unit="mIU/L"), DAY, tsh.id, tsh.version)
    assert "plausible range" in bad.value.for_field("value")[0]
    view = services.workup.record_result(
        pid, "tsh", ResultValue(numeric=5.2, unit="mIU/L", lab_low=0.4, lab_high=4.0), DAY, tsh.id, tsh.version
    )
    tsh = next(i for i in view.items if i.investigation_id == "tsh")
    assert tsh.interpretation is Interpretation.ABNORMAL and tsh.entered_by == "nina"
    assert view.completeness.done == 2 and view.completeness.total == 6
    with pytest.raises(PermissionDenied):
        services.workup.review(pid, tsh.id, tsh.version)  # nurses do not review
    act_as(services, Role.CONSULTANT, "drlee")
    view = services.workup.review(pid, tsh.id, tsh.version, "Repeat TFTs with TPO")
    tsh = next(i for i in view.items if i.investigation_id == "tsh")
    assert tsh.status is Status.REVIEWED and tsh.reviewed_by == "drlee" and tsh.review_comment


def test_units_are_normalised_and_corrections_keep_history(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    view = services.workup.record_result(pid, "progesterone", ResultValue(numeric=10, unit="ng/mL"), DAY)
    prog = view.items[0]
    assert prog.normalised == pytest.approx(31.8)
    with pytest.raises(ValidationError) as bad:
        services.workup.record_result(
            pid, "progesterone", ResultValue(numeric=10, unit="mg"), DAY, prog.id, prog.version
        )
    assert bad.value.for_field("unit")
    view = services.workup.record_result(
        pid, "progesterone", ResultValue(numeric=12, unit="ng/mL"), DAY, prog.id, prog.version
    )
    corrected = view.items[0]
    assert corrected.value is not None and corrected.value.numeric == 12
    assert [h.value.numeric for h in corrected.history] == [10]


def test_bad_results_are_refused_at_their_field(services: Services) -> None:
    pid = services.patients.register(AMIRA).id
    cases = [
        ("la", ResultValue(text="maybe"), "value"),
        ("karyotype_partner", ResultValue(text="weird"), "value"),
        ("uterine", ResultValue(findings=("normal", "septate"), method="HSG"), "value"),
        ("uterine", ResultValue(findings=("septate",), method="guess"), "method"),
        ("tsh", ResultValue(numeric=3, unit="mIU/L", lab_low=5, lab_high=1), "lab_range"),
        ("tsh", ResultValue(numeric=None, unit="mIU/L"), "value"),
    ]
    for iid, value, field in cases:
        with pytest.raises(ValidationError) as bad:
            services.workup.record_result(pid, iid, value, DAY)
        assert bad.value.for_field(field), (iid, bad.value)
    with pytest.raises(ValidationError, match="future"):
        services.workup.record_result(pid, "la", ResultValue(text="negative"), dt.date(2027, 1, 1))
    assert services.workup.view(pid).items == ()


def test_review_queue_puts_flagged_results_first(services: Services) -> None:
    a = services.patients.register(AMIRA).id
    b = services.patients.register(PatientData("RM2", "Whitfield", "Claire", dt.date(1986, 1, 1))).id
    services.workup.record_result(a, "tsh", ResultValue(numeric=2, unit="mIU/L", lab_low=0.4, lab_high=4), DAY)
    services.workup.record_result(b, "acl_igg", ResultValue(numeric=55, unit="GPL U/mL"), DAY)
    rows, total = services.workup.review_queue()
    assert total == 2
    assert [(r.hospital_number, r.item.investigation_id) for r in rows] == [("RM2", "acl_igg"), ("RM1", "tsh")]
    act_as(services, Role.NURSE)
    with pytest.raises(PermissionDenied):
        services.workup.review_queue()


def test_workup_actions_are_audited(services: Services) -> None:
    act_as(services, Role.NURSE, "nina")
    pid = services.patients.register(AMIRA).id
    services.workup.request(pid, ["uterine"])
    item = services.workup.view(pid).items[0]
    services.workup.record_result(
        pid,
        "uterine",
        ResultValue(findings=("septate",), method="3D transvaginal ultrasound"),
        DAY,
        item.id,
        item.version,
    )
    act_as(services, Role.ADMIN)
    entries, _ = services.audit.query(AuditFilter(patient_id=pid, sort="seq", descending=False))
    workup = [e for e in entries if e.entity == "workup_item"]
    assert [e.action for e in workup] == ["create", "update"]
    assert "septate" in workup[1].details


def test_clinic_adds_an_investigation_and_its_protocol_in_settings(services: Services) -> None:
    import json

    act_as(services, Role.ADMIN)
    homocysteine = {
        "id": "homocysteine",
        "name": "Homocysteine",
        "domain": "thrombophilia",
        "applies_to": "woman",
        "result_type": "numeric",
        "unit": "µmol/L",
        "units": {"µmol/L": [1, 0]},
        "threshold": {"text": "Laboratory reference range", "citation": None},
        "plausible": [1, 200],
        "plausible_citation": "LOCAL",
        "routine": "not_routine",
    }
    with pytest.raises(ValidationError, match="unknown investigation"):
        services.settings.set("workup_protocol", "la, homocysteine")
    uncited = dict(homocysteine, threshold={"text": "x", "upper": 15, "citation": None})
    with pytest.raises(ValidationError, match="needs a citation"):
        services.settings.set("catalogue_additions", json.dumps([uncited]))
    services.settings.set("catalogue_additions", json.dumps([homocysteine]))
    services.settings.set("workup_protocol", "la, homocysteine")
    act_as(services, Role.NURSE)
    pid = services.patients.register(AMIRA).id
    view = services.workup.record_result(pid, "homocysteine", ResultValue(numeric=9, unit="µmol/L"), DAY)
    assert view.completeness.total == 2 and view.completeness.done == 1
    act_as(services, Role.ADMIN)
    with pytest.raises(ValidationError, match="unknown investigation"):  # still named by the protocol
        services.settings.set("catalogue_additions", "")
