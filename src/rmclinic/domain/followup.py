"""Follow-ups: vaginal swabs, cervical-length scans, blood tests and appointments, one by one or in series.

- Short cervix: NICE NG25 (2015, updated 2019 and 2022) uses a transvaginal cervical length of **25 mm
  or less** measured between **16+0 and 24+0** (evidence base §4.1; the 2019 update set "25 mm or less").
- Scan and swab intervals are **local protocol**: no guideline sets the cervical-length interval
  (every 2 weeks is described in published protocols, evidence base §4.4 [S61, S62]), and routine swab
  screening is not evidence-mandated (USPSTF 2020, NICE antenatal care, RCOG 2023; §4.5). Protocols are
  clinic settings and say so wherever they appear.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from enum import StrEnum

from .dating import date_at
from .gestation import GestationalAge

SHORT_CERVIX_MM = 25.0  # NICE NG25: "25 mm or less"
SHORT_CERVIX_WINDOW = (16 * 7, 24 * 7)  # 16+0 to 24+0
SHORT_CERVIX_SOURCE = "NICE NG25 (Preterm labour and birth, 2015; updated 2019, 2022)"
CL_RANGE_MM = (0.0, 80.0)  # typing guard


class FollowUpKind(StrEnum):
    SWAB = "swab"
    CERVICAL_LENGTH_SCAN = "cervical_length_scan"
    BLOOD_TEST = "blood_test"
    APPOINTMENT = "appointment"


KIND_LABELS = {
    FollowUpKind.SWAB: "Vaginal swab",
    FollowUpKind.CERVICAL_LENGTH_SCAN: "Cervical-length scan",
    FollowUpKind.BLOOD_TEST: "Blood test",
    FollowUpKind.APPOINTMENT: "Appointment",
}
# Follow-ups that only make sense while a pregnancy continues.
ANTENATAL_KINDS = frozenset({FollowUpKind.SWAB, FollowUpKind.CERVICAL_LENGTH_SCAN})


class FollowUpStatus(StrEnum):
    DUE = "due"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


class SwabResult(StrEnum):
    NEGATIVE = "negative"
    ORGANISM = "organism_found"
    BV = "bacterial_vaginosis"


SWAB_LABELS = {
    SwabResult.NEGATIVE: "Negative",
    SwabResult.ORGANISM: "Organism found",
    SwabResult.BV: "Bacterial vaginosis",
}


@dataclass(frozen=True)
class FollowUpChange:
    at: dt.datetime
    by: str
    reason: str
    summary: str


@dataclass(frozen=True)
class FollowUp:
    kind: FollowUpKind
    due_date: dt.date
    window_days: int = 0  # acceptable either side of the due date
    status: FollowUpStatus = FollowUpStatus.DUE
    title: str = ""  # e.g. "HbA1c" for a blood test; shown after the kind
    protocol: str = ""  # the series protocol key it came from, if any
    pregnancy_id: int | None = None
    result_date: dt.date | None = None
    swab_result: SwabResult | None = None
    organism: str = ""
    cervical_length_mm: float | None = None
    funnelling: bool | None = None
    result_notes: str = ""
    cancel_reason: str = ""
    id: int | None = None
    patient_id: int | None = None
    version: int = 0
    history: tuple[FollowUpChange, ...] = ()

    @property
    def label(self) -> str:
        base = KIND_LABELS[self.kind]
        return f"{base}: {self.title}" if self.title else base

    def overdue(self, today: dt.date) -> bool:
        return self.status is FollowUpStatus.DUE and today > self.due_date + dt.timedelta(days=self.window_days)


def is_short_cervix(length_mm: float | None, gestation_days: int | None) -> bool:
    """NICE NG25: 25 mm or less, measured between 16+0 and 24+0."""
    if length_mm is None or gestation_days is None:
        return False
    lo, hi = SHORT_CERVIX_WINDOW
    return length_mm <= SHORT_CERVIX_MM and lo <= gestation_days <= hi


def result_summary(f: FollowUp) -> str:
    if f.status is FollowUpStatus.CANCELLED:
        return f"Cancelled: {f.cancel_reason}"
    if f.status is FollowUpStatus.MISSED:
        return "Missed"
    if f.status is not FollowUpStatus.DONE:
        return ""
    if f.kind is FollowUpKind.SWAB and f.swab_result:
        text = SWAB_LABELS[f.swab_result]
        return f"{text}: {f.organism}" if f.organism else text
    if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.cervical_length_mm is not None:
        funnel = {True: ", funnelling", False: ", no funnelling", None: ""}[f.funnelling]
        return f"{f.cervical_length_mm:g} mm{funnel}"
    return f.result_notes or "Done"


def result_problems(f: FollowUp, today: dt.date) -> dict[str, str]:
    """Problems with a result as entered (status DONE)."""
    out: dict[str, str] = {}
    if f.result_date is None:
        out["result_date"] = "Enter the date it was done."
    elif f.result_date > today:
        out["result_date"] = "The date cannot be in the future."
    if f.kind is FollowUpKind.SWAB:
        if f.swab_result is None:
            out["swab_result"] = "Choose the swab result."
        elif f.swab_result is SwabResult.ORGANISM and not f.organism.strip():
            out["organism"] = "Name the organism found."
    if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN:
        cl = f.cervical_length_mm
        if cl is None:
            out["cervical_length_mm"] = "Enter the cervical length in mm."
        elif not math.isfinite(cl) or not CL_RANGE_MM[0] < cl <= CL_RANGE_MM[1]:
            out["cervical_length_mm"] = (
                f"Cervical length must be above {CL_RANGE_MM[0]:g} and at most {CL_RANGE_MM[1]:g} mm."
            )
    if len(f.result_notes) > 4000:
        out["result_notes"] = "Notes are limited to 4000 characters."
    return out


def due_date_problem(due: dt.date, today: dt.date) -> str | None:
    if due < today - dt.timedelta(days=366) or due > today + dt.timedelta(days=2 * 366):
        return "The due date must be within a year before and two years after today."
    return None


def schedule_problems(f: FollowUp, today: dt.date) -> dict[str, str]:
    out: dict[str, str] = {}
    if not 0 <= f.window_days <= 28:
        out["window_days"] = "The window must be 0 to 28 days."
    problem = due_date_problem(f.due_date, today)
    if problem:
        out["due_date"] = problem
    if len(f.title) > 80:
        out["title"] = "The description is limited to 80 characters."
    return out


# -- series protocols ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesProtocol:
    key: str
    label: str
    kind: FollowUpKind
    from_gestation: int  # days
    to_gestation: int  # days, inclusive
    interval_days: int
    window_days: int
    source: str  # what the protocol rests on; "local protocol" when no guideline sets it

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind.value,
            "from": str(GestationalAge(self.from_gestation)),
            "to": str(GestationalAge(self.to_gestation)),
            "interval_days": self.interval_days,
            "window_days": self.window_days,
            "source": self.source,
        }


DEFAULT_PROTOCOLS: tuple[SeriesProtocol, ...] = (
    SeriesProtocol(
        "cl_2weekly",
        "Cervical length every 2 weeks, 16+0 to 24+0",
        FollowUpKind.CERVICAL_LENGTH_SCAN,
        16 * 7,
        24 * 7,
        14,
        3,
        "Local protocol: no guideline sets the interval; every 2 weeks is described in published protocols "
        "(evidence base §4.4 [S61, S62]). The 16+0-24+0 window is NICE NG25's.",
    ),
    SeriesProtocol(
        "swab_4weekly",
        "Vaginal swab every 4 weeks, 12+0 to 24+0",
        FollowUpKind.SWAB,
        12 * 7,
        24 * 7,
        28,
        3,
        "Local protocol, no guideline mandate: routine swab screening is not recommended for women at low "
        "risk (USPSTF 2020; NICE antenatal care; RCOG 2023) and evidence is insufficient for those at high "
        "risk (evidence base §4.5).",
    ),
)


def parse_protocols(text: str) -> tuple[SeriesProtocol, ...]:
    """Protocols from the clinic setting (a JSON list as written by ``SeriesProtocol.to_json``)."""
    from .gestation import parse_weeks_days

    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("The follow-up protocols must be a JSON list.")
    out = []
    for i, item in enumerate(raw):
        where = f"Protocol {i + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object.")
        try:
            p = SeriesProtocol(
                key=str(item["key"]),
                label=str(item["label"]),
                kind=FollowUpKind(item["kind"]),
                from_gestation=parse_weeks_days(str(item["from"])).days,
                to_gestation=parse_weeks_days(str(item["to"])).days,
                interval_days=int(item["interval_days"]),
                window_days=int(item.get("window_days", 0)),
                source=str(item.get("source", "")),
            )
        except KeyError as e:
            raise ValueError(f"{where} needs '{e.args[0]}'.") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: {e}") from None
        if not p.source.strip():
            raise ValueError(f"{where} must say what it rests on ('source'), e.g. 'Local protocol'.")
        if not 1 <= p.interval_days <= 84 or not 0 <= p.window_days <= 14:
            raise ValueError(f"{where}: interval must be 1-84 days and window 0-14 days.")
        if p.to_gestation < p.from_gestation:
            raise ValueError(f"{where}: 'to' is before 'from'.")
        out.append(p)
    if len({p.key for p in out}) != len(out):
        raise ValueError("Protocol keys must be unique.")
    return tuple(out)


def series_dates(protocol: SeriesProtocol, edd: dt.date, not_before: dt.date) -> list[dt.date]:
    """Due dates of a series for a pregnancy: from the protocol's first gestation, every interval, to
    its last; dates already past (before ``not_before``) are left out."""
    out = []
    ga = protocol.from_gestation
    while ga <= protocol.to_gestation:
        day = date_at(edd, ga)
        if day >= not_before:
            out.append(day)
        ga += protocol.interval_days
    return out


def series_slot(protocol: SeriesProtocol, gestation_days: int) -> int:
    """Which date of the series an item at this gestation stands for (nearest slot), so a rescheduled
    item still counts as its slot when the series is scheduled again."""
    return round((gestation_days - protocol.from_gestation) / protocol.interval_days)


def build_series(
    protocol: SeriesProtocol, edd: dt.date, not_before: dt.date, pregnancy_id: int | None
) -> list[FollowUp]:
    return [
        FollowUp(
            protocol.kind,
            d,
            protocol.window_days,
            protocol=protocol.key,
            pregnancy_id=pregnancy_id,
        )
        for d in series_dates(protocol, edd, not_before)
    ]
