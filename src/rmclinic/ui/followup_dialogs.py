"""Follow-up dialogs: schedule one, enter its result (short cervix highlighted), reschedule or cancel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QSpinBox

from ..domain.dating import gestation_days_on
from ..domain.followup import (
    KIND_LABELS,
    SHORT_CERVIX_MM,
    SHORT_CERVIX_SOURCE,
    SWAB_LABELS,
    FollowUp,
    FollowUpKind,
    SwabResult,
    is_short_cervix,
)
from ..services.pregnancy import PregnancyService
from .common import DateField, format_date, parse_optional_float, tr
from .forms import FormDialog, Problems, read_date, read_float

FUNNELLING = (("", None), ("No funnelling", False), ("Funnelling", True))


def short_cervix_text(length_mm: float | None, gestation_days: int | None) -> str:
    if is_short_cervix(length_mm, gestation_days):
        return tr("⚠ Short cervix: {mm:g} mm is {limit:g} mm or less between 16+0 and 24+0 ({source}).").format(
            mm=length_mm, limit=SHORT_CERVIX_MM, source=SHORT_CERVIX_SOURCE
        )
    return ""


class AddFollowUpDialog(FormDialog):
    def __init__(self, service: PregnancyService, patient_id: int, today: dt.date, parent: Any = None) -> None:
        super().__init__(tr("Schedule a follow-up"), parent)
        self._service, self._pid = service, patient_id
        self.kind = QComboBox()
        for k, label in KIND_LABELS.items():
            self.kind.addItem(tr(label), k.value)
        self.add("kind", tr("&Kind *"), self.kind)
        self.title = QLineEdit()
        self.title.setPlaceholderText(tr("e.g. HbA1c, or Early pregnancy scan"))
        self.add("title", tr("&What"), self.title)
        self.due = DateField()
        self.due.set_date(today)
        self.add("due_date", tr("&Due on *"), self.due)
        self.window_days = QSpinBox()
        self.window_days.setRange(0, 28)
        self.window_days.setSuffix(tr(" days either side"))
        self.add("window_days", tr("&Window"), self.window_days)
        self.finish_layout()

    def submit(self) -> Any:
        p = Problems()
        due = p.read("due_date", lambda: read_date(self.due))
        p.raise_if_any()
        assert due is not None
        f = FollowUp(
            FollowUpKind(self.kind.currentData()), due, self.window_days.value(), title=self.title.text().strip()
        )
        return self._service.add_follow_up(self._pid, f)


class ResultDialog(FormDialog):
    """Mark a follow-up done with its result. Only the fields of its kind are shown."""

    def __init__(
        self,
        service: PregnancyService,
        patient_id: int,
        follow_up: FollowUp,
        edd: dt.date | None,
        today: dt.date,
        parent: Any = None,
    ) -> None:
        super().__init__(tr("Result: {what}").format(what=follow_up.label), parent, ok_text=tr("Save result"))
        self._service, self._pid, self._f, self._edd = service, patient_id, follow_up, edd
        self.result_date = DateField()
        self.result_date.set_date(follow_up.result_date or today)
        self.add("result_date", tr("&Done on *"), self.result_date)
        self.swab = QComboBox()
        self.organism = QLineEdit(follow_up.organism)
        self.length = QLineEdit("" if follow_up.cervical_length_mm is None else f"{follow_up.cervical_length_mm:g}")
        self.funnelling = QComboBox()
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b00020; font-weight: bold;")
        if follow_up.kind is FollowUpKind.SWAB:
            self.swab.addItem(tr("—"), None)
            for s, label in SWAB_LABELS.items():
                self.swab.addItem(tr(label), s.value)
            if follow_up.swab_result:
                self.swab.setCurrentIndex(self.swab.findData(follow_up.swab_result.value))
            self.add("swab_result", tr("&Swab result *"), self.swab)
            self.add("organism", tr("&Organism"), self.organism)
        if follow_up.kind is FollowUpKind.CERVICAL_LENGTH_SCAN:
            self.length.setPlaceholderText(tr("mm"))
            self.add("cervical_length_mm", tr("Cervical &length (mm) *"), self.length)
            for label, value in FUNNELLING:
                self.funnelling.addItem(tr(label) if label else tr("—"), value)
            self.funnelling.setCurrentIndex(max(0, self.funnelling.findData(follow_up.funnelling)))
            self.add("funnelling", tr("&Funnelling"), self.funnelling)
            self.form.addRow(self.warning)
            self.length.textChanged.connect(self.update_warning)
            self.result_date.textChanged.connect(self.update_warning)
        self.notes = QPlainTextEdit(follow_up.result_notes)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.add("result_notes", tr("N&otes"), self.notes)
        self.finish_layout()
        self.update_warning()

    def update_warning(self) -> None:
        length, _ = parse_optional_float(self.length.text())
        day, _ = self.result_date.date_or_problem()
        ga = gestation_days_on(self._edd, day) if self._edd and day else None
        self.warning.setText(short_cervix_text(length, ga))

    def submit(self) -> Any:
        p = Problems()
        day = p.read("result_date", lambda: read_date(self.result_date))
        length = None
        if self._f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN:
            length = p.read("cervical_length_mm", lambda: read_float(self.length))
        p.raise_if_any()
        swab = self.swab.currentData()
        result = FollowUp(
            self._f.kind,
            self._f.due_date,
            result_date=day,
            swab_result=SwabResult(swab) if swab else None,
            organism=self.organism.text(),
            cervical_length_mm=length,
            funnelling=self.funnelling.currentData() if self._f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN else None,
            result_notes=self.notes.toPlainText().strip(),
        )
        assert self._f.id is not None
        return self._service.record_result(self._pid, self._f.id, self._f.version, result)


class ChangeFollowUpDialog(FormDialog):
    """Reschedule (a new due date) or cancel, always with a reason."""

    def __init__(
        self, service: PregnancyService, patient_id: int, follow_up: FollowUp, cancel: bool, parent: Any = None
    ) -> None:
        title = tr("Cancel: {what}") if cancel else tr("Reschedule: {what}")
        super().__init__(
            title.format(what=follow_up.label),
            parent,
            ok_text=tr("Cancel follow-up") if cancel else tr("Reschedule"),
        )
        self._service, self._pid, self._f, self._cancel = service, patient_id, follow_up, cancel
        info = QLabel(tr("Due {date}").format(date=format_date(follow_up.due_date)))
        self.form.addRow(info)
        self.due = DateField()
        self.due.set_date(follow_up.due_date)
        if not cancel:
            self.add("due_date", tr("&New due date *"), self.due)
        self.reason = QLineEdit()
        self.add("reason", tr("&Reason *"), self.reason)
        self.finish_layout()

    def submit(self) -> Any:
        assert self._f.id is not None
        reason = self.reason.text().strip()
        if self._cancel:
            return self._service.cancel_follow_up(self._pid, self._f.id, self._f.version, reason)
        p = Problems()
        due = p.read("due_date", lambda: read_date(self.due))
        p.raise_if_any()
        assert due is not None
        return self._service.reschedule(self._pid, self._f.id, self._f.version, due, reason)
