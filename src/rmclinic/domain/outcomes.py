"""The clinic outcomes audit, as pure functions: proportions with Wilson score intervals, median and quartiles,
the bands pregnancies are grouped by, and how a clinic pregnancy, a follow-up and an alert count are classified.

Definitions (docs/outcomes-audit.md says the same in words):

- **Conceived in the period**: the estimated conception date, ``EDD in force - 266 days`` (day 14 of the
  LMP-equivalent cycle, the fertilisation day the dating module uses), falls within the period, both ends
  included. Redating moves it with the EDD.
- **Outcome** of a clinic pregnancy: live birth at 24+0 or later; a loss before 12+0, at 12+0-23+6, or a
  stillbirth at 24+0 or later (the gestation on the day it ended, from the EDD in force; the outcome type when
  that gestation is unusable); ectopic or molar; another ending (termination, a live birth before 24+0);
  **ongoing** while open and not past EDD + 6 weeks; **unknown** when still open past EDD + 6 weeks.
  Rates are over pregnancies whose **outcome window has closed** (EDD + 6 weeks on or before the report date,
  i.e. conceived at least ``ASSESSABLE_AFTER_DAYS`` = 308 days before it) and that have a recorded outcome. A
  pregnancy conceived more recently can already have a loss but not yet a live birth, so including it would bias
  the rates towards loss; it is counted by its class but reported as **not yet assessable**.
- **Wilson score interval** (Wilson 1927), z = 1.959964 for 95 %:
  centre = (p + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²). It stays within
  0-100 % and is sensible for 0/n and n/n, where the normal approximation is not.
- A group of fewer than ``SMALL_GROUP`` is shown as counts with the interval and flagged "too few to read as a
  rate". The threshold is an app convention, not a clinical fact.
- **Median and quartiles**: linear interpolation between order statistics (Hyndman-Fan type 7, as in
  Excel's QUARTILE.INC and numpy's default).
- Bands (app conventions): age at the start of the pregnancy (day 0) under 30, 30-34, 35-39, 40 and over;
  previous pregnancy losses 0-1, 2, 3, 4 or more (counted losses before 24+0, as in the patient view).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

from .dating import FERTILISATION_DAY, TERM_DAYS, day0_from_edd, gestation_days_on
from .followup import FollowUp, FollowUpKind, FollowUpStatus
from .medication import LMWH, PROGESTOGENS, Indication, MedicationPlan, PlanStatus
from .obstetric import FIRST_TRIMESTER_END_DAYS, LOSS_OUTCOMES, VIABILITY_DAYS, Outcome, PreviousPregnancy
from .patient import age_on
from .pregnancy import CurrentPregnancy
from .workup import WorkupItem

Z95 = 1.959964  # the 97.5th centile of the standard normal distribution
SMALL_GROUP = 10  # fewer than this: counts and interval, flagged as too few to read as a rate
UNKNOWN_AFTER_DAYS = 42  # an open pregnancy this long past its EDD has an unknown outcome (EDD + 6 weeks)
CONCEPTION_BEFORE_EDD = TERM_DAYS - FERTILISATION_DAY  # 266 days
ASSESSABLE_AFTER_DAYS = CONCEPTION_BEFORE_EDD + UNKNOWN_AFTER_DAYS  # 308: conception to the window's close
WORKUP_WITHIN_DAYS = 90  # "workup complete within 90 days of the first visit"


# -- statistics -------------------------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of k successes in n, as fractions; None when n is 0 (nothing to estimate)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"{k} of {n} is not a proportion")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # at 0/n and n/n the bound is exactly 0 or 1 (rounding could leave 1e-17 either side)
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def pct(x: float, decimals: int = 0) -> str:
    """A fraction as a percentage, rounded half-up (the one rounding every table, chart and CSV uses): "67", or with
    ``decimals`` "66.7"; a value that would round to 0 or 100 while not being exactly that is "<0.1"/">99.9"-style."""
    q = Decimal(1).scaleb(-decimals)
    v = (Decimal(repr(100 * x)) + Decimal("1e-9")).quantize(q, rounding=ROUND_HALF_UP)
    if decimals and v == 0 and x > 0:
        return f"<{q}"
    if decimals and v == 100 and x < 1:
        return f">{Decimal(100) - q}"
    return f"{v}"


def pct_number(k: int | float, n: int | float = 1) -> Decimal:
    """k/n as a percentage to one decimal, rounded half-up (the CSV's numbers; exact for a count ratio)."""
    exact = Decimal(k) * 100 / Decimal(n) if isinstance(k, int) and isinstance(n, int) else Decimal(repr(100 * k / n))
    return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def ci_text(lo: float, hi: float) -> str:
    """'21–94' in whole percent, or to one decimal when the interval is narrower than one point."""
    decimals = 1 if 100 * (hi - lo) < 1 else 0
    return f"{pct(lo, decimals)}–{pct(hi, decimals)}"


@dataclass(frozen=True)
class Proportion:
    """k of n, with its 95 % Wilson interval. ``n`` may be 0 (an empty group: no rate at all)."""

    k: int
    n: int

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n > 0 and self.k <= self.n else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return wilson(self.k, self.n) if self.n > 0 and self.k <= self.n else None

    @property
    def small(self) -> bool:
        """Too few to read as a rate (an empty group is not "small": it has no rate)."""
        return 0 < self.n < SMALL_GROUP

    def describe(self) -> str:
        """'2/3 (67 %, 95 % CI 21–94 %)'; '0/0' for an empty group; a count above its denominator as is."""
        if self.n == 0 or self.k > self.n:
            return f"{self.k}/{self.n}"
        ci = self.ci
        assert ci is not None
        decimals = 1 if 100 * (ci[1] - ci[0]) < 1 else 0
        return f"{self.k}/{self.n} ({pct(self.k / self.n, decimals)} %, 95 % CI {ci_text(*ci)} %)"

    def short(self) -> str:
        """'2/3 67 % (21–94)' for chart labels; '0/0' for an empty group."""
        if self.n == 0 or self.k > self.n:
            return f"{self.k}/{self.n}"
        ci = self.ci
        assert ci is not None
        decimals = 1 if 100 * (ci[1] - ci[0]) < 1 else 0
        return f"{self.k}/{self.n}  {pct(self.k / self.n, decimals)} % ({ci_text(*ci)})"


def quantile(ordered: Sequence[float], q: float) -> float:
    """Hyndman-Fan type 7 quantile of sorted values (linear interpolation between order statistics)."""
    if not ordered:
        raise ValueError("no values")
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


@dataclass(frozen=True)
class Spread:
    n: int
    median: float
    q1: float
    q3: float

    def describe(self, unit: str = "days") -> str:
        return f"median {self.median:g} {unit} (IQR {self.q1:g}–{self.q3:g}), n = {self.n}"


def median_iqr(values: Iterable[float]) -> Spread | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return Spread(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.25), quantile(ordered, 0.75))


# -- bands ------------------------------------------------------------------------------------------------------

AGE_BANDS = ("under 30", "30-34", "35-39", "40 and over")
LOSS_BANDS = ("0-1", "2", "3", "4 or more")


def age_band(age: int) -> str:
    if age < 30:
        return AGE_BANDS[0]
    if age < 35:
        return AGE_BANDS[1]
    if age < 40:
        return AGE_BANDS[2]
    return AGE_BANDS[3]


def loss_band(losses: int) -> str:
    return LOSS_BANDS[min(max(losses - 1, 0), 3)]


# -- a clinic pregnancy -----------------------------------------------------------------------------------------


class OutcomeClass(StrEnum):
    LIVE_BIRTH = "live_birth"
    LOSS_UNDER_12 = "loss_before_12w"
    LOSS_12_TO_24 = "loss_12w_to_23w6d"
    STILLBIRTH = "stillbirth"
    ECTOPIC_MOLAR = "ectopic_or_molar"
    OTHER = "other_ending"
    ONGOING = "ongoing"
    UNKNOWN = "unknown"


OUTCOME_CLASS_LABELS = {
    OutcomeClass.LIVE_BIRTH: "Live birth (24+0 or later)",
    OutcomeClass.LOSS_UNDER_12: "Loss before 12+0",
    OutcomeClass.LOSS_12_TO_24: "Loss 12+0 to 23+6",
    OutcomeClass.STILLBIRTH: "Stillbirth (24+0 or later)",
    OutcomeClass.ECTOPIC_MOLAR: "Ectopic or molar",
    OutcomeClass.OTHER: "Other ending (termination, live birth before 24+0)",
    OutcomeClass.ONGOING: "Ongoing",
    OutcomeClass.UNKNOWN: "Unknown (open past EDD + 6 weeks)",
}
# For chart axes (the full labels are in the tables and the CSV)
OUTCOME_CLASS_SHORT = {
    OutcomeClass.LIVE_BIRTH: "Live birth ≥ 24+0",
    OutcomeClass.LOSS_UNDER_12: "Loss < 12+0",
    OutcomeClass.LOSS_12_TO_24: "Loss 12+0–23+6",
    OutcomeClass.STILLBIRTH: "Stillbirth ≥ 24+0",
    OutcomeClass.ECTOPIC_MOLAR: "Ectopic or molar",
    OutcomeClass.OTHER: "Other ending",
    OutcomeClass.ONGOING: "Ongoing",
    OutcomeClass.UNKNOWN: "Unknown outcome",
}
LOSS_CLASSES = (OutcomeClass.LOSS_UNDER_12, OutcomeClass.LOSS_12_TO_24, OutcomeClass.STILLBIRTH)
OPEN_CLASSES = frozenset({OutcomeClass.ONGOING, OutcomeClass.UNKNOWN})


def conception_date(edd: dt.date) -> dt.date:
    """The estimated conception date: day 14 of the LMP-equivalent cycle."""
    return edd - dt.timedelta(days=CONCEPTION_BEFORE_EDD)


def conceived_between(p: CurrentPregnancy, start: dt.date, end: dt.date) -> bool:
    return bool(p.dating) and start <= conception_date(p.edd) <= end


def outcome_due_by(p: CurrentPregnancy) -> dt.date:
    """The day after which an open pregnancy's outcome counts as unknown (EDD + 6 weeks)."""
    return p.edd + dt.timedelta(days=UNKNOWN_AFTER_DAYS)


def classify(p: CurrentPregnancy, today: dt.date) -> OutcomeClass:
    if p.outcome is None or p.ended_on is None:
        return OutcomeClass.UNKNOWN if today > outcome_due_by(p) else OutcomeClass.ONGOING
    ga = gestation_days_on(p.edd, p.ended_on)
    usable = 0 <= ga <= 45 * 7
    if p.outcome is Outcome.LIVE_BIRTH:
        return OutcomeClass.LIVE_BIRTH if not usable or ga >= VIABILITY_DAYS else OutcomeClass.OTHER
    if p.outcome is Outcome.STILLBIRTH:
        return OutcomeClass.STILLBIRTH
    if p.outcome in (Outcome.ECTOPIC, Outcome.MOLAR):
        return OutcomeClass.ECTOPIC_MOLAR
    if p.outcome in LOSS_OUTCOMES:
        if usable and ga < VIABILITY_DAYS:
            return OutcomeClass.LOSS_UNDER_12 if ga < FIRST_TRIMESTER_END_DAYS else OutcomeClass.LOSS_12_TO_24
        return OutcomeClass.LOSS_12_TO_24 if p.outcome is Outcome.LATE_MISCARRIAGE else OutcomeClass.LOSS_UNDER_12
    return OutcomeClass.OTHER  # termination


def previous_losses(history: Sequence[PreviousPregnancy], p: CurrentPregnancy) -> int:
    """Counted losses (before 24+0) of the obstetric history that came before this pregnancy: dated before its
    day 0, or, without a date, in that year or earlier. Its own history entry (dated the day it ended) is not."""
    day0 = day0_from_edd(p.edd)
    return sum(
        1
        for h in history
        if h.outcome in LOSS_OUTCOMES and ((h.date < day0) if h.date is not None else h.year <= day0.year)
    )


def age_at_start(date_of_birth: dt.date, p: CurrentPregnancy) -> int:
    return age_on(date_of_birth, day0_from_edd(p.edd))


class Treatment(StrEnum):
    ASPIRIN_HEPARIN_APS = "aspirin_heparin_aps"
    PROGESTOGEN_BLEEDING = "progestogen_with_bleeding"
    PROGESTOGEN_NO_BLEEDING = "progestogen_without_bleeding"
    OTHER = "other_medication"
    NONE = "none"


TREATMENT_LABELS = {
    Treatment.ASPIRIN_HEPARIN_APS: "Aspirin + heparin for APS",
    Treatment.PROGESTOGEN_BLEEDING: "Progestogen, with bleeding",
    Treatment.PROGESTOGEN_NO_BLEEDING: "Progestogen, no bleeding",
    Treatment.OTHER: "Other medication only",
    Treatment.NONE: "No medication plan",
}


def plans_in(
    p: CurrentPregnancy,
    plans: Sequence[MedicationPlan],
    today: dt.date,
    others: Sequence[CurrentPregnancy] = (),
) -> list[MedicationPlan]:
    """The pregnancy's medication: plans linked to it, and unlinked plans taken during it (started by its end and
    not stopped before its day 0). An unlinked plan started on or before the end of an earlier clinic pregnancy
    (``others``: the patient's pregnancies) belongs to that one, even if it was never stopped: it does not leak
    into a later pregnancy. A plan started before this pregnancy and after any earlier one ended (pre-conception
    aspirin, say) counts. Cancelled plans (never taken, or entered in error) are left out."""
    day0 = day0_from_edd(p.edd)
    end = p.ended_on or today
    earlier_end = max(
        (q.ended_on for q in others if q.id != p.id and q.ended_on is not None and q.ended_on <= day0),
        default=None,
    )
    out = []
    for m in plans:
        if m.status is PlanStatus.CANCELLED:
            continue
        if m.pregnancy_id is not None:
            if m.pregnancy_id == p.id:
                out.append(m)
            continue
        if earlier_end is not None and m.start <= earlier_end:
            continue
        stop = m.stop_date(p.edd)
        if m.start <= end and (stop is None or stop > day0):
            out.append(m)
    return out


def treatment(p: CurrentPregnancy, plans: Sequence[MedicationPlan]) -> Treatment:
    """One group per pregnancy, the first that applies: aspirin and a heparin (LMWH) with at least one of them
    for APS; a progestogen, with bleeding when an episode is recorded on or before the day the first progestogen
    started; any other medication; none. ``plans`` are the pregnancy's (``plans_in``)."""
    drugs = {m.drug for m in plans}
    antithrombotic = [m for m in plans if m.drug == "aspirin" or m.drug in LMWH]
    if "aspirin" in drugs and drugs & LMWH and any(m.indication is Indication.APS for m in antithrombotic):
        return Treatment.ASPIRIN_HEPARIN_APS
    progestogens = [m for m in plans if m.drug in PROGESTOGENS]
    if progestogens:
        first = min(m.start for m in progestogens)
        bled = any(b.date <= first for b in p.bleeding)
        return Treatment.PROGESTOGEN_BLEEDING if bled else Treatment.PROGESTOGEN_NO_BLEEDING
    return Treatment.OTHER if plans else Treatment.NONE


# -- grouped outcome counts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRow:
    """One group's pregnancies by outcome class (``counts`` in ``OutcomeClass`` order), and the same for those whose
    outcome window has closed (``closed``: the only ones in the rates)."""

    group: str
    counts: tuple[int, ...]
    closed: tuple[int, ...] = ()

    def count(self, c: OutcomeClass) -> int:
        return self.counts[list(OutcomeClass).index(c)]

    def closed_count(self, c: OutcomeClass) -> int:
        return self.closed[list(OutcomeClass).index(c)] if self.closed else self.count(c)

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def assessable(self) -> int:
        """Pregnancies whose outcome window has closed (EDD + 6 weeks on or before the report date)."""
        return sum(self.closed) if self.closed else self.total

    @property
    def not_assessable(self) -> int:
        """Conceived too recently for the rates (window still open), whatever their class so far."""
        return self.total - self.assessable

    @property
    def ended(self) -> int:
        """Assessable pregnancies with a recorded outcome: the rates' denominator."""
        return self.assessable - sum(self.closed_count(c) for c in OPEN_CLASSES)

    @property
    def live_birth(self) -> Proportion:
        return Proportion(self.closed_count(OutcomeClass.LIVE_BIRTH), self.ended)

    @property
    def losses(self) -> Proportion:
        return Proportion(sum(self.closed_count(c) for c in LOSS_CLASSES), self.ended)

    def share(self, c: OutcomeClass) -> Proportion:
        """An ended class among the assessable pregnancies with an outcome; ongoing/unknown among all."""
        if c in OPEN_CLASSES:
            return Proportion(self.count(c), self.total)
        return Proportion(self.closed_count(c), self.ended)


def window_closed(p: CurrentPregnancy, today: dt.date) -> bool:
    """The outcome window has closed: EDD + 6 weeks on or before ``today`` (conceived >= 308 days before it)."""
    return outcome_due_by(p) <= today


def last_assessable_conception(today: dt.date) -> dt.date:
    """The latest conception date whose outcome window has closed by ``today``."""
    return today - dt.timedelta(days=ASSESSABLE_AFTER_DAYS)


def tabulate(
    rows: Iterable[tuple[str, OutcomeClass] | tuple[str, OutcomeClass, bool]], groups: Sequence[str]
) -> tuple[OutcomeRow, ...]:
    """Counts per group (every group in ``groups`` listed, in that order, even when empty) and outcome class, from
    (group, class) or (group, class, window closed) rows (without the flag, a row counts as closed)."""
    classes = list(OutcomeClass)
    counts = {g: [0] * len(classes) for g in groups}
    closed = {g: [0] * len(classes) for g in groups}
    for row in rows:
        group, c = row[0], row[1]
        is_closed = row[2] if len(row) > 2 else True
        counts.setdefault(group, [0] * len(classes))[classes.index(c)] += 1
        closed.setdefault(group, [0] * len(classes))[classes.index(c)] += bool(is_closed)
    return tuple(OutcomeRow(g, tuple(v), tuple(closed[g])) for g, v in counts.items())


# -- follow-up adherence ----------------------------------------------------------------------------------------

AUDITED_FOLLOW_UPS = (FollowUpKind.CERVICAL_LENGTH_SCAN, FollowUpKind.SWAB)


class Timing(StrEnum):
    ON_TIME = "on_time"
    EARLY = "early"
    LATE = "late"
    MISSED = "missed"
    PENDING = "not_yet_due"
    CANCELLED = "cancelled"
    UNDATED = "done_date_not_recorded"


JUDGED_TIMINGS = (Timing.ON_TIME, Timing.EARLY, Timing.LATE, Timing.MISSED)  # the on-time rate's denominator

TIMING_LABELS = {
    Timing.ON_TIME: "On time",
    Timing.EARLY: "Early",
    Timing.LATE: "Late",
    Timing.MISSED: "Missed",
    Timing.PENDING: "Not yet due or window still open",
    Timing.CANCELLED: "Cancelled",
    Timing.UNDATED: "Done, date not recorded",
}


def timing(f: FollowUp, today: dt.date) -> Timing:
    """Done within its window (``window_days`` either side of the due date, as ``domain/followup.py`` defines it),
    done before it (early), done after it (late), missed (marked missed, or still due after its window), not yet
    due or still within its window, or cancelled."""
    window = dt.timedelta(days=f.window_days)
    window_end = f.due_date + window
    if f.status is FollowUpStatus.CANCELLED:
        return Timing.CANCELLED
    if f.status is FollowUpStatus.DONE:
        if f.result_date is None:
            return Timing.UNDATED
        if f.result_date < f.due_date - window:
            return Timing.EARLY
        return Timing.ON_TIME if f.result_date <= window_end else Timing.LATE
    if f.status is FollowUpStatus.MISSED or today > window_end:
        return Timing.MISSED
    return Timing.PENDING


@dataclass(frozen=True)
class TimingRow:
    kind: FollowUpKind
    counts: tuple[int, ...]  # in ``Timing`` order

    def count(self, t: Timing) -> int:
        return self.counts[list(Timing).index(t)]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def on_time(self) -> Proportion:
        """On time among those judged (on time, early, late or missed)."""
        return Proportion(self.count(Timing.ON_TIME), self.judged)

    @property
    def judged(self) -> int:
        return sum(self.count(t) for t in JUDGED_TIMINGS)


def timing_rows(items: Iterable[tuple[FollowUpKind, Timing]]) -> tuple[TimingRow, ...]:
    kinds = {k: [0] * len(Timing) for k in AUDITED_FOLLOW_UPS}
    order = list(Timing)
    for kind, t in items:
        if kind in kinds:
            kinds[kind][order.index(t)] += 1
    return tuple(TimingRow(k, tuple(v)) for k, v in kinds.items())


# -- contact and loss to follow-up ------------------------------------------------------------------------------


def contact_dates(
    visits: Iterable[dt.date],
    workup: Iterable[WorkupItem],
    pregnancies: Iterable[CurrentPregnancy],
    plans: Iterable[MedicationPlan],
    follow_ups: Iterable[FollowUp],
) -> list[dt.date]:
    """Every date the clinic was in touch with the patient, as the record shows it: attended visits; workup
    results (sample date and the day entered); each pregnancy's dating entries, confirmation, heartbeat, bleeding
    episodes and recorded end; medication plans started, stopped or changed; follow-ups done (their result date).
    A request alone, a booked or missed visit and a follow-up still due are not contact."""
    out = list(visits)
    for w in workup:
        if not w.has_result:
            continue
        if w.sample_date is not None:
            out.append(w.sample_date)
        if w.entered_at is not None:
            out.append(w.entered_at.date())
    for p in pregnancies:
        out += [e.recorded_on for e in p.dating]
        out += [d for d in (p.iup_confirmed_on, p.heartbeat_on, p.ended_on) if d is not None]
        out += [b.date for b in p.bleeding]
    for m in plans:
        out.append(m.start)
        if m.stopped_on is not None:
            out.append(m.stopped_on)
        out += [c.at.date() for c in m.history]
    for f in follow_ups:
        if f.status is FollowUpStatus.DONE and f.result_date is not None:
            out.append(f.result_date)
    return out


def lost_to_follow_up(p: CurrentPregnancy, contacts: Iterable[dt.date], today: dt.date) -> bool:
    """Open past EDD + 6 weeks with no outcome, and no contact of any kind on or after the EDD."""
    return p.is_open and today > outcome_due_by(p) and not any(d >= p.edd for d in contacts)


# -- workup -----------------------------------------------------------------------------------------------------


def done_on(item: WorkupItem) -> dt.date | None:
    """When an investigation was done: its sample date, else the day the result was entered."""
    if not item.has_result:
        return None
    if item.sample_date is not None:
        return item.sample_date
    return item.entered_at.date() if item.entered_at is not None else None


def completed_on(protocol: Sequence[str], items: Sequence[WorkupItem]) -> dt.date | None:
    """The day the protocol's last item was first done (None until every item has a dated result)."""
    firsts: list[dt.date] = []
    for iid in protocol:
        dates = [d for i in items if i.investigation_id == iid and (d := done_on(i)) is not None]
        if not dates:
            return None
        firsts.append(min(dates))
    return max(firsts) if firsts else None


# -- alert analytics --------------------------------------------------------------------------------------------


RESPONSES = ("acknowledged", "overridden", "snoozed")


@dataclass(frozen=True)
class AlertRuleRow:
    """Alerts of one rule fired in the period, each by its first response: acknowledged, overridden, snoozed, ended
    without a response, or still open (no event after the firing)."""

    rule: str
    fired: int
    acknowledged: int
    overridden: int
    snoozed: int
    ended: int
    open: int = 0

    @property
    def closed(self) -> int:
        """Fired alerts answered or ended: the rates' denominator (still-open ones are left out)."""
        return self.fired - self.open

    @property
    def acceptance(self) -> Proportion:
        return Proportion(self.acknowledged, self.closed)

    @property
    def override(self) -> Proportion:
        return Proportion(self.overridden, self.closed)


@dataclass(frozen=True)
class AlertRoleRow:
    """First responses by the responder's role."""

    role: str
    acknowledged: int
    overridden: int
    snoozed: int

    @property
    def responses(self) -> int:
        return self.acknowledged + self.overridden + self.snoozed

    @property
    def override(self) -> Proportion:
        """Overrides among this role's first responses."""
        return Proportion(self.overridden, self.responses)


class AlertEventRow(NamedTuple):
    """One stored alert event, as the audit reads it (a tuple: a year's events of a large clinic are 10^5-10^6)."""

    patient_id: int
    rule_id: str
    rule_version: int
    episode: str
    kind: str
    at: dt.datetime
    role: str
    reason_code: str


def first_responses(
    events: Iterable[AlertEventRow], since: dt.datetime, until: dt.datetime
) -> list[tuple[str, str, str, str]]:
    """(rule, outcome, role, reason) for every alert fired at or after ``since`` and before ``until``. An alert is
    the (patient, rule, rule version, episode) of a firing; its outcome is the kind of the first event of the same
    alert after the firing (and before it fires again): acknowledged, overridden, snoozed or ended, else "open".
    The role and reason are the first response's. Events come as written (equal times keep that order); the
    report counts the same in SQL (``persistence/outcomes.py``, ``first_responses``)."""
    alerts: dict[tuple[int, str, int, str], list[AlertEventRow]] = {}
    for e in events:
        alerts.setdefault((e.patient_id, e.rule_id, e.rule_version, e.episode), []).append(e)
    out = []
    for history in alerts.values():
        history.sort(key=lambda e: e.at)  # stable: events at the same moment stay as written
        for i, e in enumerate(history):
            if e.kind != "fired" or not since <= e.at < until:
                continue
            nxt = history[i + 1] if i + 1 < len(history) else None
            if nxt is None or nxt.kind == "fired":
                out.append((e.rule_id, "open", "", ""))
            else:
                out.append((e.rule_id, nxt.kind, nxt.role, nxt.reason_code))
    return out


def alert_rows(
    alerts: Iterable[tuple[str, str, str, str] | tuple[str, str, str, str, int]],
) -> tuple[tuple[AlertRuleRow, ...], tuple[AlertRoleRow, ...], tuple[tuple[str, int], ...]]:
    """Per rule, per responding role, and per override reason, from ``first_responses``' (rule, outcome, role,
    reason) rows, one per alert fired in the period, or the same with a count (the SQL version's rows)."""
    rules: dict[str, dict[str, int]] = {}
    roles: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    for row in alerts:
        rule, outcome, role, reason = row[:4]
        n = row[4] if len(row) > 4 else 1
        per_rule = rules.setdefault(rule, {})
        per_rule["fired"] = per_rule.get("fired", 0) + n
        per_rule[outcome] = per_rule.get(outcome, 0) + n
        if outcome in RESPONSES:
            per_role = roles.setdefault(role, {})
            per_role[outcome] = per_role.get(outcome, 0) + n
        if outcome == "overridden":
            reasons[reason] = reasons.get(reason, 0) + n

    def rule_key(r: str) -> tuple[int, str]:
        digits = "".join(ch for ch in r if ch.isdigit())
        return (int(digits) if digits else 10**6, r)

    rule_rows = tuple(
        AlertRuleRow(
            r,
            c.get("fired", 0),
            c.get("acknowledged", 0),
            c.get("overridden", 0),
            c.get("snoozed", 0),
            c.get("ended", 0),
            c.get("open", 0),
        )
        for r, c in sorted(rules.items(), key=lambda kv: rule_key(kv[0]))
    )
    role_rows = tuple(
        AlertRoleRow(r, c.get("acknowledged", 0), c.get("overridden", 0), c.get("snoozed", 0))
        for r, c in sorted(roles.items())
    )
    reason_rows = tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return rule_rows, role_rows, reason_rows
