"""The current pregnancy: dating history, confirmation, heartbeat, bleeding, and how it ends.

A patient has at most one open pregnancy. Ending it records an outcome from the same list as the
obstetric history and moves it there; after a loss the record is marked for sensitive communication.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from .dating import DatingEntry, gestation_days_on, gestation_on
from .gestation import GestationalAge
from .obstetric import LOSS_OUTCOMES, OUTCOME_GESTATION_RANGE, Conception, Outcome, PreviousPregnancy, TissueGenetics


class Severity(StrEnum):
    SPOTTING = "spotting"
    LIGHT = "light"
    HEAVY = "heavy"


class IupMethod(StrEnum):
    TRANSVAGINAL = "transvaginal_scan"
    TRANSABDOMINAL = "transabdominal_scan"
    OTHER = "other"


# Outcomes that end a pregnancy in sorrow: afterwards the app uses no antenatal wording.
SENSITIVE_OUTCOMES = frozenset(LOSS_OUTCOMES | {Outcome.STILLBIRTH, Outcome.ECTOPIC, Outcome.MOLAR})


@dataclass(frozen=True)
class Bleeding:
    date: dt.date
    severity: Severity
    notes: str = ""


@dataclass(frozen=True)
class CurrentPregnancy:
    id: int | None
    dating: tuple[DatingEntry, ...]  # oldest first; the last one is in force
    fetuses: int = 1
    conception: Conception = Conception.SPONTANEOUS
    iup_confirmed_on: dt.date | None = None
    iup_method: IupMethod | None = None
    heartbeat_on: dt.date | None = None
    bleeding: tuple[Bleeding, ...] = ()
    ended_on: dt.date | None = None
    outcome: Outcome | None = None
    sensitive: bool = False
    version: int = 0
    notes: str = ""
    high_risk_care: bool | None = None  # booked in a high-risk or preconception clinic; None: not recorded
    cerclage_on: dt.date | None = None  # cervical cerclage placed in this pregnancy

    @property
    def edd(self) -> dt.date:
        return self.dating[-1].edd

    @property
    def is_open(self) -> bool:
        return self.ended_on is None

    def gestation_on(self, day: dt.date) -> GestationalAge | None:
        return gestation_on(self.edd, day)

    def gestation_days_on(self, day: dt.date) -> int:
        return gestation_days_on(self.edd, day)


def pregnancy_problems(p: CurrentPregnancy, today: dt.date) -> dict[str, str]:
    """Field problems for a pregnancy as it would be saved."""
    out: dict[str, str] = {}
    if not p.dating:
        out["dating"] = "Date the pregnancy (LMP, crown-rump length or embryo transfer)."
        return out
    if not 1 <= p.fetuses <= 8:
        out["fetuses"] = "Number of fetuses must be 1 to 8."
    day0 = p.edd - dt.timedelta(days=280)
    for name, value in (
        ("iup_confirmed_on", p.iup_confirmed_on),
        ("heartbeat_on", p.heartbeat_on),
        ("cerclage_on", p.cerclage_on),
    ):
        if value is not None and value > today:
            out[name] = "The date cannot be in the future."
        elif value is not None and value < day0:
            out[name] = "The date is before the start of this pregnancy."
    if p.iup_confirmed_on is not None and p.iup_method is None:
        out["iup_method"] = "Say how the intrauterine pregnancy was confirmed."
    for i, b in enumerate(p.bleeding):
        if b.date > today:
            out[f"bleeding.{i}.date"] = "The date cannot be in the future."
        elif b.date < day0:
            out[f"bleeding.{i}.date"] = "The date is before the start of this pregnancy."
    if len(p.notes) > 4000:
        out["notes"] = "Notes are limited to 4000 characters."
    return out


def end_problems(p: CurrentPregnancy, outcome: Outcome, ended_on: dt.date, today: dt.date) -> dict[str, str]:
    out: dict[str, str] = {}
    if ended_on > today:
        out["ended_on"] = "The date cannot be in the future."
        return out
    ga = gestation_days_on(p.edd, ended_on)
    if ga < 0:
        out["ended_on"] = "The date is before the start of this pregnancy."
        return out
    rng = OUTCOME_GESTATION_RANGE.get(outcome)
    if rng and not rng[0] <= ga <= rng[1]:
        out["outcome"] = (
            f"On {ended_on.isoformat()} the pregnancy was {GestationalAge(min(ga, 315))}; that outcome is between "
            f"{GestationalAge(rng[0])} and {GestationalAge(rng[1])}. Check the date or the dating."
        )
    return out


def to_history(
    p: CurrentPregnancy,
    outcome: Outcome,
    ended_on: dt.date,
    *,
    preterm_birth: bool = False,
    tissue_genetics: TissueGenetics = TissueGenetics.NOT_SENT,
    notes: str = "",
) -> PreviousPregnancy:
    """The obstetric-history entry an ended pregnancy becomes."""
    ga = gestation_days_on(p.edd, ended_on)
    return PreviousPregnancy(
        year=ended_on.year,
        outcome=outcome,
        date=ended_on,
        gestation_days=ga if 0 <= ga <= 315 else None,
        fetuses=p.fetuses,
        conception=p.conception,
        preterm_birth=preterm_birth,
        tissue_genetics=tissue_genetics,
        notes=notes,
    )
