"""An alert's life: fired, then acknowledged, overridden (coded reason) or snoozed (until a date), and ended
when the patient's data no longer meets the rule. Status is derived from the append-only events, so the
history is never lost. A response holds only for the rule version it was given to: a new version starts
afresh, as does the same alert firing again after it ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .model import Alert


class EventKind(StrEnum):
    FIRED = "fired"
    ACKNOWLEDGED = "acknowledged"
    OVERRIDDEN = "overridden"
    SNOOZED = "snoozed"
    ENDED = "ended"


class OverrideReason(StrEnum):
    DONE_ELSEWHERE = "done_elsewhere"
    PATIENT_DECLINED = "patient_declined"
    CLINICAL_JUDGEMENT = "clinical_judgement"
    NOT_APPLICABLE = "not_applicable"


OVERRIDE_LABELS = {
    OverrideReason.DONE_ELSEWHERE: "Already done elsewhere",
    OverrideReason.PATIENT_DECLINED: "Patient declined",
    OverrideReason.CLINICAL_JUDGEMENT: "Clinical judgement (see note)",
    OverrideReason.NOT_APPLICABLE: "Not applicable / data error",
}


class Status(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    OVERRIDDEN = "overridden"
    SNOOZED = "snoozed"


@dataclass(frozen=True)
class AlertEvent:
    rule_id: str
    rule_version: int
    episode: str
    kind: EventKind
    at: dt.datetime
    username: str
    role: str
    reason_code: str = ""
    comment: str = ""
    until: dt.date | None = None


def _since_last_end(events: Sequence[AlertEvent], rule_id: str, episode: str, version: int) -> list[AlertEvent]:
    """Events of this alert after it last ended, for this rule version, oldest first."""
    mine = [e for e in events if e.rule_id == rule_id and e.episode == episode and e.rule_version == version]
    mine.sort(key=lambda e: e.at)
    last_end = max((i for i, e in enumerate(mine) if e.kind is EventKind.ENDED), default=-1)
    return mine[last_end + 1 :]


def status_of(alert: Alert, events: Sequence[AlertEvent], on: dt.date) -> tuple[Status, AlertEvent | None]:
    """The alert's status on ``on`` and the response that gives it (None while active)."""
    for e in reversed(_since_last_end(events, alert.rule.id, alert.episode, alert.rule.version)):
        if e.kind is EventKind.ACKNOWLEDGED:
            return Status.ACKNOWLEDGED, e
        if e.kind is EventKind.OVERRIDDEN:
            return Status.OVERRIDDEN, e
        if e.kind is EventKind.SNOOZED:
            if e.until is not None and on < e.until:
                return Status.SNOOZED, e
            return Status.ACTIVE, None  # the snooze has run out
    return Status.ACTIVE, None


def history_of(alert: Alert, events: Sequence[AlertEvent]) -> list[AlertEvent]:
    return sorted((e for e in events if e.rule_id == alert.rule.id and e.episode == alert.episode), key=lambda e: e.at)


def transitions(
    alerts: Iterable[Alert], events: Sequence[AlertEvent], now: dt.datetime, who: str = "system", role: str = "system"
) -> list[AlertEvent]:
    """Events to record after an evaluation: ``fired`` for an alert not yet fired since it last ended, and
    ``ended`` for an alert that fired (any version) but no longer does — which also ends its responses."""
    current = {(a.rule.id, a.episode): a for a in alerts if not a.error}
    if not events:  # nothing recorded yet: every alert fires
        return [
            AlertEvent(rule_id, a.rule.version, episode, EventKind.FIRED, now, who, role)
            for (rule_id, episode), a in current.items()
        ]
    ended: list[AlertEvent] = []
    latest: dict[tuple[str, str], AlertEvent] = {}
    for e in sorted(events, key=lambda e: e.at):  # stable: events arrive in the order they were written
        latest[(e.rule_id, e.episode)] = e
    for key, last in latest.items():
        a = current.get(key)
        if last.kind is EventKind.ENDED:
            continue
        if a is None or a.rule.version != last.rule_version:
            # no longer met, or the rule changed: the old episode ends with its responses
            ended.append(AlertEvent(key[0], last.rule_version, key[1], EventKind.ENDED, now, who, role))
    grouped = by_alert(events)
    fired: list[AlertEvent] = []
    for (rule_id, episode), a in current.items():
        mine = grouped.get((rule_id, episode), ())
        if not any(e.kind is EventKind.FIRED for e in _since_last_end(mine, rule_id, episode, a.rule.version)):
            fired.append(AlertEvent(rule_id, a.rule.version, episode, EventKind.FIRED, now, who, role))
    return ended + fired  # in this order, so the newest event of a re-fired alert is its "fired"


def by_alert(events: Iterable[AlertEvent]) -> dict[tuple[str, str], list[AlertEvent]]:
    """Events by (rule, episode), each list in the order given: what ``status_of`` and ``history_of`` of one
    alert read, so they can be given only its own events."""
    out: dict[tuple[str, str], list[AlertEvent]] = {}
    for e in events:
        out.setdefault((e.rule_id, e.episode), []).append(e)
    return out
