"""Obstetric history and loss counting.

Definitions (evidence base §1):
- ESHRE 2022 (Bender Atik et al., Hum Reprod Open 2023;hoad002, doi:10.1093/hropen/hoad002):
  RPL is two or more pregnancy losses before 24 weeks, not necessarily consecutive; non-visualised
  (biochemical) losses count; ectopic and molar pregnancies do not.
- RCOG Green-top Guideline 17, 4th edn (BJOG 2023;130(12):e9-e39, doi:10.1111/1471-0528.17515):
  RM is three or more first-trimester miscarriages; the guideline also covers one or more
  second-trimester miscarriages. (A GP summary says "two or more" second-trimester losses; the primary
  text is not verified, so the app follows the guideline abstract's "one or more".)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

FIRST_TRIMESTER_END_DAYS = 12 * 7  # 12+0: "early" miscarriage is < 12+0
VIABILITY_DAYS = 24 * 7  # 24+0: losses before this count towards RPL


class Outcome(StrEnum):
    LIVE_BIRTH = "live_birth"
    BIOCHEMICAL = "biochemical"  # non-visualised: shown only by serum or urine hCG
    EARLY_MISCARRIAGE = "early_miscarriage"  # < 12+0
    LATE_MISCARRIAGE = "late_miscarriage"  # 12+0 to 23+6
    STILLBIRTH = "stillbirth"  # fetal death >= 24+0
    ECTOPIC = "ectopic"
    MOLAR = "molar"
    TERMINATION = "termination"


# Gestation (days) each loss type must fall within, when the gestation is known.
OUTCOME_GESTATION_RANGE: dict[Outcome, tuple[int, int]] = {
    Outcome.BIOCHEMICAL: (0, FIRST_TRIMESTER_END_DAYS - 1),
    Outcome.EARLY_MISCARRIAGE: (0, FIRST_TRIMESTER_END_DAYS - 1),
    Outcome.LATE_MISCARRIAGE: (FIRST_TRIMESTER_END_DAYS, VIABILITY_DAYS - 1),
    Outcome.STILLBIRTH: (VIABILITY_DAYS, 45 * 7),
}

LOSS_OUTCOMES = frozenset({Outcome.BIOCHEMICAL, Outcome.EARLY_MISCARRIAGE, Outcome.LATE_MISCARRIAGE})
FIRST_TRIMESTER_LOSSES = frozenset({Outcome.BIOCHEMICAL, Outcome.EARLY_MISCARRIAGE})
# Ectopic and molar pregnancies are neither counted as losses nor break a run of consecutive losses:
# ESHRE excludes them from the definition, and they say nothing about whether a pregnancy can continue.
NEUTRAL_OUTCOMES = frozenset({Outcome.ECTOPIC, Outcome.MOLAR})
# Births (live or still) are pregnancies that reached 24 weeks: they make RM "secondary".
BIRTH_OUTCOMES = frozenset({Outcome.LIVE_BIRTH, Outcome.STILLBIRTH})


class Conception(StrEnum):
    SPONTANEOUS = "spontaneous"
    ART = "art"


class TissueGenetics(StrEnum):
    NOT_SENT = "not_sent"
    NORMAL = "normal"
    ABNORMAL_NUMERICAL = "abnormal_numerical"
    UNBALANCED_STRUCTURAL = "unbalanced_structural"
    BALANCED = "balanced"
    FAILED = "failed"  # failed or no tissue available


@dataclass(frozen=True)
class PreviousPregnancy:
    """One past pregnancy. ``year`` is required; ``date`` is the outcome date when known."""

    year: int
    outcome: Outcome
    date: dt.date | None = None
    gestation_days: int | None = None
    fetuses: int = 1
    conception: Conception = Conception.SPONTANEOUS
    preterm_birth: bool = False
    tissue_genetics: TissueGenetics = TissueGenetics.NOT_SENT
    notes: str = ""

    @property
    def sort_key(self) -> tuple[int, dt.date]:
        return (self.year, self.date or dt.date(self.year, 1, 1))


def chronological(pregnancies: Sequence[PreviousPregnancy]) -> list[PreviousPregnancy]:
    """Oldest first; the sort is stable so entries within one year keep their entered order."""
    return sorted(pregnancies, key=lambda p: p.sort_key)


def is_first_trimester_loss(p: PreviousPregnancy) -> bool:
    if p.outcome not in LOSS_OUTCOMES:
        return False
    if p.gestation_days is not None:
        return p.gestation_days < FIRST_TRIMESTER_END_DAYS
    return p.outcome in FIRST_TRIMESTER_LOSSES


def is_second_trimester_loss(p: PreviousPregnancy) -> bool:
    return p.outcome in LOSS_OUTCOMES and not is_first_trimester_loss(p)


@dataclass(frozen=True)
class ObstetricSummary:
    gravidity: int
    parity: int
    total_losses: int
    consecutive_losses: int
    first_trimester_losses: int
    second_trimester_losses: int
    live_births: int
    secondary: bool  # a previous pregnancy reached 24 weeks (birth) -> secondary RM
    meets_eshre: bool
    meets_rcog: bool

    @property
    def rm_type(self) -> str:
        """``primary`` or ``secondary``: only meaningful when a definition is met."""
        return "secondary" if self.secondary else "primary"


def summarise(pregnancies: Sequence[PreviousPregnancy]) -> ObstetricSummary:
    """Counts shown on every patient view.

    - gravidity: every recorded pregnancy, including ectopic and molar ones;
    - parity: pregnancies that ended in a birth at or after 24+0 (live or still), counted per
      pregnancy rather than per baby (UK convention);
    - consecutive losses: the run of counted losses since the last pregnancy that was neither a loss
      nor ectopic/molar (a birth or a termination ends the run).
    """
    ordered = chronological(pregnancies)
    losses = [p for p in ordered if p.outcome in LOSS_OUTCOMES]
    first = sum(1 for p in losses if is_first_trimester_loss(p))
    second = len(losses) - first
    consecutive = 0
    for p in ordered:
        if p.outcome in LOSS_OUTCOMES:
            consecutive += 1
        elif p.outcome not in NEUTRAL_OUTCOMES:
            consecutive = 0
    births = [p for p in ordered if p.outcome in BIRTH_OUTCOMES]
    return ObstetricSummary(
        gravidity=len(ordered),
        parity=len(births),
        total_losses=len(losses),
        consecutive_losses=consecutive,
        first_trimester_losses=first,
        second_trimester_losses=second,
        live_births=sum(1 for p in ordered if p.outcome is Outcome.LIVE_BIRTH),
        secondary=bool(births),
        meets_eshre=len(losses) >= 2,
        meets_rcog=first >= 3 or second >= 1,
    )


def pregnancy_problems(p: PreviousPregnancy, today: dt.date, prefix: str = "") -> list[tuple[str, str]]:
    """(field, message) pairs for one previous pregnancy; empty when it is consistent."""
    out: list[tuple[str, str]] = []
    if p.year < 1940 or p.year > today.year:
        out.append((prefix + "year", f"Year must be between 1940 and {today.year}."))
    if p.date is not None:
        if p.date > today:
            out.append((prefix + "date", "The date cannot be in the future."))
        elif p.date.year != p.year:
            out.append((prefix + "date", "The date and the year disagree."))
    if p.gestation_days is not None:
        if not 0 <= p.gestation_days <= 45 * 7:
            out.append((prefix + "gestation_days", "Gestation must be between 0+0 and 45+0."))
        else:
            rng = OUTCOME_GESTATION_RANGE.get(p.outcome)
            if rng and not rng[0] <= p.gestation_days <= rng[1]:
                lo, hi = rng
                out.append(
                    (
                        prefix + "gestation_days",
                        f"A {OUTCOME_LABELS[p.outcome].lower()} is between "
                        f"{lo // 7}+{lo % 7} and {hi // 7}+{hi % 7} weeks.",
                    )
                )
    if not 1 <= p.fetuses <= 8:
        out.append((prefix + "fetuses", "Number of fetuses must be 1 to 8."))
    if p.preterm_birth and p.outcome is not Outcome.LIVE_BIRTH:
        out.append((prefix + "preterm_birth", "Only a live birth can be marked preterm."))
    if len(p.notes) > 4000:
        out.append((prefix + "notes", "Notes are limited to 4000 characters."))
    return out


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.LIVE_BIRTH: "Live birth",
    Outcome.BIOCHEMICAL: "Biochemical (non-visualised) loss",
    Outcome.EARLY_MISCARRIAGE: "Early miscarriage (<12+0)",
    Outcome.LATE_MISCARRIAGE: "Late miscarriage (12+0-23+6)",
    Outcome.STILLBIRTH: "Stillbirth",
    Outcome.ECTOPIC: "Ectopic pregnancy",
    Outcome.MOLAR: "Molar pregnancy",
    Outcome.TERMINATION: "Termination",
}

GENETICS_LABELS: dict[TissueGenetics, str] = {
    TissueGenetics.NOT_SENT: "Not sent",
    TissueGenetics.NORMAL: "Normal",
    TissueGenetics.ABNORMAL_NUMERICAL: "Abnormal (numerical)",
    TissueGenetics.UNBALANCED_STRUCTURAL: "Unbalanced structural",
    TissueGenetics.BALANCED: "Balanced",
    TissueGenetics.FAILED: "Failed / unavailable",
}
