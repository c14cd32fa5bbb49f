"""Dating a pregnancy: EDD from the LMP, a crown-rump length or an embryo transfer, and redating.

Everything is expressed through the LMP-equivalent day 0 (gestation 0+0): EDD = day 0 + 280 days, and
the gestation on any date is the number of days since day 0 (evidence base §6).

- Naegele's rule (standard convention; the 28-day cycle assumption is marked NV in the evidence base):
  EDD = LMP + 280 days, moved by (cycle length - 28) days for a regular cycle of another length, because
  ovulation falls about 14 days before the next period.
- Crown-rump length: Robinson HP, Fleming JEE. A critical evaluation of sonar "crown-rump length"
  measurements. Br J Obstet Gynaecol 1975;82:702-10, doi:10.1111/j.1471-0528.1975.tb00710.x.
  rmclinic uses the **original published formula, GA (days) = 8.052 x sqrt(CRL mm) + 23.73**, without
  the 1.037 scale correction some software applies, rounded to the nearest whole day. Valid for about
  6-14 weeks; rmclinic accepts CRL 5-84 mm (about 6+0 to 14+0; NICE's dating range tops out at 84 mm).
- Embryo transfer: fertilisation is day 14 of the LMP-equivalent cycle, so day 0 = transfer date -
  (embryo age in days + 14); a day-5 blastocyst gives EDD = transfer + 261 days.
- Redating: ACOG Committee Opinion 700 (Obstet Gynecol 2017;129:e150-4, doi:10.1097/AOG.0000000000002046),
  table as verified in the evidence base §11: redate to ultrasound when the scan and the LMP dating differ
  by more than the threshold for the gestation (by LMP) at the scan. The thresholds compare ultrasound
  with LMP dating only, so advice is given only against an LMP-based EDD.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .gestation import MAX_GESTATION_DAYS, GestationalAge

TERM_DAYS = 280
STANDARD_CYCLE_DAYS = 28
CYCLE_RANGE = (21, 45)  # a regular cycle outside this range makes Naegele dating meaningless
CRL_RANGE_MM = (5.0, 84.0)
EMBRYO_AGE_RANGE = (2, 7)  # cleavage-stage (day 2-3) to blastocyst (day 5-7)
FERTILISATION_DAY = 14

# ACOG CO 700 redating thresholds: (first gestation day of the band, days of difference that must be exceeded)
REDATING_BANDS: tuple[tuple[int, int], ...] = (
    (0, 5),  # up to 8+6
    (9 * 7, 7),  # 9+0 to 13+6
    (14 * 7, 7),  # 14+0 to 15+6
    (16 * 7, 10),  # 16+0 to 21+6
    (22 * 7, 14),  # 22+0 to 27+6
    (28 * 7, 21),  # 28+0 onwards
)


class DatingMethod(StrEnum):
    LMP = "lmp"
    CRL = "crl"
    EMBRYO_TRANSFER = "embryo_transfer"
    MANUAL = "manual"  # an EDD given by another unit; the reason says where from


METHOD_LABELS = {
    DatingMethod.LMP: "Last menstrual period",
    DatingMethod.CRL: "Crown-rump length",
    DatingMethod.EMBRYO_TRANSFER: "Embryo transfer (ART)",
    DatingMethod.MANUAL: "EDD from another unit",
}


def edd_from_day0(day0: dt.date) -> dt.date:
    return day0 + dt.timedelta(days=TERM_DAYS)


def day0_from_edd(edd: dt.date) -> dt.date:
    return edd - dt.timedelta(days=TERM_DAYS)


def edd_from_lmp(lmp: dt.date, cycle_days: int = STANDARD_CYCLE_DAYS) -> dt.date:
    """Naegele's rule with the cycle-length adjustment."""
    if not CYCLE_RANGE[0] <= cycle_days <= CYCLE_RANGE[1]:
        raise ValueError(f"Cycle length must be {CYCLE_RANGE[0]} to {CYCLE_RANGE[1]} days.")
    return lmp + dt.timedelta(days=TERM_DAYS + cycle_days - STANDARD_CYCLE_DAYS)


def gestation_from_crl(crl_mm: float) -> int:
    """Robinson & Fleming 1975, original formula, in whole days."""
    if not math.isfinite(crl_mm) or not CRL_RANGE_MM[0] <= crl_mm <= CRL_RANGE_MM[1]:
        lo, hi = CRL_RANGE_MM
        raise ValueError(f"Crown-rump length must be {lo:g} to {hi:g} mm (about 6 to 14 weeks).")
    return round(8.052 * math.sqrt(crl_mm) + 23.73)


def edd_from_crl(scan_date: dt.date, crl_mm: float) -> dt.date:
    return edd_from_day0(scan_date - dt.timedelta(days=gestation_from_crl(crl_mm)))


def edd_from_transfer(transfer: dt.date, embryo_age_days: int) -> dt.date:
    if not EMBRYO_AGE_RANGE[0] <= embryo_age_days <= EMBRYO_AGE_RANGE[1]:
        raise ValueError(f"Embryo age must be {EMBRYO_AGE_RANGE[0]} to {EMBRYO_AGE_RANGE[1]} days.")
    return edd_from_day0(transfer - dt.timedelta(days=embryo_age_days + FERTILISATION_DAY))


def gestation_days_on(edd: dt.date, day: dt.date) -> int:
    """Days of gestation on ``day`` (may be negative before day 0 or beyond term)."""
    return TERM_DAYS - (edd - day).days


def gestation_on(edd: dt.date, day: dt.date) -> GestationalAge | None:
    """The gestation on ``day``, or None outside 0+0 to 45+0."""
    days = gestation_days_on(edd, day)
    return GestationalAge(days) if 0 <= days <= MAX_GESTATION_DAYS else None


def date_at(edd: dt.date, gestation_days: int) -> dt.date:
    """The calendar date on which the pregnancy reaches ``gestation_days``."""
    return day0_from_edd(edd) + dt.timedelta(days=gestation_days)


def redating_threshold(gestation_days: int) -> int:
    """ACOG CO 700: the difference (days) a scan must *exceed* at this gestation to redate."""
    threshold = REDATING_BANDS[0][1]
    for start, days in REDATING_BANDS:
        if gestation_days >= start:
            threshold = days
    return threshold


@dataclass(frozen=True)
class RedatingAdvice:
    difference_days: int  # scan EDD minus current EDD (positive: the scan says the pregnancy is less advanced)
    threshold_days: int
    gestation_at_scan: int  # by the current (LMP) dating
    redate: bool

    def explain(self) -> str:
        ga = GestationalAge(max(0, min(self.gestation_at_scan, MAX_GESTATION_DAYS)))
        verdict = "exceeds" if self.redate else "is within"
        return (
            f"Scan and LMP dating differ by {abs(self.difference_days)} days at {ga}; this {verdict} the "
            f"{self.threshold_days}-day threshold (ACOG Committee Opinion 700)."
        )


def redating_advice(current_edd: dt.date, scan_date: dt.date, scan_edd: dt.date) -> RedatingAdvice:
    """Should a scan-based EDD replace an LMP-based one? Only when the difference exceeds the ACOG threshold
    for the gestation at the scan. ``current_edd`` must come from LMP dating (see ``lmp_entry``)."""
    ga = gestation_days_on(current_edd, scan_date)
    diff = (scan_edd - current_edd).days
    threshold = redating_threshold(ga)
    return RedatingAdvice(diff, threshold, ga, abs(diff) > threshold)


@dataclass(frozen=True)
class DatingEntry:
    """One EDD decision: kept forever, the newest is in force."""

    edd: dt.date
    method: DatingMethod
    recorded_on: dt.date
    reason: str
    recorded_by: str = ""
    lmp: dt.date | None = None
    cycle_days: int | None = None
    scan_date: dt.date | None = None
    crl_mm: float | None = None
    transfer_date: dt.date | None = None
    embryo_age_days: int | None = None

    def basis(self, fmt: Callable[[dt.date], str] = dt.date.isoformat) -> str:
        """A one-line account of how the EDD was found; ``fmt`` formats its dates."""
        if self.method is DatingMethod.LMP and self.lmp:
            cycle = f", {self.cycle_days}-day cycle" if self.cycle_days and self.cycle_days != 28 else ""
            return f"LMP {fmt(self.lmp)}{cycle}"
        if self.method is DatingMethod.CRL and self.scan_date and self.crl_mm is not None:
            return f"CRL {self.crl_mm:g} mm on {fmt(self.scan_date)} (Robinson & Fleming 1975)"
        if self.method is DatingMethod.EMBRYO_TRANSFER and self.transfer_date:
            return f"Day-{self.embryo_age_days} embryo transferred {fmt(self.transfer_date)}"
        return METHOD_LABELS[self.method]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def entry_to_dict(e: DatingEntry) -> dict[str, Any]:
    """A dating entry as plain JSON values (the stored dating history and the export file use it)."""
    return {
        "edd": e.edd.isoformat(),
        "method": e.method.value,
        "recorded_on": e.recorded_on.isoformat(),
        "reason": e.reason,
        "recorded_by": e.recorded_by,
        "lmp": _iso(e.lmp),
        "cycle_days": e.cycle_days,
        "scan_date": _iso(e.scan_date),
        "crl_mm": e.crl_mm,
        "transfer_date": _iso(e.transfer_date),
        "embryo_age_days": e.embryo_age_days,
    }


def entry_from_dict(r: Mapping[str, Any]) -> DatingEntry:
    """The inverse of ``entry_to_dict``; raises ``ValueError`` on an impossible date or unknown method."""
    return DatingEntry(
        edd=dt.date.fromisoformat(r["edd"]),
        method=DatingMethod(r["method"]),
        recorded_on=dt.date.fromisoformat(r["recorded_on"]),
        reason=r.get("reason", ""),
        recorded_by=r.get("recorded_by", ""),
        lmp=_date(r.get("lmp")),
        cycle_days=r.get("cycle_days"),
        scan_date=_date(r.get("scan_date")),
        crl_mm=r.get("crl_mm"),
        transfer_date=_date(r.get("transfer_date")),
        embryo_age_days=r.get("embryo_age_days"),
    )


def date_entry(
    method: DatingMethod,
    recorded_on: dt.date,
    reason: str = "",
    *,
    lmp: dt.date | None = None,
    cycle_days: int | None = None,
    scan_date: dt.date | None = None,
    crl_mm: float | None = None,
    transfer_date: dt.date | None = None,
    embryo_age_days: int | None = None,
    edd: dt.date | None = None,
    recorded_by: str = "",
) -> DatingEntry:
    """Compute the EDD for a method from its inputs. Raises ``ValueError`` (plain message) on bad input."""
    if method is DatingMethod.LMP:
        if lmp is None:
            raise ValueError("Enter the first day of the last menstrual period.")
        if lmp > recorded_on:
            raise ValueError("The LMP cannot be in the future.")
        cycle = cycle_days or STANDARD_CYCLE_DAYS
        computed = edd_from_lmp(lmp, cycle)
        return DatingEntry(computed, method, recorded_on, reason, recorded_by, lmp=lmp, cycle_days=cycle)
    if method is DatingMethod.CRL:
        if scan_date is None or crl_mm is None:
            raise ValueError("Enter the scan date and the crown-rump length.")
        if scan_date > recorded_on:
            raise ValueError("The scan date cannot be in the future.")
        computed = edd_from_crl(scan_date, crl_mm)
        return DatingEntry(computed, method, recorded_on, reason, recorded_by, scan_date=scan_date, crl_mm=crl_mm)
    if method is DatingMethod.EMBRYO_TRANSFER:
        if transfer_date is None or embryo_age_days is None:
            raise ValueError("Enter the transfer date and the embryo's age in days.")
        if transfer_date > recorded_on:
            raise ValueError("The transfer date cannot be in the future.")
        computed = edd_from_transfer(transfer_date, embryo_age_days)
        return DatingEntry(
            computed,
            method,
            recorded_on,
            reason,
            recorded_by,
            transfer_date=transfer_date,
            embryo_age_days=embryo_age_days,
        )
    if edd is None:
        raise ValueError("Enter the EDD.")
    if not reason.strip():
        raise ValueError("Say where this EDD comes from.")
    return DatingEntry(edd, method, recorded_on, reason, recorded_by)


def lmp_entry(entries: tuple[DatingEntry, ...]) -> DatingEntry | None:
    """The latest LMP dating, the only one the ACOG redating thresholds compare a scan with."""
    return next((e for e in reversed(entries) if e.method is DatingMethod.LMP), None)


def plausible_edd(edd: dt.date, today: dt.date) -> str | None:
    """A problem message when the EDD puts today outside a current pregnancy (0+0 to 45+0)."""
    ga = gestation_days_on(edd, today)
    if ga < 0:
        return "This EDD puts the start of the pregnancy in the future."
    if ga > MAX_GESTATION_DAYS:
        return "This EDD is more than 45 weeks ago: record the outcome in the obstetric history instead."
    return None
