"""Add or edit one previous pregnancy."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import ConflictError, DomainError, ValidationError
from ..domain.gestation import format_days, parse_weeks_days
from ..domain.obstetric import (
    GENETICS_LABELS,
    OUTCOME_LABELS,
    Conception,
    Outcome,
    PreviousPregnancy,
    TissueGenetics,
)
from ..services.dto import PatientRecord, PregnancyRecord
from ..services.patients import PatientService
from .common import DateField, ErrorLabel, add_field, tr


class PregnancyDialog(QDialog):
    def __init__(
        self,
        service: PatientService,
        patient: PatientRecord,
        existing: PregnancyRecord | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._patient = patient
        self._existing = existing
        self.saved: PatientRecord | None = None
        self.setWindowTitle(tr("Add previous pregnancy") if existing is None else tr("Edit previous pregnancy"))
        self.errors: dict[str, ErrorLabel] = {}
        self.fields: dict[str, QWidget] = {}

        outer = QVBoxLayout(self)
        self.banner = ErrorLabel(self)
        outer.addWidget(self.banner)
        form = QFormLayout()
        outer.addLayout(form)

        self.outcome = QComboBox()
        for o in Outcome:
            self.outcome.addItem(tr(OUTCOME_LABELS[o], "Outcome"), o.value)
        self.date = DateField(optional=True)
        self.year = QLineEdit()
        self.year.setPlaceholderText(tr("yyyy (filled from the date)"))
        self.year.setMaxLength(4)
        self.gestation = QLineEdit()
        self.gestation.setPlaceholderText(tr("weeks+days, e.g. 8+3"))
        self.fetuses = QSpinBox()
        self.fetuses.setRange(1, 8)
        self.conception = QComboBox()
        self.conception.addItem(tr("Spontaneous"), Conception.SPONTANEOUS.value)
        self.conception.addItem(tr("Assisted (ART)"), Conception.ART.value)
        self.preterm = QCheckBox(tr("Preterm birth"))
        self.genetics = QComboBox()
        for g in TissueGenetics:
            self.genetics.addItem(tr(GENETICS_LABELS[g], "Genetics"), g.value)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(70)

        for key, label, w in (
            ("outcome", tr("&Outcome *"), self.outcome),
            ("date", tr("&Date of outcome"), self.date),
            ("year", tr("&Year *"), self.year),
            ("gestation_days", tr("&Gestation at outcome"), self.gestation),
            ("fetuses", tr("&Number of fetuses"), self.fetuses),
            ("conception", tr("&Conception"), self.conception),
            ("preterm_birth", "", self.preterm),
            ("tissue_genetics", tr("Pregnancy-&tissue genetics"), self.genetics),
            ("notes", tr("N&otes"), self.notes),
        ):
            self._add(form, key, label, w)
        self.date.editingFinished.connect(self._year_from_date)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.on_save_clicked)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        QShortcut(QKeySequence.StandardKey.Save, self, self.on_save_clicked)
        if existing is not None:
            self._fill(existing.data)

    def _add(self, form: QFormLayout, key: str, label: str, widget: QWidget) -> None:
        self.errors[key] = add_field(form, label, widget, self)
        self.fields[key] = widget

    def _year_from_date(self) -> None:
        value, _ = self.date.date_or_problem()
        if value and not self.year.text().strip():
            self.year.setText(str(value.year))

    def _fill(self, p: PreviousPregnancy) -> None:
        self.outcome.setCurrentIndex(self.outcome.findData(p.outcome.value))
        self.date.set_date(p.date)
        self.year.setText(str(p.year))
        self.gestation.setText(format_days(p.gestation_days))
        self.fetuses.setValue(p.fetuses)
        self.conception.setCurrentIndex(self.conception.findData(p.conception.value))
        self.preterm.setChecked(p.preterm_birth)
        self.genetics.setCurrentIndex(self.genetics.findData(p.tissue_genetics.value))
        self.notes.setPlainText(p.notes)

    def collect(self) -> tuple[PreviousPregnancy | None, dict[str, str]]:
        problems: dict[str, str] = {}
        date, p = self.date.date_or_problem()
        if p:
            problems["date"] = p
        year_text = self.year.text().strip() or (str(date.year) if date else "")
        year = int(year_text) if year_text.isdigit() else None
        if year is None:
            problems["year"] = tr("Type the year of the outcome, for example 2021.")
        gestation = None
        if self.gestation.text().strip():
            try:
                gestation = parse_weeks_days(self.gestation.text()).days
            except ValueError as e:
                problems["gestation_days"] = str(e)
        if problems or year is None:
            return None, problems
        return (
            PreviousPregnancy(
                year=year,
                outcome=Outcome(self.outcome.currentData()),
                date=date,
                gestation_days=gestation,
                fetuses=self.fetuses.value(),
                conception=Conception(self.conception.currentData()),
                preterm_birth=self.preterm.isChecked(),
                tissue_genetics=TissueGenetics(self.genetics.currentData()),
                notes=self.notes.toPlainText().strip(),
            ),
            {},
        )

    def on_save_clicked(self) -> None:
        self.banner.show_problem(None)
        for e in self.errors.values():
            e.show_problem(None)
        data, problems = self.collect()
        if data is None:
            for k, m in problems.items():
                self.errors[k].show_problem(m)
            self.fields[next(iter(problems))].setFocus()
            return
        try:
            if self._existing is None:
                self.saved = self._service.add_pregnancy(self._patient.id, data)
            else:
                self.saved = self._service.update_pregnancy(
                    self._patient.id, self._existing.id, self._existing.version, data
                )
        except ValidationError as e:
            for prob in e.problems:
                (self.errors.get(prob.field) or self.banner).show_problem(prob.message)
            return
        except (ConflictError, DomainError) as e:
            self.banner.show_problem(str(e))
            return
        self.accept()
