"""Loading the rule set (metadata from resources, logic from this package) and evaluating it.

A rule without a citation, citing an unknown reference, or without logic does not load; it is listed in
``RuleSet.rejected`` so the evidence library can say so. A rule that raises while evaluating produces a
visible error alert instead of silence. Evaluation is deterministic: the same snapshot, date and parameters
give the same alerts in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any

from .model import Alert, Audience, Citation, Finding, Parameter, RuleMeta, RuleSet, Severity
from .snapshot import Snapshot

Logic = Callable[[Snapshot, dt.date, Mapping[str, float]], Finding | None]
LOGIC: dict[str, Logic] = {}


def rule(rule_id: str) -> Callable[[Logic], Logic]:
    """Register the logic of a rule whose metadata lives in resources/evidence/rules.json."""

    def register(fn: Logic) -> Logic:
        if rule_id in LOGIC:
            raise ValueError(f"rule {rule_id} registered twice")
        LOGIC[rule_id] = fn
        return fn

    return register


def _load_logic() -> None:
    from . import logic_pregnancy, logic_workup  # noqa: F401 - importing registers the rules


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value))


def load_rule_set(rules_doc: Mapping[str, Any], refs_doc: Mapping[str, Any]) -> RuleSet:
    """Build the rule set from the two resource documents. Never raises for one bad rule."""
    _load_logic()
    refs: Mapping[str, Any] = refs_doc["references"]
    loaded: list[RuleMeta] = []
    rejected: list[tuple[str, str]] = []
    for raw in rules_doc["rules"]:
        rid = str(raw.get("id", "?"))
        try:
            keys = list(raw.get("citations") or [])
            if not keys:
                raise ValueError("no citation")
            unknown = [k for k in keys if k not in refs]
            if unknown:
                raise ValueError(f"unknown reference {', '.join(unknown)}")
            if rid not in LOGIC:
                raise ValueError("no logic for this rule")
            citations = tuple(
                Citation(
                    k,
                    refs[k]["label"],
                    refs[k].get("doi"),
                    refs[k].get("url"),
                    bool(refs[k].get("doi_unverified")),
                )
                for k in keys
            )
            params = tuple(
                Parameter(
                    p["name"],
                    p["label"],
                    float(p["default"]),
                    float(p["min"]),
                    float(p["max"]),
                    p.get("unit", ""),
                    p["citation"],
                )
                for p in raw.get("parameters", ())
            )
            for p in params:
                if not p.minimum <= p.default <= p.maximum or not p.citation.strip():
                    raise ValueError(f"parameter {p.name}: default outside its bounds or no citation")
            loaded.append(
                RuleMeta(
                    id=rid,
                    version=int(raw["version"]),
                    title=raw["title"],
                    severity=Severity(raw["severity"]),
                    message=raw["message"],
                    summary=raw["summary"],
                    strength=raw["strength"],
                    citations=citations,
                    audience=Audience(raw.get("audience", "all")),
                    reads=tuple(raw.get("reads", ())),
                    release_date=_date(raw.get("release_date", rules_doc["release_date"])),
                    revision_date=_date(raw.get("revision_date", rules_doc["release_date"])),
                    review_by=_date(raw.get("review_by", rules_doc["review_by"])),
                    parameters=params,
                    unverified=raw.get("unverified", ""),
                    safety_net=bool(raw.get("safety_net", False)),
                    conflict=raw.get("conflict", ""),
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            rejected.append((rid, str(e)))
    return RuleSet(
        version=str(rules_doc["rule_set_version"]),
        developer=str(rules_doc["developer"]),
        funding_source=str(rules_doc["funding_source"]),
        rules=tuple(loaded),
        rejected=tuple(rejected),
    )


def evaluator(
    rule_set: RuleSet,
    parameters: Mapping[str, Mapping[str, float]] | None = None,
    disabled: Collection[str] = (),
) -> Callable[[Snapshot, dt.date], list[Alert]]:
    """``evaluate`` with the rule set, the clinic's parameters and its disabled rules worked out once: for
    evaluating many patients with the same settings (the rules only read their parameters)."""
    _load_logic()  # a rule set may come from elsewhere (a worker process unpickles one)
    chosen = parameters or {}
    version = rule_set.version
    rules = [
        (meta, LOGIC.get(meta.id) or _no_logic(meta.id), MappingProxyType({**meta.defaults, **chosen.get(meta.id, {})}))
        for meta in rule_set.rules
        if meta.id not in disabled
    ]

    def run(snapshot: Snapshot, on: dt.date) -> list[Alert]:
        view = snapshot.as_of(on)
        out: list[Alert] = []
        for meta, logic, params in rules:
            try:
                finding = logic(view, on, params)
            except Exception as e:  # a broken rule must be seen, not skipped
                out.append(
                    Alert(meta, version, (f"evaluation failed: {type(e).__name__}",), "error", error=type(e).__name__)
                )
                continue
            if finding is not None:
                if not finding.because:
                    out.append(Alert(meta, version, ("the rule gave no reason",), "error", error="no inputs named"))
                    continue
                out.append(
                    Alert(meta, version, finding.because, finding.episode, finding.detail, blocks=finding.blocks)
                )
        if len(out) > 1:
            out.sort(key=_order)
        return out

    return run


def _no_logic(rule_id: str) -> Logic:
    """A rule without logic fails when evaluated (shown as an error alert), as a missing entry always has."""

    def fail(s: Snapshot, on: dt.date, p: Mapping[str, float]) -> Finding | None:
        raise KeyError(rule_id)

    return fail


def _order(a: Alert) -> tuple[int, str]:
    return -a.severity.rank, a.rule.id


def evaluate(
    rule_set: RuleSet,
    snapshot: Snapshot,
    on: dt.date,
    parameters: Mapping[str, Mapping[str, float]] | None = None,
    disabled: Collection[str] = (),
) -> list[Alert]:
    """Every alert for one patient on ``on``, most severe first, then by rule id."""
    return evaluator(rule_set, parameters, disabled)(snapshot, on)
