"""The investigation catalogue and workup logic: integrity, interpretation, units, repeats, completeness."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmclinic.domain.investigations import (
    CatalogueError,
    Interpretation,
    is_valid_loinc,
    loinc_check_digit,
    parse_catalogue,
)
from rmclinic.domain.workup import (
    PanelState,
    RepeatState,
    ResultValue,
    Status,
    WorkupItem,
    build_panel,
    can_move,
    completeness,
    repeat_status,
)
from rmclinic.paths import resource

DOC = json.loads(resource("investigations.json").read_text(encoding="utf-8"))
CAT = parse_catalogue(DOC)


def test_catalogue_covers_the_required_investigations() -> None:
    required = {
        "la",
        "acl_igg",
        "acl_igm",
        "b2gpi_igg",
        "b2gpi_igm",
        "fvl",
        "prothrombin",
        "protein_c",
        "protein_s",
        "antithrombin",
        "tsh",
        "ft4",
        "tpo",
        "prolactin",
        "hba1c",
        "progesterone",
        "vitamin_d",
        "bmi",
        "poc_genetics",
        "karyotype_woman",
        "karyotype_partner",
        "uterine",
        "sperm_dna",
        "ana",
    }
    assert required <= set(CAT.investigations)
    assert {i.domain for i in CAT.investigations.values()} >= {"genetic", "anatomical", "endocrine", "thrombophilia"}
    assert {"septate", "adenomyosis", "intrauterine adhesions"} <= set(CAT.get("uterine").categories)


def test_every_loinc_code_passes_its_check_digit_and_the_known_bad_one_fails() -> None:
    codes = [i.loinc for i in CAT.investigations.values() if i.loinc]
    assert len(codes) >= 12
    assert all(is_valid_loinc(c) for c in codes)
    assert not is_valid_loinc("3284-9")  # cited in the digest as an invalid lupus anticoagulant code
    assert loinc_check_digit("3016") == 3
    assert CAT.get("acl_igg").loinc == "3181-5"  # by immunoassay, as the Sydney criteria require


def test_every_threshold_and_conversion_is_cited() -> None:
    for inv in CAT.investigations.values():
        if inv.threshold and (inv.threshold.lower is not None or inv.threshold.upper is not None):
            assert CAT.citation(inv.threshold.citation), inv.id
        if inv.repeat_after_days:
            assert CAT.citation(inv.repeat_citation), inv.id
        assert inv.routine_citation is None or CAT.citation(inv.routine_citation)
    for key in CAT.protocol.citations:
        assert CAT.citation(key)


def test_broken_catalogues_are_refused() -> None:
    bad = json.loads(json.dumps(DOC))
    bad["investigations"][0]["loinc"] = "3284-9"
    with pytest.raises(CatalogueError, match="check digit"):
        parse_catalogue(bad)
    bad = json.loads(json.dumps(DOC))
    bad["investigations"].append(dict(bad["investigations"][0]))
    with pytest.raises(CatalogueError, match="duplicate"):
        parse_catalogue(bad)
    bad = json.loads(json.dumps(DOC))
    acl = next(i for i in bad["investigations"] if i["id"] == "acl_igg")
    acl["threshold"]["citation"] = None
    with pytest.raises(CatalogueError, match="needs a citation"):
        parse_catalogue(bad)
    bad = json.loads(json.dumps(DOC))
    next(i for i in bad["investigations"] if i["id"] == "progesterone")["units_citation"] = None
    with pytest.raises(CatalogueError, match="unit conversions"):
        parse_catalogue(bad)


def test_units_convert_and_implausible_values_are_refused() -> None:
    prog = CAT.get("progesterone")
    assert prog.normalise(10, "ng/mL") == pytest.approx(31.8)
    assert prog.normalise(31.8, "nmol/L") == 31.8
    assert CAT.get("hba1c").normalise(6.5, "%") == pytest.approx(47.5, abs=0.2)
    with pytest.raises(ValueError, match="nmol/L"):
        prog.normalise(1, "mg/dL")
    tsh = CAT.get("tsh")
    problem = tsh.plausibility_problem(52, "mIU/L")  # the nurse typed 52 for 5.2
    assert problem is not None and "0.01-50" in problem
    assert tsh.plausibility_problem(5.2, "mIU/L") is None


@given(st.floats(0.1, 500), st.sampled_from(["nmol/L", "ng/mL"]))
def test_conversion_is_monotonic(value: float, unit: str) -> None:
    prog = CAT.get("progesterone")
    assert prog.normalise(value * 2, unit) > prog.normalise(value, unit)


def test_interpretation() -> None:
    acl = CAT.get("acl_igg")
    assert acl.interpret(numeric=45) is Interpretation.ABNORMAL  # > 40 GPL (Miyakis 2006)
    assert acl.interpret(numeric=12) is Interpretation.NORMAL
    assert acl.interpret(numeric=30, lab_high=20) is Interpretation.ABNORMAL  # the lab's 99th centile first
    b2 = CAT.get("b2gpi_igg")
    assert b2.interpret(numeric=30) is Interpretation.UNKNOWN  # needs the lab's 99th centile
    assert CAT.get("tpo").interpret(numeric=80, lab_high=34) is Interpretation.POSITIVE
    assert CAT.get("bmi").interpret(numeric=18) is Interpretation.ABNORMAL
    assert CAT.get("la").interpret(text="positive") is Interpretation.POSITIVE
    assert CAT.get("karyotype_partner").interpret(text="balanced translocation") is Interpretation.ABNORMAL
    assert CAT.get("uterine").interpret(findings=["normal"]) is Interpretation.NORMAL
    assert CAT.get("uterine").interpret(findings=["septate"]) is Interpretation.ABNORMAL


def item(
    iid: int,
    inv: str,
    day: dt.date | None,
    interp: Interpretation | None,
    status: Status = Status.RESULTED,
) -> WorkupItem:
    return WorkupItem(
        iid,
        inv,
        status,
        1,
        sample_date=day,
        interpretation=interp,
        value=ResultValue(text="x") if status in (Status.RESULTED, Status.REVIEWED) else None,
    )


def test_aps_repeat_at_the_right_and_the_wrong_interval() -> None:
    acl = CAT.get("acl_igg")
    first = item(1, "acl_igg", dt.date(2026, 1, 1), Interpretation.ABNORMAL)
    assert repeat_status(acl, [first]).state is RepeatState.DUE
    assert repeat_status(acl, [first]).due_on == dt.date(2026, 3, 26)  # 84 days = 12 weeks
    early = item(2, "acl_igg", dt.date(2026, 2, 15), Interpretation.ABNORMAL)
    assert repeat_status(acl, [first, early]).state is RepeatState.TOO_EARLY
    late = item(3, "acl_igg", dt.date(2026, 3, 26), Interpretation.ABNORMAL)
    assert repeat_status(acl, [first, early, late]).state is RepeatState.CONFIRMED
    neg = item(3, "acl_igg", dt.date(2026, 4, 30), Interpretation.NORMAL)
    assert repeat_status(acl, [first, neg]).state is RepeatState.NOT_PERSISTENT
    assert (
        repeat_status(CAT.get("tsh"), [item(9, "tsh", dt.date(2026, 1, 1), Interpretation.ABNORMAL)]).state
        is RepeatState.NOT_NEEDED
    )


def test_workflow_transitions() -> None:
    assert can_move(None, Status.REQUESTED)
    assert can_move(Status.REQUESTED, Status.SAMPLE_TAKEN)
    assert not can_move(Status.REQUESTED, Status.REVIEWED)  # nothing to review yet
    assert can_move(Status.REVIEWED, Status.RESULTED)  # a correction reopens review
    assert not can_move(Status.SAMPLE_TAKEN, Status.REQUESTED)


def test_panel_states_and_completeness() -> None:
    items = [
        item(1, "la", dt.date(2026, 1, 1), Interpretation.NEGATIVE, Status.REVIEWED),
        item(2, "acl_igg", dt.date(2026, 1, 1), Interpretation.ABNORMAL),
        item(3, "tsh", None, None, Status.REQUESTED),
        item(4, "tpo", dt.date(2026, 1, 2), None, Status.SAMPLE_TAKEN),
        item(5, "fvl", dt.date(2026, 1, 2), Interpretation.NORMAL),
    ]
    panel = build_panel(CAT, items)
    states = {e.investigation.id: e.state for d in panel.values() for e in d}
    assert states["la"] is PanelState.REVIEWED
    assert states["acl_igg"] is PanelState.REPEAT_DUE
    assert states["tsh"] is PanelState.REQUESTED
    assert states["tpo"] is PanelState.PENDING
    assert states["acl_igm"] is PanelState.NOT_DONE and states["uterine"] is PanelState.NOT_DONE
    assert states["fvl"] is PanelState.RESULT  # not in the protocol, shown because it was done
    c = completeness(CAT, items)
    assert (c.done, c.total) == (2, 6)
    assert [m.id for m in c.missing] == ["acl_igm", "tsh", "tpo", "uterine"]
