"""Scripted demo patients that exercise every alert rule: some patients fire it, some are near misses.

They follow the three workflows.md patients (indexes 3 onwards, hospital numbers RM000004 onwards) and
replace the random patients there; each is built so that one rule fires (a few fire several), and for
rules with a threshold a twin sits just on the other side of it (APS treatment stopping at 33+6 and at
34+0, a cervix of 25 and of 26 mm, a TSH of 4.1 and of 4.0, ...), so a demonstration shows what does
*not* alert as well as what does. Everything is dated relative to the demo's ``today``. Values are
illustrative, not epidemiology.

The random streams of ``generate``, ``demo_workup`` and ``add_random`` are still drawn for the patients
replaced here, so every other demo patient stays exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from ..domain.followup import FollowUp, FollowUpKind, FollowUpStatus, SwabResult
from ..domain.investigations import Catalogue
from ..domain.medication import Anchor, Frequency, Indication, MedicationPlan, apply_template
from ..domain.obstetric import Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory
from ..domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity
from ..domain.workup import ResultValue
from .demo_pregnancy import Batch, _lmp_entry
from .demo_workup import _row

FIRST_INDEX = 3  # after Amira, Claire and Łucja

EM, LM, LB = Outcome.EARLY_MISCARRIAGE, Outcome.LATE_MISCARRIAGE, Outcome.LIVE_BIRTH
DAILY, TWICE = Frequency.ONCE_DAILY, Frequency.TWICE_DAILY
APS_STOP = 34 * 7  # RCOG: aspirin and heparin to at least 34+0
PROGESTERONE_STOP = 16 * 7  # NICE NG126: to 16 completed weeks


@dataclass(frozen=True)
class WorkupEntry:
    """One workup item: requested on ``day`` (``value`` None), or resulted with ``day`` as sample date."""

    investigation: str
    day: dt.date
    value: ResultValue | None = None
    reviewed: bool = True


@dataclass(frozen=True)
class AlertCase:
    """One scripted patient and the rules it is built to fire, or to narrowly miss."""

    fires: tuple[str, ...]
    misses: tuple[str, ...]
    story: str
    patient: PatientData
    tests: tuple[WorkupEntry, ...] = ()
    pregnancies: tuple[CurrentPregnancy, ...] = ()  # at most one open
    plans: tuple[tuple[int | None, MedicationPlan], ...] = ()  # (index into pregnancies, plan)
    follow_ups: tuple[tuple[int | None, FollowUp], ...] = ()


# -- values ----------------------------------------------------------------------------------------------

NEG, POS = ResultValue(text="negative"), ResultValue(text="positive")
UTERUS_3D = "3D transvaginal ultrasound"
NORMAL_UTERUS = ResultValue(findings=("normal",), method=UTERUS_3D)
_UNITS = {
    "acl_igg": "GPL U/mL",
    "acl_igm": "MPL U/mL",
    "tsh": "mIU/L",
    "tpo": "IU/mL",
    "ft4": "pmol/L",
    "protein_c": "IU/dL",
    "protein_s": "IU/dL",
    "antithrombin": "IU/dL",
    "sperm_dna": "%",
    "prolactin": "mIU/L",
}
_LAB_RANGE: dict[str, tuple[float, float]] = {  # the laboratory's own range, as a nurse would type it
    "tsh": (0.4, 4.0),
    "tpo": (0.0, 34.0),
    "ft4": (12.0, 22.0),
    "protein_c": (70.0, 140.0),
    "protein_s": (60.0, 130.0),
    "antithrombin": (80.0, 120.0),
    "sperm_dna": (0.0, 30.0),
    "prolactin": (102.0, 496.0),
}


def num(iid: str, value: float, lab: tuple[float, float] | None = None) -> ResultValue:
    lab = lab or _LAB_RANGE.get(iid)
    low, high = lab if lab else (None, None)
    return ResultValue(numeric=value, unit=_UNITS[iid], lab_low=low, lab_high=high)


def text(value: str) -> ResultValue:
    return ResultValue(text=value)


# -- building blocks, dated relative to today ----------------------------------------------------------


class _Day:
    def __init__(self, today: dt.date) -> None:
        self.today = today

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def loss(
        self,
        days_ago: int,
        gestation: int,
        outcome: Outcome = EM,
        genetics: TissueGenetics = TissueGenetics.NOT_SENT,
        preterm: bool = False,
    ) -> PreviousPregnancy:
        day = self.ago(days_ago)
        return PreviousPregnancy(day.year, outcome, day, gestation, preterm_birth=preterm, tissue_genetics=genetics)

    def losses(self, *days_ago: int) -> tuple[PreviousPregnancy, ...]:
        """Early miscarriages between 6+0 and 9+6, oldest first (pass the days ago in that order)."""
        return tuple(self.loss(d, 42 + (d * 7) % 28) for d in days_ago)

    def test(self, iid: str, days_ago: int, value: ResultValue | None = None, reviewed: bool = True) -> WorkupEntry:
        return WorkupEntry(iid, self.ago(days_ago), value, reviewed)

    def baseline(self, days_ago: int, **override: ResultValue) -> tuple[WorkupEntry, ...]:
        """The clinic protocol (RCOG 2023), all normal unless overridden; the uterine scan two weeks later."""
        values = {
            "la": NEG,
            "acl_igg": num("acl_igg", 6.0),
            "acl_igm": num("acl_igm", 4.0),
            "tsh": num("tsh", 1.9),
            "tpo": num("tpo", 8.0),
            "uterine": NORMAL_UTERUS,
            **override,
        }
        return tuple(self.test(i, days_ago - 14 if i == "uterine" else days_ago, v) for i, v in values.items())

    def person(
        self,
        given: str,
        family: str,
        age: int,
        month: int,
        history: tuple[PreviousPregnancy, ...],
        risk: RiskHistory | None = None,
        partner: str | None = None,
        notes: str = "",
    ) -> PatientData:
        born = dt.date(self.today.year - age, month, 9 + month)
        return PatientData(
            hospital_number="",  # set from the random patient it replaces
            family_name=family,
            given_name=given,
            date_of_birth=born,
            notes=notes,
            partner=Partner(family, partner, born - dt.timedelta(days=400 + 97 * month)) if partner else None,
            risk=risk or RiskHistory(smoking="never", alcohol_units_per_week=2, height_cm=165, weight_kg=62),
            pregnancies=history,
        )


class _Gest:
    """A pregnancy dated by its LMP, ``ga_today`` days along today (or that would be, had it continued)."""

    def __init__(self, today: dt.date, ga_today: int) -> None:
        self.today, self.ga_today = today, ga_today

    def at(self, gestation: int) -> dt.date:
        return self.today - dt.timedelta(days=self.ga_today - gestation)

    def pregnancy(
        self,
        booked: int,
        scan: int | None = None,
        bleeding: Sequence[tuple[int, Severity]] = (),
        ended: tuple[int, Outcome] | None = None,
        notes: str = "",
    ) -> CurrentPregnancy:
        """``booked``, ``scan`` (intrauterine pregnancy with a heartbeat) and bleeding are gestations."""
        seen = self.at(scan) if scan is not None else None
        return CurrentPregnancy(
            None,
            (_lmp_entry(self.today, self.ga_today, self.at(booked)),),
            iup_confirmed_on=seen,
            iup_method=IupMethod.TRANSVAGINAL if seen else None,
            heartbeat_on=seen,
            bleeding=tuple(Bleeding(self.at(ga), severity) for ga, severity in bleeding),
            ended_on=self.at(ended[0]) if ended else None,
            outcome=ended[1] if ended else None,
            sensitive=ended is not None,
            notes=notes,
        )

    def plan(
        self,
        drug: str,
        dose: float,
        frequency: Frequency,
        start: int,
        indication: Indication,
        stop: int | None,
        notes: str = "",
    ) -> MedicationPlan:
        anchor = Anchor(gestation_days=stop) if stop is not None else None
        return MedicationPlan(drug, dose, frequency, self.at(start), indication, anchor, notes=notes)

    def progesterone(
        self, start: int, stop: int, indication: Indication = Indication.THREATENED_MISCARRIAGE
    ) -> MedicationPlan:
        return self.plan("progesterone_vaginal", 400, TWICE, start, indication, stop)

    def cl_scan(self, gestation: int, mm: float | None = None) -> FollowUp:
        """A cervical-length scan of the 2-weekly series: done (``mm`` given) or still due."""
        scan = FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, self.at(gestation), 3, protocol="cl_2weekly")
        if mm is None:
            return scan
        done = self.at(gestation)
        return replace(scan, status=FollowUpStatus.DONE, result_date=done, cervical_length_mm=mm, funnelling=False)


def _aps(
    d: _Day, first: int, second: int, iid: str = "acl_igg", values: tuple[float, float] = (62, 58)
) -> tuple[WorkupEntry, ...]:
    """Baseline workup with one antiphospholipid test positive ``first`` and again ``second`` days ago."""
    if iid == "la":
        return (*d.baseline(first, la=POS), d.test("la", second, POS))
    return (*d.baseline(first, **{iid: num(iid, values[0])}), d.test(iid, second, num(iid, values[1])))


# -- the cases, in index order -------------------------------------------------------------------------------

_BUILDERS: list[Callable[[_Day], AlertCase]] = []


def _case(build: Callable[[_Day], AlertCase]) -> Callable[[_Day], AlertCase]:
    _BUILDERS.append(build)
    return build


@_case
def _new_referral(d: _Day) -> AlertCase:
    history = (
        d.loss(900, 6 * 7 + 3),
        d.loss(520, 7 * 7 + 5, genetics=TissueGenetics.UNBALANCED_STRUCTURAL),
        d.loss(75, 8 * 7 + 1),
    )
    return AlertCase(
        ("R1", "R2", "R3", "R13", "R19", "R20"),
        (),
        "New referral after three miscarriages, tissue of the second unbalanced; nothing ordered yet.",
        d.person("Ngozi", "Okafor", 33, 4, history, partner="Chidi"),
    )


@_case
def _apl_repeat_83_days(d: _Day) -> AlertCase:
    tests = (*d.baseline(250, acl_igg=num("acl_igg", 52)), d.test("acl_igg", 167, num("acl_igg", 41)))
    return AlertCase(
        ("R5",),
        ("R6",),
        "Anticardiolipin IgG positive, repeated 83 days later (one day early); the repeat is 41 GPL.",
        d.person("Agnieszka", "Kowalska", 36, 2, d.losses(800, 500, 300), partner="Marek"),
        tests,
    )


@_case
def _apl_repeat_84_days(d: _Day) -> AlertCase:
    return AlertCase(
        (),
        ("R4", "R5"),
        "Lupus anticoagulant positive twice exactly 12 weeks (84 days) apart: APS confirmed, not pregnant.",
        d.person(
            "Zainab",
            "Hussain",
            31,
            7,
            d.losses(900, 640, 380),
            partner="Omar",
            notes="APS: aspirin and heparin from a positive pregnancy test.",
        ),
        _aps(d, 300, 216, "la"),
    )


@_case
def _low_titre_acl(d: _Day) -> AlertCase:
    return AlertCase(
        ("R4", "R6"),
        (),
        "Anticardiolipin IgG 40 GPL, above the laboratory's 99th centile (20): low titre; repeat due.",
        d.person("Adaeze", "Mensah", 29, 11, d.losses(700, 420, 160), partner="Kwame"),
        d.baseline(35, acl_igg=num("acl_igg", 40, lab=(0.0, 20.0))),
    )


@_case
def _la_on_heparin(d: _Day) -> AlertCase:
    g = _Gest(d.today, 12 * 7 + 3)
    return AlertCase(
        ("R7",),
        ("R8", "R9"),
        "APS on aspirin and enoxaparin to 34+0; lupus anticoagulant re-tested at 10+0 while on heparin.",
        d.person("Nadia", "Rahman", 34, 5, d.losses(1300, 900, 500), partner="Raj"),
        (*_aps(d, 400, 300), d.test("la", g.ga_today - 70, NEG)),
        (g.pregnancy(booked=5 * 7, scan=6 * 7 + 2),),
        (
            (0, g.plan("aspirin", 75, DAILY, 5 * 7 + 1, Indication.APS, APS_STOP)),
            (0, g.plan("enoxaparin", 40, DAILY, 6 * 7 + 2, Indication.APS, APS_STOP)),
        ),
    )


@_case
def _aps_without_heparin(d: _Day) -> AlertCase:
    g = _Gest(d.today, 6 * 7 + 4)
    return AlertCase(
        ("R8",),
        (),
        "APS (lupus anticoagulant persistent), pregnant at 6+4 on aspirin; heparin not started.",
        d.person("Chiamaka", "Adeyemi", 32, 9, d.losses(1000, 700, 450), partner="Chidi"),
        _aps(d, 350, 250, "la"),
        (g.pregnancy(booked=5 * 7 + 3, scan=6 * 7 + 2),),
        ((0, g.plan("aspirin", 75, DAILY, 5 * 7 + 3, Indication.APS, APS_STOP)),),
    )


@_case
def _aps_stop_33_6(d: _Day) -> AlertCase:
    g = _Gest(d.today, 9 * 7)
    return AlertCase(
        ("R9",),
        ("R7",),
        "APS on aspirin and enoxaparin planned to stop at 33+6; lupus anticoagulant taken the day before "
        "heparin started.",
        d.person("Mei", "Zhang", 37, 3, d.losses(1100, 800, 470), partner="Wei"),
        (*_aps(d, 380, 290, "acl_igm", (55, 49)), d.test("la", g.ga_today - (6 * 7 + 4), NEG)),
        (g.pregnancy(booked=5 * 7 + 5, scan=6 * 7 + 3),),
        (
            (0, g.plan("aspirin", 75, DAILY, 5 * 7 + 5, Indication.APS, APS_STOP - 1)),
            (0, g.plan("enoxaparin", 40, DAILY, 6 * 7 + 5, Indication.APS, APS_STOP - 1)),
        ),
    )


@_case
def _thrombophilia_tests_first_trimester(d: _Day) -> AlertCase:
    history = (d.loss(1000, 9 * 7), d.loss(700, 10 * 7 + 2), d.loss(300, 11 * 7 + 6))
    tests = (
        *d.baseline(250, uterine=ResultValue(findings=("septate",), method=UTERUS_3D)),
        d.test("protein_c", 250, num("protein_c", 98)),
        d.test("antithrombin", 250, num("antithrombin", 104)),
    )
    return AlertCase(
        ("R10", "R21"),
        (),
        "Protein C and antithrombin tested after three losses, the latest at 11+6; septate uterus on 3D scan.",
        d.person("Ioana", "Popescu", 35, 6, history, partner="Luis"),
        tests,
    )


@_case
def _thrombophilia_tests_after_12_weeks(d: _Day) -> AlertCase:
    history = (d.loss(900, 8 * 7), d.loss(600, 7 * 7 + 3), d.loss(280, 12 * 7, LM))
    tests = (
        *d.baseline(240),
        d.test("protein_c", 240, num("protein_c", 101)),
        d.test("antithrombin", 240, num("antithrombin", 97)),
    )
    return AlertCase(
        (),
        ("R10",),
        "Protein C and antithrombin tested after a loss at 12+0 (second trimester), so they may be indicated.",
        d.person("Lucía", "Fernández", 30, 10, history, partner="João"),
        tests,
    )


@_case
def _lmwh_for_factor_v_leiden(d: _Day) -> AlertCase:
    g = _Gest(d.today, 8 * 7 + 2)
    plan = g.plan(
        "enoxaparin",
        40,
        DAILY,
        6 * 7 + 3,
        Indication.INHERITED_THROMBOPHILIA,
        36 * 7,
        notes="Started by the referring unit.",
    )
    return AlertCase(
        ("R11",),
        (),
        "Heterozygous factor V Leiden, no VTE history; enoxaparin started to prevent miscarriage.",
        d.person("Inês", "Gonçalves", 33, 8, d.losses(1200, 800, 330), partner="João"),
        (*d.baseline(300), d.test("fvl", 300, text("heterozygous"))),
        (g.pregnancy(booked=5 * 7 + 5, scan=6 * 7 + 3),),
        ((0, plan),),
    )


def _protein_s_after_birth(
    d: _Day, days_after: int, given: str, family: str
) -> tuple[PatientData, tuple[WorkupEntry, ...]]:
    born = 60  # days ago
    history = (*d.losses(1300, 1000, 700), d.loss(born, 39 * 7 + 2, LB))
    tests = (*d.baseline(650), d.test("protein_s", born - days_after, num("protein_s", 52)))
    # the near-miss twin also sits exactly on the lifestyle thresholds: BMI 25.0, 10 units a week
    risk = RiskHistory(smoking="former", alcohol_units_per_week=10, height_cm=160, weight_kg=64)
    return d.person(given, family, 34, 12, history, risk if days_after > 42 else None, "Sean"), tests


@_case
def _protein_s_42_days_after_birth(d: _Day) -> AlertCase:
    patient, tests = _protein_s_after_birth(d, 42, "Aisha", "Begum")
    return AlertCase(
        ("R12",),
        (),
        "Protein S measured 42 days after a birth, still within the 6 weeks when it is unreliable.",
        patient,
        tests,
    )


@_case
def _protein_s_43_days_after_birth(d: _Day) -> AlertCase:
    patient, tests = _protein_s_after_birth(d, 43, "Rebecca", "Thompson")
    return AlertCase(
        (),
        ("R12", "R41"),
        "Protein S measured 43 days after a birth; BMI exactly 25.0 and exactly 10 units of alcohol a week.",
        patient,
        tests,
    )


def _tsh(
    d: _Day, tsh: float, given: str, family: str, partner: str, periods: bool | None
) -> tuple[PatientData, tuple[WorkupEntry, ...]]:
    """TSH and free T4, and a prolactin requested alongside; ``periods``: oligo-/amenorrhoea recorded."""
    tests = (
        *d.baseline(90, tsh=num("tsh", tsh)),
        d.test("ft4", 90, num("ft4", 14.2)),
        d.test("prolactin", 90, num("prolactin", 250)),
    )
    risk = RiskHistory(
        smoking="never", alcohol_units_per_week=2, height_cm=165, weight_kg=62, oligo_amenorrhoea=periods
    )
    return d.person(given, family, 32, 1, d.losses(820, 560, 200), risk=risk, partner=partner), tests


@_case
def _tsh_above_threshold(d: _Day) -> AlertCase:
    patient, tests = _tsh(d, 4.1, "Hannah", "Richardson", "Tom", None)
    return AlertCase(
        ("R14", "R17"), (), "TSH 4.1 mIU/L with a normal free T4; prolactin taken, periods never asked.", patient, tests
    )


@_case
def _tsh_at_threshold(d: _Day) -> AlertCase:
    patient, tests = _tsh(d, 4.0, "Laura", "Patterson", "James", True)
    return AlertCase(
        (),
        ("R14", "R17"),
        "TSH 4.0 mIU/L (at, not above, the threshold) with a normal free T4; prolactin taken for infrequent periods.",
        patient,
        tests,
    )


@_case
def _levothyroxine_tpo_tsh_28_days(d: _Day) -> AlertCase:
    g = _Gest(d.today, 10 * 7 + 2)
    plan = MedicationPlan(
        "levothyroxine", 50, DAILY, d.ago(150), Indication.EUTHYROID_TPO_MISCARRIAGE, unit="microgram"
    )
    return AlertCase(
        ("R15",),
        ("R16",),
        "TPO antibodies positive, TSH normal, on levothyroxine to prevent miscarriage; pregnant, TSH taken "
        "28 days ago.",
        d.person("Yuki", "Tanaka", 35, 3, d.losses(1000, 640, 260), partner="Daniel"),
        (*d.baseline(200, tpo=num("tpo", 180)), d.test("tsh", 28, num("tsh", 2.1))),
        (g.pregnancy(booked=6 * 7 + 2, scan=6 * 7 + 5),),
        ((None, plan),),
    )


@_case
def _tpo_pregnant_tsh_29_days(d: _Day) -> AlertCase:
    g = _Gest(d.today, 11 * 7)
    return AlertCase(
        ("R16",),
        (),
        "TPO antibodies positive, pregnant at 11+0; the last TSH was 29 days ago, at booking.",
        d.person("Olga", "Ivanova", 30, 10, d.losses(950, 610, 240), partner="Piotr"),
        (*d.baseline(160, tpo=num("tpo", 210), tsh=num("tsh", 2.0)), d.test("tsh", 29, num("tsh", 2.4))),
        (g.pregnancy(booked=11 * 7 - 29, scan=7 * 7),),
    )


@_case
def _third_loss_30_days_medication_active(d: _Day) -> AlertCase:
    g = _Gest(d.today, 8 * 7 + 1 + 30)  # ended 30 days ago at 8+1
    history = (d.loss(700, 7 * 7 + 3), d.loss(420, 8 * 7 + 4), d.loss(30, 8 * 7 + 1))
    pregnancy = g.pregnancy(
        booked=5 * 7 + 2,
        scan=6 * 7 + 1,
        bleeding=((6 * 7 + 5, Severity.LIGHT),),
        ended=(8 * 7 + 1, EM),
    )
    return AlertCase(
        ("R18", "R29"),
        (),
        "Third miscarriage 30 days ago at 8+1, tissue not sent; the progesterone of that pregnancy is still active.",
        d.person("Małgorzata", "Nowak", 38, 4, history, partner="Piotr"),
        d.baseline(380),
        (pregnancy,),
        ((0, g.progesterone(6 * 7 + 5, PROGESTERONE_STOP)),),
    )


@_case
def _third_loss_31_days(d: _Day) -> AlertCase:
    history = (d.loss(800, 6 * 7 + 6), d.loss(450, 9 * 7 + 2), d.loss(31, 8 * 7 + 6))
    return AlertCase(
        (),
        ("R18",),
        "Third miscarriage 31 days ago, tissue not sent: outside the 30-day look-back.",
        d.person("Siobhán", "Murphy", 36, 8, history, partner="Liam"),
        d.baseline(400),
    )


@_case
def _bleeding_without_progesterone(d: _Day) -> AlertCase:
    g = _Gest(d.today, 9 * 7 + 2)
    return AlertCase(
        ("R22", "R42"),
        (),
        "Bleeding yesterday at 9+1 after two miscarriages; heartbeat seen at 7+0; no progesterone yet; "
        "no booking in a high-risk clinic recorded.",
        d.person("Priya", "Shah", 31, 2, d.losses(700, 300), partner="Arjun"),
        d.baseline(250),
        (g.pregnancy(booked=6 * 7, scan=7 * 7, bleeding=((9 * 7 + 1, Severity.LIGHT),)),),
    )


@_case
def _progesterone_ends_today_at_16_weeks(d: _Day) -> AlertCase:
    g = _Gest(d.today, 16 * 7)
    return AlertCase(
        (),
        ("R22", "R25", "R26"),
        "16+0 today: progesterone for bleeding at 9+3 planned to stop at 16+0, so today is the first day without it.",
        d.person("Emma", "Harrison", 33, 6, d.losses(1000, 600, 330), partner="Tom"),
        d.baseline(280),
        (
            replace(
                g.pregnancy(booked=5 * 7 + 5, scan=6 * 7 + 3, bleeding=((9 * 7 + 3, Severity.SPOTTING),)),
                high_risk_care=True,
            ),
        ),
        ((0, g.progesterone(9 * 7 + 3, PROGESTERONE_STOP)),),
    )


@_case
def _progesterone_without_scan(d: _Day) -> AlertCase:
    g = _Gest(d.today, 6 * 7 + 1)
    scan = FollowUp(FollowUpKind.APPOINTMENT, d.ago(-2), 0, title="Early pregnancy scan")
    return AlertCase(
        ("R23",),
        (),
        "Bleeding at 5+6; progesterone started before an intrauterine pregnancy was seen on a scan.",
        d.person("Fatima", "Khan", 28, 5, d.losses(640, 230), partner="Omar"),
        d.baseline(200),
        (g.pregnancy(booked=5 * 7 + 5, bleeding=((5 * 7 + 6, Severity.LIGHT),)),),
        ((0, g.progesterone(5 * 7 + 6, PROGESTERONE_STOP)),),
        ((0, scan),),
    )


@_case
def _dydrogesterone(d: _Day) -> AlertCase:
    g = _Gest(d.today, 8 * 7)
    plan = g.plan("dydrogesterone_oral", 10, TWICE, 7 * 7 + 2, Indication.THREATENED_MISCARRIAGE, PROGESTERONE_STOP)
    return AlertCase(
        ("R22", "R24"),
        (),
        "Bleeding at 7+1; oral dydrogesterone instead of vaginal micronised progesterone.",
        d.person("Sofia", "Rossi", 30, 9, d.losses(760, 350), partner="Luis"),
        d.baseline(290),
        (g.pregnancy(booked=5 * 7 + 4, scan=6 * 7 + 4, bleeding=((7 * 7 + 1, Severity.LIGHT),)),),
        ((0, plan),),
    )


@_case
def _progesterone_stop_15_6(d: _Day) -> AlertCase:
    g = _Gest(d.today, 10 * 7 + 1)
    return AlertCase(
        ("R25",),
        (),
        "Progesterone for bleeding at 8+2, planned to stop at 15+6 instead of 16+0.",
        d.person("Grace", "Mitchell", 34, 7, d.losses(1100, 720, 390), partner="James"),
        d.baseline(330),
        (g.pregnancy(booked=5 * 7 + 6, scan=6 * 7 + 5, bleeding=((8 * 7 + 2, Severity.LIGHT),)),),
        ((0, g.progesterone(8 * 7 + 2, PROGESTERONE_STOP - 1)),),
    )


@_case
def _progesterone_past_16_weeks(d: _Day) -> AlertCase:
    g = _Gest(d.today, 16 * 7 + 3)
    return AlertCase(
        ("R25", "R26"),
        (),
        "16+3 today: progesterone for bleeding at 8+4 was written up to 20+0 and is still being taken.",
        d.person("Niamh", "O'Brien", 32, 12, d.losses(900, 380), partner="Sean"),
        d.baseline(300),
        (g.pregnancy(booked=6 * 7, scan=7 * 7, bleeding=((8 * 7 + 4, Severity.LIGHT),)),),
        ((0, g.progesterone(8 * 7 + 4, 20 * 7)),),
    )


@_case
def _progesterone_without_bleeding_tapered(d: _Day) -> AlertCase:
    g = _Gest(d.today, 7 * 7 + 4)
    plan = g.progesterone(5 * 7 + 3, PROGESTERONE_STOP, Indication.RM_NO_BLEEDING)
    plan = replace(plan, taper=apply_template(plan, "halve_1w"), notes="Taper at the patient's request.")
    return AlertCase(
        ("R27", "R28"),
        (),
        "Progesterone from 5+3 because of three previous losses, without bleeding, with a taper.",
        d.person("Anjali", "Patel", 35, 1, d.losses(1200, 760, 310), partner="Raj"),
        d.baseline(280),
        (g.pregnancy(booked=5 * 7 + 1, scan=6 * 7 + 2),),
        ((0, plan),),
    )


@_case
def _private_clinic_extras(d: _Day) -> AlertCase:
    plan = MedicationPlan(
        "prednisolone",
        20,
        DAILY,
        d.ago(14),
        Indication.UNEXPLAINED_RPL,
        Anchor(date=d.ago(-76)),
        notes="Started at a private clinic.",
    )
    # BMI 68.6 / 1.65² = 25.2: just above 25
    risk = RiskHistory(smoking="never", alcohol_units_per_week=4, height_cm=165, weight_kg=68.6)
    return AlertCase(
        ("R30", "R31", "R41"),
        (),
        "Four unexplained losses; a private clinic started prednisolone and tested sperm DNA fragmentation; BMI 25.2.",
        d.person("Kirsty", "Robinson", 37, 11, d.losses(1500, 1100, 700, 260), risk, "Daniel"),
        (*d.baseline(200), d.test("sperm_dna", 90, num("sperm_dna", 38))),
        (),
        ((None, plan),),
    )


def _after_late_loss(d: _Day, ga_today: int, given: str, family: str, month: int) -> AlertCase:
    g = _Gest(d.today, ga_today)
    history = (d.loss(1000, 8 * 7 + 4), d.loss(500, 19 * 7 + 3, LM))
    fires = ga_today >= 16 * 7
    return AlertCase(
        ("R32",) if fires else (),
        () if fires else ("R32",),
        f"Miscarriage at 19+3 before; {'17+2' if fires else '15+6'} today and no cervical-length scan scheduled.",
        d.person(given, family, 33, month, history, partner="Minh"),
        d.baseline(420),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
    )


@_case
def _late_loss_17_2(d: _Day) -> AlertCase:
    return _after_late_loss(d, 17 * 7 + 2, "Ana", "Costa", 4)


@_case
def _late_loss_15_6(d: _Day) -> AlertCase:
    return _after_late_loss(d, 15 * 7 + 6, "Beatriz", "Silva", 6)


def _preterm_birth_cervix(d: _Day, mm: float, given: str, family: str) -> AlertCase:
    g = _Gest(d.today, 18 * 7 + 2)
    history = (d.loss(900, 31 * 7 + 4, LB, preterm=True), *d.losses(500, 250))
    scans = (g.cl_scan(16 * 7, 34), g.cl_scan(18 * 7, mm), g.cl_scan(20 * 7), g.cl_scan(22 * 7), g.cl_scan(24 * 7))
    fires = mm <= 25
    return AlertCase(
        ("R33",) if fires else (),
        () if fires else ("R33",),
        f"Preterm birth at 31+4 before; cervical length {mm:g} mm at 18+0; no progesterone.",
        d.person(given, family, 31, 3, history, partner="Wei"),
        d.baseline(220),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
        (),
        tuple((0, s) for s in scans),
    )


@_case
def _short_cervix_25_mm(d: _Day) -> AlertCase:
    return _preterm_birth_cervix(d, 25, "Olivia", "Edwards")


@_case
def _cervix_26_mm(d: _Day) -> AlertCase:
    return _preterm_birth_cervix(d, 26, "Sarah", "Johnson")


def _lletz_cervix_24_weeks(d: _Day, offset: int, given: str, family: str) -> AlertCase:
    """Scans every two weeks from 16+0 (+ ``offset`` days); the last, 23 mm, at 24+0 or 24+1."""
    g = _Gest(d.today, 24 * 7 + 2 + offset)
    risk = RiskHistory(
        cervical_excisions=(CervicalExcision(year=d.today.year - 3, kind="lletz", depth_mm=12),),
        smoking="never",
        alcohol_units_per_week=0,
        height_cm=170,
        weight_kg=63,
    )
    scans = tuple(g.cl_scan(ga + offset, mm) for ga, mm in ((112, 38), (126, 35), (140, 31), (154, 28), (168, 23)))
    fires = offset == 0
    return AlertCase(
        ("R34",) if fires else (),
        () if fires else ("R34",),
        f"LLETZ, no preterm history; cervical length 23 mm at {'24+0' if fires else '24+1'}; no progesterone.",
        d.person(given, family, 30, 5, d.losses(1300, 900, 420), risk, "Tom"),
        d.baseline(360),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
        (),
        tuple((0, s) for s in scans),
    )


@_case
def _short_cervix_24_0(d: _Day) -> AlertCase:
    return _lletz_cervix_24_weeks(d, 0, "Rachel", "Williams")


@_case
def _short_cervix_24_1(d: _Day) -> AlertCase:
    return _lletz_cervix_24_weeks(d, 1, "Gwen", "Davies")


def _lletz(d: _Day, depth: float) -> RiskHistory:
    return RiskHistory(
        cervical_excisions=(CervicalExcision(year=d.today.year - 4, kind="lletz", depth_mm=depth),),
        smoking="former",
        alcohol_units_per_week=1,
        height_cm=162,
        weight_kg=58,
    )


@_case
def _lletz_15_mm(d: _Day) -> AlertCase:
    g = _Gest(d.today, 12 * 7 + 3)
    return AlertCase(
        ("R36",),
        (),
        "LLETZ 15 mm deep four years ago; pregnant at 12+3 with no cervical-length scan planned.",
        d.person("Ffion", "Evans", 34, 9, d.losses(800, 360), _lletz(d, 15), "Liam"),
        d.baseline(310),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
    )


@_case
def _lletz_14_mm_swabs(d: _Day) -> AlertCase:
    g = _Gest(d.today, 14 * 7 + 1)
    first = replace(
        FollowUp(FollowUpKind.SWAB, g.at(12 * 7), 3, protocol="swab_4weekly"),
        status=FollowUpStatus.DONE,
        result_date=g.at(12 * 7),
        swab_result=SwabResult.NEGATIVE,
    )
    swabs = (first, *(FollowUp(FollowUpKind.SWAB, g.at(ga), 3, protocol="swab_4weekly") for ga in (112, 140, 168)))
    return AlertCase(
        ("R38",),
        ("R36",),
        "LLETZ 14 mm deep (no cervical-length surveillance needed); routine swabs every 4 weeks without a "
        "preterm history.",
        d.person("Mhairi", "Campbell", 29, 2, d.losses(1000, 620, 240), _lletz(d, 14), "James"),
        d.baseline(260),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
        (),
        tuple((0, s) for s in swabs),
    )


def _single_cl_scan(d: _Day, days_since: int, given: str, family: str) -> AlertCase:
    g = _Gest(d.today, 17 * 7 + days_since)
    history = (d.loss(900, 7 * 7), d.loss(600, 17 * 7 + 4, LM))
    fires = days_since > 14
    return AlertCase(
        ("R37",) if fires else (),
        () if fires else ("R37",),
        f"Miscarriage at 17+4 before; one cervical-length scan, 36 mm at 17+0, {days_since} days ago; no next "
        "scan booked.",
        d.person(given, family, 35, 7, history, partner="Marek"),
        d.baseline(500),
        (g.pregnancy(booked=6 * 7, scan=7 * 7),),
        (),
        ((0, replace(g.cl_scan(17 * 7, 36), protocol="")),),
    )


@_case
def _cl_scan_15_days_ago(d: _Day) -> AlertCase:
    return _single_cl_scan(d, 15, "Eilidh", "MacLeod")


@_case
def _cl_scan_14_days_ago(d: _Day) -> AlertCase:
    return _single_cl_scan(d, 14, "Linh", "Nguyễn")


def _late_booking(d: _Day, first_scan: int, given: str, family: str) -> AlertCase:
    g = _Gest(d.today, 23 * 7 + 1)
    fires = first_scan >= 22 * 7
    when = "22+0" if fires else "21+6"
    return AlertCase(
        ("R40",) if fires else (),
        () if fires else ("R40",),
        f"Moved to the area late in pregnancy; booked and first scanned here at {when}.",
        d.person(given, family, 27, 11, d.losses(700, 400), partner="Kwame"),
        d.baseline(600),
        (g.pregnancy(booked=first_scan, scan=first_scan, notes=f"Booked at {when}; no earlier scan report."),),
    )


@_case
def _first_scan_22_0(d: _Day) -> AlertCase:
    return _late_booking(d, 22 * 7, "Hana", "Sato")


@_case
def _first_scan_21_6(d: _Day) -> AlertCase:
    return _late_booking(d, 22 * 7 - 1, "Seren", "Roberts")


@_case
def _aspirin_allergy(d: _Day) -> AlertCase:
    g = _Gest(d.today, 7 * 7)
    risk = RiskHistory(
        smoking="never", alcohol_units_per_week=0, height_cm=158, weight_kg=55, drug_allergies=("Aspirin",)
    )
    return AlertCase(
        ("X1",),
        (),
        "APS on aspirin and enoxaparin; an aspirin allergy is recorded.",
        d.person("Chloé", "Lefèvre", 33, 10, d.losses(1150, 780, 420), risk, "Daniel"),
        _aps(d, 360, 260, "acl_igg", (70, 66)),
        (g.pregnancy(booked=5 * 7 + 3, scan=6 * 7 + 1),),
        (
            (0, g.plan("aspirin", 75, DAILY, 5 * 7 + 3, Indication.APS, APS_STOP)),
            (0, g.plan("enoxaparin", 40, DAILY, 6 * 7 + 1, Indication.APS, APS_STOP)),
        ),
    )


COUNT = len(_BUILDERS)
END_INDEX = FIRST_INDEX + COUNT


# -- the hook into DemoService ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def alert_cases(today: dt.date) -> tuple[AlertCase, ...]:
    """The cases for indexes FIRST_INDEX to END_INDEX - 1, dated relative to ``today``."""
    d = _Day(today)
    return tuple(build(d) for build in _BUILDERS)


def is_alert_case(index: int) -> bool:
    return FIRST_INDEX <= index < END_INDEX


def with_alert_cases(batch: Sequence[PatientData], first_index: int, today: dt.date) -> Sequence[PatientData]:
    """``batch`` (patients ``first_index`` onwards) with the alert cases in place of the random patients.
    The replaced patient's identifiers and contact details are kept, so they stay unique."""
    if first_index >= END_INDEX or first_index + len(batch) <= FIRST_INDEX:
        return batch
    cases = alert_cases(today)
    out = list(batch)
    for k in range(max(FIRST_INDEX - first_index, 0), min(END_INDEX - first_index, len(batch))):
        was = batch[k]
        out[k] = replace(
            cases[first_index + k - FIRST_INDEX].patient,
            hospital_number=was.hospital_number,
            nhs_number=was.nhs_number,
            phone=was.phone,
            email=was.email,
            address=was.address,
            gp_practice=was.gp_practice,
        )
    return out


def add_alert_case(
    batch: Batch,
    rows: list[dict[str, Any]],
    index: int,
    patient_id: int,
    today: dt.date,
    now: dt.datetime,
    catalogue: Catalogue,
) -> bool:
    """Add the workup rows and the pregnancies, plans and follow-ups of the case at ``index``; False when
    ``index`` is not an alert case."""
    if not is_alert_case(index):
        return False
    case = alert_cases(today)[index - FIRST_INDEX]
    for t in case.tests:
        inv = catalogue.get(t.investigation)
        if t.value is None:
            row = _row(inv, "requested", t.day, None, None, False, now)
        else:
            status = "reviewed" if t.reviewed else "resulted"
            row = _row(inv, status, t.day - dt.timedelta(days=7), t.day, t.value, t.reviewed, now)
        rows.append({**row, "patient_id": patient_id})
    base = len(batch.pregnancies)
    batch.pregnancies.extend((patient_id, p) for p in case.pregnancies)
    batch.plans.extend((patient_id, None if k is None else base + k, plan) for k, plan in case.plans)
    batch.follow_ups.extend((patient_id, None if k is None else base + k, f) for k, f in case.follow_ups)
    return True
