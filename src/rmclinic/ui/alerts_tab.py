"""A patient's alerts: the list (most severe first), each alert's evidence card — why it fired, what to do,
the sources with links, the strength, the other side where the evidence conflicts, its history — and the
responses: acknowledge, override with a coded reason, snooze until a date."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.errors import DomainError, ValidationError
from ..rules.lifecycle import OVERRIDE_LABELS, AlertEvent, EventKind, OverrideReason, Status
from ..rules.model import Alert, Audience, Severity
from ..services.alerts import AlertService, AlertView
from ..services.session import SessionContext
from .common import DateField, ErrorLabel, format_date, tr
from .forms import FormDialog, Problems, read_date

SEVERITY_MARKS = {Severity.CRITICAL: "✖ critical", Severity.WARNING: "⚠ warning", Severity.INFO: "ℹ info"}
SEVERITY_COLOURS = {Severity.CRITICAL: QColor("#b00020"), Severity.WARNING: QColor("#8a5300")}
STATUS_TEXT = {
    Status.ACTIVE: "active",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.OVERRIDDEN: "overridden",
    Status.SNOOZED: "snoozed",
}


def evidence_card(alert: Alert, view: AlertView | None = None) -> str:
    """The alert's evidence card as simple HTML (escaped): inputs, action, sources, strength, caveats."""
    r = alert.rule
    e = html.escape
    parts = [
        f"<h3>{e(r.title)}</h3>",
        f"<p><b>{e(SEVERITY_MARKS[alert.severity])}</b> · {e(r.id)} v{r.version}"
        f" · rule set {e(alert.rule_set_version)}</p>",
        f"<p><b>{e(tr('What to do'))}:</b> {e(alert.message)}</p>",
        f"<p><b>{e(tr('Because'))}:</b></p><ul>" + "".join(f"<li>{e(b)}</li>" for b in alert.because) + "</ul>",
        f"<p><b>{e(tr('Evidence'))}</b> ({e(r.strength)}): {e(r.summary)}</p>",
    ]
    if r.conflict:
        parts.append(f"<p><b>{e(tr('The other side'))}:</b> {e(r.conflict)}</p>")
    if r.unverified:
        parts.append(f"<p><b>{e(tr('Not verified'))}:</b> {e(r.unverified)}</p>")
    refs = []
    for i, c in enumerate(r.citations, start=1):
        link = c.link
        doi = f" doi:{e(c.doi)}" + (" (DOI unconfirmed)" if c.doi_unverified else "") if c.doi else ""
        text = f"[{i}] {e(c.label)}{doi}"
        refs.append(f'<li><a href="{e(link)}">{text}</a></li>' if link else f"<li>{text}</li>")
    parts.append(f"<p><b>{e(tr('Sources'))}</b></p><ol>" + "".join(refs) + "</ol>")
    if view is not None and view.history:
        items = "".join(f"<li>{e(_history_line(h))}</li>" for h in view.history)
        parts.append(f"<p><b>{e(tr('History'))}</b></p><ul>{items}</ul>")
    return "".join(parts)


def _history_line(h: AlertEvent) -> str:
    text = f"{h.at:%d/%m/%Y %H:%M} {h.kind.value}"
    if h.username != "system":
        text += f" by {h.username} ({h.role})"
    if h.reason_code in {x.value for x in OverrideReason}:
        text += f": {OVERRIDE_LABELS[OverrideReason(h.reason_code)]}"
    if h.comment:
        text += f" — {h.comment}"
    if h.until:
        text += f" until {format_date(h.until)}"
    return text


class ResponseDialog(FormDialog):
    """Override (coded reason + comment) or snooze (until a date + reason)."""

    def __init__(
        self, kind: EventKind, alert: Alert, today: dt.date, parent: Any = None, next_visit: dt.date | None = None
    ) -> None:
        title = tr("Override: {t}") if kind is EventKind.OVERRIDDEN else tr("Snooze: {t}")
        super().__init__(
            title.format(t=alert.rule.title),
            parent,
            ok_text=tr("Override") if kind is EventKind.OVERRIDDEN else tr("Snooze"),
        )
        self.kind = kind
        self.reason = QComboBox()
        self.reason.addItem(tr("— choose the reason —"), None)  # never preselected: the reason is a decision
        for code, label in OVERRIDE_LABELS.items():
            self.reason.addItem(tr(label), code.value)
        self.until = DateField()
        self.until.set_date(today + dt.timedelta(days=7))
        if kind is EventKind.OVERRIDDEN:
            self.add("reason_code", tr("&Reason *"), self.reason)
        else:
            self.add("until", tr("Snooze &until *"), self.until)
            self.until_visit = QPushButton(
                tr("Until the next &visit ({d})").format(d=format_date(next_visit)) if next_visit else ""
            )
            self.until_visit.setToolTip(tr("The alert comes back on the day of the patient's next booked visit."))
            self.until_visit.setVisible(next_visit is not None)
            if next_visit is not None:
                self.until_visit.clicked.connect(lambda: self.until.set_date(next_visit))
            self.add("until_visit", "", self.until_visit)
        self.comment = QLineEdit()
        self.add("comment", tr("&Comment *"), self.comment)
        self.finish_layout()

    def submit(self) -> Any:
        p = Problems()
        until = p.read("until", lambda: read_date(self.until)) if self.kind is EventKind.SNOOZED else None
        p.raise_if_any()
        problems = {}
        if self.kind is EventKind.OVERRIDDEN and self.reason.currentData() is None:
            problems["reason_code"] = tr("Choose the reason for overriding.")
        if not self.comment.text().strip():
            problems["comment"] = (
                tr("Add a comment: what was done, or why the alert does not apply.")
                if self.kind is EventKind.OVERRIDDEN
                else tr("Give the reason for snoozing.")
            )
        if problems:
            raise ValidationError.from_dict(problems)
        return (
            self.reason.currentData() if self.kind is EventKind.OVERRIDDEN else "",
            self.comment.text().strip(),
            until,
        )


class AlertsTab(QWidget):
    counts_changed = Signal(int, int, int)  # active critical, warning, info

    def __init__(self, service: AlertService, session: SessionContext, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self._session = session
        self.patient_id: int | None = None
        self.views: list[AlertView] = []
        self.shown: list[AlertView] = []
        outer = QVBoxLayout(self)
        row = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setAccessibleName(tr("Alert summary"))
        row.addWidget(self.summary, 1)
        self.mine = QCheckBox(tr("Only alerts for my &role"))
        self.mine.setToolTip(tr("Scheduling and sample reminders go to nurses; treatment decisions to consultants"))
        self.mine.toggled.connect(lambda _c: self._show())
        row.addWidget(self.mine)
        self.show_closed = QCheckBox(tr("Show acknowledged and &overridden"))
        self.show_closed.setChecked(True)
        self.show_closed.toggled.connect(lambda _c: self._show())
        row.addWidget(self.show_closed)
        outer.addLayout(row)
        self.error = ErrorLabel(self)
        outer.addWidget(self.error)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels([tr("Severity"), tr("Alert"), tr("Status"), tr("Because")])
        self.table.setAccessibleName(tr("Alerts"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setTabKeyNavigation(False)
        self.table.currentCellChanged.connect(lambda *_a: self._show_card())
        split.addWidget(self.table)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        self.card.setAccessibleName(tr("Evidence card"))
        split.addWidget(self.card)
        split.setSizes([560, 440])
        outer.addWidget(split, 1)
        row = QHBoxLayout()
        self.ack_button = QPushButton(tr("A&cknowledge"))
        self.override_button = QPushButton(tr("O&verride…"))
        self.snooze_button = QPushButton(tr("Snoo&ze…"))
        for b, kind in (
            (self.ack_button, EventKind.ACKNOWLEDGED),
            (self.override_button, EventKind.OVERRIDDEN),
            (self.snooze_button, EventKind.SNOOZED),
        ):
            b.clicked.connect(lambda _c=False, k=kind: self.respond(k))
            row.addWidget(b)
        row.addStretch(1)
        outer.addLayout(row)

    def set_can_edit(self, allowed: bool) -> None:
        for b in (self.ack_button, self.override_button, self.snooze_button):
            b.setVisible(allowed)

    def load(self, patient_id: int) -> None:
        self.patient_id = patient_id
        self.error.show_problem(None)
        actor = self._session.actor
        self.mine.setVisible(actor is not None and actor.role.value == "nurse")
        try:
            self.views = self._service.for_patient(patient_id)
        except DomainError as e:
            self.views = []
            self.error.show_problem(str(e))
        self._show()

    def _visible(self, v: AlertView) -> bool:
        if not self.show_closed.isChecked() and v.status in (Status.ACKNOWLEDGED, Status.OVERRIDDEN):
            return False
        actor = self._session.actor
        if self.mine.isVisible() and self.mine.isChecked() and actor is not None:
            return v.alert.rule.audience in (Audience.ALL, Audience(actor.role.value))
        return True

    def _show(self) -> None:
        self.shown = [v for v in self.views if self._visible(v)]
        self.table.setRowCount(len(self.shown))
        for r, v in enumerate(self.shown):
            a = v.alert
            status = tr(STATUS_TEXT[v.status])
            if v.status is Status.SNOOZED and v.response and v.response.until:
                status += f" {tr('until')} {format_date(v.response.until)}"
            for c, text in enumerate((tr(SEVERITY_MARKS[a.severity]), a.rule.title, status, "; ".join(a.because))):
                item = QTableWidgetItem(text)
                colour = SEVERITY_COLOURS.get(a.severity)
                if colour is not None and v.status is Status.ACTIVE and c == 0:
                    item.setForeground(colour)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        active = [v for v in self.views if v.status is Status.ACTIVE]
        counts = tuple(
            sum(1 for v in active if v.alert.severity is s)
            for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
        )
        self.summary.setText(
            tr("Needing attention: {c} critical, {w} warning(s), {i} for information; {n} alert(s) in all").format(
                c=counts[0], w=counts[1], i=counts[2], n=len(self.views)
            )
        )
        self.counts_changed.emit(*counts)
        if self.shown:
            self.table.selectRow(0)
        self._show_card()

    def select(self, rule_id: str, episode: str) -> None:
        """Select an alert by rule and episode (e.g. clicked on the timeline); closed ones are shown if needed."""
        for attempt in range(2):
            for r, v in enumerate(self.shown):
                if v.alert.rule.id == rule_id and (not episode or v.alert.episode == episode):
                    self.table.selectRow(r)
                    self.table.setFocus()
                    return
            if attempt == 0 and not self.show_closed.isChecked():
                self.show_closed.setChecked(True)  # re-lists through its toggled signal

    def selected(self) -> AlertView | None:
        r = self.table.currentRow()
        return self.shown[r] if 0 <= r < len(self.shown) else None

    def _show_card(self) -> None:
        v = self.selected()
        self.card.setHtml(evidence_card(v.alert, v) if v else "")

    def respond(self, kind: EventKind) -> None:
        v = self.selected()
        if v is None or self.patient_id is None:
            self.error.show_problem(tr("Select an alert first."))
            return
        self.error.show_problem(None)
        reason, comment, until = "", "", None
        actor = self._session.actor
        if v.alert.severity is Severity.CRITICAL and not (actor and actor.can(Permission.OVERRIDE_CRITICAL_ALERTS)):
            self.error.show_problem(tr("Only a consultant can respond to a critical alert."))
            return
        if kind is not EventKind.ACKNOWLEDGED:
            nxt = self._service.next_visit(self.patient_id) if kind is EventKind.SNOOZED else None
            dlg = ResponseDialog(kind, v.alert, self._service.today(), self, nxt)
            if not dlg.exec() or dlg.result_value is None:
                return
            reason, comment, until = dlg.result_value
        try:
            self.views = self._service.respond(
                self.patient_id, v.alert.rule.id, v.alert.episode, kind, reason, comment, until
            )
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        self._show()
