"""Rules on the current pregnancy: progestogens, cervical length, swabs, dating, medication after a loss and
allergies (evidence digest §8, R22-R29, R32-R34, R36-R38, R40, with the §11 corrections; X1 is a safety-net
rule of rmclinic's own clinical safety case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ..domain.dating import DatingMethod
from ..domain.followup import SHORT_CERVIX_MM, SHORT_CERVIX_WINDOW, FollowUpKind, FollowUpStatus
from ..domain.gestation import GestationalAge
from ..domain.medication import LMWH, PROGESTOGENS, Frequency, Indication, MedicationPlan, PlanStatus
from ..domain.obstetric import Outcome
from ..domain.text import fold
from .engine import rule
from .model import Finding
from .snapshot import Snapshot, plan_key, pregnancy_key

Params = Mapping[str, float]
CL_LO, CL_HI = SHORT_CERVIX_WINDOW  # 16+0 and 24+0
MID_TRIMESTER_FROM = 16 * 7  # NICE NG25: mid-trimester loss from 16+0


def _ga(days: int) -> str:
    return str(GestationalAge(min(max(days, 0), 315)))


def _progestogens(s: Snapshot, on: dt.date, indication: Indication | None = None) -> list[MedicationPlan]:
    """Progestogen plans of this pregnancy being taken on ``on`` or planned to start: a course that has reached
    its stop no longer counts as treatment, and one starting tomorrow already does."""
    current = {id(pl) for pl in s.current_plans(on)}
    return [
        pl
        for pl in s.pregnancy_plans()
        if pl.drug in PROGESTOGENS
        and pl.status is PlanStatus.ACTIVE
        and id(pl) in current
        and (indication is None or pl.indication is indication)
    ]


PRETERM_UP_TO = 34 * 7  # NICE NG25: spontaneous preterm birth up to 34+0


def preterm_history(s: Snapshot) -> list[str]:
    """A preterm birth up to 34+0 or a mid-trimester loss from 16+0 (NICE NG25's qualifying history). rmclinic
    does not record whether a preterm birth was spontaneous, so a flagged birth counts when its gestation is
    34+0 or less, or unknown (said in the alert)."""
    out = []
    for h in s.history:
        if h.outcome is Outcome.LIVE_BIRTH and h.preterm_birth:
            if h.gestation_days is None:
                out.append(f"preterm birth {h.year} (gestation not recorded)")
            elif h.gestation_days <= PRETERM_UP_TO:
                out.append(f"preterm birth at {_ga(h.gestation_days)} in {h.year}")
        elif (
            h.outcome is Outcome.LATE_MISCARRIAGE
            and h.gestation_days is not None
            and h.gestation_days >= MID_TRIMESTER_FROM
        ):
            out.append(f"mid-trimester loss at {_ga(h.gestation_days)} in {h.year}")
    return out


@rule("R22")
def r22_offer_progesterone(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.iup_confirmed_on is None or not preg.bleeding:
        return None
    ga = preg.gestation_days_on(on)
    if ga >= 16 * 7 or s.previous_miscarriages() < 1:
        return None
    if any(pl.drug == "progesterone_vaginal" for pl in s.current_plans(on)):
        return None
    return Finding(
        (
            f"bleeding on {preg.bleeding[-1].date}",
            f"intrauterine pregnancy confirmed on {preg.iup_confirmed_on}",
            f"{s.previous_miscarriages()} previous miscarriage(s)",
            "no vaginal progesterone active",
        ),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("R23")
def r23_progesterone_without_iup(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.iup_confirmed_on is not None:
        return None
    plans = _progestogens(s, on, Indication.THREATENED_MISCARRIAGE)
    if not plans:
        return None
    return Finding(
        (f"{plans[0].display_name} for threatened miscarriage", "intrauterine pregnancy not confirmed on scan"),
        f"pregnancy:{pregnancy_key(preg)}",
        blocks=tuple(f"plan:{plan_key(pl)}" for pl in plans),  # saving any of these plans is what it stops
    )


@rule("R24")
def r24_other_preparation(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for pl in _progestogens(s, on, Indication.THREATENED_MISCARRIAGE):
        standard = pl.drug == "progesterone_vaginal" and pl.dose == 400 and pl.frequency is Frequency.TWICE_DAILY
        if not standard:
            return Finding(
                (
                    f"{pl.display_name} {pl.dose:g} {pl.display_unit} {pl.frequency.value.replace('_', ' ')}",
                    "NICE's regimen is vaginal micronised progesterone 400 mg twice daily",
                ),
                f"plan:{plan_key(pl)}",
            )
    return None


@rule("R25")
def r25_stop_not_16_weeks(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.heartbeat_on is None:
        return None
    for pl in _progestogens(s, on, Indication.THREATENED_MISCARRIAGE):
        stop = pl.stop_date(preg.edd)
        ga = preg.gestation_days_on(stop) if stop else None
        if ga != 16 * 7:
            where = f"planned stop at {_ga(ga)}" if ga is not None else "no planned stop"
            return Finding(
                (f"heartbeat seen on {preg.heartbeat_on}", f"{pl.display_name}: {where}"), f"plan:{plan_key(pl)}"
            )
    return None


@rule("R26")
def r26_course_due_to_stop(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.gestation_days_on(on) < 16 * 7:
        return None
    active = {pl.id for pl in s.active_plans(on)}
    for pl in _progestogens(s, on, Indication.THREATENED_MISCARRIAGE):
        if pl.id in active:
            return Finding(
                (f"{_ga(preg.gestation_days_on(on))} today", f"{pl.display_name} still being taken"),
                f"plan:{plan_key(pl)}",
            )
    return None


@rule("R27")
def r27_no_bleeding(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.bleeding:
        return None
    for pl in _progestogens(s, on):
        if pl.indication in (Indication.RM_NO_BLEEDING, Indication.THREATENED_MISCARRIAGE):
            return Finding(
                (f"{pl.display_name} in this pregnancy", "no bleeding recorded in this pregnancy"),
                f"plan:{plan_key(pl)}",
            )
    return None


@rule("R28")
def r28_taper(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for pl in _progestogens(s, on):
        if pl.taper:
            return Finding((f"{pl.display_name} with a {len(pl.taper)}-step taper",), f"plan:{plan_key(pl)}")
    return None


@rule("R29")
def r29_medication_after_loss(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for preg in reversed(s.ended):
        # any end but a live birth (a termination too); after a birth, medication may be meant to continue
        if preg.outcome is Outcome.LIVE_BIRTH or preg.outcome is None or preg.ended_on is None:
            continue
        still = [
            pl
            for pl in s.active_plans(on)
            if pl.pregnancy_id == preg.id and (pl.drug in PROGESTOGENS or pl.drug == "aspirin" or pl.drug in LMWH)
        ]
        if still:
            outcome = preg.outcome.value.replace("_", " ") if preg.outcome else "loss"
            return Finding(
                (
                    f"pregnancy ended on {preg.ended_on} ({outcome})",
                    "still active: " + ", ".join(x.display_name for x in still),
                ),
                f"pregnancy:{pregnancy_key(preg)}",
            )
    return None


def _cl_planned(s: Snapshot) -> bool:
    preg = s.pregnancy
    return preg is not None and any(
        f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN
        and f.pregnancy_id == preg.id
        and f.status is not FollowUpStatus.CANCELLED
        for f in s.follow_ups
    )


@rule("R32")
def r32_offer_cl_scan(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    history = preterm_history(s)
    if preg is None or not history or _cl_planned(s):
        return None
    ga = preg.gestation_days_on(on)
    if not CL_LO <= ga <= CL_HI:
        return None
    return Finding(
        (*history, f"{_ga(ga)} today", "no cervical-length scan done or scheduled"), f"pregnancy:{pregnancy_key(preg)}"
    )


def _short(s: Snapshot) -> tuple[float, int] | None:
    """The latest cervical length of the pregnancy if it is short by NICE NG25 (≤ 25 mm at 16+0-24+0)."""
    preg = s.pregnancy
    scans = s.cl_scans()
    if preg is None or not scans:
        return None
    last = scans[-1]
    ga = preg.gestation_days_on(last.result_date or last.due_date)
    mm = last.cervical_length_mm
    if mm is not None and mm <= SHORT_CERVIX_MM and CL_LO <= ga <= CL_HI:
        return mm, ga
    return None


@rule("R33")
def r33_short_cervix_with_history(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    short, history = _short(s), preterm_history(s)
    preg = s.pregnancy
    if short is None or not history or preg is None or _progestogens(s, on) or preg.cerclage_on is not None:
        return None
    mm, ga = short
    return Finding(
        (f"cervical length {mm:g} mm at {_ga(ga)}", *history, "no progesterone active; no cerclage recorded"),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("R34")
def r34_short_cervix_no_history(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    short = _short(s)
    preg = s.pregnancy
    if short is None or preterm_history(s) or preg is None or _progestogens(s, on):
        return None
    mm, ga = short
    return Finding(
        (
            f"cervical length {mm:g} mm at {_ga(ga)}",
            "no preterm birth or mid-trimester loss recorded",
            "no progesterone active",
        ),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("R36")
def r36_cervical_excision(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    excisions = s.risk.cervical_excisions
    if preg is None or not excisions or _cl_planned(s):
        return None
    deep = p["depth_mm"]
    reasons = []
    if len(excisions) >= 2:
        reasons.append(f"{len(excisions)} cervical excisions")
    for e in excisions:
        if e.depth_mm is None:
            reasons.append(f"{e.kind.upper()} {e.year}, depth unknown")
        elif e.depth_mm >= deep:
            reasons.append(f"{e.kind.upper()} {e.year}, {e.depth_mm:g} mm deep")
    if not reasons:
        return None
    return Finding((*reasons, "pregnant; no cervical-length scan planned"), f"pregnancy:{pregnancy_key(preg)}")


@rule("R37")
def r37_next_cl_scan(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    scans = s.cl_scans()
    if preg is None or not scans:
        return None
    ga = preg.gestation_days_on(on)
    if not CL_LO <= ga <= CL_HI:
        return None
    last = scans[-1].result_date or scans[-1].due_date
    interval = int(p["interval_days"])
    if (on - last).days <= interval:
        return None
    if any(
        f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.status is FollowUpStatus.DUE and f.pregnancy_id == preg.id
        for f in s.follow_ups
    ):
        return None
    return Finding(
        (
            f"last cervical-length scan on {last}, {(on - last).days} days ago",
            f"{_ga(ga)} today",
            "no next scan scheduled",
        ),
        f"pregnancy:{pregnancy_key(preg)}:{last}",
    )


@rule("R38")
def r38_routine_swab(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preterm_history(s):
        return None
    swabs = [
        f
        for f in s.follow_ups
        if f.kind is FollowUpKind.SWAB and f.pregnancy_id == preg.id and f.status is not FollowUpStatus.CANCELLED
    ]
    if not swabs:
        return None
    return Finding(
        (
            f"{len(swabs)} vaginal swab(s) planned or done in this pregnancy",
            "no preterm birth or mid-trimester loss recorded",
        ),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("R40")
def r40_dating_quality(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None:
        return None
    scans = [i for i, e in enumerate(preg.dating) if e.method is DatingMethod.CRL]
    if scans and scans[0] < len(preg.dating) - 1:
        later = preg.dating[-1]
        return Finding(
            (
                f"EDD set from a crown-rump length scan on {preg.dating[scans[0]].recorded_on}",
                f"changed again on {later.recorded_on}: {later.reason or later.method.value}",
            ),
            f"pregnancy:{pregnancy_key(preg)}:redated",
        )
    ga = preg.gestation_days_on(on)
    if ga >= 22 * 7:
        scan_day = preg.iup_confirmed_on
        scanned = (
            bool(scans)
            or any(e.method is DatingMethod.EMBRYO_TRANSFER for e in preg.dating)
            or (scan_day is not None and preg.gestation_days_on(scan_day) < 22 * 7)
        )
        if not scanned:
            return Finding(
                (f"{_ga(ga)} today", "no scan recorded before 22+0"), f"pregnancy:{pregnancy_key(preg)}:suboptimal"
            )
    return None


# Words that name each medicine (or its class) in a typed allergy: "heparin" covers every LMWH.
ALLERGY_WORDS: dict[str, tuple[str, ...]] = {
    "progesterone_vaginal": ("progesterone", "progestogen", "utrogestan", "cyclogest"),
    "progesterone_im": ("progesterone", "progestogen"),
    "progesterone_sc": ("progesterone", "progestogen"),
    "dydrogesterone_oral": ("dydrogesterone", "duphaston", "progestogen"),
    "aspirin": ("aspirin", "acetylsalicylic", "salicylate", "nsaid"),
    "enoxaparin": ("enoxaparin", "clexane", "heparin", "lmwh"),
    "dalteparin": ("dalteparin", "fragmin", "heparin", "lmwh"),
    "tinzaparin": ("tinzaparin", "innohep", "heparin", "lmwh"),
    "levothyroxine": ("levothyroxine", "thyroxine"),
    "folic_acid": ("folic", "folate"),
    "warfarin": ("warfarin", "coumadin"),
    "doac": ("apixaban", "rivaroxaban", "edoxaban", "dabigatran", "doac"),
    "ivig": ("ivig", "immunoglobulin"),
    "g_csf": ("filgrastim", "g-csf", "g csf", "gcsf"),
    "intralipid": ("intralipid", "soya", "soybean", "egg"),
    "tnf_inhibitor": ("adalimumab", "etanercept", "tnf"),
    "prednisolone": ("prednisolone", "corticosteroid"),  # not "steroid": it would match "non-steroidal"
    "hydroxychloroquine": ("hydroxychloroquine", "plaquenil"),
}


def _allergy_matches(plan: MedicationPlan, allergy: str) -> bool:
    text = fold(allergy)
    words = ALLERGY_WORDS.get(plan.drug)
    if words:
        return any(w in text for w in words)
    name = fold(plan.display_name)  # free entry: the typed name against the allergy, either way round
    return len(name) >= 4 and len(text) >= 4 and (name in text or text in name)


@rule("R42")
def r42_high_risk_care(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or preg.high_risk_care is True or not s.meets_rm_definition:
        return None
    booked = "not booked in" if preg.high_risk_care is False else "no booking recorded with"
    return Finding(
        (
            f"{s.summary.total_losses} previous pregnancy losses",
            f"pregnant now; {booked} a high-risk or preconception clinic",
        ),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("X1")
def x1_allergy(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    allergies = [a for a in s.risk.drug_allergies if a.strip()]
    if not allergies:
        return None
    hits = [
        (pl, a)
        for pl in s.current_plans(on)
        if pl.status is PlanStatus.ACTIVE
        for a in allergies
        if _allergy_matches(pl, a)
    ]
    if not hits:
        return None
    plans = sorted({plan_key(pl) for pl, _ in hits})
    return Finding(
        tuple(f"recorded allergy: {a}; plan: {pl.display_name}" for pl, a in hits),
        "allergy:" + ",".join(plans),  # a new matching plan is a new alert: an earlier override cannot cover it
        blocks=tuple(f"plan:{k}" for k in plans),
    )
