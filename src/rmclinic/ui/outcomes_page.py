"""The clinic outcomes audit page: choose a period, Run (built off the UI thread, with progress), read the charts and
tables, open a patient lost to follow-up, save the report as PDF or CSV.

QtCharts (PySide6-Addons) is imported when the first charts are drawn, never at start-up; without it the page shows
the tables and says the charts are missing. Charts are readable in black and white: bars are black, grey or white
with hatching, every bar is named on its axis and carries its number.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import DomainError
from ..domain.followup import KIND_LABELS
from ..domain.outcomes import (
    LOSS_CLASSES,
    OUTCOME_CLASS_LABELS,
    OUTCOME_CLASS_SHORT,
    SMALL_GROUP,
    TIMING_LABELS,
    OutcomeClass,
    OutcomeRow,
    Proportion,
    Timing,
    last_assessable_conception,
)
from ..services.container import Services
from ..services.outcomes import OutcomesReport
from .common import DateField, ErrorLabel, format_date, read_only_table, tr
from .csv_files import choose_csv_file, export_in_background
from .tasks import run_in_background

SMALL_MARK = "†"
MAX_ALERT_BARS = 10
log = logging.getLogger("rmclinic.ui.outcomes")


class _Progress(QObject):
    changed = Signal(int, int)  # queued to the UI thread by Qt


def _cell(p: Proportion) -> str:
    return p.describe() + (f" {SMALL_MARK}" if p.small else "")


def _item(text: str, number: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    if number:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]], numeric_from: int = 1) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, _item(text, c >= numeric_from))
    table.resizeColumnsToContents()
    table.resizeRowsToContents()
    needed = table.horizontalHeader().sizeHint().height() + 4
    needed += sum(table.rowHeight(r) for r in range(len(rows))) or table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(min(420, needed))  # a short table takes only its rows' room; a long one scrolls


class _Charts:
    """QtCharts, loaded on first use. ``available`` is False when PySide6-Addons is not installed."""

    def __init__(self) -> None:
        try:
            from PySide6 import QtCharts
        except ImportError:
            self.qc: Any = None
        else:
            self.qc = QtCharts

    @property
    def available(self) -> bool:
        return self.qc is not None

    def bars(
        self,
        title: str,
        categories: Sequence[str],
        series: Sequence[tuple[str, Sequence[float], str]],
        *,
        stacked: bool = False,
        percent: bool = False,
    ) -> QWidget:
        """Horizontal bars, the first category at the top, each bar labelled with its value (a percentage when
        ``percent``; the category name then carries k/n and the interval). Each series: (name, values, style)
        with style "black", "grey", "light" or "hatched"."""
        qc = self.qc
        chart = qc.QChart()
        chart.setTitle(title)
        chart.setAnimationOptions(qc.QChart.AnimationOption.NoAnimation)
        chart.legend().setVisible(len(series) > 1)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        bar_series = qc.QHorizontalStackedBarSeries() if stacked else qc.QHorizontalBarSeries()
        for name, values, style in series:
            if stacked and not any(values) and len(series) > 1:
                continue  # an empty segment would print its "0" over its neighbour's number (the table has it)
            s = qc.QBarSet(name)
            s.append([float(v) for v in reversed(values)])
            s.setPen(QPen(QColor("#222222"), 1))
            s.setBrush(_brush(style))
            s.setLabelColor(QColor("#ffffff") if style == "black" and stacked else QColor("#000000"))
            bar_series.append(s)
        # a rate chart's bars carry no label of their own (an empty group would read "0 %"): the category name
        # holds k/n, the percentage and the interval, in the report's one rounding
        bar_series.setLabelsVisible(not percent)
        bar_series.setLabelsPosition(
            qc.QAbstractBarSeries.LabelsPosition.LabelsCenter
            if stacked
            else qc.QAbstractBarSeries.LabelsPosition.LabelsOutsideEnd
        )
        bar_series.setLabelsFormat("@value")
        bar_series.setLabelsPrecision(9)
        chart.addSeries(bar_series)
        axis_y = qc.QBarCategoryAxis()
        axis_y.append([html.escape(c) for c in reversed(categories)])  # axis labels are rich text: "<" must be escaped
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        bar_series.attachAxis(axis_y)
        axis_x = qc.QValueAxis()
        columns = list(zip(*(v for _, v, _ in series), strict=True))
        top = max(((sum(c) if stacked else max(c)) for c in columns), default=0)
        axis_x.setRange(0, 100 if percent else max(1.0, top * 1.15))
        if not percent:
            axis_x.applyNiceNumbers()
        axis_x.setLabelFormat("%.0f")
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        bar_series.attachAxis(axis_x)
        view = qc.QChartView(chart)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        bars = max(1, len(categories)) * (1 if stacked else len(series))
        view.setMinimumHeight(110 + (30 if stacked else 22 if len(series) == 1 else 13) * bars)
        view.setAccessibleName(title)
        return cast(QWidget, view)


def _brush(style: str) -> QBrush:
    if style == "black":
        return QBrush(QColor("#222222"))
    if style == "light":
        return QBrush(QColor("#dddddd"))
    if style == "hatched":
        b = QBrush(QColor("#222222"), Qt.BrushStyle.BDiagPattern)
        return b
    return QBrush(QColor("#9e9e9e"))


class OutcomesPage(QWidget):
    """Consultants and administrators (the service checks)."""

    open_patient_requested = Signal(int)

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.report: OutcomesReport | None = None
        self._charts: _Charts | None = None
        self._chart_views: list[QWidget] = []
        self._relay = _Progress(self)
        self._relay.changed.connect(self._on_progress)

        lay = QVBoxLayout(self)
        title = QLabel("<h2>" + tr("Clinic outcomes audit") + "</h2>")
        lay.addWidget(title)
        bar = QHBoxLayout()
        self.start = DateField()
        self.start.setAccessibleName(tr("Period from"))
        self.end = DateField()
        self.end.setAccessibleName(tr("Period to"))
        from_label = QLabel(tr("Conceived &from"))
        from_label.setBuddy(self.start)
        to_label = QLabel(tr("&to"))
        to_label.setBuddy(self.end)
        self.run_button = QPushButton(tr("&Run"))
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.on_run_clicked)
        self.pdf_button = QPushButton(tr("Save &PDF…"))
        self.pdf_button.clicked.connect(self.on_pdf_clicked)
        self.csv_button = QPushButton(tr("Export &CSV…"))
        self.csv_button.clicked.connect(self.on_csv_clicked)
        for w in (from_label, self.start, to_label, self.end, self.run_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.pdf_button)
        bar.addWidget(self.csv_button)
        lay.addLayout(bar)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.progress = QProgressBar()
        self.progress.setAccessibleName(tr("Progress"))
        self.progress.hide()
        lay.addWidget(self.progress)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName(tr("Period warning"))
        self.warning.hide()
        lay.addWidget(self.warning)
        self.summary = QLabel(tr("Choose the period and press Run."))
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)

        self.tabs = QTabWidget()
        lay.addWidget(self.tabs, 1)
        self.outcome_tables = {
            key: read_only_table(
                [
                    tr("Group"),
                    tr("n"),
                    tr("Live birth ≥ 24+0"),
                    tr("Loss < 12+0"),
                    tr("Loss 12+0–23+6"),
                    tr("Stillbirth"),
                    tr("Other*"),
                    tr("Ongoing"),
                    tr("Unknown"),
                    tr("Not yet assessable"),
                    tr("Any loss"),
                ],
                name,
            )
            for key, name in (
                ("losses", tr("Outcomes by number of previous losses")),
                ("treatment", tr("Outcomes by treatment received")),
                ("age", tr("Outcomes by age")),
            )
        }
        self.workup_table = read_only_table([tr("Protocol item"), tr("Done")], tr("Workup completeness"))
        self.follow_up_table = read_only_table(
            [tr("Kind"), tr("Due"), *(tr(TIMING_LABELS[t]) for t in Timing), tr("On time, of those judged")],
            tr("Scans and swabs"),
        )
        self.lost_table = read_only_table(
            [tr("Hospital number"), tr("Name"), tr("EDD"), tr("Last contact")], tr("Lost to follow-up")
        )
        self.lost_table.cellActivated.connect(self.on_lost_activated)
        self.lost_table.cellDoubleClicked.connect(self.on_lost_activated)
        self.alert_table = read_only_table(
            [
                tr("Rule"),
                tr("Fired"),
                tr("Acknowledged"),
                tr("Overridden"),
                tr("Snoozed"),
                tr("Ended"),
                tr("Still open"),
                tr("Acceptance"),
                tr("Override"),
            ],
            tr("Alerts by rule"),
        )
        self.role_table = read_only_table(
            [tr("Role"), tr("Acknowledged"), tr("Overridden"), tr("Snoozed"), tr("Overrides of first responses")],
            tr("Alert responses by role"),
        )
        self.reason_table = read_only_table([tr("Override reason"), tr("Overrides")], tr("Override reasons"))
        self.open_button = QPushButton(tr("&Open patient"))
        self.open_button.clicked.connect(lambda: self.on_lost_activated(self.lost_table.currentRow(), 0))

        self.sections: dict[str, QVBoxLayout] = {}
        for key, label in (
            ("outcomes", tr("Outcomes")),
            ("workup", tr("Workup")),
            ("follow_up", tr("Scans and swabs")),
            ("lost", tr("Lost to follow-up")),
            ("alerts", tr("Alerts")),
        ):
            holder = QWidget()
            v = QVBoxLayout(holder)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(holder)
            self.tabs.addTab(scroll, label)
            self.sections[key] = v
        self._notes: dict[str, QLabel] = {}
        self._chart_holders: dict[str, QVBoxLayout] = {}
        self._layout_static()
        self._set_exportable(False)

    # -- layout -------------------------------------------------------------------------------------------------

    def _note(self, key: str, section: str) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        self.sections[section].addWidget(label)
        self._notes[key] = label
        return label

    def _layout_static(self) -> None:
        s = self.sections
        self._note("outcomes", "outcomes")
        self._chart_slot("outcomes", "outcome_chart")
        self._chart_slot("outcomes", "treatment_chart")
        for key, title in (
            ("losses", tr("By number of previous losses")),
            ("treatment", tr("By treatment received")),
            ("age", tr("By age at the start of the pregnancy")),
        ):
            s["outcomes"].addWidget(QLabel("<b>" + title + "</b>"))
            s["outcomes"].addWidget(self.outcome_tables[key])
        self._note("outcomes_foot", "outcomes")
        self._note("workup", "workup")
        self._chart_slot("workup", "workup_chart")
        s["workup"].addWidget(self.workup_table)
        self._note("follow_up", "follow_up")
        self._chart_slot("follow_up", "follow_up_chart")
        s["follow_up"].addWidget(self.follow_up_table)
        self._note("lost", "lost")
        s["lost"].addWidget(self.lost_table)
        s["lost"].addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        self._note("alerts", "alerts")
        self._chart_slot("alerts", "alert_chart")
        s["alerts"].addWidget(self.alert_table)
        s["alerts"].addWidget(QLabel("<b>" + tr("By role") + "</b>"))
        s["alerts"].addWidget(self.role_table)
        s["alerts"].addWidget(QLabel("<b>" + tr("Override reasons") + "</b>"))
        s["alerts"].addWidget(self.reason_table)
        for v in s.values():
            v.addStretch(1)

    def _chart_slot(self, section: str, key: str) -> None:
        holder = QWidget()
        holder.setObjectName(key)
        lay = QVBoxLayout(holder)
        lay.setContentsMargins(0, 0, 0, 0)
        self.sections[section].addWidget(holder)
        self._chart_holders[key] = lay

    def _put_chart(self, key: str, make: Any) -> None:
        lay = self._chart_holders[key]
        while (item := lay.takeAt(0)) is not None:
            old = item.widget()
            if old is not None:
                old.setParent(None)  # out of the page at once (deleteLater waits for the event loop)
                old.deleteLater()
        if self._charts is None:
            self._charts = _Charts()
        if not self._charts.available:
            missing = QLabel(tr("Charts need QtCharts (PySide6-Addons); the tables below hold every figure."))
            missing.setWordWrap(True)
            lay.addWidget(missing)
            return
        view = make(self._charts)
        lay.addWidget(view)
        self._chart_views.append(view)

    # -- running ------------------------------------------------------------------------------------------------

    def set_defaults(self, today: dt.date) -> None:
        """If nothing was typed yet: the 365 days of conceptions up to the last whose outcome window has closed
        (308 days before today), so every pregnancy in the default period counts in the rates."""
        last = last_assessable_conception(today)
        if not self.start.text().strip():
            self.start.set_date(last - dt.timedelta(days=364))
        if not self.end.text().strip():
            self.end.set_date(last)

    def load(self) -> None:
        self.set_defaults(self.services.outcomes.today())

    def _period(self) -> tuple[dt.date, dt.date] | None:
        start, p1 = self.start.date_or_problem()
        end, p2 = self.end.date_or_problem()
        problem = p1 or p2
        if problem is None and start is not None and end is not None and end < start:
            problem = tr("The period ends before it starts.")
        if problem or start is None or end is None:
            self.error.show_problem(problem)
            return None
        self.error.show_problem(None)
        return start, end

    def on_run_clicked(self) -> None:
        period = self._period()
        if period is None:
            return
        self.run_button.setEnabled(False)
        self._set_exportable(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.summary.setText(tr("Working…"))
        run_in_background(
            lambda: self.services.outcomes.report(period[0], period[1], self._relay.changed.emit),
            self._on_report,
            self._on_failed,
        )

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, DomainError):  # the type and code locations only: messages can name patients
            frames = "".join(
                f"\n  {f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno} in {f.name}"
                for f in traceback.extract_tb(exc.__traceback__)
            )
            log.error("the outcomes report failed: %s%s", type(exc).__name__, frames)
        if not shiboken6.isValid(self):  # the page was closed while the report was being built
            return
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.summary.setText("")
        self.error.show_problem(str(exc) if isinstance(exc, DomainError) else tr("The report failed; see the log."))

    def _on_report(self, report: OutcomesReport) -> None:
        if not shiboken6.isValid(self):  # the page was closed while the report was being built
            return
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.report = report
        self.show_report(report)
        self._set_exportable(True)

    def _set_exportable(self, on: bool) -> None:
        self.pdf_button.setEnabled(on)
        self.csv_button.setEnabled(on)

    # -- showing ------------------------------------------------------------------------------------------------

    def show_report(self, r: OutcomesReport) -> None:
        o = r.outcomes.overall
        self._chart_views = []
        self.warning.setVisible(r.too_recent)
        self.warning.setText(
            "<b>"
            + html.escape(
                tr(
                    "The period ends after {d}: {n} pregnancies conceived later are not yet assessable (their outcome "
                    "window is still open) and are left out of the rates."
                ).format(d=format_date(r.last_assessable), n=o.not_assessable)
            )
            + "</b>"
        )
        self.summary.setText(
            tr(
                "{n} pregnancies conceived {a} to {b} ({e} assessable with a recorded outcome; not yet assessable: "
                "{na}); live birth {lb}. {m} lost to follow-up (every open pregnancy, whatever the period). Rates are "
                "over pregnancies whose outcome window (EDD + 6 weeks) has closed and that have an outcome, with 95 % "
                "Wilson intervals; {s} marks a group of fewer than {k}: too few to read as a rate."
            ).format(
                n=o.total,
                a=format_date(r.start),
                b=format_date(r.end),
                e=o.ended,
                na=o.not_assessable,
                lb=_cell(o.live_birth),
                m=len(r.lost),
                s=SMALL_MARK,
                k=SMALL_GROUP,
            )
        )
        self._show_outcomes(r)
        self._show_workup(r)
        self._show_follow_ups(r)
        self._show_lost(r)
        self._show_alerts(r)

    def _show_outcomes(self, r: OutcomesReport) -> None:
        o = r.outcomes
        total = o.overall
        classes = list(OutcomeClass)
        counts = [total.count(c) for c in classes]
        labels = [_class_label(total, c) for c in classes]
        self._notes["outcomes"].setText(
            tr("<b>All pregnancies</b>: n = {n}; live birth {lb}; any loss {loss}.").format(
                n=total.total, lb=_cell(total.live_birth), loss=_cell(total.losses)
            )
        )
        self._put_chart(
            "outcome_chart",
            lambda ch: ch.bars(
                tr("Outcomes of pregnancies conceived in the period"),
                [f"{tr(OUTCOME_CLASS_SHORT[c])}: {label}" for c, label in zip(classes, labels, strict=True)],
                [(tr("Pregnancies"), counts, "grey")],
            ),
        )
        rates = [row.live_birth for row in o.by_treatment]
        self._put_chart(
            "treatment_chart",
            lambda ch: ch.bars(
                tr("Live birth (%) by treatment received"),
                [f"{row.group}: {_short(row.live_birth)}" for row in o.by_treatment],
                [(tr("Live birth %"), [100 * (p.rate or 0) for p in rates], "grey")],
                percent=True,
            ),
        )
        for key, rows in (("losses", o.by_previous_losses), ("treatment", o.by_treatment), ("age", o.by_age)):
            _fill(self.outcome_tables[key], [_outcome_row(row) for row in rows])
        self._notes["outcomes_foot"].setText(
            tr(
                "* Other: {other}. Conceived in the period: the estimated conception date (EDD in force − 266 days) "
                "falls in it. Treatment: aspirin and a heparin with either for APS; else a progestogen, with bleeding "
                "when an episode was recorded on or before the day it started; else any other medication; else none."
            ).format(
                other=OUTCOME_CLASS_LABELS[OutcomeClass.ECTOPIC_MOLAR].lower()
                + ", termination or a live birth before 24+0"
            )
        )

    def _show_workup(self, r: OutcomesReport) -> None:
        w = r.workup
        spread = w.days_to_complete.describe() if w.days_to_complete else tr("none complete")
        self._notes["workup"].setText(
            tr(
                "Patients first seen (earliest attended visit) in the period, not archived: <b>{n}</b>. Every protocol "
                "item done: {c}. Complete within 90 days of the first visit, among those first seen at least 90 days "
                "before the report: {c90}. Days from the first visit to the last protocol item done, among those "
                "complete only: {s}."
            ).format(n=w.patients, c=_cell(w.complete), c90=_cell(w.complete_within_90), s=spread)
        )
        self._put_chart(
            "workup_chart",
            lambda ch: ch.bars(
                tr("Share of patients with each protocol item done (%)"),
                [f"{i.name}: {_short(i.done)}" for i in w.items],
                [(tr("Done %"), [100 * (i.done.rate or 0) for i in w.items], "grey")],
                percent=True,
            ),
        )
        _fill(self.workup_table, [[i.name, _cell(i.done)] for i in w.items])

    def _show_follow_ups(self, r: OutcomesReport) -> None:
        self._notes["follow_up"].setText(
            tr(
                "Cervical-length scans and swabs due in the period. On time: done within the window either side of "
                "the due date; early: before it; late: after it; missed: marked missed, or still not done after the "
                "window. The rate is over those judged (on time, early, late or missed)."
            )
        )
        order = [(Timing.ON_TIME, "black"), (Timing.EARLY, "grey"), (Timing.LATE, "light"), (Timing.MISSED, "hatched")]
        self._put_chart(
            "follow_up_chart",
            lambda ch: ch.bars(
                tr("Scans and swabs due in the period"),
                [f"{KIND_LABELS[t.kind]}: on time {_short(t.on_time)}" for t in r.follow_ups],
                [(tr(TIMING_LABELS[x]), [t.count(x) for t in r.follow_ups], style) for x, style in order],
                stacked=True,
            ),
        )
        _fill(
            self.follow_up_table,
            [
                [KIND_LABELS[t.kind], str(t.total), *(str(t.count(x)) for x in Timing), _cell(t.on_time)]
                for t in r.follow_ups
            ],
        )

    def _show_lost(self, r: OutcomesReport) -> None:
        self._notes["lost"].setText(
            tr(
                "Every open pregnancy past EDD + 6 weeks, whatever the period, with no outcome recorded and no "
                "contact since the EDD (attended visit, result, follow-up done, medication or pregnancy entry); "
                "archived patients left out. <b>{n}</b> to act on: Enter or double-click opens the patient."
            ).format(n=len(r.lost))
        )
        _fill(
            self.lost_table,
            [
                [
                    p.hospital_number,
                    f"{p.family_name}, {p.given_name}",
                    format_date(p.edd),
                    format_date(p.last_contact) or tr("none recorded"),
                ]
                for p in r.lost
            ],
            numeric_from=99,
        )
        self.open_button.setEnabled(bool(r.lost))

    def _show_alerts(self, r: OutcomesReport) -> None:
        a = r.alerts
        self._notes["alerts"].setText(
            tr(
                "Each alert (patient, rule, rule version, episode) that fired in the period, by its first response: "
                "acknowledged, overridden, snoozed, ended without a response, or still open. Acceptance and override "
                "rates are over the alerts answered or ended (still-open ones are counted, not in the rates); roles "
                "are the first responder's."
            )
        )
        top = sorted(a.rules, key=lambda x: (-x.fired, x.rule))[:MAX_ALERT_BARS]
        self._put_chart(
            "alert_chart",
            lambda ch: ch.bars(
                tr("The rules that fired most"),
                [f"{x.rule}: accepted {_short(x.acceptance)}" for x in top],
                [
                    (tr("Fired"), [x.fired for x in top], "black"),
                    (tr("Acknowledged"), [x.acknowledged for x in top], "light"),
                    (tr("Overridden"), [x.overridden for x in top], "hatched"),
                ],
            ),
        )
        _fill(
            self.alert_table,
            [
                [
                    f"{x.rule} {a.titles.get(x.rule, '')}",
                    str(x.fired),
                    str(x.acknowledged),
                    str(x.overridden),
                    str(x.snoozed),
                    str(x.ended),
                    str(x.open),
                    _cell(x.acceptance),
                    _cell(x.override),
                ]
                for x in a.rules
            ],
        )
        _fill(
            self.role_table,
            [[x.role, str(x.acknowledged), str(x.overridden), str(x.snoozed), _cell(x.override)] for x in a.roles],
        )
        _fill(self.reason_table, [[a.reason_label(code), str(n)] for code, n in a.reasons])

    # -- acting -------------------------------------------------------------------------------------------------

    def on_lost_activated(self, row: int, _column: int = 0) -> None:
        if self.report is not None and 0 <= row < len(self.report.lost):
            self.open_patient_requested.emit(self.report.lost[row].patient_id)

    def _file_name(self, ext: str) -> str:
        assert self.report is not None
        return f"rmclinic-outcomes-{self.report.start.isoformat()}-{self.report.end.isoformat()}.{ext}"

    def on_pdf_clicked(self) -> None:
        if self.report is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, tr("Save the outcomes audit as PDF"), self._file_name("pdf"), "PDF (*.pdf)"
        )
        if name:
            self.export_to(Path(name if name.lower().endswith(".pdf") else name + ".pdf"), "pdf")

    def on_csv_clicked(self) -> None:
        if self.report is None:
            return
        path = choose_csv_file(self, self._file_name("csv"))
        if path is not None:
            self.export_to(path, "csv")

    def export_to(self, path: Path, fmt: str) -> None:
        report = self.report
        assert report is not None

        def make(_progress: Any) -> tuple[bytes, str]:
            return self.services.outcomes.export(report, fmt), tr("the outcomes audit")

        export_in_background(
            self,
            path,
            make,
            self.summary.setText,
            self.error.show_problem,
            tr("Outcomes audit"),
        )


def _short(p: Proportion) -> str:
    """k/n, the percentage and the interval (the report's one rounding), with † for a small group."""
    return p.short() + (f" {SMALL_MARK}" if p.small else "")


def _class_label(row: OutcomeRow, c: OutcomeClass) -> str:
    """k/n with the percentage (ended classes of the assessable pregnancies with an outcome, ongoing and unknown of
    all); the bar counts every pregnancy in the class."""
    share = row.share(c)
    shown = share.short()
    extra = row.count(c) - share.k
    return shown + (f" (+{extra} not yet assessable)" if extra else "")


def _outcome_row(row: OutcomeRow) -> list[str]:
    other = row.count(OutcomeClass.ECTOPIC_MOLAR) + row.count(OutcomeClass.OTHER)
    return [
        row.group,
        str(row.total),
        _cell(row.live_birth),
        *(str(row.count(c)) for c in LOSS_CLASSES),
        str(other),
        str(row.count(OutcomeClass.ONGOING)),
        str(row.count(OutcomeClass.UNKNOWN)),
        str(row.not_assessable),
        _cell(row.losses),
    ]
