"""The clinic outcomes audit: what happened to the pregnancies conceived under the clinic's care in a period, how
complete the workup is, whether scans and swabs were done on time, who was lost to follow-up, and how the alerts
were answered. Consultants and administrators only; every report made or exported is audited.

Definitions are in ``domain/outcomes.py`` and docs/outcomes-audit.md; the PDF is drawn by an injected renderer
(``reports/outcomes.py``), the CSV by ``csv_export.to_csv``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.errors import ValidationError
from ..domain.followup import KIND_LABELS, FollowUpKind
from ..domain.investigations import Catalogue
from ..domain.outcomes import (
    AGE_BANDS,
    AUDITED_FOLLOW_UPS,
    CONCEPTION_BEFORE_EDD,
    LOSS_BANDS,
    OUTCOME_CLASS_LABELS,
    TIMING_LABELS,
    TREATMENT_LABELS,
    UNKNOWN_AFTER_DAYS,
    WORKUP_WITHIN_DAYS,
    AlertRoleRow,
    AlertRuleRow,
    OutcomeClass,
    OutcomeRow,
    Proportion,
    Spread,
    Timing,
    TimingRow,
    age_at_start,
    age_band,
    alert_rows,
    classify,
    completed_on,
    conceived_between,
    contact_dates,
    last_assessable_conception,
    loss_band,
    lost_to_follow_up,
    median_iqr,
    pct_number,
    plans_in,
    previous_losses,
    tabulate,
    timing,
    timing_rows,
    treatment,
    window_closed,
)
from ..rules.lifecycle import OVERRIDE_LABELS, OverrideReason
from .base import ServiceBase
from .csv_export import Cell, to_csv
from .dto import PatientRecord
from .ports import UnitOfWorkFactory
from .session import SessionContext

CHUNK = 2000  # patients read per batch

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OutcomeSection:
    overall: OutcomeRow
    by_previous_losses: tuple[OutcomeRow, ...]
    by_treatment: tuple[OutcomeRow, ...]
    by_age: tuple[OutcomeRow, ...]


@dataclass(frozen=True)
class WorkupShare:
    investigation_id: str
    name: str
    done: Proportion


@dataclass(frozen=True)
class WorkupSection:
    """Patients first seen (earliest attended visit) in the period, not archived."""

    patients: int
    items: tuple[WorkupShare, ...]
    complete: Proportion
    days_to_complete: Spread | None  # first visit to the day the last protocol item was done, among the complete
    # complete within 90 days of the first visit, among those first seen at least 90 days before the report date
    complete_within_90: Proportion


@dataclass(frozen=True)
class LostPatient:
    patient_id: int
    hospital_number: str
    family_name: str
    given_name: str
    edd: dt.date
    last_contact: dt.date | None


@dataclass(frozen=True)
class AlertSection:
    rules: tuple[AlertRuleRow, ...]
    roles: tuple[AlertRoleRow, ...]
    reasons: tuple[tuple[str, int], ...]  # (reason code, overrides)
    titles: Mapping[str, str] = field(default_factory=dict)

    def reason_label(self, code: str) -> str:
        try:
            return OVERRIDE_LABELS[OverrideReason(code)]
        except ValueError:
            return code or "(no reason recorded)"


@dataclass(frozen=True)
class OutcomesReport:
    start: dt.date
    end: dt.date
    made_on: dt.date
    made_at: dt.datetime
    made_by: str
    clinic_name: str
    demo: bool
    outcomes: OutcomeSection
    workup: WorkupSection
    follow_ups: tuple[TimingRow, ...]
    lost: tuple[LostPatient, ...]
    alerts: AlertSection

    @property
    def period(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def last_assessable(self) -> dt.date:
        """The latest conception date whose outcome window (EDD + 6 weeks) has closed by the report date."""
        return last_assessable_conception(self.made_on)

    @property
    def too_recent(self) -> bool:
        """The period ends after the last assessable conception date: some pregnancies are not yet assessable."""
        return self.end > self.last_assessable

    def assessable_warning(self) -> str:
        """The warning the page, PDF, CSV and command line give when the period ends too recently ("" if not)."""
        if not self.too_recent:
            return ""
        return (
            f"Warning: the period ends after {self.last_assessable.isoformat()}, so "
            f"{self.outcomes.overall.not_assessable} pregnancies are not yet assessable and the rates cover only "
            "part of it."
        )

    def assessable_note(self) -> str:
        """How the rates are made, with the number left out as not yet assessable."""
        return (
            f"Rates are over pregnancies whose outcome window has closed (conceived on or before "
            f"{self.last_assessable.isoformat()}, EDD + 6 weeks by the report date) with a recorded outcome; "
            f"not yet assessable: {self.outcomes.overall.not_assessable} (conceived later, counted by their outcome "
            "so far but not in the rates)."
        )


PdfRenderer = Callable[[OutcomesReport], bytes]


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _local_midnight(day: dt.date) -> dt.datetime:
    """00:00 of the day on this machine's clock, in UTC: alert events are stored as UTC (SQLite keeps the wall clock
    and drops any offset, so a bound must be UTC too, as the audit log's filters are)."""
    return dt.datetime.combine(day, dt.time()).astimezone().astimezone(dt.UTC)


class OutcomesService(ServiceBase):
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        session: SessionContext,
        catalogue: Callable[[], Catalogue],
        rule_titles: Callable[[], Mapping[str, str]],
        renderer: PdfRenderer | None = None,
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._catalogue = catalogue
        self._rule_titles = rule_titles
        self._renderer = renderer

    # -- the report -------------------------------------------------------------------------------------------

    def report(self, start: dt.date, end: dt.date, progress: Progress | None = None) -> OutcomesReport:
        """Build the report for the period (both days included). Audited: who looked, the period, and each patient
        named in the loss-to-follow-up list."""
        actor = self._actor(Permission.EXPORT)
        report = self._build(start, end, actor.username, progress)
        self._record(actor, report, Action.VIEW, "screen")
        return report

    def export(self, report: OutcomesReport, fmt: str) -> bytes:
        """The report as ``pdf`` or ``csv`` bytes; audited as an export with the patients it names."""
        actor = self._actor(Permission.EXPORT)
        data = self._render(report, fmt)
        self._record(actor, report, Action.EXPORT, fmt)
        return data

    def export_file(self, start: dt.date, end: dt.date, fmt: str) -> tuple[OutcomesReport, bytes]:
        """Build and render in one step (the command line): one audit entry, as an export."""
        actor = self._actor(Permission.EXPORT)
        if fmt not in ("pdf", "csv"):
            raise ValidationError.single("format", "The report is written as PDF or CSV.")
        report = self._build(start, end, actor.username, None)
        data = self._render(report, fmt)
        self._record(actor, report, Action.EXPORT, fmt)
        return report, data

    def _render(self, report: OutcomesReport, fmt: str) -> bytes:
        if fmt == "csv":
            return report_csv(report)
        if fmt == "pdf":
            if self._renderer is None:
                raise ValidationError.single("format", "No PDF renderer is configured.")
            return self._renderer(report)
        raise ValidationError.single("format", "The report is written as PDF or CSV.")

    def _record(self, actor: Actor, report: OutcomesReport, action: Action, fmt: str) -> None:
        """Audited as the actor whose permission was checked (not whoever is signed in by the time it is written)."""
        summary = AuditEvent(
            action,
            "outcomes_report",
            report.period,
            changes={"from": report.start.isoformat(), "to": report.end.isoformat(), "format": fmt},
        )
        named = [AuditEvent(action, "outcomes_report", report.period, p.patient_id) for p in report.lost]
        with self._uow() as uow:
            self._audit(uow, actor, summary, *named)
            uow.commit()

    # -- building ---------------------------------------------------------------------------------------------

    def _build(self, start: dt.date, end: dt.date, username: str, progress: Progress | None) -> OutcomesReport:
        if end < start:
            raise ValidationError.single("end", "The period ends before it starts.")
        today = self._clock.today()
        catalogue = self._catalogue()
        protocol = list(catalogue.protocol.items)
        shift = dt.timedelta(days=CONCEPTION_BEFORE_EDD)
        kinds = [k.value for k in AUDITED_FOLLOW_UPS]
        outcome_rows: list[tuple[str, str, str, str, OutcomeClass, bool]] = []  # (..., class, window closed)
        timings: list[tuple[FollowUpKind, Timing]] = []
        lost: list[LostPatient] = []
        done_counts = dict.fromkeys(protocol, 0)
        complete = 0
        days_to_complete: list[float] = []
        within_90 = eligible_90 = 0
        with self._uow(read_only=True) as uow:
            clinic = uow.settings.get("clinic_name")
            demo = uow.settings.get("demo_database") == "1"
            pregnant = set(uow.outcomes.patients_with_edd_between(start + shift, end + shift))
            due = set(uow.outcomes.patients_with_follow_ups_due(kinds, start, end))
            first_seen = set(uow.outcomes.patients_first_seen_between(start, end))
            # loss to follow-up: every open pregnancy past EDD + 6 weeks, whatever the period
            overdue = set(
                uow.outcomes.patients_with_open_pregnancy_edd_before(today - dt.timedelta(days=UNKNOWN_AFTER_DAYS + 1))
            )
            ids = sorted(pregnant | due | first_seen | overdue)
            if progress:
                progress(0, len(ids))
            for n_done, chunk in enumerate(_chunks(ids)):
                records = {r.id: r for r in uow.patients.get_many(chunk)}
                care = uow.pregnancy.for_patients(chunk)
                workup = uow.workup.for_patients(chunk)
                visits = uow.outcomes.attended_visits(chunk)
                for pid in chunk:
                    record = records[pid]
                    pregnancies, plans, follow_ups = care[pid]
                    if pid in pregnant:
                        for p in pregnancies:
                            if not conceived_between(p, start, end):
                                continue
                            outcome_rows.append(
                                (
                                    "All pregnancies",
                                    loss_band(previous_losses(record.data.pregnancies, p)),
                                    TREATMENT_LABELS[treatment(p, plans_in(p, plans, today, pregnancies))],
                                    age_band(age_at_start(record.data.date_of_birth, p)),
                                    classify(p, today),
                                    window_closed(p, today),
                                )
                            )
                    if pid in overdue and not record.archived:
                        contacts = contact_dates(visits[pid], workup[pid], pregnancies, plans, follow_ups)
                        for p in pregnancies:
                            if lost_to_follow_up(p, contacts, today):
                                lost.append(_lost(record, p.edd, max(contacts, default=None)))
                    if pid in due:
                        timings += [
                            (f.kind, timing(f, today))
                            for f in follow_ups
                            if f.kind in AUDITED_FOLLOW_UPS and start <= f.due_date <= end
                        ]
                    if pid in first_seen and visits[pid]:
                        items = workup[pid]
                        done_ids = {i.investigation_id for i in items if i.has_result}
                        for iid in protocol:
                            done_counts[iid] += iid in done_ids
                        finished = completed_on(protocol, items)
                        if protocol and all(iid in done_ids for iid in protocol):
                            complete += 1
                            if finished is not None:
                                days_to_complete.append(max(0, (finished - visits[pid][0]).days))
                        first_visit = visits[pid][0]
                        if (today - first_visit).days >= WORKUP_WITHIN_DAYS:
                            eligible_90 += 1
                            if finished is not None and (finished - first_visit).days <= WORKUP_WITHIN_DAYS:
                                within_90 += 1
                if progress:
                    progress(min((n_done + 1) * CHUNK, len(ids)), len(ids))
            since, until = _local_midnight(start), _local_midnight(end + dt.timedelta(days=1))
            responses = uow.outcomes.first_responses(since, until)
        n_first = len(first_seen)
        rules, roles, reasons = alert_rows(responses)
        titles = self._rule_titles()
        return OutcomesReport(
            start=start,
            end=end,
            made_on=today,
            made_at=self._clock.now(),
            made_by=username,
            clinic_name=clinic or "Recurrent Miscarriage Clinic",
            demo=demo,
            outcomes=OutcomeSection(
                overall=tabulate(((r[0], r[4], r[5]) for r in outcome_rows), ["All pregnancies"])[0],
                by_previous_losses=tabulate(((r[1], r[4], r[5]) for r in outcome_rows), LOSS_BANDS),
                by_treatment=tabulate(((r[2], r[4], r[5]) for r in outcome_rows), list(TREATMENT_LABELS.values())),
                by_age=tabulate(((r[3], r[4], r[5]) for r in outcome_rows), AGE_BANDS),
            ),
            workup=WorkupSection(
                patients=n_first,
                items=tuple(
                    WorkupShare(iid, catalogue.get(iid).name, Proportion(done_counts[iid], n_first)) for iid in protocol
                ),
                complete=Proportion(complete, n_first),
                days_to_complete=median_iqr(days_to_complete),
                complete_within_90=Proportion(within_90, eligible_90),
            ),
            follow_ups=timing_rows(timings),
            lost=tuple(sorted(lost, key=lambda p: (p.edd, p.hospital_number))),
            alerts=AlertSection(rules, roles, reasons, {r.rule: titles.get(r.rule, "") for r in rules}),
        )


def _lost(record: PatientRecord, edd: dt.date, last: dt.date | None) -> LostPatient:
    d = record.data
    return LostPatient(record.id, d.hospital_number, d.family_name, d.given_name, edd, last)


# -- CSV --------------------------------------------------------------------------------------------------------

OUTCOMES_CSV_HEADER = (
    "Section",
    "Breakdown",
    "Group",
    "Measure",
    "Label",
    "Value",
    "Denominator",
    "Percent",
    "95% CI low %",
    "95% CI high %",
    "Too few to read as a rate",
    "Hospital number",
    "Family name",
    "Given name",
    "EDD",
    "Last contact",
)


def _share(p: Proportion) -> list[Cell]:
    """k, n, percent, CI low and high (one decimal, rounded half-up as everywhere in the report), the small-group
    flag (blank for an empty group: it has no rate to flag)."""
    ci = p.ci
    rate = p.rate
    return [
        p.k,
        p.n,
        None if rate is None else float(pct_number(p.k, p.n)),
        None if ci is None else float(pct_number(ci[0])),
        None if ci is None else float(pct_number(ci[1])),
        None if p.n == 0 else p.small,
    ]


def _row(section: str, breakdown: str, group: str, measure: str, label: str, values: list[Cell]) -> list[Cell]:
    cells: list[Cell] = [section, breakdown, group, measure, label, *values]
    return cells + [None] * (len(OUTCOMES_CSV_HEADER) - len(cells))


def report_rows(r: OutcomesReport) -> list[list[Cell]]:
    """The report in long form: one measure a row (docs/outcomes-audit.md lists every section and measure)."""
    rows = [
        _row("report", "period", r.start.isoformat(), "from", "Period from", []),
        _row("report", "period", r.end.isoformat(), "to", "Period to", []),
        _row("report", "made", r.made_on.isoformat(), "made_on", f"Made by {r.made_by}", []),
        _row(
            "report",
            "assessable",
            r.last_assessable.isoformat(),
            "not_yet_assessable",
            " ".join(x for x in (r.assessable_warning(), r.assessable_note()) if x),
            [r.outcomes.overall.not_assessable],
        ),
        _row(
            "report",
            "loss_to_follow_up",
            "all open pregnancies",
            "scope",
            "The loss-to-follow-up list covers every open pregnancy past EDD + 6 weeks, whatever the period",
            [len(r.lost)],
        ),
    ]
    breakdowns = (
        ("overall", (r.outcomes.overall,)),
        ("previous_losses", r.outcomes.by_previous_losses),
        ("treatment", r.outcomes.by_treatment),
        ("age_band", r.outcomes.by_age),
    )
    for breakdown, table in breakdowns:
        for g in table:
            rows.append(_row("outcomes", breakdown, g.group, "pregnancies", "Pregnancies", [g.total]))
            rows.append(
                _row(
                    "outcomes",
                    breakdown,
                    g.group,
                    "not_yet_assessable",
                    "Not yet assessable (outcome window open; not in the rates)",
                    [g.not_assessable],
                )
            )
            rows.append(
                _row("outcomes", breakdown, g.group, "assessable_with_outcome", "Rates' denominator", [g.ended])
            )
            for c in OutcomeClass:
                rows.append(_row("outcomes", breakdown, g.group, c.value, OUTCOME_CLASS_LABELS[c], _share(g.share(c))))
            rows.append(_row("outcomes", breakdown, g.group, "any_loss", "Any loss", _share(g.losses)))
    w = r.workup
    rows.append(_row("workup", "cohort", "first seen in period", "patients", "Patients first seen", [w.patients]))
    for item in w.items:
        rows.append(_row("workup", "protocol_item", item.investigation_id, "done", item.name, _share(item.done)))
    rows.append(_row("workup", "protocol", "all items", "complete", "Workup complete", _share(w.complete)))
    rows.append(
        _row(
            "workup",
            "protocol",
            "first seen 90+ days before the report",
            "complete_within_90_days",
            "Workup complete within 90 days of the first visit",
            _share(w.complete_within_90),
        )
    )
    s = w.days_to_complete
    for measure, value in (
        ("n", None if s is None else s.n),
        ("median_days", None if s is None else s.median),
        ("q1_days", None if s is None else s.q1),
        ("q3_days", None if s is None else s.q3),
    ):
        rows.append(_row("workup", "days_first_visit_to_complete", "completed", measure, "", [value]))
    for t in r.follow_ups:
        kind = KIND_LABELS[t.kind]
        rows.append(_row("follow_up", t.kind.value, kind, "due", "Due in the period", [t.total]))
        for timing_ in Timing:  # counts only; the rate below is over the judged ones
            rows.append(
                _row("follow_up", t.kind.value, kind, timing_.value, TIMING_LABELS[timing_], [t.count(timing_)])
            )
        rows.append(
            _row("follow_up", t.kind.value, kind, "judged", "Judged (on time, early, late or missed)", [t.judged])
        )
        rows.append(
            _row("follow_up", t.kind.value, kind, "on_time_rate", "On time, of those judged", _share(t.on_time))
        )
    for p in r.lost:
        rows.append(
            [
                "loss_to_follow_up",
                "patient",
                "",
                "lost_to_follow_up",
                "No contact since the EDD and no outcome, past EDD + 6 weeks (any open pregnancy, whatever the period)",
                1,
                None,
                None,
                None,
                None,
                None,
                p.hospital_number,
                p.family_name,
                p.given_name,
                p.edd,
                p.last_contact,
            ]
        )
    a = r.alerts
    for rule in a.rules:
        title = a.titles.get(rule.rule, "")
        for measure, value in (
            ("fired", rule.fired),
            ("acknowledged", rule.acknowledged),
            ("overridden", rule.overridden),
            ("snoozed", rule.snoozed),
            ("ended", rule.ended),
            ("still_open", rule.open),
            ("answered_or_ended", rule.closed),
        ):
            rows.append(_row("alerts", "rule", rule.rule, measure, title, [value]))
        rows.append(_row("alerts", "rule", rule.rule, "acceptance_rate", title, _share(rule.acceptance)))  # of closed
        rows.append(_row("alerts", "rule", rule.rule, "override_rate", title, _share(rule.override)))
    for role in a.roles:
        for measure, value in (
            ("acknowledged", role.acknowledged),
            ("overridden", role.overridden),
            ("snoozed", role.snoozed),
        ):
            rows.append(_row("alerts", "role", role.role, measure, "", [value]))
        rows.append(
            _row("alerts", "role", role.role, "override_share", "Overrides of first responses", _share(role.override))
        )
    for code, n in a.reasons:
        rows.append(_row("alerts", "override_reason", code, "overridden", a.reason_label(code), [n]))
    return rows


def report_csv(r: OutcomesReport) -> bytes:
    return to_csv(OUTCOMES_CSV_HEADER, report_rows(r))
