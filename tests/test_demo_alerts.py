"""Demo data exercises every alert rule: some patients fire it, some are near misses (demo_alerts.py)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from conftest import TODAY

from rmclinic.domain.medication import Indication
from rmclinic.domain.obstetric import Outcome
from rmclinic.services.alerts import shipped_rule_set
from rmclinic.services.catalogue import merged_catalogue
from rmclinic.services.container import Services
from rmclinic.services.demo import generate
from rmclinic.services.demo_alerts import COUNT, END_INDEX, FIRST_INDEX, AlertCase, alert_cases
from rmclinic.services.demo_pregnancy import Batch, add_random
from rmclinic.services.demo_workup import demo_workup

# Rules with a threshold or a window: each has a patient just on the quiet side of it.
BOUNDARY_RULES = {
    "R5",
    "R6",
    "R7",
    "R9",
    "R10",
    "R12",
    "R14",
    "R16",
    "R18",
    "R22",
    "R25",
    "R26",
    "R32",
    "R33",
    "R34",
    "R36",
    "R37",
    "R40",
    "R41",
}


def hospital_number(index: int) -> str:
    return f"RM{index + 1:06d}"


def cases() -> list[tuple[str, AlertCase]]:
    return [(hospital_number(FIRST_INDEX + k), c) for k, c in enumerate(alert_cases(TODAY))]


def fired_rules(svc: Services) -> dict[str, set[str]]:
    """Rule ids firing today, per hospital number (non-archived patients, as the alert list shows them)."""
    fired: dict[str, set[str]] = defaultdict(set)
    for hosp, view in svc.alerts.all_patients(as_of=TODAY):
        assert not view.alert.error, (hosp, view.alert.rule.id, view.alert.error)
        fired[hosp].add(view.alert.rule.id)
    return fired


@pytest.fixture
def demo(sqlite_services: Services) -> Services:
    """Exactly the scripted patients: the three of workflows.md and the alert cases."""
    sqlite_services.demo.create(END_INDEX, today=TODAY)
    return sqlite_services


def test_every_loaded_rule_fires_for_at_least_one_patient(demo: Services) -> None:
    fired = fired_rules(demo)
    loaded = {r.id for r in shipped_rule_set().rules}
    assert len(loaded) == 41
    assert sorted(loaded - set().union(*fired.values())) == []


def test_each_case_fires_its_rules_and_not_its_near_misses(demo: Services) -> None:
    fired = fired_rules(demo)
    loaded = {r.id for r in shipped_rule_set().rules}
    wrong = []
    for hosp, case in cases():
        assert set(case.fires) | set(case.misses) <= loaded, hosp
        if not set(case.fires) <= fired[hosp]:
            wrong.append(f"{hosp} should fire {sorted(set(case.fires) - fired[hosp])}: {case.story}")
        if set(case.misses) & fired[hosp]:
            wrong.append(f"{hosp} is a near miss but fires {sorted(set(case.misses) & fired[hosp])}: {case.story}")
    assert wrong == []
    # every rule has a case built to fire it, not just a random patient that happens to
    assert loaded <= {r for _, c in cases() for r in c.fires}
    near_misses = {r for _, c in cases() for r in c.misses}
    assert near_misses >= BOUNDARY_RULES


def test_the_cases_are_plausible_patients() -> None:
    assert 0 < COUNT <= 40 and END_INDEX == FIRST_INDEX + COUNT
    names = [(c.patient.given_name, c.patient.family_name) for _, c in cases()]
    assert len(set(names)) == len(names)
    assert len({family for _, family in names}) == len(names)  # easy to find by name in the app
    assert not any("lucj" in given.lower() for given, _ in names)  # Łucja stays the only one
    for hosp, case in cases():
        assert case.story and (case.fires or case.misses), hosp
        assert sum(p.ended_on is None for p in case.pregnancies) <= 1, hosp
        for p in case.pregnancies:
            assert p.dating[0].recorded_on <= TODAY and p.edd - dt.timedelta(days=280) <= TODAY, hosp
            ended = p.ended_on or TODAY
            for day in (p.iup_confirmed_on, p.heartbeat_on, *(b.date for b in p.bleeding)):
                assert day is None or p.edd - dt.timedelta(days=280) <= day <= ended, hosp
        for _, plan in case.plans:
            assert plan.start <= TODAY, hosp
        for t in case.tests:
            assert t.day <= TODAY, hosp
        for h in case.patient.pregnancies:
            assert h.date is not None and h.date <= TODAY, hosp


def test_the_cases_survive_export_and_import_validation(demo: Services) -> None:
    doc = demo.transfer.export()
    assert [p["hospital_number"] for p in doc["patients"]] == [hospital_number(i) for i in range(END_INDEX)]
    _, problems = demo.transfer.validate(doc)
    assert problems == []


def test_the_workflow_patients_are_unchanged(demo: Services) -> None:
    amira = demo.patients.find_by_hospital_number("RM000001")
    assert amira is not None and (amira.data.given_name, amira.data.nhs_number) == ("Amira", "9990000018")
    assert [p.outcome for p in amira.data.pregnancies] == [Outcome.EARLY_MISCARRIAGE] * 3
    view = demo.pregnancy.view(amira.id)
    assert view.pregnancy is not None and view.pregnancy.gestation_days_on(TODAY) == 7 * 7 + 3
    [plan] = view.plans
    assert (plan.drug, plan.indication, plan.stop and plan.stop.gestation_days) == (
        "progesterone_vaginal",
        Indication.THREATENED_MISCARRIAGE,
        16 * 7,
    )
    assert [f.title for f in view.follow_ups] == ["Early pregnancy scan"]
    assert {i.investigation_id for i in demo.workup.view(amira.id).items} == {
        "acl_igg",
        "acl_igm",
        "la",
        "tsh",
        "tpo",
        "uterine",
        "poc_genetics",
    }

    claire = demo.patients.find_by_hospital_number("RM000002")
    assert claire is not None and claire.data.given_name == "Claire"
    assert [(p.outcome, p.fetuses) for p in claire.data.pregnancies] == [(Outcome.LATE_MISCARRIAGE, 2)]
    [luteal] = demo.pregnancy.view(claire.id).plans
    assert luteal.indication is Indication.LUTEAL_SUPPORT_ART and luteal.taper

    lucja = demo.patients.find_by_hospital_number("RM000003")
    assert lucja is not None and lucja.data.given_name == "Łucja"
    assert len(lucja.data.pregnancies) == 3 and lucja.data.risk.drug_allergies == ("Penicillin",)
    assert {i.investigation_id for i in demo.workup.view(lucja.id).items} == {
        "poc_genetics",
        "karyotype_partner",
        "karyotype_woman",
    }
    fired = fired_rules(demo)
    assert "R4" in fired["RM000001"] and "R25" not in fired["RM000001"]  # her stop is at 16+0


def test_the_other_random_patients_are_unchanged(sqlite_services: Services) -> None:
    """The random streams are still drawn for the replaced patients: the patients after the cases are
    the ones ``generate``, ``demo_workup`` and ``add_random`` give without them."""
    n, seed = END_INDEX + 60, 7
    sqlite_services.demo.create(n, seed=seed, today=TODAY)
    randoms = list(generate(n, seed, TODAY))
    cat = merged_catalogue()
    now = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
    workup_rng, pregnancy_rng, care = random.Random(seed + 2), random.Random(seed + 3), Batch()
    workups = []
    for i, p in enumerate(randoms):
        workups.append(demo_workup(cat, workup_rng, i, TODAY, now, p.partner is not None))
        if i >= 3:
            add_random(care, i, TODAY, pregnancy_rng)
    checked_pregnancies = 0
    for i in range(END_INDEX, n):
        rec = sqlite_services.patients.find_by_hospital_number(hospital_number(i))
        assert rec is not None and rec.data == randoms[i]
        got = sorted(
            (w.investigation_id, w.requested_on, w.sample_date) for w in sqlite_services.workup.view(rec.id).items
        )
        assert got == sorted((w["investigation_id"], w["requested_on"], w["sample_date"]) for w in workups[i])
        view = sqlite_services.pregnancy.view(rec.id)
        expected = [p.edd for pid, p in care.pregnancies if pid == i]
        assert [p.edd for p in (view.pregnancy, *view.ended) if p is not None] == expected
        checked_pregnancies += len(expected)
    assert checked_pregnancies  # some of them are pregnant, so add_random's stream is checked too
    # the replaced patients keep the identifiers they were drawn with, so NHS numbers stay unique
    for i in range(FIRST_INDEX, END_INDEX):
        rec = sqlite_services.patients.find_by_hospital_number(hospital_number(i))
        assert rec is not None and rec.data.nhs_number == randoms[i].nhs_number
        assert rec.data.given_name == alert_cases(TODAY)[i - FIRST_INDEX].patient.given_name


def test_a_small_demo_gets_the_cases_that_fit(sqlite_services: Services) -> None:
    sqlite_services.demo.create(5, today=TODAY)
    assert sqlite_services.patients.count() == 5
    first, second = alert_cases(TODAY)[:2]
    for index, case in ((3, first), (4, second)):
        rec = sqlite_services.patients.find_by_hospital_number(hospital_number(index))
        assert rec is not None and rec.data.given_name == case.patient.given_name
    fired = fired_rules(sqlite_services)
    assert set(first.fires) <= fired["RM000004"] and set(second.fires) <= fired["RM000005"]


def test_the_cases_are_never_archived(sqlite_services: Services) -> None:
    def archive_draws(seed: int) -> list[int]:  # demo.py draws Random(seed + 1) < 0.01 for each patient
        draws = random.Random(seed + 1)
        return [i for i in range(END_INDEX) if draws.random() < 0.01]

    # a seed whose 1 % archive draw falls on a case from RM000010 on (RM000001-9 are never archived)
    seed = next(s for s in range(1, 5000) if any(i >= 9 for i in archive_draws(s)))
    sqlite_services.demo.create(END_INDEX, seed=seed, today=TODAY)
    for i in range(END_INDEX):
        rec = sqlite_services.patients.find_by_hospital_number(hospital_number(i))
        assert rec is not None and not rec.archived, (i, archive_draws(seed))
