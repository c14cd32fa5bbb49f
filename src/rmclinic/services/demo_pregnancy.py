"""Synthetic current pregnancies, medication plans and follow-ups for demo patients: the scripted
patients of workflows.md plus a share of random ones at every stage, so the worklist has something due
every day (including overdue items). Illustrative, not epidemiology."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace

from ..domain import dating
from ..domain.dating import DatingEntry, DatingMethod
from ..domain.followup import DEFAULT_PROTOCOLS, FollowUp, FollowUpKind, FollowUpStatus, SwabResult, build_series
from ..domain.medication import Anchor, Frequency, Indication, MedicationPlan, apply_template
from ..domain.obstetric import Conception
from ..domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity

PREGNANT_SHARE = 0.06


@dataclass
class Batch:
    """Rows for ``PregnancyRepository.add_many``; plans and follow-ups refer to pregnancies by index."""

    pregnancies: list[tuple[int, CurrentPregnancy]] = field(default_factory=list)
    plans: list[tuple[int, int | None, MedicationPlan]] = field(default_factory=list)
    follow_ups: list[tuple[int, int | None, FollowUp]] = field(default_factory=list)


def _lmp_entry(today: dt.date, ga_today: int, recorded: dt.date) -> DatingEntry:
    lmp = today - dt.timedelta(days=ga_today)
    return DatingEntry(dating.edd_from_lmp(lmp), DatingMethod.LMP, recorded, "Booking", "nurse", lmp=lmp, cycle_days=28)


def _progesterone(start: dt.date, indication: Indication, stop_ga: int) -> MedicationPlan:
    return MedicationPlan(
        "progesterone_vaginal", 400, Frequency.TWICE_DAILY, start, indication, Anchor(gestation_days=stop_ga)
    )


def _series_with_results(
    protocol_index: int, edd: dt.date, today: dt.date, rng: random.Random, overdue_share: float
) -> list[FollowUp]:
    protocol = DEFAULT_PROTOCOLS[protocol_index]
    out = []
    for f in build_series(protocol, edd, edd - dt.timedelta(days=400), None):
        if f.due_date >= today:
            out.append(f)
        elif rng.random() < overdue_share:
            out.append(f)  # still due: shows as overdue
        elif f.kind.value == "swab":
            result = SwabResult.BV if rng.random() < 0.1 else SwabResult.NEGATIVE
            out.append(replace(f, status=FollowUpStatus.DONE, result_date=f.due_date, swab_result=result))
        else:
            mm = round(rng.uniform(18, 45), 0)
            out.append(
                replace(
                    f,
                    status=FollowUpStatus.DONE,
                    result_date=f.due_date,
                    cervical_length_mm=mm,
                    funnelling=mm < 25 and rng.random() < 0.5,
                )
            )
    return out


def add_scripted(batch: Batch, index: int, patient_id: int, today: dt.date) -> bool:
    """The pregnancies of the workflows.md journeys. Returns True when the patient was scripted."""
    if index == 0:  # Amira: bleeding at 7+3 after three losses -> progesterone to 16+0 (NICE NG126)
        entry = _lmp_entry(today, 7 * 7 + 3, today - dt.timedelta(days=10))
        p = CurrentPregnancy(
            None,
            (entry,),
            iup_confirmed_on=today - dt.timedelta(days=2),
            iup_method=IupMethod.TRANSVAGINAL,
            heartbeat_on=today - dt.timedelta(days=2),
            bleeding=(Bleeding(today - dt.timedelta(days=3), Severity.LIGHT),),
        )
        batch.pregnancies.append((patient_id, p))
        k = len(batch.pregnancies) - 1
        batch.plans.append(
            (patient_id, k, _progesterone(today - dt.timedelta(days=2), Indication.THREATENED_MISCARRIAGE, 16 * 7))
        )
        batch.follow_ups.append(
            (
                patient_id,
                k,
                FollowUp(FollowUpKind.APPOINTMENT, today + dt.timedelta(days=7), 1, title="Early pregnancy scan"),
            )
        )
        return True
    if index == 1:  # Claire: IVF after a 17-week twin loss; CL and swab surveillance from 16+0
        transfer = today - dt.timedelta(days=15 * 7 + 2 - 19)  # day-5 blastocyst: 2+5 on transfer day
        edd = dating.edd_from_transfer(transfer, 5)
        entry = DatingEntry(
            edd, DatingMethod.EMBRYO_TRANSFER, transfer, "Booking", "nurse", transfer_date=transfer, embryo_age_days=5
        )
        p = CurrentPregnancy(
            None,
            (entry,),
            conception=Conception.ART,
            iup_confirmed_on=transfer + dt.timedelta(days=21),
            iup_method=IupMethod.TRANSVAGINAL,
            heartbeat_on=transfer + dt.timedelta(days=28),
        )
        batch.pregnancies.append((patient_id, p))
        k = len(batch.pregnancies) - 1
        luteal = MedicationPlan(
            "progesterone_vaginal",
            400,
            Frequency.TWICE_DAILY,
            transfer,
            Indication.LUTEAL_SUPPORT_ART,
            Anchor(gestation_days=16 * 7),
        )
        batch.plans.append(
            (
                patient_id,
                k,
                replace(
                    luteal,
                    taper=apply_template(luteal, "halve_1w"),
                    notes="Taper at the patient's request; not evidence-based.",
                ),
            )
        )
        for f in _series_with_results(0, edd, today, random.Random(1), 0.0):
            batch.follow_ups.append((patient_id, k, f))
        for f in _series_with_results(1, edd, today, random.Random(2), 0.0):
            batch.follow_ups.append((patient_id, k, f))
        return True
    return index < 3


def add_random(batch: Batch, patient_id: int, today: dt.date, rng: random.Random) -> None:
    if rng.random() >= PREGNANT_SHARE:
        return
    aps = rng.random() < 0.05
    ga = rng.randrange(4 * 7, 30 * 7)
    booked = today - dt.timedelta(days=max(0, ga - 5 * 7))
    entry = _lmp_entry(today, ga, booked)
    edd = entry.edd
    bleeding: tuple[Bleeding, ...] = ()
    if rng.random() < 0.5:  # one episode at 4+0 or later
        bleeding = (Bleeding(today - dt.timedelta(days=rng.randrange(0, ga - 4 * 7 + 1)), Severity.SPOTTING),)
    seen = today - dt.timedelta(days=max(0, ga - 6 * 7)) if ga >= 6 * 7 else None
    p = CurrentPregnancy(
        None,
        (entry,),
        fetuses=2 if rng.random() < 0.02 else 1,
        iup_confirmed_on=seen,
        iup_method=IupMethod.TRANSVAGINAL if seen else None,
        heartbeat_on=seen,
        bleeding=bleeding,
    )
    batch.pregnancies.append((patient_id, p))
    k = len(batch.pregnancies) - 1
    start = booked
    if aps:
        batch.plans.append(
            (
                patient_id,
                k,
                MedicationPlan(
                    "aspirin", 75, Frequency.ONCE_DAILY, start, Indication.APS, Anchor(gestation_days=34 * 7)
                ),
            )
        )
        batch.plans.append(
            (
                patient_id,
                k,
                MedicationPlan(
                    "enoxaparin", 40, Frequency.ONCE_DAILY, start, Indication.APS, Anchor(gestation_days=34 * 7)
                ),
            )
        )
    elif bleeding and dating.gestation_days_on(edd, bleeding[0].date) < 15 * 7 and rng.random() < 0.8:
        plan = _progesterone(bleeding[0].date, Indication.THREATENED_MISCARRIAGE, 16 * 7)
        if rng.random() < 0.2:
            plan = replace(plan, taper=apply_template(plan, "halve_1w"))
        batch.plans.append((patient_id, k, plan))
    if ga >= 14 * 7 and rng.random() < 0.4:
        for f in _series_with_results(0, edd, today, rng, 0.05):
            batch.follow_ups.append((patient_id, k, f))
    if ga >= 10 * 7 and rng.random() < 0.15:
        for f in _series_with_results(1, edd, today, rng, 0.05):
            batch.follow_ups.append((patient_id, k, f))
