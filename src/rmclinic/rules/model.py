"""The shapes of the alert engine: rule metadata (from resources/evidence/rules.json), citations, the
parameters a clinic may tune within cited bounds, and the alerts a rule raises.

Severity follows the CDS Hooks card indicator: info < warning < critical.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ("info", "warning", "critical").index(self.value)


class Audience(StrEnum):
    """Who should see the alert first: scheduling and samples go to nurses, treatment to consultants."""

    NURSE = "nurse"
    CONSULTANT = "consultant"
    ALL = "all"


@dataclass(frozen=True)
class Citation:
    key: str  # the evidence digest's source key, e.g. "S5"
    label: str  # bibliographic citation as shown to the user
    doi: str | None = None
    url: str | None = None
    doi_unverified: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label}
        if self.doi:
            out["doi"] = self.doi
            if self.doi_unverified:
                out["doi_unverified"] = True
        if self.url:
            out["url"] = self.url
        return out

    @property
    def link(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else self.url


@dataclass(frozen=True)
class Parameter:
    """A clinic-tunable value with its cited default and the bounds a clinic may choose within."""

    name: str
    label: str
    default: float
    minimum: float
    maximum: float
    unit: str
    citation: str  # why this default (and these bounds)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "default": self.default,
            "min": self.minimum,
            "max": self.maximum,
            "unit": self.unit,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class RuleMeta:
    id: str
    version: int
    title: str
    severity: Severity
    message: str  # what to do, in one sentence
    summary: str  # the evidence card: one paragraph
    strength: str  # evidence strength as the source states it
    citations: tuple[Citation, ...]
    audience: Audience
    reads: tuple[str, ...]  # the data it uses, for the evidence library
    release_date: dt.date
    revision_date: dt.date
    review_by: dt.date
    parameters: tuple[Parameter, ...] = ()
    unverified: str = ""  # what in this rule rests on unverified facts (shown to the user)
    safety_net: bool = False  # makes no evidence claim; cites the clinical safety case
    conflict: str = ""  # for rules on conflicting evidence: the other side, shown with the alert

    def param_defaults(self) -> dict[str, float]:
        return dict(self.defaults)

    @cached_property
    def defaults(self) -> dict[str, float]:
        """The parameters' defaults, worked out once (the metadata never changes); not to be changed."""
        return {p.name: p.default for p in self.parameters}

    def overdue_for_review(self, today: dt.date) -> bool:
        return today > self.review_by


@dataclass(frozen=True)
class RuleSet:
    version: str
    developer: str
    funding_source: str
    rules: tuple[RuleMeta, ...]
    rejected: tuple[tuple[str, str], ...] = ()  # (rule id, why it did not load)

    def get(self, rule_id: str) -> RuleMeta:
        return next(r for r in self.rules if r.id == rule_id)


@dataclass(frozen=True)
class Finding:
    """What a rule's logic returns when it fires. ``because`` lists the inputs in plain words."""

    because: tuple[str, ...]
    episode: str = "patient"  # one alert per patient, rule and episode (e.g. "pregnancy:12")
    detail: str = ""  # added to the rule's message, e.g. the dates involved
    blocks: tuple[str, ...] = field(default=())  # actions a critical alert blocks, e.g. ("plan:new",)


@dataclass(frozen=True)
class Alert:
    rule: RuleMeta
    rule_set_version: str
    because: tuple[str, ...]
    episode: str
    detail: str = ""
    error: str = ""  # the rule raised while evaluating: shown, never silent
    blocks: tuple[str, ...] = ()

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.error else self.rule.severity

    @property
    def message(self) -> str:
        if self.error:
            return f"This rule could not be evaluated ({self.error}). Check the record by hand."
        return f"{self.rule.message} {self.detail}".strip()

    @property
    def key(self) -> tuple[str, str]:
        return self.rule.id, self.episode
