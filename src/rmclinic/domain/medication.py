"""Medication plans: what is taken, from when, with an optional taper, until a stop by date or gestation.

A plan is stored as the user entered it (a stop "at 16+0" stays a gestation), and resolved to calendar
dates through the pregnancy's EDD whenever it is shown, so redating moves every gestation-anchored date.

Stop convention: the **stop date is the first day with no dose**. "Stop at 16+0" means the last dose is
taken on 15+6, the day before the pregnancy reaches 16 completed weeks of gestation (NICE NG126: "continue
to 16 completed weeks", evidence base §3.1). Both dates are always shown so nobody has to guess.

Tapering is allowed, never required: no trial compared tapering with stopping (evidence base §4.6).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from .dating import date_at, gestation_on
from .gestation import GestationalAge


class Frequency(StrEnum):
    ONCE_DAILY = "once_daily"
    TWICE_DAILY = "twice_daily"
    THREE_TIMES_DAILY = "three_times_daily"
    ALTERNATE_DAYS = "alternate_days"


DOSES_PER_DAY: dict[Frequency, float] = {
    Frequency.ONCE_DAILY: 1,
    Frequency.TWICE_DAILY: 2,
    Frequency.THREE_TIMES_DAILY: 3,
    Frequency.ALTERNATE_DAYS: 0.5,
}
FREQUENCY_LABELS = {
    Frequency.ONCE_DAILY: "once a day",
    Frequency.TWICE_DAILY: "twice a day",
    Frequency.THREE_TIMES_DAILY: "three times a day",
    Frequency.ALTERNATE_DAYS: "every other day",
}


class Route(StrEnum):
    VAGINAL = "vaginal"
    ORAL = "oral"
    INTRAMUSCULAR = "intramuscular"
    SUBCUTANEOUS = "subcutaneous"
    OTHER = "other"


class Indication(StrEnum):
    THREATENED_MISCARRIAGE = "threatened_miscarriage_previous_loss"
    RM_NO_BLEEDING = "recurrent_miscarriage_no_bleeding"
    APS = "antiphospholipid_syndrome"
    LUTEAL_SUPPORT_ART = "luteal_support_art"
    PRETERM_SHORT_CERVIX = "preterm_prevention_short_cervix"
    PRETERM_PREVIOUS_BIRTH = "preterm_prevention_previous_preterm_birth"
    INHERITED_THROMBOPHILIA = "inherited_thrombophilia_miscarriage_prevention"
    VTE_PROPHYLAXIS = "vte_prophylaxis"
    SUBCLINICAL_HYPOTHYROIDISM = "subclinical_hypothyroidism"
    EUTHYROID_TPO_MISCARRIAGE = "euthyroid_tpo_antibodies_miscarriage_prevention"
    UNEXPLAINED_RPL = "unexplained_rpl"
    OTHER = "other"


INDICATION_LABELS = {
    Indication.THREATENED_MISCARRIAGE: "Threatened miscarriage with previous loss",
    Indication.RM_NO_BLEEDING: "Recurrent miscarriage without bleeding",
    Indication.APS: "Antiphospholipid syndrome",
    Indication.LUTEAL_SUPPORT_ART: "Luteal support after ART",
    Indication.PRETERM_SHORT_CERVIX: "Preterm-birth prevention: short cervix",
    Indication.PRETERM_PREVIOUS_BIRTH: "Preterm-birth prevention: previous preterm birth",
    Indication.INHERITED_THROMBOPHILIA: "Inherited thrombophilia: miscarriage prevention",
    Indication.VTE_PROPHYLAXIS: "Venous thromboembolism prophylaxis",
    Indication.SUBCLINICAL_HYPOTHYROIDISM: "Subclinical hypothyroidism",
    Indication.EUTHYROID_TPO_MISCARRIAGE: "Euthyroid with TPO antibodies: miscarriage prevention",
    Indication.UNEXPLAINED_RPL: "Unexplained recurrent pregnancy loss",
    Indication.OTHER: "Other",
}


class PlanStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # stopped early by a clinician, with a reason
    CANCELLED = "cancelled"  # never taken, or entered in error


@dataclass(frozen=True)
class Drug:
    """One medicine the clinic plans. ``dose_guard`` catches typing errors only: it is rmclinic's own
    plausibility range per dose, not a dosing recommendation. ``default_dose`` is set only where the
    evidence base names a regimen (``default_source`` says which)."""

    key: str
    name: str
    atc: str | None  # only codes verified in the evidence base §7
    unit: str
    route: Route
    dose_guard: tuple[float, float]
    default_dose: float | None = None
    default_frequency: Frequency = Frequency.ONCE_DAILY
    default_source: str = ""
    progestogen: bool = False


DRUGS: dict[str, Drug] = {
    d.key: d
    for d in (
        Drug(
            "progesterone_vaginal",
            "Micronised progesterone (vaginal)",
            "G03DA04",
            "mg",
            Route.VAGINAL,
            (25, 800),
            400,
            Frequency.TWICE_DAILY,
            "PRISM (N Engl J Med 2019;380:1815-24) and NICE NG126: 400 mg twice daily",
            True,
        ),
        Drug(
            "dydrogesterone_oral",
            "Dydrogesterone (oral)",
            "G03DB01",
            "mg",
            Route.ORAL,
            (5, 60),
            10,
            Frequency.TWICE_DAILY,
            "Dose used in Ghosh 2014 (evidence base §3.1); NICE found no evidence for it",
            True,
        ),
        Drug(
            "progesterone_im",
            "Progesterone (intramuscular)",
            "G03DA04",
            "mg",
            Route.INTRAMUSCULAR,
            (10, 200),
            progestogen=True,
        ),
        Drug(
            "progesterone_sc",
            "Progesterone (subcutaneous)",
            "G03DA04",
            "mg",
            Route.SUBCUTANEOUS,
            (10, 100),
            progestogen=True,
        ),
        Drug(
            "aspirin",
            "Aspirin, low dose",
            "B01AC06",
            "mg",
            Route.ORAL,
            (50, 150),
            75,
            Frequency.ONCE_DAILY,
            "RCOG 2023 (§7.2.1): aspirin 75 mg with heparin in APS",
        ),
        Drug(
            "enoxaparin",
            "Enoxaparin (LMWH)",
            "B01AB05",
            "mg",
            Route.SUBCUTANEOUS,
            (20, 200),
            40,
            Frequency.ONCE_DAILY,
            "RCOG 2023 (§7.2.1) and ALIFE2: enoxaparin 40 mg once daily",
        ),
        # ATC codes for dalteparin (B01AB04) and tinzaparin (B01AB10) are unverified (evidence base §7).
        Drug(
            "dalteparin",
            "Dalteparin (LMWH)",
            None,
            "IU",
            Route.SUBCUTANEOUS,
            (2500, 25000),
            5000,
            Frequency.ONCE_DAILY,
            "ALIFE2 (Lancet 2023;402:54-61): dalteparin 5000 IU once daily",
        ),
        Drug(
            "tinzaparin",
            "Tinzaparin (LMWH)",
            None,
            "IU",
            Route.SUBCUTANEOUS,
            (2500, 25000),
            4500,
            Frequency.ONCE_DAILY,
            "ALIFE2 (Lancet 2023;402:54-61): tinzaparin 4500 IU once daily",
        ),
        Drug(
            "levothyroxine",
            "Levothyroxine",
            "H03AA01",
            "microgram",
            Route.ORAL,
            (12.5, 300),
            50,
            Frequency.ONCE_DAILY,
            "TABLET (N Engl J Med 2019;380:1316-25): 50 micrograms daily",
        ),
        Drug("folic_acid", "Folic acid", None, "mg", Route.ORAL, (0.1, 10)),
        # Oral anticoagulants, recorded so lupus anticoagulant results taken on them are flagged (R7); no ATC
        # code for them is verified in the evidence base.
        Drug("warfarin", "Warfarin (vitamin K antagonist)", None, "mg", Route.ORAL, (0.5, 20)),
        Drug(
            "doac",
            "Direct oral anticoagulant (apixaban, rivaroxaban, edoxaban, dabigatran)",
            None,
            "",
            Route.ORAL,
            (0, math.inf),
        ),
        # Immunotherapies (evidence base §3.6): recorded so the alert on their use outside research can fire.
        # No ATC code is verified for them and doses vary by weight, so the unit is typed and unguarded.
        Drug("ivig", "Intravenous immunoglobulin (IVIG)", None, "", Route.OTHER, (0, math.inf)),
        Drug("g_csf", "G-CSF (filgrastim)", None, "", Route.SUBCUTANEOUS, (0, math.inf)),
        Drug("intralipid", "Intralipid", None, "", Route.OTHER, (0, math.inf)),
        Drug(
            "tnf_inhibitor", "TNF-alpha inhibitor (adalimumab, etanercept)", None, "", Route.SUBCUTANEOUS, (0, math.inf)
        ),
        Drug("prednisolone", "Prednisolone", None, "mg", Route.ORAL, (1, 100)),
        Drug("hydroxychloroquine", "Hydroxychloroquine", None, "mg", Route.ORAL, (100, 600)),
        Drug("other", "Other (free entry)", None, "", Route.OTHER, (0, math.inf)),
    )
}
PROGESTOGENS = frozenset(k for k, d in DRUGS.items() if d.progestogen)
LMWH = frozenset({"enoxaparin", "dalteparin", "tinzaparin"})
ANTICOAGULANTS = LMWH | {"warfarin", "doac"}
IMMUNOTHERAPIES = frozenset({"ivig", "g_csf", "intralipid", "tnf_inhibitor", "prednisolone", "hydroxychloroquine"})


@dataclass(frozen=True)
class Anchor:
    """When something happens: a calendar date, or a gestation resolved through the EDD."""

    date: dt.date | None = None
    gestation_days: int | None = None

    def __post_init__(self) -> None:
        if (self.date is None) == (self.gestation_days is None):
            raise ValueError("an anchor is either a date or a gestation")

    def resolve(self, edd: dt.date | None) -> dt.date | None:
        if self.date is not None:
            return self.date
        assert self.gestation_days is not None
        return None if edd is None else date_at(edd, self.gestation_days)

    def __str__(self) -> str:
        if self.date is not None:
            return self.date.isoformat()
        assert self.gestation_days is not None
        return str(GestationalAge(self.gestation_days))


@dataclass(frozen=True)
class DoseStep:
    """From ``start`` on, take ``dose`` at ``frequency`` (until the next step or the stop)."""

    start: Anchor
    dose: float
    frequency: Frequency


@dataclass(frozen=True)
class PlanChange:
    at: dt.datetime
    by: str
    reason: str
    summary: str


@dataclass(frozen=True)
class MedicationPlan:
    drug: str
    dose: float
    frequency: Frequency
    start: dt.date
    indication: Indication
    stop: Anchor | None = None  # None: no planned stop (e.g. levothyroxine)
    taper: tuple[DoseStep, ...] = ()
    name: str = ""  # the drug's name for "other"; otherwise the catalogue name
    unit: str = ""
    route: Route | None = None
    status: PlanStatus = PlanStatus.ACTIVE
    stopped_on: dt.date | None = None
    stop_reason: str = ""
    notes: str = ""
    pregnancy_id: int | None = None
    id: int | None = None
    version: int = 0
    history: tuple[PlanChange, ...] = ()

    @property
    def drug_def(self) -> Drug:
        return DRUGS.get(self.drug, DRUGS["other"])

    @property
    def display_name(self) -> str:
        return self.name.strip() or self.drug_def.name

    @property
    def display_unit(self) -> str:
        return self.unit or self.drug_def.unit

    @property
    def atc(self) -> str | None:
        return self.drug_def.atc

    def stop_date(self, edd: dt.date | None) -> dt.date | None:
        """The first day without a dose: a clinician's early stop wins over the plan."""
        planned = self.stop.resolve(edd) if self.stop else None
        if self.stopped_on is not None and (planned is None or self.stopped_on < planned):
            return self.stopped_on
        return planned


def default_source(drug_key: str, indication: Indication) -> str:
    """Where the default dose comes from, for this medicine *and* indication, without claiming a benefit the
    evidence did not show (evidence base §3)."""
    if drug_key == "progesterone_vaginal":
        if indication is Indication.THREATENED_MISCARRIAGE:
            return "PRISM (N Engl J Med 2019;380:1815-24) and NICE NG126: 400 mg twice daily"
        if indication is Indication.RM_NO_BLEEDING:
            return (
                "PROMISE used 400 mg twice daily and found no benefit in recurrent miscarriage without bleeding; "
                "NICE does not support this use"
            )
        return (
            "The dose of the miscarriage trials (PRISM, PROMISE); no evidence for this indication in rmclinic's sources"
        )
    if drug_key == "levothyroxine":
        if indication is Indication.EUTHYROID_TPO_MISCARRIAGE:
            return "TABLET used 50 micrograms daily and found no live-birth benefit in euthyroid TPO-positive women"
        return "The dose used in TABLET; choose the dose for this indication"
    if drug_key in ("dalteparin", "tinzaparin", "enoxaparin"):
        if indication is Indication.APS and drug_key == "enoxaparin":
            return "RCOG 2023 (§7.2.1): enoxaparin 40 mg once daily with aspirin in APS"
        if indication is Indication.INHERITED_THROMBOPHILIA:
            return "The dose used in ALIFE2, which found no live-birth benefit in inherited thrombophilia"
        return "A prophylactic dose used in ALIFE2 (Lancet 2023;402:54-61)"
    return DRUGS[drug_key].default_source if drug_key in DRUGS else ""


def describe_dose(dose: float, unit: str, frequency: Frequency) -> str:
    return f"{dose:g} {unit} {FREQUENCY_LABELS[frequency]}".replace("  ", " ")


# -- resolution --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    start: dt.date
    end: dt.date | None  # exclusive; None: open-ended
    dose: float
    frequency: Frequency
    taper: bool


def segments(plan: MedicationPlan, edd: dt.date | None) -> list[Segment]:
    """The plan as consecutive dose periods, taper steps included, ending at the stop date.
    Assumes a valid plan (see ``plan_problems``); unresolvable steps are skipped."""
    if plan.status is PlanStatus.CANCELLED:
        return []
    stop = plan.stop_date(edd)
    points: list[tuple[dt.date, float, Frequency, bool]] = [(plan.start, plan.dose, plan.frequency, False)]
    for step in plan.taper:
        d = step.start.resolve(edd)
        if d is not None:
            points.append((d, step.dose, step.frequency, True))
    out: list[Segment] = []
    for i, (start, dose, freq, taper) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else stop
        if stop is not None and (end is None or end > stop):
            end = stop
        if end is not None and end <= start:
            continue
        out.append(Segment(start, end, dose, freq, taper))
    return out


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    gestation: GestationalAge | None
    dose: float
    frequency: Frequency
    taper: bool  # dose is 0 on the rest days of an alternate-day period


def dose_calendar(
    plan: MedicationPlan, edd: dt.date | None, until: dt.date | None = None, horizon_days: int = 366
) -> list[CalendarDay]:
    """One row per day from the start to the last dose (or ``until``/the horizon for open plans)."""
    out: list[CalendarDay] = []
    limit = until or plan.start + dt.timedelta(days=horizon_days)
    for seg in segments(plan, edd):
        end = seg.end if seg.end is not None else limit + dt.timedelta(days=1)
        day = seg.start
        n = 0
        while day < end and day <= limit:
            dose = seg.dose
            if seg.frequency is Frequency.ALTERNATE_DAYS and n % 2 == 1:
                dose = 0
            out.append(CalendarDay(day, gestation_on(edd, day) if edd else None, dose, seg.frequency, seg.taper))
            day += dt.timedelta(days=1)
            n += 1
    return out


def last_dose_day(plan: MedicationPlan, edd: dt.date | None) -> dt.date | None:
    """The last day with a dose: the day before the stop, or earlier when that day is a rest day of an
    every-other-day period. None for a plan with no planned stop (or nothing left to take)."""
    segs = segments(plan, edd)
    if not segs or segs[-1].end is None:
        return None
    for seg in reversed(segs):
        assert seg.end is not None
        days = (seg.end - seg.start).days
        if days <= 0:
            continue
        if seg.frequency is Frequency.ALTERNATE_DAYS:  # doses on day 0, 2, 4, ... of the period
            return seg.start + dt.timedelta(days=2 * ((days - 1) // 2))
        return seg.end - dt.timedelta(days=1)
    return None


def dosed_days(seg: Segment) -> tuple[dt.date, dt.date] | None:
    """The first and last day with a dose in a period with an end."""
    if seg.end is None or seg.end <= seg.start:
        return None
    days = (seg.end - seg.start).days
    if seg.frequency is Frequency.ALTERNATE_DAYS:
        return seg.start, seg.start + dt.timedelta(days=2 * ((days - 1) // 2))
    return seg.start, seg.end - dt.timedelta(days=1)


# -- validation ---------------------------------------------------------------------------------------


def plan_problems(plan: MedicationPlan, edd: dt.date | None) -> dict[str, str]:
    """Field problems; keys name the field (``taper.2.dose``) so the editor shows them in place."""
    out: dict[str, str] = {}
    drug = DRUGS.get(plan.drug)
    if drug is None:
        out["drug"] = "Choose a medicine from the list, or Other."
        return out
    if plan.drug == "other" and not plan.name.strip():
        out["name"] = "Enter the medicine's name."
    if not drug.unit and not plan.unit.strip():
        out["unit"] = "Enter the unit of the dose."
    lo, hi = drug.dose_guard

    def check_dose(key: str, dose: float) -> None:
        if not math.isfinite(dose) or dose <= 0:
            out[key] = "The dose must be a positive number."
        elif not lo <= dose <= hi:
            out[key] = f"{dose:g} {drug.unit} is outside {lo:g}-{hi:g} {drug.unit} per dose: check the dose."

    check_dose("dose", plan.dose)
    stop = None
    if plan.stop is not None:
        stop = plan.stop.resolve(edd)
        if stop is None:
            out["stop"] = "A stop by gestation needs a dated pregnancy; give a date instead."
        elif stop <= plan.start:
            out["stop"] = f"The stop ({stop.isoformat()}) must be after the start ({plan.start.isoformat()})."
    previous_date, previous_daily = plan.start, plan.dose * DOSES_PER_DAY[plan.frequency]
    previous_dose = plan.dose
    for i, step in enumerate(plan.taper):
        key = f"taper.{i}"
        check_dose(f"{key}.dose", step.dose)
        when = step.start.resolve(edd)
        if when is None:
            out[f"{key}.start"] = "A step by gestation needs a dated pregnancy; give a date instead."
            continue
        if when <= previous_date:
            out[f"{key}.start"] = (
                f"Step {i + 1} starts {when.isoformat()}, not after the previous period (from "
                f"{previous_date.isoformat()}): steps must be in date order without overlap."
            )
        elif stop is not None and when >= stop:
            out[f"{key}.start"] = f"Step {i + 1} starts on or after the stop ({stop.isoformat()})."
        daily = step.dose * DOSES_PER_DAY[step.frequency]
        if f"{key}.dose" not in out and (daily > previous_daily or step.dose > previous_dose):
            out[f"{key}.dose"] = "A taper must not increase the dose (neither each dose nor the daily total)."
        previous_date, previous_daily, previous_dose = max(previous_date, when), daily, step.dose
    if plan.taper and plan.stop is None:
        out["stop"] = "A taper needs a planned stop."
    if len(plan.notes) > 4000:
        out["notes"] = "Notes are limited to 4000 characters."
    return out


# -- taper templates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaperTemplate:
    key: str
    label: str
    # (days before the stop, fraction of the dose, frequency or None to keep it)
    steps: tuple[tuple[int, float, Frequency | None], ...]


TAPER_TEMPLATES: dict[str, TaperTemplate] = {
    t.key: t
    for t in (
        TaperTemplate("halve_1w", "Halve the dose for one week, then stop", ((7, 0.5, None),)),
        TaperTemplate("halve_2w", "Halve the dose for two weeks, then stop", ((14, 0.5, None),)),
        TaperTemplate(
            "halve_quarter", "Halve for one week, quarter for one week, then stop", ((14, 0.5, None), (7, 0.25, None))
        ),
        TaperTemplate("once_daily_1w", "Once a day for one week, then stop", ((7, 1.0, Frequency.ONCE_DAILY),)),
    )
}


def apply_template(plan: MedicationPlan, template_key: str) -> tuple[DoseStep, ...]:
    """Steps that end at the plan's stop, anchored the same way as the stop (date or gestation)."""
    template = TAPER_TEMPLATES[template_key]
    if plan.stop is None:
        raise ValueError("Set a planned stop before choosing a taper.")
    steps = []
    for before, fraction, freq in template.steps:
        if plan.stop.gestation_days is not None:
            anchor = Anchor(gestation_days=plan.stop.gestation_days - before)
        else:
            assert plan.stop.date is not None
            anchor = Anchor(date=plan.stop.date - dt.timedelta(days=before))
        steps.append(DoseStep(anchor, round(plan.dose * fraction, 3), freq or plan.frequency))
    return tuple(steps)


def with_taper(plan: MedicationPlan, steps: Sequence[DoseStep]) -> MedicationPlan:
    return replace(plan, taper=tuple(steps))


def summary(plan: MedicationPlan, edd: dt.date | None) -> str:
    """One line: drug, dose, and until when (date and gestation)."""
    text = f"{plan.display_name} {describe_dose(plan.dose, plan.display_unit, plan.frequency)}"
    if plan.taper:
        text += f", taper in {len(plan.taper)} step{'s' if len(plan.taper) > 1 else ''}"
    stop = plan.stop_date(edd)
    if stop is not None:
        ga = gestation_on(edd, stop) if edd else None
        text += f", stop {stop.isoformat()}" + (f" ({ga})" if ga else "")
    return text
