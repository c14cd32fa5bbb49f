"""Rules on the definition, the workup and treatments chosen outside pregnancy (evidence digest §8, R1-R21,
R30, R31, R41, with the §11 corrections). Each function reads a snapshot and a date, nothing else; its
metadata (title, severity, message, citations, parameters) is in resources/evidence/rules.json."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ..domain.gestation import GestationalAge
from ..domain.investigations import Interpretation, Investigation
from ..domain.medication import ANTICOAGULANTS, IMMUNOTHERAPIES, LMWH, Indication, PlanStatus
from ..domain.obstetric import BIRTH_OUTCOMES, FIRST_TRIMESTER_END_DAYS, Outcome, TissueGenetics
from ..domain.workup import RepeatState, RepeatStatus, Status, repeat_status
from .engine import rule
from .model import Finding
from .snapshot import Snapshot, item_key, plan_key, pregnancy_key

APL = ("la", "acl_igg", "acl_igm", "b2gpi_igg", "b2gpi_igm")
OPEN = (Status.REQUESTED, Status.SAMPLE_TAKEN)
Params = Mapping[str, float]


def _name(s: Snapshot, iid: str) -> str:
    inv = s.catalogue.investigations.get(iid)
    return inv.name if inv else iid


def _missing(s: Snapshot, iid: str) -> bool:
    """Neither resulted nor waiting (requested or sampled): the test still has to be ordered."""
    return not any(i.has_result or i.status in OPEN for i in s.items_of(iid))


def _losses_text(s: Snapshot) -> str:
    summ = s.summary
    return (
        f"{summ.total_losses} pregnancy losses before 24 weeks ({summ.first_trimester_losses} first-trimester, "
        f"{summ.second_trimester_losses} second-trimester)"
    )


def _flagged(s: Snapshot, iid: str) -> bool:
    latest = s.latest(iid)
    return bool(latest and latest.interpretation and latest.interpretation.flagged)


def _normal(s: Snapshot, iid: str) -> bool:
    """The latest result was judged normal (a result without a range to judge it by is not)."""
    latest = s.latest(iid)
    return bool(latest and latest.interpretation is Interpretation.NORMAL)


_NO_RESULTS = RepeatStatus(RepeatState.NOT_NEEDED)  # what repeat_status says of no results


def _repeat_status(s: Snapshot, iid: str, inv: Investigation) -> RepeatStatus:
    """The repeat status of one investigation's results (shared by R4, R5 and R8: worked out once)."""
    if not s.has_result(iid):
        return _NO_RESULTS
    return s.memo(("repeat_status", iid), lambda: repeat_status(inv, s.results(iid)))


def persistent_apl(s: Snapshot) -> list[str]:
    """Antiphospholipid tests positive twice at least 12 weeks apart (Miyakis 2006 laboratory criteria)."""

    def compute() -> tuple[str, ...]:
        out = []
        for iid in APL:
            inv = s.catalogue.investigations.get(iid)
            if inv is not None and _repeat_status(s, iid, inv).state is RepeatState.CONFIRMED:
                out.append(iid)
        return tuple(out)

    return list(s.memo("persistent_apl", compute))


@rule("R1")
def r1_eshre_definition(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.summary.meets_eshre or s.workup:
        return None
    return Finding((_losses_text(s), "no investigation requested or resulted yet"), "workup")


@rule("R2")
def r2_rcog_scope(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.summary.meets_rcog:
        return None
    missing = [iid for iid in s.catalogue.protocol.items if _missing(s, iid)]
    if not missing:
        return None
    return Finding(
        (_losses_text(s), "protocol investigations not yet ordered: " + ", ".join(_name(s, i) for i in missing)),
        "workup",
    )


@rule("R3")
def r3_apl_missing(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.meets_rm_definition:
        return None
    missing = [iid for iid in ("la", "acl_igg", "acl_igm") if _missing(s, iid)]
    if not missing:
        return None
    return Finding((_losses_text(s), "no result or request for: " + ", ".join(_name(s, i) for i in missing)), "workup")


def _repeat(s: Snapshot, state: RepeatState) -> Finding | None:
    for iid in APL:
        inv = s.catalogue.investigations.get(iid)
        if inv is None:
            continue
        status = _repeat_status(s, iid, inv)
        if status.state is state:
            items = s.results(iid)
            first = next(i for i in items if i.interpretation and i.interpretation.flagged)
            because = [f"{inv.name} positive on {first.sample_date}"]
            if state is RepeatState.TOO_EARLY:
                later = [i for i in items if i.sample_date and first.sample_date and i.sample_date > first.sample_date]
                gap = (later[0].sample_date - first.sample_date).days if later[0].sample_date else 0  # type: ignore[operator]
                because.append(f"repeat taken {gap} days later, before the {inv.repeat_after_days}-day interval")
            else:
                because.append(f"no repeat yet; the confirmatory repeat is due from {status.due_on}")
            return Finding(tuple(because), f"item:{item_key(first)}", f"Repeat due from {status.due_on}.")
    return None


@rule("R4")
def r4_apl_repeat_due(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    return _repeat(s, RepeatState.DUE)


@rule("R5")
def r5_apl_repeat_too_early(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    return _repeat(s, RepeatState.TOO_EARLY)


@rule("R6")
def r6_low_titre_acl(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    limit = p["titre_limit"]
    for iid in ("acl_igg", "acl_igm"):
        latest = s.latest(iid)
        v = latest.value if latest else None
        flagged = bool(latest and latest.interpretation and latest.interpretation.flagged)
        if latest and flagged and v and v.numeric is not None and v.numeric <= limit:
            return Finding(
                (f"{_name(s, iid)} {v.numeric:g} {v.unit} flagged positive", f"at or below {limit:g} GPL/MPL"),
                f"item:{item_key(latest)}",
            )
    return None


@rule("R7")
def r7_la_on_anticoagulant(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for item in s.results("la"):
        day = item.sample_date
        if day is None:
            continue
        on_heparin = [pl for pl in s.active_plans(day) if pl.drug in ANTICOAGULANTS]
        if on_heparin:
            return Finding(
                (f"lupus anticoagulant sampled on {day}", f"{on_heparin[0].display_name} was being taken that day"),
                f"item:{item_key(item)}",
            )
    return None


def _aps(s: Snapshot) -> list[str]:
    """Laboratory-confirmed APS with three or more first-trimester or any second-trimester losses: ESHRE 2017
    advises treatment for laboratory APS with three or more losses, and anticoagulation after two losses only
    in research (evidence base §11), so two losses are not enough here."""
    if s.risk.aps_diagnosed:  # diagnosed elsewhere (recorded in the risk history)
        return persistent_apl(s) or ["antiphospholipid syndrome recorded as diagnosed"]
    confirmed = persistent_apl(s)
    return confirmed if confirmed and s.summary.meets_rcog else []


@rule("R8")
def r8_aps_pregnant_untreated(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    confirmed = _aps(s)
    # RCOG 2023: from the positive test until at least 34 weeks; from 34+0 starting treatment is not what it says
    if preg is None or not confirmed or preg.gestation_days_on(on) >= 34 * 7:
        return None
    active = {pl.drug for pl in s.current_plans(on)}
    if "aspirin" in active and active & LMWH:
        return None
    lacking = [
        name for name, ok in (("low-dose aspirin", "aspirin" in active), ("heparin", bool(active & LMWH))) if not ok
    ]
    return Finding(
        (
            "antiphospholipid antibodies persistent ≥ 12 weeks apart: " + ", ".join(_name(s, i) for i in confirmed),
            _losses_text(s),
            "pregnant now",
            "not taking: " + " or ".join(lacking),
        ),
        f"pregnancy:{pregnancy_key(preg)}",
    )


@rule("R9")
def r9_aps_stop_before_34(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None:
        return None
    earliest = int(p["earliest_stop_weeks"] * 7)
    for pl in s.pregnancy_plans():
        if pl.status is not PlanStatus.ACTIVE or pl.indication is not Indication.APS:
            continue
        if pl.drug != "aspirin" and pl.drug not in LMWH:
            continue
        stop = pl.stop_date(preg.edd)
        if stop is None:
            continue
        ga = preg.gestation_days_on(stop)
        if ga < earliest:
            return Finding(
                (
                    f"{pl.display_name} for APS",
                    f"planned stop {stop} at {GestationalAge(max(ga, 0))}",
                    f"earlier than {GestationalAge(earliest)}",
                ),
                f"pregnancy:{pregnancy_key(preg)}",
            )
    return None


@rule("R10")
def r10_thrombophilia_tests_not_indicated(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    tested = [iid for iid in ("protein_c", "antithrombin") if s.requested_or_done(iid)]
    if not tested or s.risk.vte_history:
        return None
    losses = s.losses()
    if not losses or any(
        (x.gestation_days is not None and x.gestation_days >= FIRST_TRIMESTER_END_DAYS)
        or x.outcome is Outcome.LATE_MISCARRIAGE
        for x in losses
    ):
        return None
    return Finding(
        ("tested: " + ", ".join(_name(s, i) for i in tested), "first-trimester losses only", "no VTE history recorded"),
        "workup",
    )


@rule("R11")
def r11_lmwh_inherited_thrombophilia(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if s.risk.vte_history:
        return None
    active = s.active_plans(on)
    if any(pl.indication is Indication.VTE_PROPHYLAXIS for pl in active):
        return None
    for pl in active:
        if pl.drug in LMWH and pl.indication is Indication.INHERITED_THROMBOPHILIA:
            return Finding(
                (
                    f"{pl.display_name} for inherited thrombophilia (miscarriage prevention)",
                    "no VTE indication recorded",
                ),
                f"plan:{plan_key(pl)}",
            )
    return None


def _pregnancy_windows(s: Snapshot) -> list[tuple[dt.date, dt.date, str]]:
    """(from, to, what): pregnancies and the 6 weeks after a birth, when protein S is unreliable."""
    out = []
    for preg in (s.pregnancy, *s.ended):
        if preg is None:
            continue
        start = preg.edd - dt.timedelta(days=280)
        end = preg.ended_on or dt.date.max
        if preg.outcome in BIRTH_OUTCOMES and preg.ended_on:
            end = preg.ended_on + dt.timedelta(days=42)
        out.append((start, end, "pregnancy"))
    for h in s.history:
        if h.date is None:
            continue
        if h.gestation_days is not None:  # any earlier pregnancy of known length, whatever its outcome
            out.append((h.date - dt.timedelta(days=h.gestation_days), h.date, "pregnancy"))
        if h.outcome in BIRTH_OUTCOMES:
            out.append((h.date, h.date + dt.timedelta(days=42), "the 6 weeks after a birth"))
    return out


@rule("R12")
def r12_protein_s_in_pregnancy(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for item in s.results("protein_s"):
        day = item.sample_date
        if day is None:
            continue
        for start, end, what in _pregnancy_windows(s):
            if start <= day <= end:
                return Finding((f"protein S sampled on {day}", f"during {what}"), f"item:{item_key(item)}")
    return None


@rule("R13")
def r13_thyroid_missing(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.meets_rm_definition:
        return None
    missing = [iid for iid in ("tsh", "tpo") if _missing(s, iid)]
    if not missing:
        return None
    return Finding((_losses_text(s), "no result or request for: " + ", ".join(_name(s, i) for i in missing)), "workup")


def _tsh(s: Snapshot) -> float | None:
    latest = s.latest("tsh")
    return latest.normalised if latest and latest.normalised is not None else None


@rule("R14")
def r14_subclinical_hypothyroidism(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    tsh = _tsh(s)
    limit = p["tsh_threshold"]
    if tsh is None or tsh <= limit or not _normal(s, "ft4"):
        return None
    return Finding((f"TSH {tsh:g} mIU/L, above the clinic threshold of {limit:g}", "free T4 normal"), "thyroid")


@rule("R15")
def r15_levothyroxine_euthyroid_tpo(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    tsh = _tsh(s)
    if not _flagged(s, "tpo") or tsh is None or not _normal(s, "tsh"):
        return None
    for pl in s.active_plans(on):
        if pl.drug == "levothyroxine" and pl.indication is Indication.EUTHYROID_TPO_MISCARRIAGE:
            return Finding(
                ("TPO antibodies positive", f"TSH {tsh:g} mIU/L within range", "levothyroxine to prevent miscarriage"),
                f"plan:{plan_key(pl)}",
            )
    return None


@rule("R16")
def r16_tsh_monitoring_in_pregnancy(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    preg = s.pregnancy
    if preg is None or not _flagged(s, "tpo"):
        return None
    ga = preg.gestation_days_on(on)
    interval = int(p["interval_days"])
    tsh_dates = [i.sample_date for i in s.results("tsh") if i.sample_date]
    if ga < 20 * 7:
        recent = [d for d in tsh_dates if 0 <= (on - d).days <= interval]
        if not recent:
            return Finding(
                (
                    "TPO antibodies positive",
                    f"pregnant, {GestationalAge(max(ga, 0))}",
                    f"no TSH in the last {interval} days",
                ),
                f"pregnancy:{pregnancy_key(preg)}",
            )
    elif 28 * 7 <= ga <= 32 * 7:
        since = preg.edd - dt.timedelta(days=280 - 28 * 7)
        if not [d for d in tsh_dates if d >= since]:
            return Finding(
                ("TPO antibodies positive", f"pregnant, {GestationalAge(ga)}", "no TSH since 28+0"),
                f"pregnancy:{pregnancy_key(preg)}:late",
            )
    return None


@rule("R17")
def r17_prolactin_without_symptoms(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.requested_or_done("prolactin") or s.risk.oligo_amenorrhoea is True:
        return None
    why = "periods recorded as regular" if s.risk.oligo_amenorrhoea is False else "periods not asked about"
    return Finding(("prolactin requested or measured", why), "workup:prolactin")


@rule("R18")
def r18_tissue_genetics(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    lookback = int(p["lookback_days"])
    miscarriages = [x for x in s.losses() if x.outcome in (Outcome.EARLY_MISCARRIAGE, Outcome.LATE_MISCARRIAGE)]
    for n, loss in enumerate(miscarriages, start=1):
        late = loss.outcome is Outcome.LATE_MISCARRIAGE or (
            loss.gestation_days is not None and loss.gestation_days >= FIRST_TRIMESTER_END_DAYS
        )
        if not (n >= 3 or late) or loss.tissue_genetics is not TissueGenetics.NOT_SENT or loss.date is None:
            continue
        if not 0 <= (on - loss.date).days <= lookback:
            continue
        sent = (i.sample_date or i.requested_on for i in s.requested_or_done("poc_genetics"))
        if any(day and day >= loss.date for day in sent):
            continue
        which = "a second-trimester miscarriage" if late else f"miscarriage number {n}"
        return Finding(
            (f"{which} on {loss.date}", "pregnancy tissue not sent for genetic testing"), f"loss:{loss.date}"
        )
    return None


@rule("R19")
def r19_parental_karyotype(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    reasons = []
    latest = s.latest("poc_genetics")
    if latest and latest.value and latest.value.text in ("unbalanced structural", "failed or unavailable"):
        reasons.append(f"pregnancy tissue: {latest.value.text}")
    for h in s.history:
        if h.tissue_genetics is TissueGenetics.UNBALANCED_STRUCTURAL:
            reasons.append(f"pregnancy tissue {h.year}: unbalanced structural")
        elif h.tissue_genetics is TissueGenetics.FAILED and h.outcome in (
            Outcome.EARLY_MISCARRIAGE,
            Outcome.LATE_MISCARRIAGE,
        ):
            reasons.append(f"pregnancy tissue {h.year}: failed or unavailable")
    if not reasons or s.requested_or_done("karyotype_woman") or s.requested_or_done("karyotype_partner"):
        return None
    return Finding((*reasons[:3], "no parental karyotype requested"), "genetics")


@rule("R20")
def r20_uterine_imaging(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    if not s.meets_rm_definition or not _missing(s, "uterine"):
        return None
    return Finding((_losses_text(s), "no uterine assessment requested or recorded"), "workup")


@rule("R21")
def r21_septate_uterus(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    latest = s.latest("uterine")
    findings = set(latest.value.findings) if latest and latest.value else set()
    found = sorted(findings & {"septate", "subseptate"})
    if not found:
        return None
    return Finding((f"uterine assessment: {', '.join(found)}",), f"item:{item_key(latest)}" if latest else "uterus")


@rule("R30")
def r30_immunotherapy(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    for pl in s.active_plans(on):
        if pl.drug in IMMUNOTHERAPIES and pl.indication is Indication.UNEXPLAINED_RPL:
            return Finding(
                (f"{pl.display_name} planned for unexplained recurrent pregnancy loss",), f"plan:{plan_key(pl)}"
            )
    return None


@rule("R31")
def r31_not_recommended_tests(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    items = s.requested_or_done("sperm_dna")
    if not items:
        return None
    return Finding(("sperm DNA fragmentation test requested or done",), "workup:not_routine")


@rule("R41")
def r41_lifestyle(s: Snapshot, on: dt.date, p: Params) -> Finding | None:
    r = s.risk
    because = []
    bmi = r.bmi
    if bmi is not None and (bmi < p["bmi_low"] or bmi > p["bmi_high"]):
        because.append(f"BMI {bmi:g}")
    if r.smoking == "current":
        because.append("current smoker")
    if r.alcohol_units_per_week is not None and r.alcohol_units_per_week > p["alcohol_units"]:
        because.append(f"alcohol {r.alcohol_units_per_week:g} units a week")
    return Finding(tuple(because), "lifestyle") if because else None
