"""What the nurses' worklist shows: item types, pregnancy milestones (a clinic setting) and the wording."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from .gestation import GestationalAge, parse_weeks_days

# The ``type`` values of the worklist (and of ``rmclinic worklist --json``).
FOLLOW_UP_TYPES = ("swab", "cervical_length_scan", "blood_test", "appointment")
TYPES = ("visit", *FOLLOW_UP_TYPES, "taper_step", "medication_stop", "milestone", "result_review", "alert")
TYPE_LABELS = {
    "visit": "Clinic visit booked",
    "swab": "Swab",
    "cervical_length_scan": "Cervical-length scan",
    "blood_test": "Blood test",
    "appointment": "Appointment",
    "taper_step": "Taper step",
    "medication_stop": "Medication stop",
    "milestone": "Pregnancy milestone",
    "result_review": "Result to review",
    "alert": "Alert",
}


@dataclass(frozen=True)
class Milestone:
    gestation_days: int
    label: str
    source: str

    def to_json(self) -> dict[str, str]:
        return {"at": str(GestationalAge(self.gestation_days)), "label": self.label, "source": self.source}


# Only milestones that apply to every pregnancy are defaults. Cervical-length scanning is for women at risk
# (NICE NG25; SMFM #40, evidence base §4.1, §4.4), so it is raised by the alert rules, not as a milestone.
DEFAULT_MILESTONES: tuple[Milestone, ...] = (
    Milestone(11 * 7 + 2, "Dating-scan window opens (11+2 to 14+1)", "NICE antenatal care (2021)"),
)


def parse_milestones(text: str) -> tuple[Milestone, ...]:
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("Milestones must be a JSON list.")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not {"at", "label", "source"} <= item.keys():
            raise ValueError(f"Milestone {i + 1} needs 'at', 'label' and 'source'.")
        if not str(item["source"]).strip():
            raise ValueError(f"Milestone {i + 1} must say what it rests on ('source').")
        out.append(Milestone(parse_weeks_days(str(item["at"])).days, str(item["label"]), str(item["source"])))
    return tuple(out)


def milestone_edd_range(m: Milestone, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """EDDs of pregnancies that reach ``m`` between start and end (inclusive)."""
    shift = dt.timedelta(days=280 - m.gestation_days)
    return start + shift, end + shift
