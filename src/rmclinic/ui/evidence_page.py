"""The evidence library: every rule and every reference, searchable, with the source attributes the US
decision-support criterion asks for (citation, developer, funding, release and revision dates), review-by
dates flagged when past, and, for administrators, alert analytics per rule."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.errors import DomainError
from ..domain.text import fold
from ..rules.lifecycle import OVERRIDE_LABELS, OverrideReason
from ..rules.model import RuleMeta
from ..services.container import Services
from .alerts_tab import SEVERITY_MARKS
from .common import ErrorLabel, format_date, read_only_table, tr


class EvidencePage(QWidget):
    def __init__(self, services: Services, parent: Any = None) -> None:
        super().__init__(parent)
        self._services = services
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("Evidence library") + "</h2>"))
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search rules and references: words, rule id, author, journal, DOI"))
        self.search.setAccessibleName(tr("Search the evidence library"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        lay.addWidget(self.search)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.header)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.tabs = QTabWidget()
        split = QSplitter(Qt.Orientation.Horizontal)
        self.rules = read_only_table([tr("Rule"), tr("Severity"), tr("Review by"), tr("Title")], tr("Rules"))
        self.rules.currentCellChanged.connect(lambda *_a: self._show_rule())
        split.addWidget(self.rules)
        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(True)
        self.detail.setAccessibleName(tr("Rule details"))
        split.addWidget(self.detail)
        split.setSizes([520, 480])
        self.tabs.addTab(split, tr("&Rules"))
        self.refs = read_only_table([tr("Key"), tr("Link"), tr("Reference")], tr("References"))
        self.tabs.addTab(self.refs, tr("R&eferences"))
        self.analytics = read_only_table(
            [
                tr("Rule"),
                tr("Fired"),
                tr("Acknowledged"),
                tr("Overridden"),
                tr("Snoozed"),
                tr("Override reasons and roles"),
            ],
            tr("Alert analytics"),
        )
        box = QWidget()
        box_lay = QVBoxLayout(box)
        box_lay.setContentsMargins(0, 0, 0, 0)
        box_lay.addWidget(self.analytics, 1)
        self.analytics_export = QPushButton(tr("Export C&SV…"))
        self.analytics_export.setToolTip(tr("One row per rule, event, role and override reason, for a pivot table"))
        self.analytics_export.clicked.connect(self.on_export_analytics_clicked)
        box_lay.addWidget(self.analytics_export, 0, Qt.AlignmentFlag.AlignRight)
        self.analytics_status = QLabel()
        self.analytics_status.setAccessibleName(tr("Export status"))
        box_lay.addWidget(self.analytics_status)
        self.tabs.addTab(box, tr("Alert &analytics"))
        lay.addWidget(self.tabs, 1)
        self._rules: list[RuleMeta] = []

    def load(self) -> None:
        self.error.show_problem(None)
        alerts = self._services.alerts
        rs = alerts.rule_set()
        today = alerts.today()
        overdue = [r.id for r in rs.rules if r.overdue_for_review(today)]
        text = tr("Rule set {v}: {n} rules. Developer: {d}. Funding: {f}.").format(
            v=rs.version, n=len(rs.rules), d=rs.developer, f=rs.funding_source
        )
        if overdue:
            text += " " + tr("⚠ Past their review-by date: {ids}.").format(ids=", ".join(overdue))
        if rs.rejected:
            text += " " + tr("⚠ Not loaded: {r}.").format(r="; ".join(f"{i} ({why})" for i, why in rs.rejected))
        self.header.setText(text)
        self._rules = list(rs.rules)
        self.rules.setRowCount(len(self._rules))
        for r, rule in enumerate(self._rules):
            review = format_date(rule.review_by) + ("  ⚠ " + tr("overdue") if rule.overdue_for_review(today) else "")
            for c, value in enumerate((rule.id, tr(SEVERITY_MARKS[rule.severity]), review, rule.title)):
                self.rules.setItem(r, c, QTableWidgetItem(value))
        self.rules.resizeColumnsToContents()
        self.rules.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        refs = {c.key: c for c in self._services.alerts.references()}  # every reference, cited or not
        keys = sorted(refs, key=lambda k: (not k[1:].isdigit(), int(k[1:]) if k[1:].isdigit() else 0, k))
        self.refs.setRowCount(len(keys))
        for r, k in enumerate(keys):
            cit = refs[k]
            link = cit.link or ""
            if cit.doi and cit.doi_unverified:
                link += " " + tr("(DOI unconfirmed)")
            for col, value in enumerate((k, link, cit.label)):
                self.refs.setItem(r, col, QTableWidgetItem(value))
        self.refs.resizeColumnsToContents()
        self.refs.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        actor = self._services.session.actor
        show = actor is not None and actor.can(Permission.VIEW_AUDIT)
        self.tabs.setTabVisible(2, show)
        if show:
            self._load_analytics()
        if self._rules:
            self.rules.selectRow(0)
        self._filter()

    def _load_analytics(self) -> None:
        try:
            counts = self._services.alerts.analytics()
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        per_rule: dict[str, dict[str, int]] = {}
        reasons: dict[str, dict[str, int]] = {}
        for rule_id, kind, role, code, n in counts:
            per_rule.setdefault(rule_id, {}).setdefault(kind, 0)
            per_rule[rule_id][kind] += n
            if kind in ("overridden", "acknowledged", "snoozed"):
                label = OVERRIDE_LABELS[OverrideReason(code)] if code in {x.value for x in OverrideReason} else kind
                key = f"{label} ({role})"
                reasons.setdefault(rule_id, {}).setdefault(key, 0)
                reasons[rule_id][key] += n
        rows = sorted(per_rule)
        self.analytics.setRowCount(len(rows))
        for r, rule_id in enumerate(rows):
            k = per_rule[rule_id]
            why = ", ".join(f"{label}: {n}" for label, n in sorted(reasons.get(rule_id, {}).items()))
            values = (
                rule_id,
                k.get("fired", 0),
                k.get("acknowledged", 0),
                k.get("overridden", 0),
                k.get("snoozed", 0),
                why,
            )
            for c, value in enumerate(values):
                self.analytics.setItem(r, c, QTableWidgetItem(str(value)))
        self.analytics.resizeColumnsToContents()

    def on_export_analytics_clicked(self) -> None:
        from .csv_files import choose_csv_file, export_in_background

        self.error.show_problem(None)
        path = choose_csv_file(self, "alert-analytics.csv")
        if path is None:
            return

        def make(_progress: Any) -> tuple[bytes, str]:
            return self._services.alerts.analytics_csv(), tr("the alert analytics")

        export_in_background(
            self,
            path,
            make,
            self.analytics_status.setText,
            self.error.show_problem,
            tr("Export alert analytics"),
            self.analytics_export,
        )

    def _filter(self) -> None:
        words = fold(self.search.text()).split()
        for r, rule in enumerate(self._rules):
            hay = fold(
                " ".join(
                    (
                        rule.id,
                        rule.title,
                        rule.summary,
                        rule.message,
                        *(c.label for c in rule.citations),
                        *(c.doi or "" for c in rule.citations),
                    )
                )
            )
            self.rules.setRowHidden(r, not all(w in hay for w in words))
        for r in range(self.refs.rowCount()):
            hay = fold(" ".join(self.refs.item(r, c).text() for c in range(3) if self.refs.item(r, c)))  # type: ignore[union-attr]
            self.refs.setRowHidden(r, not all(w in hay for w in words))

    def _show_rule(self) -> None:
        r = self.rules.currentRow()
        if not 0 <= r < len(self._rules):
            self.detail.setHtml("")
            return
        rule = self._rules[r]
        rs = self._services.alerts.rule_set()
        e = html.escape
        tuned = self._services.alerts.rule_settings().parameters.get(rule.id, {})
        params = "".join(
            f"<li>{e(p.label)}: {tuned.get(p.name, p.default):g} {e(p.unit)}"
            + (f" ({e(tr('clinic setting; default'))} {p.default:g})" if p.name in tuned else "")
            + " "
            f"(clinic may set {p.minimum:g}–{p.maximum:g}); {e(p.citation)}</li>"
            for p in rule.parameters
        )
        cites = "".join(
            (f'<li><a href="{e(c.link)}">{e(c.label)}</a>' if c.link else f"<li>{e(c.label)}")
            + (f" {e(tr('(DOI unconfirmed)'))}" if c.doi and c.doi_unverified else "")
            + "</li>"
            for c in rule.citations
        )
        parts = [
            f"<h3>{e(rule.id)} v{rule.version}: {e(rule.title)}</h3>",
            f"<p><b>{e(tr('Severity'))}:</b> {e(SEVERITY_MARKS[rule.severity])}"
            f" · <b>{e(tr('For'))}:</b> {e(rule.audience.value)}</p>",
            f"<p><b>{e(tr('Message'))}:</b> {e(rule.message)}</p>",
            f"<p><b>{e(tr('Evidence'))}</b> ({e(rule.strength)}): {e(rule.summary)}</p>",
        ]
        if rule.conflict:
            parts.append(f"<p><b>{e(tr('The other side'))}:</b> {e(rule.conflict)}</p>")
        if rule.unverified:
            parts.append(f"<p><b>{e(tr('Not verified'))}:</b> {e(rule.unverified)}</p>")
        parts += [
            f"<p><b>{e(tr('Reads'))}:</b> {e(', '.join(rule.reads))}</p>",
            f"<p><b>{e(tr('Parameters'))}</b></p><ul>{params}</ul>" if params else "",
            f"<p><b>{e(tr('Sources'))}</b></p><ol>{cites}</ol>",
            f"<p><b>{e(tr('Developer'))}:</b> {e(rs.developer)}<br>"
            f"<b>{e(tr('Funding'))}:</b> {e(rs.funding_source)}<br>"
            f"<b>{e(tr('Released'))}:</b> {e(format_date(rule.release_date))} · <b>{e(tr('Revised'))}:</b> "
            f"{e(format_date(rule.revision_date))} · <b>{e(tr('Review by'))}:</b> {e(format_date(rule.review_by))}</p>",
        ]
        self.detail.setHtml("".join(parts))
