"""Gestational age: stored as whole days from the LMP-equivalent day 0, shown as ``W+D``.

Convention from the evidence base §6: UK/NICE texts write weeks+days ("16+0").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WD = re.compile(r"^\s*(\d{1,2})\s*(?:\+\s*(\d))?\s*$")
MAX_GESTATION_DAYS = 45 * 7  # beyond any recorded human gestation: a typing error


@dataclass(frozen=True, order=True)
class GestationalAge:
    days: int

    def __post_init__(self) -> None:
        if not 0 <= self.days <= MAX_GESTATION_DAYS:
            raise ValueError(f"gestational age out of range: {self.days} days")

    @classmethod
    def of(cls, weeks: int, days: int = 0) -> GestationalAge:
        if not 0 <= days <= 6:
            raise ValueError("days must be 0 to 6")
        return cls(weeks * 7 + days)

    @property
    def weeks(self) -> int:
        return self.days // 7

    @property
    def extra_days(self) -> int:
        return self.days % 7

    def __str__(self) -> str:
        return f"{self.weeks}+{self.extra_days}"


def parse_weeks_days(text: str) -> GestationalAge:
    """Parse ``12+3`` or ``12`` (meaning 12+0). Raises ``ValueError`` with a plain message."""
    m = _WD.match(text)
    if not m:
        raise ValueError("Gestation must be weeks+days, for example 12+3.")
    weeks, days = int(m.group(1)), int(m.group(2) or 0)
    if days > 6:
        raise ValueError("Days after the + must be 0 to 6.")
    try:
        return GestationalAge.of(weeks, days)
    except ValueError:
        raise ValueError(f"Gestation must be at most {MAX_GESTATION_DAYS // 7}+0.") from None


def format_days(days: int | None) -> str:
    return "" if days is None else str(GestationalAge(days))
