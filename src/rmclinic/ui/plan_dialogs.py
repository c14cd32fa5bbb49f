"""Medication plans: the editor (dose, indication, stop by date or gestation, optional taper steps), the
day-by-day dose calendar, and stopping a plan early."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import partial
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..domain.dating import gestation_on
from ..domain.errors import ValidationError
from ..domain.gestation import parse_weeks_days
from ..domain.medication import (
    DRUGS,
    FREQUENCY_LABELS,
    INDICATION_LABELS,
    LMWH,
    PROGESTOGENS,
    TAPER_TEMPLATES,
    Anchor,
    DoseStep,
    Frequency,
    Indication,
    MedicationPlan,
    Route,
    apply_template,
    default_source,
    describe_dose,
    dose_calendar,
    plan_problems,
)
from ..domain.search import parse_date_dmy
from ..rules.lifecycle import OVERRIDE_LABELS, OverrideReason
from ..services.alerts import CriticalAlertBlocked, Override
from ..services.pregnancy import PregnancyService
from .alerts_tab import evidence_card
from .common import DateField, format_date, tr
from .forms import FormDialog, Problems, read_date, read_float, read_gestation


def default_stop(drug: str, indication: Indication) -> tuple[str, str] | None:
    """A cited default planned stop for this medicine and indication (the prescriber can change it)."""
    if indication is Indication.THREATENED_MISCARRIAGE and drug in PROGESTOGENS:
        return "16+0", "NICE NG126: continue to 16 completed weeks"
    if indication is Indication.APS and (drug == "aspirin" or drug in LMWH):
        return "34+0", "RCOG 2023 (§7.2.1): aspirin + heparin until at least 34 weeks"
    return None


STOP_GESTATION, STOP_DATE, STOP_NONE = "gestation", "date", "none"


def when_text(a: Anchor) -> str:
    return format_date(a.date) if a.date else str(a)


def parse_when(text: str) -> Anchor:
    """``16+0`` (a gestation) or ``dd/mm/yyyy`` (a date)."""
    t = text.strip()
    if "/" in t:
        day = parse_date_dmy(t)
        if day is None:
            raise ValueError(tr("Not a date: type dd/mm/yyyy, or a gestation such as 15+0."))
        return Anchor(date=day)
    return Anchor(gestation_days=parse_weeks_days(t).days)


def _frequency_combo(value: Frequency) -> QComboBox:
    combo = QComboBox()
    for f, label in FREQUENCY_LABELS.items():
        combo.addItem(tr(label), f.value)
    combo.setCurrentIndex(combo.findData(value.value))
    return combo


class PlanDialog(FormDialog):
    def __init__(
        self,
        service: PregnancyService,
        patient_id: int,
        edd: dt.date | None,
        today: dt.date,
        existing: MedicationPlan | None = None,
        parent: Any = None,
        show_gestation: bool = True,
    ) -> None:
        super().__init__(tr("Change medication plan") if existing else tr("New medication plan"), parent)
        self._service, self._pid, self._edd, self._today, self._existing = service, patient_id, edd, today, existing
        self._show_gestation = show_gestation  # never after the pregnancy has ended
        self.can_override = False  # consultants may override a critical alert that blocks the save
        self.blocked_dialog: BlockedDialog | None = None
        self.setMinimumWidth(620)
        self.drug = QComboBox()
        for d in DRUGS.values():
            self.drug.addItem(tr(d.name), d.key)
        self.add("drug", tr("&Medicine *"), self.drug)
        self.name = QLineEdit()
        self.add("name", tr("Na&me (other medicine)"), self.name)
        self.dose = QLineEdit()
        self.unit = QLineEdit()
        self.unit.setMaximumWidth(110)
        dose_row = QWidget()
        row = QHBoxLayout(dose_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.dose, 1)
        row.addWidget(self.unit)
        self.frequency = _frequency_combo(Frequency.ONCE_DAILY)
        row.addWidget(self.frequency)
        self.add("dose", tr("&Dose, unit, how often *"), dose_row)
        self.errors["unit"] = self.errors["dose"]
        self.route = QComboBox()
        for r in Route:
            self.route.addItem(tr(r.value), r.value)
        self.add("route", tr("Ro&ute"), self.route)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.form.addRow("", self.source)
        self.indication = QComboBox()
        for i, label in INDICATION_LABELS.items():
            self.indication.addItem(tr(label), i.value)
        self.add("indication", tr("&Indication *"), self.indication)
        self.start = DateField()
        self.start.set_date(today)
        self.add("start", tr("&Start *"), self.start)
        stop_row = QWidget()
        srow = QHBoxLayout(stop_row)
        srow.setContentsMargins(0, 0, 0, 0)
        self.stop_kind = QComboBox()
        self.stop_kind.addItem(tr("at gestation (weeks+days)"), STOP_GESTATION)
        self.stop_kind.addItem(tr("on date (dd/mm/yyyy)"), STOP_DATE)
        self.stop_kind.addItem(tr("no planned stop"), STOP_NONE)
        self.stop = QLineEdit()
        srow.addWidget(self.stop_kind)
        srow.addWidget(self.stop, 1)
        self.add("stop", tr("Planned s&top"), stop_row)
        self.fields["stop"] = self.stop
        self.stop_note = QLabel()
        self.stop_note.setWordWrap(True)
        self.form.addRow("", self.stop_note)

        taper_box = QWidget()
        tl = QVBoxLayout(taper_box)
        tl.setContentsMargins(0, 0, 0, 0)
        note = QLabel(
            tr("Optional. No trial supports tapering; the trials stopped at a fixed week (evidence base §4.6).")
        )
        note.setWordWrap(True)
        tl.addWidget(note)
        trow = QHBoxLayout()
        self.template = QComboBox()
        for t in TAPER_TEMPLATES.values():
            self.template.addItem(tr(t.label), t.key)
        trow.addWidget(self.template, 1)
        self.apply_template = QPushButton(tr("&Use template"))
        self.apply_template.clicked.connect(self.on_apply_template_clicked)
        trow.addWidget(self.apply_template)
        add = QPushButton(tr("Add ste&p"))
        add.clicked.connect(lambda: self.add_step_row(None))
        trow.addWidget(add)
        remove = QPushButton(tr("Remove step"))
        remove.clicked.connect(self.on_remove_step_clicked)
        trow.addWidget(remove)
        tl.addLayout(trow)
        self.steps = QTableWidget(0, 3)
        self.steps.setHorizontalHeaderLabels([tr("From (date or W+D)"), tr("Dose"), tr("How often")])
        self.steps.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.steps.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.steps.setMinimumHeight(100)
        tl.addWidget(self.steps)
        self.add("taper", tr("Ta&per"), taper_box)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(50)
        self.add("notes", tr("N&otes"), self.notes)
        self.reason = QLineEdit()
        if existing is not None:
            self.add("reason", tr("&Reason for the change *"), self.reason)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setAccessibleName(tr("Resulting dates"))
        self.outer.addWidget(self.preview)
        self.finish_layout()

        self._stop_touched = existing is not None
        self.drug.currentIndexChanged.connect(self.on_drug_changed)
        self.indication.currentIndexChanged.connect(self.on_indication_changed)
        self._auto_stop: str | None = None
        self.stop.textEdited.connect(lambda _t: setattr(self, "_stop_touched", True))
        self.stop_kind.activated.connect(lambda _i: setattr(self, "_stop_touched", True))
        for w in (self.dose, self.stop, self.start):
            w.textChanged.connect(self.update_preview)
        self.stop_kind.currentIndexChanged.connect(self.update_preview)
        self.steps.itemChanged.connect(self.update_preview)
        self.steps.model().rowsRemoved.connect(self.update_preview)
        if existing is not None:
            self._fill(existing)
        else:
            self.on_drug_changed()
        self.update_preview()

    # -- filling ---------------------------------------------------------------------------------

    def _fill(self, p: MedicationPlan) -> None:
        self.drug.blockSignals(True)
        self.drug.setCurrentIndex(self.drug.findData(p.drug))
        self.drug.blockSignals(False)
        self.name.setText(p.name)
        self.dose.setText(f"{p.dose:g}")
        self.unit.setText(p.display_unit)
        self.unit.setReadOnly(bool(DRUGS[p.drug].unit) if p.drug in DRUGS else False)
        self.name.setEnabled(p.drug == "other")
        self.frequency.setCurrentIndex(self.frequency.findData(p.frequency.value))
        self.indication.blockSignals(True)
        self.indication.setCurrentIndex(self.indication.findData(p.indication.value))
        self.indication.blockSignals(False)
        self.start.set_date(p.start)
        if p.stop is None:
            self.stop_kind.setCurrentIndex(self.stop_kind.findData(STOP_NONE))
        else:
            self.stop_kind.setCurrentIndex(self.stop_kind.findData(STOP_DATE if p.stop.date else STOP_GESTATION))
            self.stop.setText(when_text(p.stop))
        for step in p.taper:
            self.add_step_row(step)
        self.notes.setPlainText(p.notes)
        self.route.setCurrentIndex(
            self.route.findData((p.route or DRUGS[p.drug].route).value if p.drug in DRUGS else "other")
        )
        self.route.setEnabled(p.drug in DRUGS and DRUGS[p.drug].route is Route.OTHER)
        self._show_source()

    def on_drug_changed(self) -> None:
        d = DRUGS[self.drug.currentData()]
        self.name.setEnabled(d.key == "other")
        self.unit.setReadOnly(bool(d.unit))
        self.unit.setText(d.unit)
        self.route.setCurrentIndex(self.route.findData(d.route.value))
        self.route.setEnabled(d.route is Route.OTHER)
        if d.default_dose is not None:
            self.dose.setText(f"{d.default_dose:g}")
            self.frequency.setCurrentIndex(self.frequency.findData(d.default_frequency.value))
        self._show_source()
        self.on_indication_changed()

    def _show_source(self) -> None:
        text = default_source(self.drug.currentData(), Indication(self.indication.currentData()))
        self.source.setText(tr("Dose: ") + text if text else "")

    def on_indication_changed(self) -> None:
        self._show_source()
        if self._stop_touched:
            return
        default = default_stop(self.drug.currentData(), Indication(self.indication.currentData()))
        if default:
            self.stop_kind.setCurrentIndex(self.stop_kind.findData(STOP_GESTATION))
            self.stop.setText(default[0])
            self._auto_stop = default[0]
            self.stop_note.setText(tr("Default stop from: ") + default[1])
        else:
            if self._auto_stop is not None and self.stop.text().strip() == self._auto_stop:
                self.stop.clear()  # the previous default does not apply to this medicine or indication
                self.stop_kind.setCurrentIndex(self.stop_kind.findData(STOP_NONE))
            self._auto_stop = None
            self.stop_note.setText("")

    def add_step_row(self, step: DoseStep | None) -> None:
        r = self.steps.rowCount()
        self.steps.insertRow(r)
        self.steps.setItem(r, 0, QTableWidgetItem(when_text(step.start) if step else ""))
        self.steps.setItem(r, 1, QTableWidgetItem(f"{step.dose:g}" if step else ""))
        freq = step.frequency if step else Frequency(self.frequency.currentData())
        combo = _frequency_combo(freq)
        combo.currentIndexChanged.connect(self.update_preview)
        self.steps.setCellWidget(r, 2, combo)

    def on_remove_step_clicked(self) -> None:
        self.steps.removeRow(self.steps.currentRow())

    def on_apply_template_clicked(self) -> None:
        self.clear_problems()
        try:
            plan = self.collect(with_steps=False)
            steps = apply_template(plan, self.template.currentData())
        except ValidationError as e:
            self.show_problems({p.field: p.message for p in e.problems})
            return
        except ValueError as e:
            self.errors["taper"].show_problem(str(e))
            return
        self.steps.setRowCount(0)
        for s in steps:
            self.add_step_row(s)
        self.update_preview()

    # -- reading ---------------------------------------------------------------------------------

    def collect(self, with_steps: bool = True) -> MedicationPlan:
        p = Problems()
        dose = p.read("dose", lambda: read_float(self.dose))
        start = p.read("start", lambda: read_date(self.start))
        kind = self.stop_kind.currentData()
        stop: Anchor | None = None
        if kind == STOP_GESTATION:
            ga = p.read("stop", lambda: read_gestation(self.stop))
            stop = Anchor(gestation_days=ga) if ga is not None else None
        elif kind == STOP_DATE:
            day = p.read("stop", lambda: parse_date_dmy(self.stop.text().strip()) or _bad_date())
            stop = Anchor(date=day) if day else None
        steps: list[DoseStep] = []
        if with_steps:
            for r in range(self.steps.rowCount()):
                when_text_r, dose_text_r = _cell(self.steps, r, 0), _cell(self.steps, r, 1)
                when = p.read(f"taper.{r}.start", partial(parse_when, when_text_r))
                step_dose = p.read(f"taper.{r}.dose", partial(_float, dose_text_r))
                combo = self.steps.cellWidget(r, 2)
                assert isinstance(combo, QComboBox)
                if when is not None and step_dose is not None:
                    steps.append(DoseStep(when, step_dose, Frequency(combo.currentData())))
        p.raise_if_any()
        assert dose is not None and start is not None
        base = self._existing or MedicationPlan("other", 0, Frequency.ONCE_DAILY, self._today, Indication.OTHER)
        return replace(
            base,
            drug=self.drug.currentData(),
            name=self.name.text().strip() if self.drug.currentData() == "other" else "",
            unit="" if DRUGS[self.drug.currentData()].unit else self.unit.text().strip(),
            route=Route(self.route.currentData()) if DRUGS[self.drug.currentData()].route is Route.OTHER else None,
            dose=dose,
            frequency=Frequency(self.frequency.currentData()),
            indication=Indication(self.indication.currentData()),
            start=start,
            stop=stop,
            taper=tuple(steps),
            notes=self.notes.toPlainText().strip(),
        )

    def update_preview(self) -> None:
        try:
            plan = self.collect()
        except Exception:  # incomplete typing: no preview yet
            self.preview.setText("")
            return
        if plan_problems(plan, self._edd):
            self.preview.setText(tr("Dates: complete the plan to see them."))
            return
        stop = plan.stop_date(self._edd)
        if stop is None:
            self.preview.setText(tr("No planned stop: review this plan at each visit."))
            return
        last = stop - dt.timedelta(days=1)

        def ga(d: dt.date) -> str:
            g = gestation_on(self._edd, d) if self._edd and self._show_gestation else None
            return f" ({g})" if g else ""

        self.preview.setText(
            f"{tr('Last dose')}: {format_date(last)}{ga(last)}   ·   {tr('no dose from')} {format_date(stop)}{ga(stop)}"
        )

    def submit(self) -> Any:
        plan = self.collect()
        try:
            return self._service.save_plan(self._pid, plan, self.reason.text().strip())
        except CriticalAlertBlocked as blocked:
            dlg = BlockedDialog(blocked, self.can_override, self)
            self.blocked_dialog = dlg  # tests reach it
            if not dlg.exec() or dlg.result_value is None:
                raise ValidationError.single("plan", str(blocked)) from None
            return self._service.save_plan(self._pid, plan, self.reason.text().strip(), dlg.result_value)


class BlockedDialog(FormDialog):
    """A critical alert stops the save: its evidence, and for consultants an override with a coded reason."""

    def __init__(self, blocked: CriticalAlertBlocked, can_override: bool, parent: Any = None) -> None:
        super().__init__(tr("Critical alert: not saved"), parent, ok_text=tr("Override and save"))
        self.setMinimumWidth(560)
        card = QTextBrowser()
        card.setOpenExternalLinks(True)
        card.setAccessibleName(tr("Evidence card"))
        card.setHtml("<hr>".join(evidence_card(a) for a in blocked.alerts))
        card.setMinimumHeight(260)
        self.form.addRow(card)
        self.can_override = can_override
        self.reason = QComboBox()
        self.reason.addItem(tr("— choose the reason —"), None)  # never preselected: the reason is a decision
        for code, label in OVERRIDE_LABELS.items():
            self.reason.addItem(tr(label), code.value)
        self.comment = QLineEdit()
        if can_override:
            self.add("reason_code", tr("Override &reason *"), self.reason)
            self.add("comment", tr("&Comment *"), self.comment)
        else:
            note = QLabel(tr("Only a consultant can override a critical alert. Nothing has been saved."))
            note.setWordWrap(True)
            self.form.addRow(note)
            self.buttons.button(QDialogButtonBox.StandardButton.Save).hide()
        self.finish_layout()

    def submit(self) -> Any:
        if not self.can_override:  # Ctrl+S reaches here even with the button hidden
            raise ValidationError.single("override", tr("Only a consultant can override a critical alert."))
        problems = {}
        if self.reason.currentData() is None:
            problems["reason_code"] = tr("Choose the reason for overriding.")
        if not self.comment.text().strip():
            problems["comment"] = tr("Add a comment: what was done, or why the alert does not apply.")
        if problems:
            raise ValidationError.from_dict(problems)
        return Override(OverrideReason(self.reason.currentData()), self.comment.text().strip())


def _bad_date() -> dt.date:
    raise ValueError(tr("Not a date: type it as dd/mm/yyyy."))


def _cell(table: QTableWidget, row: int, col: int) -> str:
    item = table.item(row, col)
    return item.text() if item else ""


def _float(text: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(tr("Type the dose as a number.")) from None


class CalendarDialog(QDialog):
    """Every day of the plan: date, gestation and dose, taper days marked in words."""

    def __init__(
        self, plan: MedicationPlan, edd: dt.date | None, today: dt.date, parent: Any = None, show_gestation: bool = True
    ) -> None:
        super().__init__(parent)
        self.today_row: int | None = None
        self.setWindowTitle(tr("Dose calendar: {name}").format(name=plan.display_name))
        self.resize(560, 600)
        lay = QVBoxLayout(self)
        days = dose_calendar(plan, edd, until=None)
        self.table = QTableWidget(len(days), 3)
        self.table.setHorizontalHeaderLabels([tr("Date"), tr("Gestation"), tr("Dose")])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for r, d in enumerate(days):
            if d.dose == 0:
                dose = tr("no dose (rest day)")
            else:
                dose = describe_dose(d.dose, plan.display_unit, d.frequency) + (f"  — {tr('taper')}" if d.taper else "")
            gestation = str(d.gestation or "") if show_gestation else ""
            for c, text in enumerate((d.date.strftime("%a %d/%m/%Y"), gestation, dose)):
                cell = QTableWidgetItem(("▶ " if d.date == today and c == 0 else "") + text)
                if d.date == today:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(r, c, cell)
            if d.date == today:
                self.today_row = r
        self.table.setWordWrap(False)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        if self.today_row is not None:
            self.table.scrollTo(
                self.table.model().index(self.today_row, 0), QAbstractItemView.ScrollHint.PositionAtCenter
            )
        lay.addWidget(self.table)
        stop = plan.stop_date(edd)
        foot = QLabel(
            (tr("No dose from {date}.").format(date=format_date(stop)) if stop else tr("No planned stop."))
            + "  "
            + tr("{n} days.").format(n=len(days))
        )
        foot.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(foot)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)


class StopPlanDialog(FormDialog):
    def __init__(
        self, service: PregnancyService, patient_id: int, plan: MedicationPlan, today: dt.date, parent: Any = None
    ) -> None:
        super().__init__(tr("Stop {name}").format(name=plan.display_name), parent, ok_text=tr("Stop plan"))
        self._service, self._pid, self._plan = service, patient_id, plan
        self.stopped_on = DateField()
        self.stopped_on.set_date(today)
        self.add("stopped_on", tr("No dose &from *"), self.stopped_on)
        self.reason = QLineEdit()
        self.add("reason", tr("&Reason *"), self.reason)
        self.cancel = QCheckBox(tr("&Cancel instead: never taken, or entered in error"))
        self.add("cancel", "", self.cancel)
        self.finish_layout()

    def submit(self) -> Any:
        p = Problems()
        day = p.read("stopped_on", lambda: read_date(self.stopped_on))
        p.raise_if_any()
        assert self._plan.id is not None and day is not None
        return self._service.stop_plan(
            self._pid, self._plan.id, self._plan.version, day, self.reason.text().strip(), self.cancel.isChecked()
        )
