"""The investigation catalogue (resources/investigations.json): validated at load, units, interpretation.

Every threshold names a source from the catalogue's ``sources``; a threshold without one is only the
laboratory's own range, typed with the result. Plausible ranges are typing-error guards, not clinical facts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DOMAINS = ("genetic", "anatomical", "endocrine", "thrombophilia", "other")
APPLIES_TO = ("woman", "partner", "pregnancy_tissue")
RESULT_TYPES = ("numeric", "qualitative", "categorical", "uterine")
ROUTINE = ("routine", "conditional", "optional", "not_routine")
QUALITATIVE = ("negative", "positive", "equivocal")
_LOINC = re.compile(r"^(\d{1,7})-(\d)$")


class CatalogueError(ValueError):
    """The catalogue file breaks a rule: the app refuses to load it rather than guess."""


class Interpretation(StrEnum):
    NORMAL = "normal"
    ABNORMAL = "abnormal"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"
    UNKNOWN = "unknown"  # no threshold to judge by (type the laboratory's range)

    @property
    def flagged(self) -> bool:
        return self in (Interpretation.ABNORMAL, Interpretation.POSITIVE, Interpretation.EQUIVOCAL)


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit (the Luhn scheme) of the part before the hyphen."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def is_valid_loinc(code: str) -> bool:
    m = _LOINC.match(code)
    if m is None:
        return False
    return loinc_check_digit(m.group(1)) == int(m.group(2))


@dataclass(frozen=True)
class Threshold:
    text: str
    citation: str | None
    lower: float | None = None  # below is abnormal
    upper: float | None = None  # above is abnormal


@dataclass(frozen=True)
class Investigation:
    id: str
    name: str
    domain: str
    applies_to: str
    result_type: str
    loinc: str | None = None
    loinc_note: str = ""
    snomed: str | None = None
    unit: str = ""
    units: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # unit -> (factor, offset)
    threshold: Threshold | None = None
    decision_points: tuple[Mapping[str, Any], ...] = ()
    plausible: tuple[float, float] | None = None
    categories: tuple[str, ...] = ()
    abnormal_values: frozenset[str] = frozenset()
    labels: tuple[str, str] | None = None  # numeric results read as (below, above) e.g. negative/positive
    methods: tuple[str, ...] = ()
    repeat_after_days: int | None = None
    repeat_citation: str | None = None
    repeat_note: str = ""
    routine: str = "routine"
    routine_citation: str | None = None
    routine_note: str = ""

    # -- units ---------------------------------------------------------------------------------

    def normalise(self, value: float, unit: str) -> float:
        """The value in the catalogue's unit; ValueError names the units this test accepts."""
        if unit not in self.units:
            raise ValueError(f"{self.name} is recorded in {', '.join(self.units)}.")
        factor, offset = self.units[unit]
        return round(value * factor + offset, 6)

    def plausibility_problem(self, value: float, unit: str) -> str | None:
        if self.plausible is None:
            return None
        lo, hi = self.plausible
        canonical = self.normalise(value, unit)
        if not lo <= canonical <= hi:
            return (
                f"{value:g} {unit} is outside the plausible range for {self.name} "
                f"({lo:g}-{hi:g} {self.unit}): please check for a typing error."
            )
        return None

    # -- interpretation ------------------------------------------------------------------------

    def interpret(
        self,
        *,
        numeric: float | None = None,
        text: str = "",
        findings: Sequence[str] = (),
        lab_low: float | None = None,
        lab_high: float | None = None,
    ) -> Interpretation:
        """Judge a result. A laboratory's own range, when typed, comes before the catalogue's threshold."""
        if self.result_type == "qualitative":
            return Interpretation(text) if text in QUALITATIVE else Interpretation.UNKNOWN
        if self.result_type == "categorical":
            if not text:
                return Interpretation.UNKNOWN
            return Interpretation.ABNORMAL if text in self.abnormal_values else Interpretation.NORMAL
        if self.result_type == "uterine":
            if not findings:
                return Interpretation.UNKNOWN
            return Interpretation.ABNORMAL if set(findings) & self.abnormal_values else Interpretation.NORMAL
        if numeric is None:
            return Interpretation.UNKNOWN
        low, high = lab_low, lab_high
        if low is None and high is None and self.threshold is not None:
            low, high = self.threshold.lower, self.threshold.upper
        if low is None and high is None:
            return Interpretation.UNKNOWN
        outside = (low is not None and numeric < low) or (high is not None and numeric > high)
        if self.labels:
            return Interpretation.POSITIVE if outside else Interpretation.NEGATIVE
        return Interpretation.ABNORMAL if outside else Interpretation.NORMAL


@dataclass(frozen=True)
class Protocol:
    items: tuple[str, ...]
    citations: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Catalogue:
    investigations: Mapping[str, Investigation]
    sources: Mapping[str, str]
    protocol: Protocol

    def get(self, investigation_id: str) -> Investigation:
        try:
            return self.investigations[investigation_id]
        except KeyError:
            raise ValueError(f"Unknown investigation {investigation_id!r}.") from None

    def by_domain(self, domain: str) -> list[Investigation]:
        return [i for i in self.investigations.values() if i.domain == domain]

    def citation(self, key: str | None) -> str:
        return self.sources.get(key or "", "")


def _req(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise CatalogueError(f"{where}: '{key}' is missing")
    return obj[key]


def parse_catalogue(doc: Mapping[str, Any]) -> Catalogue:
    """Build and check the catalogue; raises CatalogueError naming the first broken entry."""
    sources = dict(_req(doc, "sources", "catalogue"))
    seen: dict[str, Investigation] = {}

    def cited(key: str | None, where: str) -> str | None:
        if key is not None and key not in sources:
            raise CatalogueError(f"{where}: cites unknown source {key!r}")
        return key

    for raw in _req(doc, "investigations", "catalogue"):
        where = f"investigation {raw.get('id', '?')}"
        iid = _req(raw, "id", where)
        if iid in seen:
            raise CatalogueError(f"{where}: duplicate id")
        if raw.get("domain") not in DOMAINS:
            raise CatalogueError(f"{where}: domain must be one of {DOMAINS}")
        if raw.get("applies_to") not in APPLIES_TO:
            raise CatalogueError(f"{where}: applies_to must be one of {APPLIES_TO}")
        rtype = raw.get("result_type")
        if rtype not in RESULT_TYPES:
            raise CatalogueError(f"{where}: result_type must be one of {RESULT_TYPES}")
        loinc = raw.get("loinc")
        if loinc is not None and not is_valid_loinc(loinc):
            raise CatalogueError(f"{where}: LOINC {loinc} fails its check digit")
        units = {u: (float(f), float(o)) for u, (f, o) in (raw.get("units") or {}).items()}
        unit = raw.get("unit", "")
        if rtype == "numeric":
            if unit not in units or units[unit] != (1.0, 0.0):
                raise CatalogueError(f"{where}: its unit {unit!r} must convert to itself (factor 1, offset 0)")
            if any(f == 0 for f, _o in units.values()):
                raise CatalogueError(f"{where}: a unit conversion factor is zero")
            if any(fo != (1.0, 0.0) for fo in units.values()):  # a real conversion must say where it comes from
                cited(raw.get("units_citation") or "missing", f"{where} unit conversions")
        th = raw.get("threshold")
        threshold = None
        if th is not None:
            if (th.get("lower") is not None or th.get("upper") is not None) and not th.get("citation"):
                raise CatalogueError(f"{where}: a numeric threshold needs a citation")
            threshold = Threshold(th["text"], cited(th.get("citation"), where), th.get("lower"), th.get("upper"))
        for dp in raw.get("decision_points", []):
            cited(_req(dp, "citation", where), where)
        categories = tuple(raw.get("categories", []))
        abnormal = frozenset(raw.get("abnormal_values", []))
        allowed = set(categories) | (set(QUALITATIVE) if rtype == "qualitative" else set())
        if abnormal - allowed:
            raise CatalogueError(f"{where}: abnormal values {sorted(abnormal - allowed)} are not among its results")
        plausible = raw.get("plausible")
        if plausible is not None:
            if plausible[0] >= plausible[1]:
                raise CatalogueError(f"{where}: plausible range is empty")
            cited(raw.get("plausible_citation"), where)
        repeat = raw.get("repeat") or {}
        if repeat:
            cited(_req(repeat, "citation", where), where)
        routine = raw.get("routine", "routine")
        if routine not in ROUTINE:
            raise CatalogueError(f"{where}: routine must be one of {ROUTINE}")
        seen[iid] = Investigation(
            id=iid,
            name=_req(raw, "name", where),
            domain=raw["domain"],
            applies_to=raw["applies_to"],
            result_type=rtype,
            loinc=loinc,
            loinc_note=raw.get("loinc_note", ""),
            snomed=raw.get("snomed"),
            unit=unit,
            units=units,
            threshold=threshold,
            decision_points=tuple(raw.get("decision_points", [])),
            plausible=(float(plausible[0]), float(plausible[1])) if plausible else None,
            categories=categories,
            abnormal_values=abnormal,
            labels=(raw["labels"][0], raw["labels"][1]) if raw.get("labels") else None,
            methods=tuple(raw.get("methods", [])),
            repeat_after_days=repeat.get("after_days"),
            repeat_citation=repeat.get("citation"),
            repeat_note=repeat.get("note", ""),
            routine=routine,
            routine_citation=cited(raw.get("routine_citation"), where),
            routine_note=raw.get("routine_note", ""),
        )
    proto = _req(doc, "protocol", "catalogue")
    for item in proto["items"]:
        if item not in seen:
            raise CatalogueError(f"protocol: unknown investigation {item!r}")
    for c in proto.get("citations", []):
        cited(c, "protocol")
    protocol = Protocol(tuple(proto["items"]), tuple(proto.get("citations", [])), proto.get("note", ""))
    return Catalogue(seen, sources, protocol)
