"""The alert engine as a clinician relies on it: every shipped rule fires for the patient it was written for
and stays quiet for the near miss next to it (the boundaries come from the evidence digest §8 and §11), every
rule is cited, a broken rule is seen rather than skipped, clinic settings work, and an alert's life
(acknowledge, snooze, end, fire again, a new rule version) is derived correctly from its events.

Pure tests: snapshots are built from plain domain objects; no database, no Qt.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from rmclinic.domain.dating import DatingEntry, DatingMethod, date_at, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus
from rmclinic.domain.medication import DRUGS, Anchor, DoseStep, Frequency, Indication, MedicationPlan, PlanStatus
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy, TissueGenetics
from rmclinic.domain.patient import CervicalExcision, RiskHistory
from rmclinic.domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity
from rmclinic.domain.workup import ResultValue, Status, WorkupItem, assess
from rmclinic.paths import resource
from rmclinic.rules import engine
from rmclinic.rules.engine import evaluate, load_rule_set
from rmclinic.rules.lifecycle import AlertEvent, EventKind, status_of, transitions
from rmclinic.rules.lifecycle import Status as AlertStatus
from rmclinic.rules.model import Alert, Finding, RuleSet
from rmclinic.rules.model import Severity as AlertSeverity
from rmclinic.rules.snapshot import Snapshot
from rmclinic.services.alerts import shipped_rule_set
from rmclinic.services.catalogue import merged_catalogue

ON = dt.date(2026, 11, 22)
CAT = merged_catalogue()
RULES = shipped_rule_set()
RULES_DOC: dict[str, Any] = json.loads(resource("evidence", "rules.json").read_text(encoding="utf-8"))
REFS_DOC: dict[str, Any] = json.loads(resource("evidence", "references.json").read_text(encoding="utf-8"))

SHIPPED_IDS = (
    *(f"R{n}" for n in range(1, 35)),
    "R36",
    "R37",
    "R38",
    "R40",
    "R41",
    "R42",
    "X1",
)

_ids = itertools.count(1)
WEEK_AGO = ON - dt.timedelta(days=7)
MONTH_AGO = ON - dt.timedelta(days=30)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def wd(weeks: int, extra: int = 0) -> int:
    """Gestation in days from weeks+days, as UK texts write it (16+0)."""
    return weeks * 7 + extra


# -- builders ------------------------------------------------------------------------------------------


def past(
    outcome: Outcome,
    year: int = 2024,
    *,
    ga: int | None = None,
    date: dt.date | None = None,
    **kw: Any,
) -> PreviousPregnancy:
    return PreviousPregnancy(date.year if date else year, outcome, date, ga, **kw)


def early(year: int = 2024, **kw: Any) -> PreviousPregnancy:
    return past(Outcome.EARLY_MISCARRIAGE, year, **kw)


TWO_LOSSES = (early(2023), early(2024))
THREE_LOSSES = (early(2022), early(2023), early(2024))
PRETERM_BIRTH = past(Outcome.LIVE_BIRTH, 2022, ga=wd(30), preterm_birth=True)


def result(iid: str, sample: dt.date, value: ResultValue) -> WorkupItem:
    """A resulted item, interpreted the way the workup service interprets it."""
    normalised, interpretation = assess(CAT.get(iid), value)
    return WorkupItem(
        next(_ids),
        iid,
        Status.RESULTED,
        1,
        requested_on=sample,
        sample_date=sample,
        value=value,
        normalised=normalised,
        interpretation=interpretation,
    )


def requested(iid: str, on: dt.date = WEEK_AGO) -> WorkupItem:
    return WorkupItem(next(_ids), iid, Status.REQUESTED, 1, requested_on=on)


def la_positive(sample: dt.date) -> WorkupItem:
    return result("la", sample, ResultValue(text="positive"))


def tsh(sample: dt.date, value: float = 2.0) -> WorkupItem:
    return result("tsh", sample, ResultValue(value, "mIU/L", lab_low=0.4, lab_high=4.0))


def ft4_normal(sample: dt.date) -> WorkupItem:
    return result("ft4", sample, ResultValue(15.0, "pmol/L", lab_low=12.0, lab_high=22.0))


def tpo_positive(sample: dt.date | None = None) -> WorkupItem:
    sample = sample or ON - days(100)
    return result("tpo", sample, ResultValue(120.0, "IU/mL", lab_high=34.0))


def pregnancy(ga: int, on: dt.date = ON, *, id: int = 1, **fields: Any) -> CurrentPregnancy:
    """An LMP-dated pregnancy that is ``ga`` days along on ``on``."""
    lmp = on - days(ga)
    entry = date_entry(DatingMethod.LMP, min(on, lmp + days(35)), "booking", lmp=lmp)
    return CurrentPregnancy(id, (entry,), **fields)


def at(p: CurrentPregnancy, ga: int) -> dt.date:
    """The date on which pregnancy ``p`` reaches ``ga`` days."""
    return date_at(p.edd, ga)


def confirmed(ga: int, *, heartbeat: bool = True, bleeding_at: int | None = None, **fields: Any) -> CurrentPregnancy:
    """A pregnancy with an intrauterine pregnancy confirmed (and a heartbeat seen) at 7+0."""
    p = pregnancy(ga, **fields)
    return replace(
        p,
        iup_confirmed_on=at(p, wd(7)),
        iup_method=IupMethod.TRANSVAGINAL,
        heartbeat_on=at(p, wd(7)) if heartbeat else None,
        bleeding=(Bleeding(at(p, bleeding_at), Severity.LIGHT),) if bleeding_at is not None else (),
    )


def plan(
    drug: str,
    indication: Indication,
    *,
    start: dt.date = MONTH_AGO,
    stop: Anchor | None = None,
    pregnancy_id: int | None = 1,
    dose: float | None = None,
    frequency: Frequency | None = None,
    **kw: Any,
) -> MedicationPlan:
    d = DRUGS[drug]
    return MedicationPlan(
        drug,
        dose if dose is not None else (d.default_dose or 1.0),
        frequency or d.default_frequency,
        start,
        indication,
        stop=stop,
        pregnancy_id=pregnancy_id,
        id=next(_ids),
        **kw,
    )


def progesterone(indication: Indication = Indication.THREATENED_MISCARRIAGE, **kw: Any) -> MedicationPlan:
    return plan("progesterone_vaginal", indication, **kw)


def stop_at(ga: int) -> Anchor:
    return Anchor(gestation_days=ga)


def cl_scan(day: dt.date, mm: float, *, pregnancy_id: int = 1) -> FollowUp:
    return FollowUp(
        FollowUpKind.CERVICAL_LENGTH_SCAN,
        day,
        status=FollowUpStatus.DONE,
        pregnancy_id=pregnancy_id,
        result_date=day,
        cervical_length_mm=mm,
        id=next(_ids),
    )


def cl_scan_due(day: dt.date, *, pregnancy_id: int = 1) -> FollowUp:
    return FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, day, pregnancy_id=pregnancy_id, id=next(_ids))


def swab(day: dt.date, status: FollowUpStatus = FollowUpStatus.DUE) -> FollowUp:
    return FollowUp(FollowUpKind.SWAB, day, status=status, pregnancy_id=1, id=next(_ids))


def patient(
    *,
    history: Sequence[PreviousPregnancy] = (),
    workup: Sequence[WorkupItem] = (),
    risk: RiskHistory | None = None,
    pregnancy: CurrentPregnancy | None = None,
    ended: Sequence[CurrentPregnancy] = (),
    plans: Sequence[MedicationPlan] = (),
    follow_ups: Sequence[FollowUp] = (),
) -> Snapshot:
    return Snapshot(
        "RM000001",
        tuple(history),
        risk or RiskHistory(),
        tuple(workup),
        CAT,
        pregnancy,
        tuple(ended),
        tuple(plans),
        tuple(follow_ups),
    )


def alerts_on(s: Snapshot, on: dt.date = ON, rule_set: RuleSet = RULES, **kw: Any) -> dict[str, Alert]:
    """The patient's alerts by rule id; a rule that fails to evaluate fails the test."""
    out = evaluate(rule_set, s, on, **kw)
    assert [a.rule.id for a in out if a.error] == []
    assert len({a.rule.id for a in out}) == len(out), "one alert per rule and patient"
    return {a.rule.id: a for a in out}


# -- the shipped patients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rule: str
    story: str  # the patient, in a clinician's words
    make: Callable[[], Snapshot]
    mentions: str = ""  # firing cases: a key input the alert's reasons must name (case-insensitive)
    on: dt.date = ON

    def param(self) -> Any:
        return pytest.param(self, id=f"{self.rule} {self.story}")


def _preg_with(ga: int, **kw: Any) -> Callable[[], Snapshot]:
    """A pregnant patient at ``ga`` today; ``kw`` goes to ``patient``."""
    return lambda: patient(pregnancy=pregnancy(ga), **kw)


def _aps(second_la_after: int, *plans: MedicationPlan) -> Snapshot:
    first = ON - days(200)
    return patient(
        history=THREE_LOSSES,
        workup=(la_positive(first), la_positive(first + days(second_la_after))),
        pregnancy=confirmed(wd(8)),
        plans=plans,
    )


def _apl_repeat(gap: int | None) -> Snapshot:
    first = ON - days(120)
    items = [la_positive(first)]
    if gap is not None:
        items.append(la_positive(first + days(gap)))
    return patient(workup=items)


def _la_on_heparin(start: dt.date, stop: Anchor | None = None) -> Snapshot:
    return patient(
        workup=(la_positive(ON - days(10)),),
        plans=(plan("enoxaparin", Indication.APS, start=start, stop=stop, pregnancy_id=None),),
    )


def _aps_stop(ga: int) -> Snapshot:
    return patient(
        pregnancy=pregnancy(wd(20)),
        plans=(
            plan("aspirin", Indication.APS, stop=stop_at(ga)),
            plan("enoxaparin", Indication.APS, stop=stop_at(ga)),
        ),
    )


def _protein_s_after_birth(after: int) -> Snapshot:
    birth = ON - days(100)
    return patient(
        history=(past(Outcome.LIVE_BIRTH, date=birth, ga=wd(40)),),
        workup=(result("protein_s", birth + days(after), ResultValue(70.0, "IU/dL", lab_low=55, lab_high=125)),),
    )


def _thyroid(tsh_value: float) -> Snapshot:
    return patient(workup=(tsh(ON - days(5), tsh_value), ft4_normal(ON - days(5))))


def _levothyroxine(indication: Indication, tsh_value: float = 2.0) -> Snapshot:
    return patient(
        workup=(tpo_positive(), tsh(ON - days(60), tsh_value)),
        plans=(plan("levothyroxine", indication, pregnancy_id=None),),
    )


def _tpo_pregnant(ga: int, tsh_at: Callable[[CurrentPregnancy], dt.date]) -> Snapshot:
    p = pregnancy(ga)
    return patient(pregnancy=p, workup=(tpo_positive(ON - days(300)), tsh(tsh_at(p))))


def _tissue(loss: PreviousPregnancy, *before: PreviousPregnancy, workup: Sequence[WorkupItem] = ()) -> Snapshot:
    return patient(history=(*before, loss), workup=workup)


def _bleeding_after_miscarriage(ga: int, history: Sequence[PreviousPregnancy] = (early(2025),)) -> Snapshot:
    return patient(history=history, pregnancy=confirmed(ga, bleeding_at=min(ga, wd(6))))


def _progesterone_stop(ga: int | None) -> Snapshot:
    return patient(
        pregnancy=confirmed(wd(9), bleeding_at=wd(8)),
        plans=(progesterone(stop=None if ga is None else stop_at(ga)),),
    )


def _progesterone_today(ga_today: int, stop_ga: int) -> Snapshot:
    return patient(
        pregnancy=confirmed(ga_today, bleeding_at=wd(8)),
        plans=(progesterone(start=ON - days(ga_today - wd(8)), stop=stop_at(stop_ga)),),
    )


def _ended_with(p: MedicationPlan) -> Snapshot:
    ended_on = ON - days(5)
    lost = replace(
        pregnancy(wd(9), ended_on, id=2),
        ended_on=ended_on,
        outcome=Outcome.EARLY_MISCARRIAGE,
        sensitive=True,
    )
    return patient(ended=(lost,), plans=(p,))


def _preterm_history(ga_today: int, history: Sequence[PreviousPregnancy] = (PRETERM_BIRTH,), **kw: Any) -> Snapshot:
    return patient(history=history, pregnancy=pregnancy(ga_today), **kw)


def _short_cervix(mm: float, scan_ga: int, *, history: Sequence[PreviousPregnancy], **kw: Any) -> Snapshot:
    """The cervix measured at ``scan_ga``; today is that day (or 20+0 if the scan was earlier)."""
    p = pregnancy(max(scan_ga, wd(20)))
    return patient(history=history, pregnancy=p, follow_ups=(cl_scan(at(p, scan_ga), mm),), **kw)


def _excision(*excisions: CervicalExcision, follow_ups: Sequence[FollowUp] = ()) -> Snapshot:
    return patient(
        risk=RiskHistory(cervical_excisions=excisions),
        pregnancy=pregnancy(wd(12)),
        follow_ups=follow_ups,
    )


def _last_scan(days_ago: int, ga_today: int = wd(20), *, next_due: bool = False) -> Snapshot:
    ups = [cl_scan(ON - days(days_ago), 35.0)]
    if next_due:
        ups.append(cl_scan_due(ON + days(3)))
    return patient(pregnancy=pregnancy(ga_today), follow_ups=ups)


def _redated(*entries: DatingEntry) -> Snapshot:
    return patient(pregnancy=CurrentPregnancy(1, entries))


def _crl(recorded: dt.date) -> DatingEntry:
    return date_entry(DatingMethod.CRL, recorded, "dating scan", scan_date=recorded, crl_mm=45.0)


def _lmp(recorded: dt.date, lmp: dt.date) -> DatingEntry:
    return date_entry(DatingMethod.LMP, recorded, "booking", lmp=lmp)


def _bmi(weight_kg: float, **kw: Any) -> Snapshot:
    """Height 2 m, so BMI = weight / 4."""
    return patient(risk=RiskHistory(height_cm=200.0, weight_kg=weight_kg, **kw))


def _allergic(allergy: str, drug: str, indication: Indication = Indication.OTHER) -> Snapshot:
    return patient(risk=RiskHistory(drug_allergies=(allergy,)), plans=(plan(drug, indication, pregnancy_id=None),))


FIRES: list[Case] = [
    Case(
        "R7",
        "LA sampled while on warfarin",
        lambda: patient(
            workup=(la_positive(ON - days(10)),),
            plans=(plan("warfarin", Indication.VTE_PROPHYLAXIS, start=ON - days(30), stop=None, pregnancy_id=None),),
        ),
        "warfarin",
    ),
    Case(
        "R8",
        "APS diagnosed by another unit, pregnant, untreated",
        lambda: patient(history=TWO_LOSSES, risk=RiskHistory(aps_diagnosed=True), pregnancy=confirmed(wd(8))),
        "recorded as diagnosed",
    ),
    Case(
        "R33",
        "short cervix after preterm birth; an earlier progesterone course already reached its stop",
        lambda: patient(
            history=(PRETERM_BIRTH,),
            pregnancy=(p := pregnancy(wd(20))),
            plans=(progesterone(start=at(p, wd(8)), stop=Anchor(gestation_days=wd(16))),),
            follow_ups=(cl_scan(ON, 20.0),),
        ),
        "20 mm",
    ),
    Case(
        "R17",
        "prolactin requested, periods recorded as regular",
        lambda: patient(workup=(requested("prolactin"),), risk=RiskHistory(oligo_amenorrhoea=False)),
        "periods recorded as regular",
    ),
    Case(
        "R17",
        "prolactin requested, periods never asked",
        lambda: patient(workup=(requested("prolactin"),)),
        "not asked",
    ),
    Case(
        "R42",
        "two losses, pregnant, booking not recorded",
        lambda: patient(history=TWO_LOSSES, pregnancy=confirmed(wd(8))),
        "no booking recorded",
    ),
    Case(
        "R42",
        "two losses, pregnant, recorded as not booked",
        lambda: patient(history=TWO_LOSSES, pregnancy=replace(confirmed(wd(8)), high_risk_care=False)),
        "not booked",
    ),
    Case("R1", "two early miscarriages, nothing investigated yet", lambda: patient(history=TWO_LOSSES), "2 pregnancy"),
    Case(
        "R1",
        "a biochemical loss counts towards the two",
        lambda: patient(history=(early(2023), past(Outcome.BIOCHEMICAL, 2024))),
        "2 pregnancy losses",
    ),
    Case("R2", "three first-trimester miscarriages", lambda: patient(history=THREE_LOSSES), "3 first-trimester"),
    Case(
        "R2",
        "one miscarriage at 12+0 is a second-trimester loss",
        lambda: patient(history=(past(Outcome.LATE_MISCARRIAGE, ga=wd(12)),)),
        "1 second-trimester",
    ),
    Case(
        "R3",
        "recurrent loss with only lupus anticoagulant done",
        lambda: patient(history=TWO_LOSSES, workup=(result("la", ON, ResultValue(text="negative")),)),
        "anticardiolipin igg",
    ),
    Case("R4", "a positive LA with no repeat yet", lambda: _apl_repeat(None), "lupus anticoagulant"),
    Case("R5", "LA repeated at 83 days (one day short of 12 weeks)", lambda: _apl_repeat(83), "83 days"),
    Case(
        "R6",
        "anticardiolipin 40 GPL flagged by the laboratory's own limit",
        lambda: patient(workup=(result("acl_igg", ON, ResultValue(40.0, "GPL U/mL", lab_high=20.0)),)),
        "40 gpl",
    ),
    Case("R7", "LA sampled while on enoxaparin", lambda: _la_on_heparin(ON - days(20)), "enoxaparin"),
    Case(
        "R8",
        "persistent aPL, three losses, pregnant, on aspirin only",
        lambda: _aps(100, plan("aspirin", Indication.APS)),
        "not taking: heparin",
    ),
    Case("R8", "persistent aPL, pregnant, no treatment at all", lambda: _aps(84), "low-dose aspirin or heparin"),
    Case("R9", "APS treatment planned to stop at 33+6", lambda: _aps_stop(wd(33, 6)), "33+6"),
    Case(
        "R10",
        "protein C tested after two losses at 11+6",
        lambda: patient(history=(early(ga=wd(11, 6)), early(2025, ga=wd(11, 6))), workup=(requested("protein_c"),)),
        "protein c",
    ),
    Case(
        "R10",
        "antithrombin tested after first-trimester losses",
        lambda: patient(history=TWO_LOSSES, workup=(requested("antithrombin"),)),
        "antithrombin",
    ),
    Case(
        "R11",
        "LMWH for inherited thrombophilia, no VTE",
        lambda: patient(plans=(plan("enoxaparin", Indication.INHERITED_THROMBOPHILIA, pregnancy_id=None),)),
        "inherited thrombophilia",
    ),
    Case("R12", "protein S taken on day 42 after a birth", lambda: _protein_s_after_birth(42), "after a birth"),
    Case(
        "R12",
        "protein S taken during an earlier pregnancy that ended in miscarriage",
        lambda: patient(
            history=(past(Outcome.LATE_MISCARRIAGE, 2026, ga=wd(14), date=ON - days(60)),),
            workup=(result("protein_s", ON - days(70), ResultValue(70.0, "%")),),
        ),
        "during pregnancy",
    ),
    Case(
        "R12",
        "protein S taken in the current pregnancy",
        lambda: patient(
            pregnancy=pregnancy(wd(10)),
            workup=(result("protein_s", ON - days(7), ResultValue(50.0, "IU/dL", lab_low=55, lab_high=125)),),
        ),
        "during pregnancy",
    ),
    Case(
        "R13",
        "recurrent loss with TSH done but no TPO antibodies",
        lambda: patient(history=TWO_LOSSES, workup=(tsh(ON),)),
        "tpo antibodies",
    ),
    Case("R14", "TSH 4.1, just above the default 4.0, free T4 normal", lambda: _thyroid(4.1), "tsh 4.1"),
    Case(
        "R15",
        "levothyroxine to prevent miscarriage, TPO positive, TSH normal",
        lambda: _levothyroxine(Indication.EUTHYROID_TPO_MISCARRIAGE),
        "levothyroxine",
    ),
    Case(
        "R16",
        "TPO positive at 10+0, last TSH 29 days ago",
        lambda: _tpo_pregnant(wd(10), lambda p: ON - days(29)),
        "last 28 days",
    ),
    Case(
        "R16",
        "TPO positive at 30+0, last TSH at 27+6",
        lambda: _tpo_pregnant(wd(30), lambda p: at(p, wd(27, 6))),
        "since 28+0",
    ),
    Case(
        "R18",
        "miscarriage at 12+0 ten days ago, tissue not sent",
        lambda: _tissue(past(Outcome.LATE_MISCARRIAGE, ga=wd(12), date=ON - days(10))),
        "second-trimester",
    ),
    Case(
        "R18",
        "third miscarriage exactly 30 days ago, tissue not sent",
        lambda: _tissue(early(date=ON - days(30)), *TWO_LOSSES),
        "miscarriage number 3",
    ),
    Case(
        "R19",
        "pregnancy tissue showed an unbalanced structural abnormality",
        lambda: patient(history=(early(tissue_genetics=TissueGenetics.UNBALANCED_STRUCTURAL),)),
        "unbalanced structural",
    ),
    Case(
        "R19",
        "tissue testing failed",
        lambda: patient(history=(early(tissue_genetics=TissueGenetics.FAILED),)),
        "failed or unavailable",
    ),
    Case("R20", "recurrent loss, no uterine assessment", lambda: patient(history=TWO_LOSSES), "uterine assessment"),
    Case(
        "R21",
        "septate uterus on 3D scan",
        lambda: patient(
            workup=(result("uterine", ON, ResultValue(findings=("septate",), method="3D transvaginal ultrasound")),)
        ),
        "septate",
    ),
    Case("R22", "bleeding at 15+6 after a miscarriage", lambda: _bleeding_after_miscarriage(wd(15, 6)), "bleeding on"),
    Case(
        "R23",
        "progesterone for bleeding before the scan confirmed an intrauterine pregnancy",
        lambda: patient(pregnancy=pregnancy(wd(6)), plans=(progesterone(start=ON),)),
        "not confirmed",
    ),
    Case(
        "R24",
        "dydrogesterone for threatened miscarriage",
        lambda: patient(
            pregnancy=confirmed(wd(8), bleeding_at=wd(7)),
            plans=(plan("dydrogesterone_oral", Indication.THREATENED_MISCARRIAGE),),
        ),
        "dydrogesterone",
    ),
    Case(
        "R24",
        "vaginal progesterone at 200 mg",
        lambda: patient(pregnancy=confirmed(wd(8), bleeding_at=wd(7)), plans=(progesterone(dose=200),)),
        "200 mg",
    ),
    Case("R25", "progesterone planned to stop at 15+6", lambda: _progesterone_stop(wd(15, 6)), "15+6"),
    Case("R25", "progesterone planned to stop at 16+1", lambda: _progesterone_stop(wd(16, 1)), "16+1"),
    Case("R25", "progesterone without a planned stop", lambda: _progesterone_stop(None), "no planned stop"),
    Case(
        "R26",
        "at 16+0 a course planned to 16+1 is still taken",
        lambda: _progesterone_today(wd(16), wd(16, 1)),
        "16+0 today",
    ),
    Case(
        "R27",
        "progesterone for recurrent miscarriage without bleeding",
        lambda: patient(pregnancy=confirmed(wd(7)), plans=(progesterone(Indication.RM_NO_BLEEDING),)),
        "no bleeding",
    ),
    Case(
        "R28",
        "progesterone with a taper",
        lambda: patient(
            pregnancy=confirmed(wd(9), bleeding_at=wd(8)),
            plans=(progesterone(stop=stop_at(wd(16)), taper=(DoseStep(stop_at(wd(15)), 200, Frequency.TWICE_DAILY),)),),
        ),
        "taper",
    ),
    Case(
        "R29",
        "aspirin still active after a miscarriage",
        lambda: _ended_with(plan("aspirin", Indication.APS, pregnancy_id=2)),
        "aspirin",
    ),
    Case(
        "R30",
        "prednisolone for unexplained recurrent loss",
        lambda: patient(plans=(plan("prednisolone", Indication.UNEXPLAINED_RPL, pregnancy_id=None),)),
        "prednisolone",
    ),
    Case("R31", "sperm DNA fragmentation requested", lambda: patient(workup=(requested("sperm_dna"),)), "sperm dna"),
    Case("R32", "previous preterm birth, 16+0 today, no scan", lambda: _preterm_history(wd(16)), "preterm birth"),
    Case("R32", "previous preterm birth, 24+0 today, no scan", lambda: _preterm_history(wd(24)), "24+0 today"),
    Case(
        "R32",
        "mid-trimester loss at 16+0",
        lambda: _preterm_history(wd(20), (past(Outcome.LATE_MISCARRIAGE, ga=wd(16)),)),
        "mid-trimester loss at 16+0",
    ),
    Case(
        "R33",
        "cervix 25 mm at 20+0 after a preterm birth",
        lambda: _short_cervix(25, wd(20), history=(PRETERM_BIRTH,)),
        "25 mm",
    ),
    Case(
        "R33",
        "cervix 20 mm at 16+0 after a preterm birth",
        lambda: _short_cervix(20, wd(16), history=(PRETERM_BIRTH,)),
        "16+0",
    ),
    Case(
        "R33",
        "cervix 20 mm at 24+0 after a preterm birth",
        lambda: _short_cervix(20, wd(24), history=(PRETERM_BIRTH,)),
        "24+0",
    ),
    Case("R34", "cervix 25 mm at 20+0, no risk history", lambda: _short_cervix(25, wd(20), history=()), "25 mm"),
    Case("R34", "cervix 20 mm at 16+0, no risk history", lambda: _short_cervix(20, wd(16), history=()), "16+0"),
    Case("R34", "cervix 20 mm at 24+0, no risk history", lambda: _short_cervix(20, wd(24), history=()), "24+0"),
    Case(
        "R36",
        "LLETZ 15 mm deep, pregnant, no scan planned",
        lambda: _excision(CervicalExcision(year=2019, depth_mm=15)),
        "15 mm deep",
    ),
    Case("R36", "LLETZ of unknown depth", lambda: _excision(CervicalExcision(year=2019)), "depth unknown"),
    Case(
        "R36",
        "two shallow excisions",
        lambda: _excision(CervicalExcision(year=2015, depth_mm=8), CervicalExcision(year=2019, depth_mm=8)),
        "2 cervical excisions",
    ),
    Case("R37", "last cervical scan 15 days ago, none booked", lambda: _last_scan(15), "15 days ago"),
    Case(
        "R38",
        "swab booked in a low-risk pregnancy",
        lambda: patient(pregnancy=pregnancy(wd(14)), follow_ups=(swab(ON + days(7)),)),
        "swab",
    ),
    Case("R40", "LMP dating only, 22+0 today", _preg_with(wd(22)), "no scan recorded before 22+0"),
    Case(
        "R40",
        "EDD changed after the CRL scan",
        lambda: _redated(
            _crl(ON - days(60)),
            date_entry(
                DatingMethod.MANUAL, ON - days(10), "growth scan elsewhere", edd=_crl(ON - days(60)).edd + days(7)
            ),
        ),
        "crown-rump length",
    ),
    Case("R41", "BMI 25.1", lambda: _bmi(100.4), "bmi 25.1"),
    Case("R41", "BMI 18.9", lambda: _bmi(75.6), "bmi 18.9"),
    Case("R41", "current smoker", lambda: patient(risk=RiskHistory(smoking="current")), "current smoker"),
    Case(
        "R41", "11 units of alcohol a week", lambda: patient(risk=RiskHistory(alcohol_units_per_week=11)), "alcohol 11"
    ),
    Case("X1", "aspirin planned, aspirin allergy recorded", lambda: _allergic("Aspirin", "aspirin"), "aspirin"),
    Case("X1", "heparin allergy covers every LMWH", lambda: _allergic("Heparin (HIT 2019)", "tinzaparin"), "heparin"),
    Case("X1", "allergy typed with a reaction", lambda: _allergic("enoxaparin - rash", "enoxaparin"), "enoxaparin"),
    Case("X1", "G-CSF allergy, G-CSF planned", lambda: _allergic("G-CSF", "g_csf"), "g-csf"),
    Case(
        "X1",
        "TNF inhibitor allergy, TNF inhibitor planned",
        lambda: _allergic("TNF inhibitors", "tnf_inhibitor"),
        "tnf",
    ),
]

SILENT: list[Case] = [
    Case(
        "R33",
        "short cervix after preterm birth, cerclage placed",
        lambda: patient(
            history=(PRETERM_BIRTH,),
            pregnancy=replace(pregnancy(wd(20)), cerclage_on=ON - days(1)),
            follow_ups=(cl_scan(ON, 20.0),),
        ),
    ),
    Case(
        "R8",
        "APS at 35+0: from 34+0 starting treatment is not what RCOG advises",
        lambda: replace(_aps(84), pregnancy=confirmed(wd(35))),
    ),
    Case(
        "R33",
        "a preterm birth at 36+0 is not NICE's qualifying history (up to 34+0)",
        lambda: patient(
            history=(past(Outcome.LIVE_BIRTH, 2022, ga=wd(36), preterm_birth=True),),
            pregnancy=pregnancy(wd(20)),
            follow_ups=(cl_scan(ON, 20.0),),
        ),
    ),
    Case(
        "R1",
        "one miscarriage and an ectopic (ectopics do not count)",
        lambda: patient(history=(early(2023), past(Outcome.ECTOPIC, 2024))),
    ),
    Case("R1", "two losses, workup already requested", lambda: patient(history=TWO_LOSSES, workup=(requested("la"),))),
    Case("R2", "two first-trimester miscarriages", lambda: patient(history=TWO_LOSSES)),
    Case("R2", "one miscarriage at 11+6", lambda: patient(history=(early(ga=wd(11, 6)),))),
    Case(
        "R2",
        "three losses with the whole protocol requested",
        lambda: patient(history=THREE_LOSSES, workup=[requested(i) for i in CAT.protocol.items]),
    ),
    Case("R3", "a single miscarriage", lambda: patient(history=(early(),))),
    Case(
        "R3",
        "LA and anticardiolipin requested",
        lambda: patient(history=TWO_LOSSES, workup=(requested("la"), requested("acl_igg"), requested("acl_igm"))),
    ),
    Case("R4", "LA repeated positive at 84 days: confirmed", lambda: _apl_repeat(84)),
    Case("R4", "LA repeated at 83 days (R5's case, not R4's)", lambda: _apl_repeat(83)),
    Case("R5", "LA repeated at exactly 84 days", lambda: _apl_repeat(84)),
    Case("R5", "a positive LA not yet repeated", lambda: _apl_repeat(None)),
    Case(
        "R6",
        "anticardiolipin 41 GPL (medium titre)",
        lambda: patient(workup=(result("acl_igg", ON, ResultValue(41.0, "GPL U/mL", lab_high=20.0)),)),
    ),
    Case(
        "R6",
        "anticardiolipin 40 GPL, negative by the Sydney threshold",
        lambda: patient(workup=(result("acl_igg", ON, ResultValue(40.0, "GPL U/mL")),)),
    ),
    Case("R7", "LA sampled the day before heparin started", lambda: _la_on_heparin(ON - days(9))),
    Case(
        "R7", "LA sampled on the heparin's stop date", lambda: _la_on_heparin(ON - days(20), Anchor(date=ON - days(10)))
    ),
    Case(
        "R8",
        "persistent aPL, pregnant, aspirin and heparin active",
        lambda: _aps(100, plan("aspirin", Indication.APS), plan("enoxaparin", Indication.APS)),
    ),
    Case("R8", "aPL repeated at 83 days: not persistent", lambda: _aps(83)),
    Case("R9", "APS treatment planned to stop at 34+0", lambda: _aps_stop(wd(34))),
    Case(
        "R10",
        "protein C tested after a loss at 12+0",
        lambda: patient(
            history=(early(ga=wd(11, 6)), past(Outcome.LATE_MISCARRIAGE, 2025, ga=wd(12))),
            workup=(requested("protein_c"),),
        ),
    ),
    Case(
        "R10",
        "protein C tested with a VTE history",
        lambda: patient(history=TWO_LOSSES, workup=(requested("protein_c"),), risk=RiskHistory(vte_history=True)),
    ),
    Case(
        "R11",
        "LMWH for inherited thrombophilia with a VTE history",
        lambda: patient(
            risk=RiskHistory(vte_history=True),
            plans=(plan("enoxaparin", Indication.INHERITED_THROMBOPHILIA, pregnancy_id=None),),
        ),
    ),
    Case("R12", "protein S taken on day 43 after a birth", lambda: _protein_s_after_birth(43)),
    Case(
        "R13", "TSH and TPO requested", lambda: patient(history=TWO_LOSSES, workup=(requested("tsh"), requested("tpo")))
    ),
    Case("R14", "TSH exactly at the 4.0 threshold", lambda: _thyroid(4.0)),
    Case("R14", "TSH 3.0 with the default threshold", lambda: _thyroid(3.0)),
    Case(
        "R14",
        "TSH 6 with a low free T4 (overt, not subclinical)",
        lambda: patient(
            workup=(tsh(ON, 6.0), result("ft4", ON, ResultValue(9.0, "pmol/L", lab_low=12.0, lab_high=22.0)))
        ),
    ),
    Case(
        "R14",
        "TSH 6, free T4 typed without a laboratory range (not known to be normal)",
        lambda: patient(workup=(tsh(ON, 6.0), result("ft4", ON, ResultValue(7.0, "pmol/L")))),
    ),
    Case(
        "R15",
        "levothyroxine, TSH 9 typed without a laboratory range (not known to be normal)",
        lambda: patient(
            workup=(tpo_positive(), result("tsh", ON, ResultValue(9.0, "mIU/L"))),
            plans=(plan("levothyroxine", Indication.EUTHYROID_TPO_MISCARRIAGE, pregnancy_id=None),),
        ),
    ),
    Case(
        "R15",
        "levothyroxine for subclinical hypothyroidism",
        lambda: _levothyroxine(Indication.SUBCLINICAL_HYPOTHYROIDISM),
    ),
    Case(
        "R15",
        "levothyroxine with TSH above the laboratory range",
        lambda: _levothyroxine(Indication.EUTHYROID_TPO_MISCARRIAGE, 5.0),
    ),
    Case(
        "R16", "TPO positive at 10+0, TSH exactly 28 days ago", lambda: _tpo_pregnant(wd(10), lambda p: ON - days(28))
    ),
    Case("R16", "TPO positive at 30+0, TSH at 28+0", lambda: _tpo_pregnant(wd(30), lambda p: at(p, wd(28)))),
    Case(
        "R17",
        "prolactin requested, periods recorded as infrequent or absent",
        lambda: patient(workup=(requested("prolactin"),), risk=RiskHistory(oligo_amenorrhoea=True)),
    ),
    Case(
        "R42",
        "recurrent miscarriage, pregnant, booked in a high-risk clinic",
        lambda: patient(history=TWO_LOSSES, pregnancy=replace(confirmed(wd(8)), high_risk_care=True)),
    ),
    Case(
        "R42",
        "pregnant without recurrent miscarriage",
        lambda: patient(history=(early(2024),), pregnancy=confirmed(wd(8))),
    ),
    Case("R16", "TPO positive at 24+0, between the checks", lambda: _tpo_pregnant(wd(24), lambda p: ON - days(60))),
    Case("R18", "a single miscarriage at 11+6", lambda: _tissue(early(ga=wd(11, 6), date=ON - days(10)))),
    Case(
        "R18",
        "third miscarriage 31 days ago (outside the look-back)",
        lambda: _tissue(early(date=ON - days(31)), *TWO_LOSSES),
    ),
    Case(
        "R18",
        "third miscarriage with the tissue test requested",
        lambda: _tissue(early(date=ON - days(10)), *TWO_LOSSES, workup=(requested("poc_genetics", ON - days(9)),)),
    ),
    Case(
        "R19",
        "unbalanced tissue result, parental karyotype requested",
        lambda: patient(
            history=(early(tissue_genetics=TissueGenetics.UNBALANCED_STRUCTURAL),),
            workup=(requested("karyotype_partner"),),
        ),
    ),
    Case("R19", "tissue result normal", lambda: patient(history=(early(tissue_genetics=TissueGenetics.NORMAL),))),
    Case("R20", "uterine assessment requested", lambda: patient(history=TWO_LOSSES, workup=(requested("uterine"),))),
    Case(
        "R21",
        "arcuate uterus",
        lambda: patient(
            workup=(result("uterine", ON, ResultValue(findings=("arcuate",), method="3D transvaginal ultrasound")),)
        ),
    ),
    Case("R22", "bleeding at 16+0", lambda: _bleeding_after_miscarriage(wd(16))),
    Case(
        "R22",
        "bleeding with no previous miscarriage",
        lambda: _bleeding_after_miscarriage(wd(8), (past(Outcome.LIVE_BIRTH, 2022, ga=wd(40)),)),
    ),
    Case(
        "R22",
        "bleeding, vaginal progesterone already active",
        lambda: patient(history=(early(2025),), pregnancy=confirmed(wd(8), bleeding_at=wd(7)), plans=(progesterone(),)),
    ),
    Case(
        "R23",
        "progesterone after the intrauterine pregnancy was confirmed",
        lambda: patient(pregnancy=confirmed(wd(8), bleeding_at=wd(7)), plans=(progesterone(),)),
    ),
    Case(
        "R24",
        "vaginal progesterone 400 mg twice daily",
        lambda: patient(pregnancy=confirmed(wd(8), bleeding_at=wd(7)), plans=(progesterone(),)),
    ),
    Case("R25", "progesterone planned to stop at 16+0 exactly", lambda: _progesterone_stop(wd(16))),
    Case("R26", "at 16+0 a course planned to stop at 16+0", lambda: _progesterone_today(wd(16), wd(16))),
    Case("R26", "at 15+6 a course planned to 16+1", lambda: _progesterone_today(wd(15, 6), wd(16, 1))),
    Case(
        "R27",
        "progesterone with bleeding recorded",
        lambda: patient(pregnancy=confirmed(wd(8), bleeding_at=wd(7)), plans=(progesterone(),)),
    ),
    Case(
        "R28",
        "progesterone with a plain stop",
        lambda: patient(pregnancy=confirmed(wd(9), bleeding_at=wd(8)), plans=(progesterone(stop=stop_at(wd(16))),)),
    ),
    Case(
        "R29",
        "aspirin stopped on the day of the miscarriage",
        lambda: _ended_with(
            plan("aspirin", Indication.APS, pregnancy_id=2, status=PlanStatus.STOPPED, stopped_on=ON - days(5))
        ),
    ),
    Case(
        "R30",
        "prednisolone for another indication",
        lambda: patient(plans=(plan("prednisolone", Indication.OTHER, pregnancy_id=None),)),
    ),
    Case(
        "R31", "only the protocol tests requested", lambda: patient(workup=[requested(i) for i in CAT.protocol.items])
    ),
    Case("R32", "previous preterm birth, 15+6 today", lambda: _preterm_history(wd(15, 6))),
    Case("R32", "previous preterm birth, 24+1 today", lambda: _preterm_history(wd(24, 1))),
    Case(
        "R32",
        "mid-trimester loss at 15+6 only",
        lambda: _preterm_history(wd(20), (past(Outcome.LATE_MISCARRIAGE, ga=wd(15, 6)),)),
    ),
    Case(
        "R32",
        "previous preterm birth, scan already booked",
        lambda: _preterm_history(wd(16), follow_ups=(cl_scan_due(ON + days(7)),)),
    ),
    Case(
        "R33", "cervix 26 mm at 20+0 after a preterm birth", lambda: _short_cervix(26, wd(20), history=(PRETERM_BIRTH,))
    ),
    Case("R33", "cervix 20 mm at 15+6", lambda: _short_cervix(20, wd(15, 6), history=(PRETERM_BIRTH,))),
    Case("R33", "cervix 20 mm at 24+1", lambda: _short_cervix(20, wd(24, 1), history=(PRETERM_BIRTH,))),
    Case(
        "R33",
        "short cervix, progesterone started",
        lambda: _short_cervix(
            20, wd(20), history=(PRETERM_BIRTH,), plans=(progesterone(Indication.PRETERM_SHORT_CERVIX),)
        ),
    ),
    Case(
        "R33", "short cervix without a qualifying history (R34's case)", lambda: _short_cervix(20, wd(20), history=())
    ),
    Case("R34", "cervix 26 mm at 20+0", lambda: _short_cervix(26, wd(20), history=())),
    Case("R34", "cervix 20 mm at 15+6", lambda: _short_cervix(20, wd(15, 6), history=())),
    Case("R34", "cervix 20 mm at 24+1", lambda: _short_cervix(20, wd(24, 1), history=())),
    Case(
        "R34",
        "short cervix after a preterm birth (R33's case)",
        lambda: _short_cervix(20, wd(20), history=(PRETERM_BIRTH,)),
    ),
    Case("R36", "LLETZ 14 mm deep", lambda: _excision(CervicalExcision(year=2019, depth_mm=14))),
    Case(
        "R36",
        "deep LLETZ, cervical scans already planned",
        lambda: _excision(CervicalExcision(year=2019, depth_mm=18), follow_ups=(cl_scan_due(ON + days(30)),)),
    ),
    Case("R37", "last cervical scan 14 days ago", lambda: _last_scan(14)),
    Case("R37", "scan 15 days ago, next one booked", lambda: _last_scan(15, next_due=True)),
    Case("R37", "scan 15 days ago, now 24+1", lambda: _last_scan(15, wd(24, 1))),
    Case(
        "R38",
        "swab after a previous preterm birth",
        lambda: _preterm_history(wd(14), follow_ups=(swab(ON + days(7)),)),
    ),
    Case(
        "R38",
        "swab cancelled",
        lambda: patient(pregnancy=pregnancy(wd(14)), follow_ups=(swab(ON + days(7), FollowUpStatus.CANCELLED),)),
    ),
    Case("R40", "LMP dating only, 21+6 today", _preg_with(wd(21, 6))),
    Case(
        "R40",
        "22+0 today, intrauterine pregnancy seen on scan at 7+0",
        lambda: patient(pregnancy=confirmed(wd(22))),
    ),
    Case(
        "R40",
        "LMP dating replaced by the CRL scan",
        lambda: _redated(_lmp(ON - days(40), ON - days(84)), _crl(ON - days(30))),
    ),
    Case("R41", "BMI exactly 25.0", lambda: _bmi(100.0)),
    Case("R41", "BMI exactly 19.0", lambda: _bmi(76.0)),
    Case(
        "R41",
        "10 units a week, former smoker",
        lambda: patient(risk=RiskHistory(alcohol_units_per_week=10, smoking="former")),
    ),
    Case("X1", "penicillin allergy, aspirin planned", lambda: _allergic("Penicillin", "aspirin")),
    Case("X1", "intravenous contrast allergy, IVIG planned", lambda: _allergic("Intravenous contrast", "ivig")),
    Case(
        "R8",
        "persistent aPL, pregnant, untreated, but only two losses (ESHRE: treatment then only in research)",
        lambda: replace(_aps(84), history=TWO_LOSSES),
    ),
    Case("X1", "egg allergy, G-CSF planned", lambda: _allergic("Eggs", "g_csf", Indication.UNEXPLAINED_RPL)),
    Case("X1", "allergy to sulfa drugs, G-CSF planned", lambda: _allergic("sulfa drugs", "g_csf")),
    Case(
        "X1",
        "aspirin allergy, plan cancelled",
        lambda: patient(
            risk=RiskHistory(drug_allergies=("aspirin",)),
            plans=(plan("aspirin", Indication.APS, status=PlanStatus.CANCELLED, pregnancy_id=None),),
        ),
    ),
]


def test_the_shipped_rule_set_loads_every_rule_and_rejects_none() -> None:
    assert [r.id for r in RULES.rules] == list(SHIPPED_IDS)
    assert RULES.rejected == ()


def test_every_rule_has_a_patient_that_fires_it_and_a_near_miss_that_does_not() -> None:
    assert {c.rule for c in FIRES} == set(SHIPPED_IDS)
    assert {c.rule for c in SILENT} == set(SHIPPED_IDS)


@pytest.mark.parametrize("case", [c.param() for c in FIRES])
def test_rule_fires_for_the_patient_it_was_written_for_and_names_why(case: Case) -> None:
    alert = alerts_on(case.make(), case.on).get(case.rule)
    assert alert is not None, f"{case.rule} did not fire for: {case.story}"
    assert alert.because and all(reason.strip() for reason in alert.because)
    assert case.mentions.lower() in " | ".join(alert.because).lower()
    assert alert.message.startswith(alert.rule.message)


@pytest.mark.parametrize("case", [c.param() for c in SILENT])
def test_rule_stays_quiet_for_the_near_miss(case: Case) -> None:
    alert = alerts_on(case.make(), case.on).get(case.rule)
    assert alert is None, f"{case.rule} fired for: {case.story} ({alert.because if alert else ''})"


def test_an_empty_record_raises_no_alert() -> None:
    assert alerts_on(patient()) == {}


def test_critical_alerts_block_the_action_that_causes_them() -> None:
    r23 = alerts_on(patient(pregnancy=pregnancy(wd(6)), plans=(progesterone(start=ON),)))["R23"]
    x1 = alerts_on(_allergic("aspirin", "aspirin"))["X1"]
    assert r23.severity is x1.severity is AlertSeverity.CRITICAL
    # each blocks saving the very plans it is about, and nothing else
    assert r23.blocks == ("plan:progesterone_vaginal:2026-11-22",)
    assert x1.blocks == ("plan:aspirin:2026-10-23",)


def test_alerts_are_ordered_most_severe_first_then_by_rule() -> None:
    s = patient(
        history=THREE_LOSSES,
        workup=(la_positive(ON - days(200)), la_positive(ON - days(100))),
        pregnancy=confirmed(wd(8)),
        risk=RiskHistory(smoking="current"),
    )
    out = evaluate(RULES, s, ON)
    keys = [(-a.severity.rank, a.rule.id) for a in out]
    assert keys == sorted(keys)
    assert out[0].rule.id == "R8" and out[-1].severity is AlertSeverity.INFO


# -- citations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_every_rule_cites_its_evidence_with_label_and_link(rule: Any) -> None:
    assert rule.citations, rule.id
    refs = REFS_DOC["references"]
    for c in rule.citations:
        assert c.label.strip(), f"{rule.id} cites {c.key} without a label"
        ref = refs[c.key]
        assert c.doi == (ref.get("doi") or None)
        assert c.url == (ref.get("url") or None)
        if ref.get("doi") or ref.get("url"):
            assert c.link and c.link.startswith("https://")
    assert rule.message.strip() and rule.summary.strip() and rule.strength.strip()
    for p in rule.parameters:
        assert p.minimum <= p.default <= p.maximum and p.citation.strip()
    if rule.safety_net:
        assert [c.key for c in rule.citations] == ["SAFETY"]


def test_every_cited_doi_is_complete() -> None:
    broken = sorted({c.key for r in RULES.rules for c in r.citations if c.doi and c.doi.count("(") != c.doi.count(")")})
    assert broken == []


def _doc_with(rule_id: str, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(RULES_DOC)
    raw = next(r for r in doc["rules"] if r["id"] == rule_id)
    raw.update(changes)
    return doc


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"citations": []}, "no citation"),
        ({"citations": ["S999"]}, "unknown reference S999"),
        ({"id": "R99"}, "no logic for this rule"),
        (
            {"parameters": [{"name": "x", "label": "x", "default": 50, "min": 0, "max": 10, "citation": "c"}]},
            "default outside its bounds",
        ),
        (
            {"parameters": [{"name": "x", "label": "x", "default": 5, "min": 0, "max": 10, "citation": " "}]},
            "no citation",
        ),
    ],
    ids=["no citation", "unknown reference", "no logic", "default out of bounds", "uncited parameter"],
)
def test_a_rule_that_cannot_justify_itself_does_not_load_and_says_why(changes: dict[str, Any], why: str) -> None:
    rs = load_rule_set(_doc_with("R20", **changes), REFS_DOC)
    rid = changes.get("id", "R20")
    assert rid not in [r.id for r in rs.rules]
    assert "R20" not in [r.id for r in rs.rules]
    assert len(rs.rules) == len(RULES.rules) - 1
    [(rejected_id, reason)] = rs.rejected
    assert rejected_id == rid and why in reason
    # the rest still evaluates
    assert "R1" in alerts_on(patient(history=TWO_LOSSES), rule_set=rs)


# -- evaluation -------------------------------------------------------------------------------------------


def test_a_rule_that_crashes_shows_an_error_alert_instead_of_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(s: Snapshot, on: dt.date, p: Any) -> Finding | None:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(engine.LOGIC, "R41", broken)
    out = {a.rule.id: a for a in evaluate(RULES, patient(history=TWO_LOSSES), ON)}
    alert = out["R41"]
    assert alert.error == "ZeroDivisionError"
    assert alert.severity is AlertSeverity.WARNING
    assert "could not be evaluated" in alert.message and "by hand" in alert.message
    assert alert.because == ("evaluation failed: ZeroDivisionError",)
    assert "R1" in out and "R20" in out  # the other rules still ran


def test_a_rule_that_fires_without_naming_its_inputs_is_shown_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.LOGIC, "R31", lambda s, on, p: Finding(()))
    alert = next(a for a in evaluate(RULES, patient(), ON) if a.rule.id == "R31")
    assert alert.error == "no inputs named" and alert.severity is AlertSeverity.WARNING


@pytest.mark.parametrize(("tsh_value", "fires"), [(2.5, False), (2.6, True), (3.0, True)])
def test_a_clinic_threshold_overrides_the_default(tsh_value: float, fires: bool) -> None:
    s = _thyroid(tsh_value)
    assert "R14" not in alerts_on(s)  # default 4.0
    assert ("R14" in alerts_on(s, parameters={"R14": {"tsh_threshold": 2.5}})) is fires


def test_clinic_parameters_reach_the_rule_they_name_only() -> None:
    s = _excision(CervicalExcision(year=2019, depth_mm=12))
    assert "R36" not in alerts_on(s)
    assert "R36" in alerts_on(s, parameters={"R36": {"depth_mm": 12}})
    assert "R36" not in alerts_on(s, parameters={"R14": {"tsh_threshold": 2.5}})
    assert "R36" not in alerts_on(s, parameters={"R36": {"depth_mm": 12.5}})  # not rounded down to 12
    assert "R37" in alerts_on(_last_scan(8), parameters={"R37": {"interval_days": 7}})


def test_a_disabled_rule_raises_nothing_and_the_others_still_do() -> None:
    s = patient(history=TWO_LOSSES)
    assert {"R1", "R3", "R13", "R20"} <= set(alerts_on(s))
    out = alerts_on(s, disabled={"R1", "R20"})
    assert "R1" not in out and "R20" not in out
    assert {"R3", "R13"} <= set(out)


def _busy_patient() -> Snapshot:
    p = confirmed(wd(20), bleeding_at=wd(8))
    return patient(
        history=(*THREE_LOSSES, PRETERM_BIRTH),
        workup=(la_positive(ON - days(200)), la_positive(ON - days(150)), tsh(ON - days(40), 4.5), ft4_normal(ON)),
        risk=RiskHistory(
            smoking="current", drug_allergies=("aspirin",), cervical_excisions=(CervicalExcision(year=2019),)
        ),
        pregnancy=p,
        plans=(plan("aspirin", Indication.APS, stop=stop_at(wd(30))), progesterone(taper=())),
        follow_ups=(cl_scan(at(p, wd(18)), 22.0), swab(ON + days(3))),
    )


def test_evaluation_is_deterministic() -> None:
    s = _busy_patient()
    first = evaluate(RULES, s, ON)
    assert len(first) >= 8
    assert evaluate(RULES, s, ON) == first
    assert evaluate(RULES, replace(s), ON) == first


def test_as_of_a_past_date_later_results_are_hidden() -> None:
    first = ON - days(120)
    s = patient(workup=(la_positive(first), la_positive(first + days(90))))
    assert "R4" not in alerts_on(s)  # confirmed today
    earlier = alerts_on(s, first + days(89))
    assert "R4" in earlier  # before the repeat, it was still due
    assert alerts_on(s, first - days(1)) == {}  # before the first result, nothing was known
    view = s.as_of(first + days(89))
    assert [i.sample_date for i in view.workup] == [first]


def test_as_of_a_past_date_a_later_pregnancy_and_its_plans_are_hidden() -> None:
    s = patient(history=TWO_LOSSES, pregnancy=confirmed(wd(8)), plans=(progesterone(start=ON - days(3)),))
    view = s.as_of(ON - days(60))
    assert view.pregnancy is None and view.plans == ()
    assert "R27" in alerts_on(s) and "R27" not in alerts_on(s, ON - days(60))


def test_as_of_before_a_loss_the_pregnancy_is_still_open() -> None:
    s = _ended_with(plan("aspirin", Indication.APS, pregnancy_id=2))
    view = s.as_of(ON - days(6))
    assert view.pregnancy is not None and view.pregnancy.ended_on is None and view.ended == ()
    assert "R29" in alerts_on(s) and "R29" not in alerts_on(s, ON - days(6))


def test_as_of_a_past_date_later_cervical_scans_are_hidden() -> None:
    p = pregnancy(wd(22))
    s = patient(history=(PRETERM_BIRTH,), pregnancy=p, follow_ups=(cl_scan(ON, 20.0),))
    assert "R33" in alerts_on(s)
    assert "R33" not in alerts_on(s, at(p, wd(21)))


# -- an alert's life -----------------------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _hours(n: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


def _r20(version: int = 1) -> list[Alert]:
    rs = RULES if version == 1 else load_rule_set(_doc_with("R20", version=version), REFS_DOC)
    return [a for a in evaluate(rs, patient(history=TWO_LOSSES), ON) if a.rule.id == "R20"]


def _respond(alert: Alert, kind: EventKind, at: dt.datetime, **kw: Any) -> AlertEvent:
    return AlertEvent(alert.rule.id, alert.rule.version, alert.episode, kind, at, "dr.who", "consultant", **kw)


def test_a_new_alert_fires_once_and_is_active() -> None:
    alerts = _r20()
    fired = transitions(alerts, [], T0)
    assert [(e.rule_id, e.kind, e.rule_version) for e in fired] == [("R20", EventKind.FIRED, 1)]
    assert transitions(alerts, fired, _hours(1)) == []
    assert status_of(alerts[0], fired, ON) == (AlertStatus.ACTIVE, None)


def test_an_acknowledgement_holds_while_the_alert_keeps_firing() -> None:
    [alert] = _r20()
    events = [*transitions([alert], [], T0)]
    ack = _respond(alert, EventKind.ACKNOWLEDGED, _hours(1))
    events.append(ack)
    for day in range(1, 4):
        events += transitions(_r20(), events, _hours(24 * day))
    assert [e.kind for e in events] == [EventKind.FIRED, EventKind.ACKNOWLEDGED]
    assert status_of(alert, events, ON + days(3)) == (AlertStatus.ACKNOWLEDGED, ack)


def test_an_override_keeps_its_coded_reason() -> None:
    [alert] = _r20()
    events = [
        *transitions([alert], [], T0),
        _respond(alert, EventKind.OVERRIDDEN, _hours(1), reason_code="done_elsewhere"),
    ]
    status, event = status_of(alert, events, ON)
    assert status is AlertStatus.OVERRIDDEN and event is not None and event.reason_code == "done_elsewhere"


def test_a_new_rule_version_voids_the_acknowledgement() -> None:
    [v1] = _r20()
    events = [*transitions([v1], [], T0), _respond(v1, EventKind.ACKNOWLEDGED, _hours(1))]
    [v2] = _r20(version=2)
    assert v2.rule.version == 2 and v2.key == v1.key
    new = transitions([v2], events, _hours(2))
    assert [(e.kind, e.rule_version) for e in new] == [(EventKind.ENDED, 1), (EventKind.FIRED, 2)]
    events += new
    assert status_of(v2, events, ON) == (AlertStatus.ACTIVE, None)
    assert transitions([v2], events, _hours(3)) == []


def test_an_alert_that_stops_firing_ends_and_its_acknowledgement_does_not_return() -> None:
    [alert] = _r20()
    events = [*transitions([alert], [], T0), _respond(alert, EventKind.ACKNOWLEDGED, _hours(1))]
    # the uterine assessment is requested: R20 no longer fires
    quiet = [
        a
        for a in evaluate(RULES, patient(history=TWO_LOSSES, workup=(requested("uterine"),)), ON)
        if a.rule.id == "R20"
    ]
    assert quiet == []
    ended = transitions(quiet, events, _hours(2))
    assert [(e.rule_id, e.kind, e.episode) for e in ended] == [("R20", EventKind.ENDED, alert.episode)]
    events += ended
    assert transitions(quiet, events, _hours(3)) == []  # ends once
    # the request is cancelled: R20 fires again, and needs a fresh response
    again = transitions(_r20(), events, _hours(4))
    assert [e.kind for e in again] == [EventKind.FIRED]
    events += again
    assert status_of(alert, events, ON) == (AlertStatus.ACTIVE, None)


def test_a_snooze_holds_until_its_date_then_the_alert_is_active_again() -> None:
    [alert] = _r20()
    until = ON + days(7)
    snooze = _respond(alert, EventKind.SNOOZED, _hours(1), until=until)
    events = [*transitions([alert], [], T0), snooze]
    assert status_of(alert, events, until - days(1)) == (AlertStatus.SNOOZED, snooze)
    assert status_of(alert, events, until) == (AlertStatus.ACTIVE, None)
    assert status_of(alert, events, until + days(30)) == (AlertStatus.ACTIVE, None)


def test_an_error_alert_is_not_recorded_as_a_fired_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    [alert] = _r20()
    events = transitions([alert], [], T0)
    monkeypatch.setitem(engine.LOGIC, "R20", lambda s, on, p: 1 / 0)
    broken = [a for a in evaluate(RULES, patient(history=TWO_LOSSES), ON) if a.rule.id == "R20"]
    assert broken and broken[0].error
    new = transitions(broken, events, _hours(1))
    assert all(e.kind is not EventKind.FIRED for e in new)
