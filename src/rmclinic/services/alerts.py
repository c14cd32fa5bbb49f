"""Evidence-linked alerts: evaluation on the patient's current data (or as of a past date), responses
(acknowledge, override with a coded reason, snooze), critical alerts that block the action causing them,
the evidence library, clinic rule settings and analytics."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent
from ..domain.errors import DomainError, NotFoundError, ValidationError
from ..domain.followup import FollowUp
from ..domain.identifiers import normalise_hospital_number
from ..domain.investigations import Catalogue
from ..domain.medication import MedicationPlan
from ..domain.pregnancy import CurrentPregnancy
from ..domain.typecheck import text_problem
from ..domain.workup import WorkupItem
from ..paths import resource
from ..rules.engine import evaluate, evaluator, load_rule_set
from ..rules.lifecycle import (
    AlertEvent,
    EventKind,
    OverrideReason,
    Status,
    by_alert,
    history_of,
    status_of,
    transitions,
)
from ..rules.model import Alert, Audience, Citation, RuleSet, Severity
from ..rules.snapshot import Snapshot
from .base import ServiceBase
from .dto import AlertStateRow, PatientRecord
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import PermissionDenied, SessionContext

if TYPE_CHECKING:
    import subprocess


@cache
def shipped_references() -> tuple[Citation, ...]:
    with resource("evidence", "references.json").open(encoding="utf-8") as f:
        refs = json.load(f)["references"]
    return tuple(
        Citation(k, v["label"], v.get("doi"), v.get("url"), bool(v.get("doi_unverified"))) for k, v in refs.items()
    )


@cache
def shipped_rule_set() -> RuleSet:
    with resource("evidence", "rules.json").open(encoding="utf-8") as f:
        rules = json.load(f)
    with resource("evidence", "references.json").open(encoding="utf-8") as f:
        refs = json.load(f)
    return load_rule_set(rules, refs)


def rules_to_json(rule_set: RuleSet, today: dt.date) -> list[dict[str, Any]]:
    """Every rule with its source attributes (the decision-support criterion's list), for `rmclinic rules`."""
    return [
        {
            "id": r.id,
            "version": r.version,
            "rule_set_version": rule_set.version,
            "title": r.title,
            "severity": r.severity.value,
            "audience": r.audience.value,
            "message": r.message,
            "summary": r.summary,
            "evidence_strength": r.strength,
            "citations": [c.to_json() for c in r.citations],
            "developer": rule_set.developer,
            "funding_source": rule_set.funding_source,
            "release_date": r.release_date.isoformat(),
            "revision_date": r.revision_date.isoformat(),
            "review_by": r.review_by.isoformat(),
            "overdue_for_review": r.overdue_for_review(today),
            "parameters": [p.to_json() for p in r.parameters],
            "reads": list(r.reads),
            "unverified": r.unverified or None,
            "conflicting_evidence": r.conflict or None,
            "safety_net": r.safety_net,
        }
        for r in rule_set.rules
    ]


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    status: Status
    response: AlertEvent | None
    history: tuple[AlertEvent, ...]

    def to_json(self, hospital_number: str) -> dict[str, Any]:
        a = self.alert
        out: dict[str, Any] = {
            "patient": hospital_number,
            "rule_id": a.rule.id,
            "rule_version": a.rule.version,
            "rule_set_version": a.rule_set_version,
            "severity": a.severity.value,
            "title": a.rule.title,
            "message": a.message,
            "because": list(a.because),
            "citations": [c.to_json() for c in a.rule.citations],
            "status": self.status.value,
            "episode": a.episode,
            "evidence_strength": a.rule.strength,
        }
        if a.rule.unverified:
            out["unverified"] = a.rule.unverified
        if a.rule.conflict:
            out["conflicting_evidence"] = a.rule.conflict
        if self.response is not None:
            out["response"] = {
                "kind": self.response.kind.value,
                "by": self.response.username,
                "reason_code": self.response.reason_code or None,
                "comment": self.response.comment,
                "until": self.response.until.isoformat() if self.response.until else None,
            }
        return out


class CriticalAlertBlocked(DomainError):
    """A critical alert stops the save that caused it until a consultant overrides it with a reason."""

    def __init__(self, alerts: Sequence[Alert]) -> None:
        self.alerts = tuple(alerts)
        titles = "; ".join(a.rule.title for a in alerts)
        super().__init__(f"Not saved: {titles}. A consultant may override with a reason.")


@dataclass(frozen=True)
class Override:
    reason_code: OverrideReason
    comment: str = ""


@dataclass(frozen=True)
class RuleSettings:
    disabled: frozenset[str]
    parameters: Mapping[str, Mapping[str, float]]


def parse_rule_settings(text: str, rule_set: RuleSet) -> RuleSettings:
    """The clinic's rule settings (JSON): ``{"disabled": [ids], "parameters": {id: {name: value}}}``. Every
    parameter must stay within the bounds its citation allows. Raises ValueError with a plain message."""
    if not text.strip():
        return RuleSettings(frozenset(), {})
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("Rule settings must be a JSON object.")
    known = {r.id: r for r in rule_set.rules}
    disabled = raw.get("disabled", [])
    if not isinstance(disabled, list) or any(d not in known for d in disabled):
        raise ValueError(f"'disabled' must list rule ids, e.g. {sorted(known)[:3]}.")
    params: dict[str, dict[str, float]] = {}
    for rid, values in (raw.get("parameters") or {}).items():
        if rid not in known or not isinstance(values, dict):
            raise ValueError(f"Unknown rule {rid!r} in 'parameters'.")
        specs = {p.name: p for p in known[rid].parameters}
        for name, value in values.items():
            spec = specs.get(name)
            if spec is None:
                raise ValueError(f"Rule {rid} has no parameter {name!r}.")
            if not isinstance(value, int | float) or not spec.minimum <= value <= spec.maximum:
                raise ValueError(
                    f"{rid} {name} must be {spec.minimum:g} to {spec.maximum:g} {spec.unit} ({spec.citation})."
                )
            params.setdefault(rid, {})[name] = float(value)
    return RuleSettings(frozenset(disabled), params)


def _snapshot(
    record: PatientRecord,
    workup: Sequence[WorkupItem],
    care: tuple[Sequence[CurrentPregnancy], Sequence[MedicationPlan], Sequence[FollowUp]],
    catalogue: Catalogue,
) -> Snapshot:
    pregs, plans, follow_ups = care
    return Snapshot(
        hospital_number=record.data.hospital_number,
        history=tuple(record.data.pregnancies),
        risk=record.data.risk,
        workup=tuple(workup),
        catalogue=catalogue,
        pregnancy=next((p for p in pregs if p.is_open), None),
        ended=tuple(p for p in pregs if not p.is_open),
        plans=tuple(plans),
        follow_ups=tuple(follow_ups),
    )


def build_snapshot(uow: UnitOfWork, patient_id: int, catalogue: Catalogue) -> tuple[str, Snapshot]:
    found = build_snapshots(uow, [patient_id], catalogue)
    if not found:
        raise NotFoundError(f"No patient with id {patient_id}.")
    _, hospital_number, snap = found[0]
    return hospital_number, snap


# Patients loaded per round of queries when evaluating many, and (refreshing) written per transaction: the ids
# the rewritten current-alert rows get follow these batches, so the size stays what it was.
BATCH = 500


def build_snapshots(
    uow: UnitOfWork, patient_ids: Sequence[int], catalogue: Catalogue
) -> list[tuple[int, str, Snapshot]]:
    """Snapshots of many patients with a few queries per batch (evaluation across the clinic)."""
    records = uow.patients.get_many(patient_ids)
    workups = uow.workup.for_patients(patient_ids)
    care = uow.pregnancy.for_patients(patient_ids)
    return [(r.id, r.data.hospital_number, _snapshot(r, workups[r.id], care[r.id], catalogue)) for r in records]


Evaluated = list[tuple[int, str, list[Alert]]]  # (patient id, hospital number, alerts) for a batch of patients


def evaluate_patients(
    uow: UnitOfWork,
    patient_ids: Sequence[int],
    catalogue: Catalogue,
    run: Callable[[Snapshot, dt.date], list[Alert]],
    on: dt.date,
) -> Evaluated:
    """Load and evaluate a batch of patients (``run``: an ``evaluator``)."""
    return [(pid, hosp, run(snap, on)) for pid, hosp, snap in build_snapshots(uow, patient_ids, catalogue)]


# The values of the enums stored in a current-alert row (looked up: an enum member's ``.value`` is slow to get).
_VALUE: dict[Any, str] = {m: m.value for e in (Severity, Audience, Status) for m in e}


class AlertService(ServiceBase):
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Any,
        session: SessionContext,
        catalogue: Callable[[], Catalogue],
        rule_set: RuleSet | None = None,
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._catalogue = catalogue
        self._rule_set = rule_set

    def next_visit(self, patient_id: int) -> dt.date | None:
        """The patient's next booked clinic visit: a snooze "until the next visit" makes the alert come
        back on that day, so the visit is the episode it waits for."""
        self._actor(Permission.VIEW_PATIENTS)
        today = self._clock.today()
        with self._uow(read_only=True) as uow:
            booked = [v.date for v in uow.visits.visits(patient_id) if v.status.value == "booked" and v.date > today]
        return min(booked, default=None)

    def references(self) -> tuple[Citation, ...]:
        """Every reference of the evidence base, cited by a loaded rule or not (the evidence library)."""
        return shipped_references()

    # -- the rule set ---------------------------------------------------------------------------------

    def rule_set(self) -> RuleSet:
        return self._rule_set or shipped_rule_set()

    def rule_settings(self, uow: UnitOfWork | None = None) -> RuleSettings:
        if uow is None:
            with self._uow(read_only=True) as own:
                text = own.settings.get("rule_settings") or ""
        else:
            text = uow.settings.get("rule_settings") or ""
        try:
            return parse_rule_settings(text, self.rule_set())
        except (ValueError, TypeError):
            return RuleSettings(frozenset(), {})  # validated when saved; a stale value must not stop alerts

    def _evaluate(self, uow: UnitOfWork, patient_id: int, on: dt.date) -> tuple[str, list[Alert]]:
        hospital_number, snap = build_snapshot(uow, patient_id, self._catalogue())
        settings = self.rule_settings(uow)
        return hospital_number, evaluate(self.rule_set(), snap, on, settings.parameters, settings.disabled)

    @staticmethod
    def _state(patient_id: int, views: Sequence[AlertView], today: dt.date) -> list[AlertStateRow]:
        rows = []
        for v in views:
            a = v.alert
            fired = [e.at.date() for e in v.history if e.kind is EventKind.FIRED]
            rows.append(
                AlertStateRow(
                    patient_id=patient_id,
                    rule_id=a.rule.id,
                    episode=a.episode,
                    rule_version=a.rule.version,
                    severity=_VALUE[a.severity],
                    audience=_VALUE[a.rule.audience],
                    title=a.rule.title[:200],
                    status=_VALUE[v.status],
                    until=v.response.until if v.response and v.status is Status.SNOOZED else None,
                    since=fired[-1] if fired else today,
                )
            )
        return rows

    def _settle(
        self,
        patient_id: int,
        alerts: Sequence[Alert],
        events: Sequence[AlertEvent],
        at: dt.datetime | None = None,
    ) -> tuple[list[AlertEvent], list[AlertView], list[AlertStateRow]]:
        """What an evaluation today (or at ``at``) changes: the firings and endings to record, the alerts as they
        now stand, and the patient's current-alert rows for the worklist."""
        at = at or self._clock.now()
        today = at.date()
        new = transitions(alerts, events, at)
        views = self._views(alerts, [*events, *new], today)
        return new, views, self._state(patient_id, views, today)

    def _record(
        self, uow: UnitOfWork, patient_id: int, alerts: Sequence[Alert], events: list[AlertEvent]
    ) -> list[AlertView]:
        """Write the firings and endings this evaluation found, and the patient's current alerts."""
        new, views, state = self._settle(patient_id, alerts, events)
        uow.alerts.add(patient_id, new)
        uow.alerts.replace_state([patient_id], state, self._clock.now())
        return views

    @staticmethod
    def _views(alerts: Sequence[Alert], events: Sequence[AlertEvent], on: dt.date) -> list[AlertView]:
        if not events:  # never answered, never fired: all active, no history
            return [AlertView(a, Status.ACTIVE, None, ()) for a in alerts]
        grouped = by_alert(events)  # each alert's status and history read only its own events
        out = []
        for a in alerts:
            mine = grouped.get((a.rule.id, a.episode))
            if mine is None:
                out.append(AlertView(a, Status.ACTIVE, None, ()))
            elif len(mine) == 1 and mine[0].kind is EventKind.FIRED:  # just fired (whatever the version): active
                out.append(AlertView(a, Status.ACTIVE, None, (mine[0],)))
            else:
                status, response = status_of(a, mine, on)
                out.append(AlertView(a, status, response, tuple(history_of(a, mine))))
        return out

    # -- reading ----------------------------------------------------------------------------------------

    def for_patient(self, patient_id: int, as_of: dt.date | None = None) -> list[AlertView]:
        """The patient's alerts. On today's data the firings and endings are recorded (that is how a
        suppression ends when the data no longer meets the rule); "as of" a past date only reads."""
        self._actor(Permission.VIEW_PATIENTS)
        today = self._clock.today()
        on = as_of or today
        with self._uow(read_only=as_of is not None) as uow:
            _, alerts = self._evaluate(uow, patient_id, on)
            events = uow.alerts.events(patient_id)
            if as_of is not None:  # only what had been answered by then
                return self._views(alerts, [e for e in events if e.at.date() <= on], on)
            views = self._record(uow, patient_id, alerts, events)
            uow.commit()
            return views

    def refresh_all(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        workers: int | None = None,
        backdate: dt.date | None = None,
    ) -> int:
        """Evaluate every patient now and record firings, endings and current alerts, a batch per transaction
        (the nightly job that keeps the worklist's alerts current). Returns the number of patients.

        ``backdate`` (demo data only) evaluates as of that earlier day and records it as that day's run, so a
        demo clinic has an alert history, as if the nightly job had been running, instead of every alert
        firing on the day it was made.

        A large clinic is loaded and evaluated in worker processes (``workers``: how many; None chooses), while
        this process records each batch's firings and endings, in batch order, in its own transaction."""
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            ids = uow.patients.all_ids()
            settings = self.rule_settings(uow)
            reopen = _reopener(uow)
            mark = uow.audit.last_seq()  # the workers read after this: a patient changed since may be stale
        cat, rule_set = self._catalogue(), self.rule_set()
        if backdate is not None and backdate > self._clock.today():
            raise ValidationError.single("backdate", "An alert history cannot be dated in the future.")
        at = dt.datetime.combine(backdate, dt.time(2, 0), tzinfo=dt.UTC) if backdate else None
        today = backdate or self._clock.today()
        run = evaluator(rule_set, settings.parameters, settings.disabled)
        chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
        changed_in_run: set[int] = set()
        pool = _Workers.start(reopen, cat, rule_set, settings, len(ids), workers)
        try:
            evaluated = pool.evaluate(chunks, today) if pool else None
            done = 0
            for chunk in chunks:
                found = next(evaluated) if evaluated else None  # before the write transaction: it is kept short
                with self._uow() as uow:
                    # Who changed first, then the events: a response saved in between is then in the events
                    # (read the other way round, a patient evaluated again could be written with older ones).
                    # (read on from the last entry seen: one look at the newest entries, not an IN of 500)
                    moved, mark = uow.audit.patients_changed_after(mark)
                    changed_in_run |= moved
                    events = uow.alerts.events_for(chunk)
                    if found is None:
                        found = evaluate_patients(uow, chunk, cat, run, today)
                    else:
                        # A worker read this batch in its own transaction, perhaps while a nurse saved one of
                        # these patients: whoever changed since the run began is evaluated again, here, on what
                        # this transaction sees, so an older evaluation never replaces a newer state.
                        changed = changed_in_run.intersection(chunk)
                        if changed:
                            again = {e[0]: e for e in evaluate_patients(uow, sorted(changed), cat, run, today)}
                            # (one deleted meanwhile is not evaluated again, and is left out)
                            found = [
                                again[e[0]] if e[0] in changed else e
                                for e in found
                                if e[0] in again or e[0] not in changed
                            ]
                    new_events: list[tuple[int, AlertEvent]] = []
                    state: list[AlertStateRow] = []
                    for pid, _hosp, alerts in found:
                        new, _views, rows = self._settle(pid, alerts, events[pid], at)
                        new_events += [(pid, e) for e in new]
                        state += rows
                    uow.alerts.add_many(new_events)
                    uow.alerts.replace_state(chunk, state, at or self._clock.now())
                    uow.commit()
                done += len(chunk)
                if progress is not None:
                    progress(done, len(ids))
        finally:
            if pool:
                pool.close()
        return len(ids)

    def all_patients(
        self, as_of: dt.date | None = None, hospital_numbers: Sequence[str] | None = None, *, workers: int | None = None
    ) -> Iterator[tuple[str, AlertView]]:
        """Every alert of every (or the named) non-archived patient, read-only (in worker processes for a large
        clinic, as ``refresh_all``)."""
        self._actor(Permission.VIEW_PATIENTS)
        on = as_of or self._clock.today()
        with self._uow(read_only=True) as uow:
            ids: list[int] = []
            if hospital_numbers:
                for h in (normalise_hospital_number(x) for x in hospital_numbers):
                    pid = uow.patients.id_for_hospital_number(h)
                    if pid is None:
                        raise ValidationError.single("patient", f"No patient with hospital number {h}.")
                    ids.append(pid)
            cat = self._catalogue()
            settings = self.rule_settings(uow)
            rule_set = self.rule_set()
            run = evaluator(rule_set, settings.parameters, settings.disabled)
            # the workers start (about a second) while the patients are listed
            size = len(ids) if hospital_numbers else uow.patients.count()
            pool = _Workers.start(_reopener(uow), cat, rule_set, settings, size, workers)
            try:
                if not hospital_numbers:
                    ids = [r.id for r in uow.patients.rows_for_ids(uow.patients.all_ids()) if not r.archived]
                chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
                evaluated = pool.evaluate(chunks, on) if pool else None
                for chunk in chunks:
                    events = uow.alerts.events_for(chunk)
                    found = next(evaluated) if evaluated else evaluate_patients(uow, chunk, cat, run, on)
                    for pid, hosp, alerts in found:
                        known = [e for e in events[pid] if e.at.date() <= on]
                        for view in self._views(alerts, known, on):
                            yield hosp, view
            finally:
                if pool:
                    pool.close()

    # -- responding -------------------------------------------------------------------------------------

    def respond(
        self,
        patient_id: int,
        rule_id: str,
        episode: str,
        kind: EventKind,
        reason_code: str = "",
        comment: str = "",
        until: dt.date | None = None,
    ) -> list[AlertView]:
        """Acknowledge, override (coded reason; a critical alert needs a consultant) or snooze (until a date,
        with a reason). The response holds until the rule's version changes or the alert stops firing."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        today = self._clock.today()
        problems: dict[str, str] = {}
        if kind not in (EventKind.ACKNOWLEDGED, EventKind.OVERRIDDEN, EventKind.SNOOZED):
            problems["kind"] = "Choose acknowledge, override or snooze."
        if kind is EventKind.OVERRIDDEN:
            if reason_code not in {r.value for r in OverrideReason}:
                problems["reason_code"] = "Choose the reason for overriding."
            if not comment.strip():
                problems["comment"] = "Add a comment: what was done, or why the alert does not apply."
        if kind is EventKind.SNOOZED:
            if until is None or until <= today:
                problems["until"] = "Snooze until a date after today."
            elif until > today + dt.timedelta(days=366):
                problems["until"] = "Snooze for at most a year."
            if not comment.strip():
                problems["comment"] = "Give the reason for snoozing."
        if text_problem(comment):
            problems["comment"] = text_problem(comment) or ""
        if problems:
            raise ValidationError.from_dict(problems)
        rule = next((r for r in self.rule_set().rules if r.id == rule_id), None)
        if rule is not None and rule.severity is Severity.CRITICAL:
            # acknowledging or snoozing a critical alert takes it off the banner and the worklist, so it needs
            # the same consultant authority as overriding it (checked, and a refusal audited, before writing)
            self._require_override(actor)
        with self._uow() as uow:
            _, alerts = self._evaluate(uow, patient_id, today)
            alert = next((a for a in alerts if a.rule.id == rule_id and a.episode == episode), None)
            if alert is None:
                raise ValidationError.single("alert", "This alert no longer applies; the list has been refreshed.")
            events = uow.alerts.events(patient_id)
            new = transitions(alerts, events, self._clock.now())
            new.append(self._response(alert, kind, actor, reason_code, comment.strip(), until))
            uow.alerts.add(patient_id, new)
            self._audit_response(uow, actor, patient_id, alert, kind, reason_code, until)
            views = self._views(alerts, [*events, *new], today)
            uow.alerts.replace_state([patient_id], self._state(patient_id, views, today), self._clock.now())
            uow.commit()
            return views

    def _require_override(self, actor: Actor) -> None:
        if not actor.can(Permission.OVERRIDE_CRITICAL_ALERTS):
            self._actor(Permission.OVERRIDE_CRITICAL_ALERTS)  # audits the refusal and raises

    def _response(
        self, alert: Alert, kind: EventKind, actor: Actor, reason_code: str, comment: str, until: dt.date | None
    ) -> AlertEvent:
        return AlertEvent(
            alert.rule.id,
            alert.rule.version,
            alert.episode,
            kind,
            self._clock.now(),
            actor.username,
            actor.role.value,
            reason_code,
            comment,
            until,
        )

    def _audit_response(
        self,
        uow: UnitOfWork,
        actor: Actor,
        patient_id: int,
        alert: Alert,
        kind: EventKind,
        reason_code: str,
        until: dt.date | None,
    ) -> None:
        changes: dict[str, Any] = {"response": [None, kind.value], "rule_version": [None, alert.rule.version]}
        if reason_code:
            changes["reason_code"] = [None, reason_code]
        if until:
            changes["until"] = [None, until.isoformat()]
        self._audit(
            uow, actor, AuditEvent(Action.UPDATE, "alert", f"{alert.rule.id}:{alert.episode}", patient_id, changes)
        )

    # -- blocking ---------------------------------------------------------------------------------------

    def check_blocking(
        self, uow: UnitOfWork, patient_id: int, action: str, actor: Actor, override: Override | None
    ) -> list[Alert]:
        """Inside a save's transaction, after its changes are flushed: raise CriticalAlertBlocked for critical
        alerts that block ``action`` and are not overridden; with ``override`` (consultants only), record the
        override. Returns the alerts overridden now."""
        today = self._clock.today()
        _, alerts = self._evaluate(uow, patient_id, today)
        events = uow.alerts.events(patient_id)
        blocking = [
            a
            for a in alerts
            # a critical rule that could not be evaluated blocks too: a broken safety check must not wave it through
            if (
                (a.severity is Severity.CRITICAL and action in a.blocks)
                or (a.error and a.rule.severity is Severity.CRITICAL)
            )
            and status_of(a, events, today)[0] is not Status.OVERRIDDEN
        ]
        if not blocking:
            return []
        if override is None:
            raise CriticalAlertBlocked(blocking)
        if not actor.can(Permission.OVERRIDE_CRITICAL_ALERTS):
            # the caller audits the refusal before its transaction (see PregnancyService.save_plan): a second
            # writer here would wait on the caller's own write lock
            raise PermissionDenied(Permission.OVERRIDE_CRITICAL_ALERTS, actor)
        if not override.comment.strip():
            raise ValidationError.single("comment", "Add a comment: what was done, or why the alert does not apply.")
        new = transitions(alerts, events, self._clock.now())
        for a in blocking:
            new.append(
                self._response(a, EventKind.OVERRIDDEN, actor, override.reason_code.value, override.comment, None)
            )
            self._audit_response(uow, actor, patient_id, a, EventKind.OVERRIDDEN, override.reason_code.value, None)
        uow.alerts.add(patient_id, new)
        return blocking

    # -- analytics ----------------------------------------------------------------------------------------

    def analytics(self) -> list[tuple[str, str, str, str, int]]:
        """Firings, acknowledgements, overrides (with reasons) and snoozes per rule and role."""
        self._actor(Permission.VIEW_AUDIT)
        with self._uow(read_only=True) as uow:
            return uow.alerts.counts()

    def analytics_csv(self) -> bytes:
        """The analytics as CSV, one row per rule, event, role and override reason (a spreadsheet's pivot table
        sums them any way); no patient in it. Audited."""
        from .csv_export import ANALYTICS_HEADER, to_csv

        actor = self._actor(Permission.VIEW_AUDIT)
        with self._uow() as uow:
            counts = uow.alerts.counts()
            self._audit(uow, actor, AuditEvent(Action.EXPORT, "alert_analytics", "", changes={"format": "csv"}))
            uow.commit()
        titles = {r.id: r.title for r in self.rule_set().rules}
        rows = ((rule, titles.get(rule, ""), kind, role, code, n) for rule, kind, role, code, n in counts)
        return to_csv(ANALYTICS_HEADER, rows)


# -- worker processes --------------------------------------------------------------------------------------

PARALLEL_FROM = 10_000  # patients; fewer are evaluated in this process (starting the workers takes about a second)

# Run in a fresh interpreter: nothing of the parent (threads, connections, its __main__) is inherited.
_WORKER_CODE = (
    "import sys\n"
    "if sys.argv[1] not in sys.path:\n"
    "    sys.path.insert(0, sys.argv[1])\n"
    "from rmclinic.services.alerts import _worker_main\n"
    "_worker_main()\n"
)
# A bundled app's executable is rmclinic itself, not a Python interpreter: started with this one argument, the
# bundle's entry (packaging/rmclinic_main.py) runs _worker_main before any argument parsing.
FROZEN_WORKER_ARG = "--rmclinic-alert-worker"

# (rule index, because, episode, detail, error, blocks): an alert as sent back by a worker
_SentAlert = tuple[int, tuple[str, ...], str, str, str, tuple[str, ...]]


def _reopener(uow: UnitOfWork) -> Callable[[], UnitOfWorkFactory] | None:
    """How a worker process opens this database (a picklable callable), if the storage can say; else None."""
    reopen = getattr(uow.alerts, "reopen", None)
    return reopen() if callable(reopen) else None


class _Workers:
    """Worker processes that load and evaluate batches of patients, read-only, and send back their alerts in
    batch order. Each is a fresh interpreter reading pickled batches on stdin and writing results on stdout."""

    AHEAD = 2  # batches queued per worker: it never waits for the next, and a pipe never fills

    def __init__(self, procs: list[subprocess.Popen[bytes]], rule_set: RuleSet) -> None:
        self._procs = procs
        self._rules = rule_set.rules
        self._version = rule_set.version

    @classmethod
    def start(
        cls,
        reopen: Callable[[], UnitOfWorkFactory] | None,
        catalogue: Catalogue,
        rule_set: RuleSet,
        settings: RuleSettings,
        patients: int,
        workers: int | None,
    ) -> _Workers | None:
        """Start ``workers`` processes (None: two for a large clinic on a machine with two or more cores, else
        none). None when evaluating here: no worker asked for, or a database another process cannot open. In a
        bundled app (whose executable is the app itself, not a Python interpreter) a worker is the executable
        started with ``FROZEN_WORKER_ARG``."""
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if patients >= PARALLEL_FROM else 0
            if workers < 2:
                workers = 0
        if workers <= 0 or reopen is None or not sys.executable:
            return None
        import pickle
        import subprocess  # here, not at start-up: only a large clinic's evaluation needs them

        init = pickle.dumps(
            (reopen, catalogue, rule_set, settings.parameters, frozenset(settings.disabled)),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        if getattr(sys, "frozen", False):
            command = [sys.executable, FROZEN_WORKER_ARG]
        else:  # -P: no current folder on the path, so nothing planted there runs
            command = [sys.executable, "-P", "-c", _WORKER_CODE, str(Path(__file__).resolve().parents[2])]
        # (a windowed app on Windows has no stderr to hand on: a worker's messages are dropped there)
        errors = None if sys.stderr is not None else subprocess.DEVNULL
        procs: list[subprocess.Popen[bytes]] = []
        pool = cls(procs, rule_set)
        try:
            for _ in range(workers):
                procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors))
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(init)
                p.stdin.flush()
        except OSError:  # no process can be started here (or it died at once): evaluate in this process
            pool.close()
            return None
        except BaseException:
            pool.close()
            raise
        return pool

    def evaluate(self, chunks: Sequence[Sequence[int]], on: dt.date) -> Iterator[Evaluated]:
        """Each batch's alerts, in the order of ``chunks``."""
        n = len(self._procs)
        sent = 0
        for _ in range(min(len(chunks), n * self.AHEAD)):
            self._send(sent % n, (list(chunks[sent]), on))
            sent += 1
        for i in range(len(chunks)):
            found = self._receive(i % n)
            if sent < len(chunks):
                self._send(sent % n, (list(chunks[sent]), on))
                sent += 1
            yield [
                (
                    pid,
                    hosp,
                    [
                        Alert(self._rules[r], self._version, because, episode, detail, error, blocks)
                        for r, because, episode, detail, error, blocks in alerts
                    ],
                )
                for pid, hosp, alerts in found
            ]

    def _send(self, worker: int, task: object) -> None:
        import pickle

        stdin = self._procs[worker].stdin
        assert stdin is not None
        pickle.dump(task, stdin, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.flush()

    def _receive(self, worker: int) -> list[tuple[int, str, list[_SentAlert]]]:
        import pickle

        proc = self._procs[worker]
        assert proc.stdout is not None
        try:
            status, payload = pickle.load(proc.stdout)
        except EOFError:
            raise RuntimeError(f"An alert worker process stopped unexpectedly (exit code {proc.wait()}).") from None
        if status != "ok":
            raise payload
        return payload  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the workers: end of input stops an idle one; closing its output stops one still writing."""
        import subprocess

        for p in self._procs:
            for stream in (p.stdin, p.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
        for p in self._procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


_SAFE_DATETIME = frozenset({"date", "datetime", "time", "timedelta", "timezone"})


def _restricted_loader(stream: Any) -> Callable[[], Any]:
    """Unpickling that builds only rmclinic's own classes and datetime values: a worker reads what its parent
    sends, but its executable can be started by hand (a bundle's worker mode), and plain unpickling of whatever
    arrives on stdin would run any callable it names (an application allow-list of the bundle would then allow
    anything)."""
    import pickle

    class Loader(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "datetime" and name in _SAFE_DATETIME:
                return super().find_class(module, name)
            if module.startswith("rmclinic.") and "." not in name:
                found = super().find_class(module, name)
                if isinstance(found, type) and found.__module__ == module:  # a class defined there, nothing imported
                    return found
            raise pickle.UnpicklingError(f"alert worker: {module}.{name} is not something a worker is sent")

    return Loader(stream).load


def _worker_main() -> None:
    """A worker process: open the database, then load and evaluate each batch it is sent (read-only)."""
    import pickle
    import signal

    if sys.stdin.isatty():  # started by hand, not by rmclinic
        print(
            "this is rmclinic's alert worker mode: it reads only from the rmclinic process that starts it",
            file=sys.stderr,
        )
        raise SystemExit(2)

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the results
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle: it stops the workers
    load = _restricted_loader(sys.stdin.buffer)

    def send(message: tuple[str, object]) -> None:
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that cannot be pickled: its kind is enough
            data = pickle.dumps(("error", RuntimeError(f"alert worker: {type(message[1]).__name__}")))
        out.write(data)
        out.flush()

    try:
        reopen, catalogue, rule_set, parameters, disabled = load()
        uow_factory = reopen()
        run = evaluator(rule_set, parameters, disabled)
        index = {id(meta): i for i, meta in enumerate(rule_set.rules)}
    except Exception as e:
        send(("error", e))
        return
    # What is loaded now stays, so collections need only look at each batch's objects; and a batch builds many
    # small objects and no cycles to speak of, so collect less often (about a fifth of the time otherwise).
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    try:
        while True:
            try:
                chunk, on = load()
            except EOFError:
                break  # the service is done (or gone)
            message: tuple[str, object]
            try:
                with uow_factory(read_only=True) as uow:
                    found = evaluate_patients(uow, chunk, catalogue, run, on)
                message = ("ok", [(pid, hosp, [_sent(a, index) for a in alerts]) for pid, hosp, alerts in found])
            except Exception as e:
                message = ("error", e)
            send(message)
    except OSError:
        pass  # the service stopped reading (a broken pipe): stop too
    finally:
        close = getattr(reopen, "close", None)
        if callable(close):
            close()


def _sent(a: Alert, index: Mapping[int, int]) -> _SentAlert:
    return index[id(a.rule)], a.because, a.episode, a.detail, a.error, a.blocks
