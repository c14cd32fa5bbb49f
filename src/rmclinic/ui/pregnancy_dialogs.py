"""Dialogs of the current pregnancy: dating and redating, details (confirmation, heartbeat, bleeding),
and ending it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.dating import (
    METHOD_LABELS,
    DatingEntry,
    DatingMethod,
    date_entry,
    gestation_on,
    lmp_entry,
    redating_advice,
)
from ..domain.followup import FollowUp
from ..domain.medication import MedicationPlan
from ..domain.obstetric import GENETICS_LABELS, OUTCOME_LABELS, Conception, Outcome, TissueGenetics
from ..domain.pregnancy import Bleeding, CurrentPregnancy, IupMethod, Severity
from ..domain.search import parse_date_dmy
from ..services.pregnancy import PregnancyService
from .common import DateField, format_date, tr
from .forms import FormDialog, Problems, read_date, read_float

IUP_LABELS = {
    IupMethod.TRANSVAGINAL: "Transvaginal scan",
    IupMethod.TRANSABDOMINAL: "Transabdominal scan",
    IupMethod.OTHER: "Other",
}
SEVERITY_LABELS = {Severity.SPOTTING: "Spotting", Severity.LIGHT: "Light", Severity.HEAVY: "Heavy"}


class DatingDialog(FormDialog):
    """Start a pregnancy (``current`` None) or redate it. The EDD and today's gestation update as you
    type; when redating by a scan, the ACOG threshold advice is shown before anything is saved."""

    def __init__(
        self,
        service: PregnancyService,
        patient_id: int,
        today: dt.date,
        current: CurrentPregnancy | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(tr("Redate the pregnancy") if current else tr("Start a current pregnancy"), parent)
        self._service, self._pid, self._today, self._current = service, patient_id, today, current
        self.method = QComboBox()
        for m in DatingMethod:
            self.method.addItem(tr(METHOD_LABELS[m]), m.value)
        self.add("method", tr("Dated &by"), self.method)
        self.pages = QStackedWidget()
        self.lmp = DateField()
        self.cycle = QSpinBox()
        self.cycle.setRange(21, 45)
        self.cycle.setValue(28)
        self.scan_date = DateField()
        self.crl = QLineEdit()
        self.crl.setPlaceholderText(tr("mm, 5 to 84"))
        self.transfer = DateField()
        self.embryo_age = QSpinBox()
        self.embryo_age.setRange(2, 7)
        self.embryo_age.setValue(5)
        self.edd = DateField()
        pages: list[list[tuple[str, str, QWidget]]] = [  # in DatingMethod order: the combo index is the page
            [("lmp", tr("First day of &LMP"), self.lmp), ("cycle_days", tr("C&ycle length (days)"), self.cycle)],
            [("scan_date", tr("&Scan date"), self.scan_date), ("crl_mm", tr("&Crown-rump length (mm)"), self.crl)],
            [
                ("transfer_date", tr("&Transfer date"), self.transfer),
                ("embryo_age_days", tr("&Embryo age (days)"), self.embryo_age),
            ],
            [("edd", tr("&EDD"), self.edd)],
        ]
        for rows in pages:
            page = QWidget()
            form = QFormLayout(page)
            form.setContentsMargins(0, 0, 0, 0)
            for key, label, w in rows:
                self.add(key, label, w, form)
            self.pages.addWidget(page)
        self.form.addRow(self.pages)
        self.fetuses = QSpinBox()
        self.fetuses.setRange(1, 8)
        self.conception = QComboBox()
        self.conception.addItem(tr("Spontaneous"), Conception.SPONTANEOUS.value)
        self.conception.addItem(tr("Assisted (ART)"), Conception.ART.value)
        if current is None:
            self.add("fetuses", tr("&Number of fetuses"), self.fetuses)
            self.add("conception", tr("C&onception"), self.conception)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("e.g. dating scan; required when redating"))
        self.add("reason", tr("&Reason") + (" *" if current else ""), self.reason)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setAccessibleName(tr("Resulting EDD"))
        self.outer.addWidget(self.preview)
        self.finish_layout()
        self.method.currentIndexChanged.connect(self._method_changed)
        for w in (self.lmp, self.scan_date, self.crl, self.transfer, self.edd):
            w.textChanged.connect(self.update_preview)
        self.cycle.valueChanged.connect(self.update_preview)
        self.embryo_age.valueChanged.connect(self.update_preview)
        if current is not None:
            self.method.setCurrentIndex(self.method.findData(DatingMethod.CRL.value))
        self._method_changed()

    def _method_changed(self) -> None:
        self.pages.setCurrentIndex(self.method.currentIndex())
        self.update_preview()

    def entry(self) -> DatingEntry:
        """The dating as typed; raises ValidationError with field problems."""
        method = DatingMethod(self.method.currentData())
        p = Problems()
        values: dict[str, Any] = {}
        if method is DatingMethod.LMP:
            values["lmp"] = p.read("lmp", lambda: read_date(self.lmp))
            values["cycle_days"] = self.cycle.value()
        elif method is DatingMethod.CRL:
            values["scan_date"] = p.read("scan_date", lambda: read_date(self.scan_date))
            values["crl_mm"] = p.read("crl_mm", lambda: read_float(self.crl))
        elif method is DatingMethod.EMBRYO_TRANSFER:
            values["transfer_date"] = p.read("transfer_date", lambda: read_date(self.transfer))
            values["embryo_age_days"] = self.embryo_age.value()
        else:
            values["edd"] = p.read("edd", lambda: read_date(self.edd))
        p.raise_if_any()
        key = {
            DatingMethod.LMP: "lmp",
            DatingMethod.CRL: "crl_mm",
            DatingMethod.EMBRYO_TRANSFER: "transfer_date",
            DatingMethod.MANUAL: "reason",
        }[method]
        entry = p.read(key, lambda: date_entry(method, self._today, self.reason.text().strip(), **values))
        p.raise_if_any()
        assert isinstance(entry, DatingEntry)
        return entry

    def update_preview(self) -> None:
        try:
            entry = self.entry()
        except Exception:  # incomplete typing: no preview yet
            self.preview.setText(tr("EDD: type the dating details."))
            return
        ga = gestation_on(entry.edd, self._today)
        text = f"{tr('EDD')} {format_date(entry.edd)}   ·   {tr('today')} {ga if ga else '—'}"
        if self._current is not None and entry.method is DatingMethod.CRL and entry.scan_date:
            lmp = lmp_entry(self._current.dating)
            if lmp is None:
                text += "\n" + tr(
                    "The ACOG redating thresholds compare a scan with LMP dating; this pregnancy is not dated by "
                    "LMP, so no threshold advice is given."
                )
            else:
                advice = redating_advice(lmp.edd, entry.scan_date, entry.edd)
                text += "\n" + ("⚠ " if advice.redate else "✓ ") + advice.explain()
                text += " " + (
                    tr("Redating is advised.")
                    if advice.redate
                    else tr("Keep the LMP-based EDD unless there is another reason.")
                )
        self.preview.setText(text)

    def submit(self) -> Any:
        entry = self.entry()
        if self._current is None:
            return self._service.start(
                self._pid, entry, self.fetuses.value(), Conception(self.conception.currentData())
            )
        assert self._current.id is not None
        return self._service.redate(self._pid, self._current.id, self._current.version, entry)


class DetailsDialog(FormDialog):
    """Fetuses, intrauterine pregnancy confirmed, heartbeat, bleeding episodes and notes."""

    def __init__(self, service: PregnancyService, patient_id: int, p: CurrentPregnancy, parent: Any = None) -> None:
        super().__init__(tr("Pregnancy details"), parent)
        self._service, self._pid, self._p = service, patient_id, p
        self.fetuses = QSpinBox()
        self.fetuses.setRange(1, 8)
        self.fetuses.setValue(p.fetuses)
        self.add("fetuses", tr("&Number of fetuses"), self.fetuses)
        self.iup_date = DateField(optional=True)
        self.iup_date.set_date(p.iup_confirmed_on)
        self.add("iup_confirmed_on", tr("&Intrauterine pregnancy confirmed on"), self.iup_date)
        self.iup_method = QComboBox()
        self.iup_method.addItem(tr("—"), None)
        for m, label in IUP_LABELS.items():
            self.iup_method.addItem(tr(label), m.value)
        self.iup_method.setCurrentIndex(max(0, self.iup_method.findData(p.iup_method.value if p.iup_method else None)))
        self.add("iup_method", tr("Confirmed &by"), self.iup_method)
        self.heartbeat = DateField(optional=True)
        self.heartbeat.set_date(p.heartbeat_on)
        self.add("heartbeat_on", tr("Fetal &heartbeat seen on"), self.heartbeat)
        self.bleeding = QTableWidget(0, 2)
        self.bleeding.setHorizontalHeaderLabels([tr("Date (dd/mm/yyyy)"), tr("Severity")])
        self.bleeding.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.bleeding.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.bleeding.setMinimumHeight(110)
        for b in p.bleeding:
            self._add_bleeding_row(b)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bleeding, 1)
        add = QPushButton(tr("Add &episode"))
        add.clicked.connect(lambda: self._add_bleeding_row(None))
        remove = QPushButton(tr("Remove"))
        remove.clicked.connect(lambda: self.bleeding.removeRow(self.bleeding.currentRow()))
        col = QWidget()
        cl = QVBoxLayout(col)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(add)
        cl.addWidget(remove)
        cl.addStretch(1)
        row.addWidget(col)
        self.add("bleeding", tr("&Bleeding episodes"), holder)
        self.care = QComboBox()
        for label, value in (
            (tr("not recorded"), None),
            (tr("booked in a high-risk or preconception clinic"), True),
            (tr("not booked in such a clinic"), False),
        ):
            self.care.addItem(label, value)
        self.care.setCurrentIndex(max(0, self.care.findData(p.high_risk_care)))
        self.add("high_risk_care", tr("High-risk &care"), self.care)
        self.cerclage = DateField(optional=True)
        self.cerclage.set_date(p.cerclage_on)
        self.add("cerclage_on", tr("Cervical ce&rclage placed on"), self.cerclage)
        self.notes = QPlainTextEdit(p.notes)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.add("notes", tr("N&otes"), self.notes)
        self.finish_layout()

    def _add_bleeding_row(self, b: Bleeding | None) -> None:
        r = self.bleeding.rowCount()
        self.bleeding.insertRow(r)
        cell = QTableWidgetItem(format_date(b.date) if b else "")
        cell.setData(Qt.ItemDataRole.UserRole, b.notes if b else "")  # notes travel with the row
        self.bleeding.setItem(r, 0, cell)
        combo = QComboBox()
        for s, label in SEVERITY_LABELS.items():
            combo.addItem(tr(label), s.value)
        if b:
            combo.setCurrentIndex(combo.findData(b.severity.value))
        self.bleeding.setCellWidget(r, 1, combo)
        if b is None:
            self.bleeding.setCurrentCell(r, 0)
            item = self.bleeding.item(r, 0)
            if item is not None:
                self.bleeding.editItem(item)

    def submit(self) -> Any:
        p = Problems()
        iup = p.read("iup_confirmed_on", lambda: read_date(self.iup_date))
        heartbeat = p.read("heartbeat_on", lambda: read_date(self.heartbeat))
        cerclage = p.read("cerclage_on", lambda: read_date(self.cerclage))
        episodes = []
        for r in range(self.bleeding.rowCount()):
            item = self.bleeding.item(r, 0)
            day = parse_date_dmy(item.text().strip()) if item else None
            if day is None:
                p["bleeding"] = tr("Row {n}: type the date as dd/mm/yyyy.").format(n=r + 1)
                continue
            combo = self.bleeding.cellWidget(r, 1)
            assert isinstance(combo, QComboBox)
            notes = item.data(Qt.ItemDataRole.UserRole) if item else ""
            episodes.append(Bleeding(day, Severity(combo.currentData()), notes or ""))
        p.raise_if_any()
        method = self.iup_method.currentData()
        details = CurrentPregnancy(
            self._p.id,
            self._p.dating,
            fetuses=self.fetuses.value(),
            conception=self._p.conception,
            iup_confirmed_on=iup,
            iup_method=IupMethod(method) if method else None,
            heartbeat_on=heartbeat,
            bleeding=tuple(episodes),
            notes=self.notes.toPlainText().strip(),
            high_risk_care=self.care.currentData(),
            cerclage_on=cerclage,
        )
        assert self._p.id is not None
        return self._service.update(self._pid, self._p.id, self._p.version, details)


class EndDialog(FormDialog):
    """Record how the pregnancy ended. Pending antenatal scans and swabs, and active medication, are
    listed and (by default) cancelled and stopped in the same step."""

    def __init__(
        self,
        service: PregnancyService,
        patient_id: int,
        p: CurrentPregnancy,
        today: dt.date,
        pending: tuple[list[FollowUp], list[MedicationPlan]],
        parent: Any = None,
    ) -> None:
        super().__init__(tr("Record the outcome of this pregnancy"), parent, ok_text=tr("Record outcome"))
        self._service, self._pid, self._p = service, patient_id, p
        self.outcome = QComboBox()
        for o in Outcome:
            self.outcome.addItem(tr(OUTCOME_LABELS[o], "Outcome"), o.value)
        self.outcome.setCurrentIndex(self.outcome.findData(Outcome.EARLY_MISCARRIAGE.value))
        self.add("outcome", tr("&Outcome *"), self.outcome)
        self.ended_on = DateField()
        self.ended_on.set_date(today)
        self.add("ended_on", tr("&Date *"), self.ended_on)
        self.genetics = QComboBox()
        for g in TissueGenetics:
            self.genetics.addItem(tr(GENETICS_LABELS[g], "Genetics"), g.value)
        self.add("tissue_genetics", tr("Pregnancy-&tissue genetics"), self.genetics)
        self.preterm = QCheckBox(tr("Preterm birth"))
        self.add("preterm_birth", "", self.preterm)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.add("notes", tr("N&otes"), self.notes)
        follow_ups, plans = pending
        self.cancel_follow_ups = QCheckBox(
            tr("Cancel {n} pending scans and swabs of this pregnancy").format(n=len(follow_ups))
        )
        self.cancel_follow_ups.setChecked(True)
        self.cancel_follow_ups.setEnabled(bool(follow_ups))
        self.cancel_follow_ups.setToolTip("\n".join(f"{format_date(f.due_date)} {f.label}" for f in follow_ups))
        self.add("cancel_follow_ups", "", self.cancel_follow_ups)
        self.stop_plans = QCheckBox(
            tr("Stop {n} active medication plans from this date").format(n=len(plans))
            + (": " + ", ".join(pl.display_name for pl in plans) if plans else "")
        )
        self.stop_plans.setChecked(True)
        self.stop_plans.setEnabled(bool(plans))
        self.add("stop_plans", "", self.stop_plans)
        self.finish_layout()

    def submit(self) -> Any:
        p = Problems()
        ended = p.read("ended_on", lambda: read_date(self.ended_on))
        p.raise_if_any()
        assert self._p.id is not None and ended is not None
        return self._service.end(
            self._pid,
            self._p.id,
            self._p.version,
            Outcome(self.outcome.currentData()),
            ended,
            cancel_follow_ups=self.cancel_follow_ups.isChecked(),
            stop_plans=self.stop_plans.isChecked(),
            tissue_genetics=TissueGenetics(self.genetics.currentData()),
            preterm_birth=self.preterm.isChecked(),
            notes=self.notes.toPlainText().strip(),
        )
