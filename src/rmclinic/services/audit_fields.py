"""Flatten clinical data into plain field -> value maps for field-level before/after audit entries."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..domain.obstetric import PreviousPregnancy
from ..domain.patient import PatientData, RiskHistory


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def demographics(d: PatientData) -> dict[str, Any]:
    out = {k: _plain(v) for k, v in asdict(d).items() if k not in ("risk", "pregnancies", "partner")}
    partner = d.partner
    out["partner.family_name"] = partner.family_name if partner else None
    out["partner.given_name"] = partner.given_name if partner else None
    out["partner.date_of_birth"] = _plain(partner.date_of_birth) if partner and partner.date_of_birth else None
    return out


def risk(r: RiskHistory) -> dict[str, Any]:
    return {k: _plain(v) for k, v in asdict(r).items()}


def pregnancy(p: PreviousPregnancy) -> dict[str, Any]:
    return {k: _plain(v) for k, v in asdict(p).items()}
