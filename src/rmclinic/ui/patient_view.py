"""One patient: header, loss counts and definitions met, and tabs for history, risk and details."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.errors import DomainError, ValidationError
from ..domain.gestation import format_days
from ..domain.identifiers import format_nhs_number
from ..domain.obstetric import GENETICS_LABELS, OUTCOME_LABELS, chronological
from ..domain.patient import EXCISION_KINDS, SMOKING_VALUES, CervicalExcision, RiskHistory, age_on
from ..domain.search import parse_date_dmy
from ..domain.timeline import ItemRef
from ..services.alerts import AlertService
from ..services.careplan import CarePlanService
from ..services.dto import PatientRecord
from ..services.letters import VisitService
from ..services.patients import PatientService
from ..services.pregnancy import PregnancyService
from ..services.session import SessionContext
from ..services.workup import WorkupService
from .alerts_tab import AlertsTab
from .careplan_tab import CarePlanTab
from .common import ErrorLabel, add_field, format_date, parse_optional_float, tr
from .current_pregnancy_tab import CurrentPregnancyTab
from .patient_dialog import PatientDialog
from .pregnancy_dialog import PregnancyDialog
from .timeline_view import TimelineView
from .visits_tab import VisitsTab
from .workup_tab import WorkupTab


def _yes(flag: bool) -> str:
    return tr("yes") if flag else tr("no")


class PatientView(QWidget):
    """Shows one patient; emits ``patient_saved`` after any change so lists can refresh."""

    patient_saved = Signal(int)
    close_requested = Signal()

    def __init__(
        self,
        service: PatientService,
        workup: WorkupService,
        pregnancy: PregnancyService,
        alerts: AlertService | None = None,
        session: SessionContext | None = None,
        careplans: CarePlanService | None = None,
        parent: Any = None,
        visits: VisitService | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._careplans = careplans
        self.workup = WorkupTab(workup)
        self.timeline: TimelineView | None = None
        self.careplan: CarePlanTab | None = None
        self._timeline_stale = True
        self.alerts = AlertsTab(alerts, session) if alerts is not None and session is not None else None
        self.pregnancy = CurrentPregnancyTab(pregnancy)
        self.pregnancy.changed.connect(self._pregnancy_changed)
        self.visits = VisitsTab(visits, session) if visits is not None and session is not None else None
        if self.visits is not None:
            self.visits.changed.connect(self._visits_changed)
        self._ended_count = 0
        self.record: PatientRecord | None = None

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.back = QPushButton(tr("← Patient list"))
        self.back.setAccessibleName(tr("Back to patient list"))
        self.back.clicked.connect(self.close_requested)
        top.addWidget(self.back)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        top.addWidget(self.title, 1)
        outer.addLayout(top)
        self.subtitle = QLabel()
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.subtitle)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName(tr("Obstetric summary"))
        self.summary.setStyleSheet("QLabel { border: 1px solid palette(mid); padding: 6px; }")
        outer.addWidget(self.summary)
        self.pregnancy_line = QLabel()
        self.pregnancy_line.setTextFormat(Qt.TextFormat.PlainText)
        self.pregnancy_line.setAccessibleName(tr("Current pregnancy"))
        outer.addWidget(self.pregnancy_line)
        self.alert_banner = QPushButton()
        self.alert_banner.setFlat(True)
        self.alert_banner.setStyleSheet("QPushButton { text-align: left; font-weight: bold; color: #b00020; }")
        self.alert_banner.setAccessibleName(tr("Alerts needing attention"))
        self.alert_banner.hide()
        self.alert_banner.clicked.connect(lambda: self.show_tab("alerts"))
        outer.addWidget(self.alert_banner)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._history_tab(), tr("&Obstetric history"))
        self.tabs.addTab(self.pregnancy, tr("Current &pregnancy"))
        if self.visits is not None:
            self.tabs.addTab(self.visits, tr("Vi&sits"))
        self.tabs.addTab(self.workup, tr("&Workup"))
        self.tabs.addTab(self._risk_tab(), tr("&Risk history"))
        self.tabs.addTab(self._details_tab(), tr("&Details"))
        if self.alerts is not None:
            self.tabs.addTab(self.alerts, tr("A&lerts"))
            self.alerts.counts_changed.connect(self._show_alert_counts)
            self.workup.entry.saved.connect(lambda _v: self._reload_alerts())
        if careplans is not None and session is not None:
            self.timeline = TimelineView()
            self.timeline.item_activated.connect(self.on_timeline_item_activated)
            actor = session.actor
            self.timeline.set_export(
                actor is not None and actor.can(Permission.PRINT),
                lambda path: careplans.record_timeline_export(self.record.id, path) if self.record else None,
            )
            self.tabs.addTab(self.timeline, tr("T&imeline"))
            self.careplan = CarePlanTab(careplans, session)
            self.careplan.out_of_date_changed.connect(self._show_careplan_state)
            self.tabs.addTab(self.careplan, tr("Care pla&n"))
            self.tabs.currentChanged.connect(lambda _i: self._refresh_timeline_if_shown())
        if self.visits is not None:
            self.tabs.currentChanged.connect(lambda _i: self._refresh_visits_if_shown())
        outer.addWidget(self.tabs, 1)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close_requested.emit)

    # -- tabs ---------------------------------------------------------------------------------

    def _history_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.history = QTableWidget(0, 7)
        self.history.setHorizontalHeaderLabels(
            [
                tr("Year"),
                tr("Date"),
                tr("Outcome"),
                tr("Gestation"),
                tr("Fetuses"),
                tr("Conception"),
                tr("Tissue genetics"),
            ]
        )
        self.history.setAccessibleName(tr("Previous pregnancies"))
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.history.verticalHeader().setVisible(False)
        self.history.doubleClicked.connect(self.on_edit_pregnancy_clicked)
        lay.addWidget(self.history)
        buttons = QHBoxLayout()
        self.add_preg = QPushButton(tr("&Add pregnancy…"))
        self.edit_preg = QPushButton(tr("&Edit…"))
        self.remove_preg = QPushButton(tr("Re&move (entered in error)"))
        self.add_preg.clicked.connect(self.on_add_pregnancy_clicked)
        self.edit_preg.clicked.connect(self.on_edit_pregnancy_clicked)
        self.remove_preg.clicked.connect(self.on_remove_pregnancy_clicked)
        for b in (self.add_preg, self.edit_preg, self.remove_preg):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        return w

    def _risk_tab(self) -> QWidget:
        w = QWidget()
        outer = QVBoxLayout(w)
        form = QFormLayout()
        outer.addLayout(form)
        self.risk_errors: dict[str, ErrorLabel] = {}
        self.smoking = QComboBox()
        for v in SMOKING_VALUES:
            self.smoking.addItem(tr(v.capitalize(), "Smoking"), v)
        self.alcohol = QLineEdit()
        self.height_edit = QLineEdit()
        self.weight_edit = QLineEdit()
        self.bmi = QLabel()
        self.excisions = QLineEdit()
        self.excisions.setPlaceholderText(
            tr("one per procedure: year or dd/mm/yyyy, kind, depth mm; e.g. 2015 lletz 9; 2018 cone")
        )
        self.cerclage = QCheckBox(tr("Previous cervical cerclage"))
        self.cerclage_notes = QLineEdit()
        self.vte = QCheckBox(tr("Venous thromboembolism in the past"))
        self.aps = QCheckBox(tr("Antiphospholipid syndrome diagnosed (e.g. by another unit)"))
        self.vte_notes = QLineEdit()
        self.allergies = QLineEdit()
        self.allergies.setPlaceholderText(tr("separate with ';', e.g. Penicillin; Latex"))
        self.periods = QComboBox()
        for label, value in ((tr("not asked"), None), (tr("regular"), False), (tr("infrequent or absent"), True)):
            self.periods.addItem(label, value)
        for key, label, widget in (
            ("risk.smoking", tr("&Smoking"), self.smoking),
            ("risk.alcohol_units_per_week", tr("&Alcohol (units/week)"), self.alcohol),
            ("risk.height_cm", tr("&Height (cm)"), self.height_edit),
            ("risk.weight_kg", tr("&Weight (kg)"), self.weight_edit),
            ("bmi", tr("BMI (derived)"), self.bmi),
            ("risk.cervical_excisions", tr("Cervical e&xcisions (LLETZ/cone)"), self.excisions),
            ("risk.previous_cerclage", "", self.cerclage),
            ("risk.cerclage_notes", tr("Cerclage &notes"), self.cerclage_notes),
            ("risk.vte_history", "", self.vte),
            ("risk.vte_notes", tr("&VTE notes"), self.vte_notes),
            ("risk.aps_diagnosed", "", self.aps),
            ("risk.drug_allergies", tr("Drug a&llergies"), self.allergies),
            ("risk.oligo_amenorrhoea", tr("&Periods (oligo-/amenorrhoea)"), self.periods),
        ):
            self.risk_errors[key] = add_field(form, label, widget, self)
        self.risk_banner = ErrorLabel(self)
        outer.addWidget(self.risk_banner)
        row = QHBoxLayout()
        self.save_risk = QPushButton(tr("Save risk history"))
        self.save_risk.setToolTip(tr("Ctrl+S"))
        self.save_risk.clicked.connect(self.on_save_risk_clicked)
        row.addWidget(self.save_risk)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        QShortcut(QKeySequence.StandardKey.Save, w, self.on_save_risk_clicked)
        return w

    def _details_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.details, 1)
        row = QHBoxLayout()
        self.edit_details = QPushButton(tr("Edit &details…"))
        self.edit_details.clicked.connect(self.on_edit_details_clicked)
        self.archive = QPushButton()
        self.archive.clicked.connect(self.on_archive_clicked)
        row.addWidget(self.edit_details)
        row.addWidget(self.archive)
        row.addStretch(1)
        lay.addLayout(row)
        return w

    # -- showing ------------------------------------------------------------------------------

    def show_patient(self, patient_id: int) -> None:
        self.set_record(self._service.get(patient_id))
        self.workup.load(patient_id)
        self.pregnancy.load(patient_id)
        if self.visits is not None and self.record is not None:
            self.visits.load(patient_id, self.record.data.hospital_number)
        self._show_pregnancy_line()
        self._reload_alerts()

    def _reload_alerts(self) -> None:
        """Alerts follow every change to the record (and record their firings); so do the timeline and the
        signed care plans' out-of-date marks."""
        if self.alerts is not None and self.record is not None:
            self.alerts.load(self.record.id)
        self._timeline_stale = True
        self._refresh_timeline_if_shown()
        if self.careplan is not None and self.record is not None:
            self.careplan.load(self.record.id, self.record.data.hospital_number)

    def _refresh_timeline_if_shown(self) -> None:
        """The timeline is laid out when its tab is looked at, not on every change behind it."""
        if self.timeline is None or self._careplans is None or self.record is None:
            return
        if self.tabs.currentWidget() is self.timeline and self._timeline_stale:
            self._timeline_stale = False
            self.timeline.set_layout(self._careplans.timeline(self.record.id))

    def _refresh_visits_if_shown(self) -> None:
        """What was done in a visit comes from the rest of the record: brought up to date when looked at."""
        if self.visits is not None and self.tabs.currentWidget() is self.visits:
            self.visits.reload()

    def _visits_changed(self) -> None:
        self._reload_alerts()

    def _show_careplan_state(self, out_of_date: bool) -> None:
        if self.careplan is not None:
            label = tr("Care pla&n (⚠ out of date)") if out_of_date else tr("Care pla&n")
            self.tabs.setTabText(self.tabs.indexOf(self.careplan), label)

    def on_timeline_item_activated(self, ref: ItemRef) -> None:
        """A click (or Enter) on the timeline opens what it points at, selected, in its own tab."""
        if ref.kind in ("plan", "follow_up") and ref.key.isdigit():
            self.show_tab("pregnancy")
            self.pregnancy.select(ref.kind, int(ref.key))
        elif ref.kind == "pregnancy":
            self.show_tab("pregnancy")
        elif ref.kind == "workup":
            self.show_tab("workup")
            if ref.key.isdigit():
                self.workup.select_item(int(ref.key))
        elif ref.kind == "visit" and self.visits is not None:
            self.show_tab("visits")
            if ref.key.isdigit():
                self.visits.select(int(ref.key))
        elif ref.kind == "alert" and self.alerts is not None:
            self.show_tab("alerts")
            rule_id, _, episode = ref.key.partition("|")
            self.alerts.select(rule_id, episode)
        elif ref.kind == "history" and ref.key.isdigit():
            self.show_tab("history")
            # the timeline numbers pregnancies as the record holds them; the table shows them by date
            index = int(ref.key)
            records = self.record.pregnancy_records if self.record is not None else []
            if index < len(records):
                target = records[index]
                for row, r in enumerate(self._history_ids):
                    if r is target:
                        self.history.selectRow(row)
                        self.history.setFocus()

    def _show_alert_counts(self, critical: int, warning: int, info: int) -> None:
        if self.alerts is None:
            return
        self.tabs.setTabText(self.tabs.indexOf(self.alerts), tr("A&lerts ({n})").format(n=critical + warning + info))
        bits = []
        if critical:
            bits.append(tr("✖ {n} critical").format(n=critical))
        if warning:
            bits.append(tr("⚠ {n} warning(s)").format(n=warning))
        self.alert_banner.setText("   ".join(bits) + "   — " + tr("open the Alerts tab") if bits else "")
        self.alert_banner.setVisible(bool(bits))

    def show_tab(self, name: str) -> None:
        """Bring a tab to the front by name: "pregnancy", "visits", "workup", "alerts", "timeline", "careplan";
        anything else shows the obstetric history."""
        widget = {
            "pregnancy": self.pregnancy,
            "visits": self.visits,
            "workup": self.workup,
            "alerts": self.alerts,
            "timeline": self.timeline,
            "careplan": self.careplan,
        }.get(name)
        self.tabs.setCurrentIndex(self.tabs.indexOf(widget) if widget is not None else 0)

    def _show_pregnancy_line(self) -> None:
        view = self.pregnancy.view
        self._ended_count = len(view.ended) if view else 0
        p = view.pregnancy if view else None
        if p is None:
            self.pregnancy_line.setText(tr("Not currently pregnant.") if view and view.sensitive else "")
            self.pregnancy_line.setVisible(bool(view and view.sensitive))
            return
        ga = p.gestation_on(view.today) if view else None
        active = (
            [pl.display_name for pl in view.plans if pl.status.value == "active" and pl.pregnancy_id == p.id]
            if view
            else []
        )
        text = f"{tr('Current pregnancy')}: {ga or '—'}   ·   {tr('EDD')} {format_date(p.edd)}"
        if active:
            text += f"   ·   {tr('on')} {', '.join(active)}"
        self.pregnancy_line.setText(text)
        self.pregnancy_line.setVisible(True)

    def _pregnancy_changed(self) -> None:
        view = self.pregnancy.view
        if view is not None and len(view.ended) != self._ended_count and self.record is not None:
            self._saved(self._service.get(self.record.id))  # the outcome is now in the obstetric history
        self._show_pregnancy_line()
        self._reload_alerts()
        if self.record is not None:
            self.patient_saved.emit(self.record.id)

    def set_record(self, record: PatientRecord) -> None:
        self.record = record
        d = record.data
        today = self._service.today()
        self.title.setText(
            f"{d.family_name.upper()}, {d.given_name}" + (f"  [{tr('archived')}]" if record.archived else "")
        )
        bits = [
            f"{tr('Hospital no.')} {d.hospital_number}",
            f"{tr('NHS no.')} {format_nhs_number(d.nhs_number) or '—'}",
            f"{tr('Born')} {format_date(d.date_of_birth)} ({tr('age')} {age_on(d.date_of_birth, today)})",
        ]
        if d.partner:
            bits.append(f"{tr('Partner')}: {d.partner.given_name} {d.partner.family_name}".strip())
        self.subtitle.setText("   ·   ".join(bits))
        self._show_summary(record)
        self._show_history(record)
        self._show_risk(d.risk)
        self._show_details(record)

    def _show_summary(self, record: PatientRecord) -> None:
        s = record.summary
        lines = [
            f"G{s.gravidity} P{s.parity}   ·   {tr('Pregnancy losses before 24 weeks')}: {s.total_losses} "
            f"({tr('first trimester')} {s.first_trimester_losses}, "
            f"{tr('second trimester')} {s.second_trimester_losses})"
            f"   ·   {tr('consecutive')}: {s.consecutive_losses}   ·   {tr('live births')}: {s.live_births}",
        ]
        met = []
        if s.meets_eshre:
            met.append(tr("ESHRE 2022 (≥2 losses)"))
        if s.meets_rcog:
            met.append(tr("RCOG 2023 (≥3 first-trimester or any second-trimester loss)"))
        if met:
            kind = tr("secondary RM") if s.secondary else tr("primary RM")
            lines.append(f"✔ {tr('Meets')}: {'; '.join(met)}   ·   {kind}")
        else:
            lines.append(tr("Does not meet the ESHRE or RCOG definition of recurrent miscarriage."))
        self.summary.setText("\n".join(lines))

    def _show_history(self, record: PatientRecord) -> None:
        by_data = {id(r.data): r for r in record.pregnancy_records}
        ordered = chronological([r.data for r in record.pregnancy_records])
        self._history_ids = [by_data[id(p)] for p in ordered]
        self.history.setRowCount(len(ordered))
        for row, p in enumerate(ordered):
            values = [
                str(p.year),
                format_date(p.date),
                tr(OUTCOME_LABELS[p.outcome], "Outcome"),
                format_days(p.gestation_days),
                str(p.fetuses),
                tr("ART") if p.conception.value == "art" else tr("spontaneous"),
                tr(GENETICS_LABELS[p.tissue_genetics], "Genetics"),
            ]
            for col, v in enumerate(values):
                item = QTableWidgetItem(v)
                if p.notes:
                    item.setToolTip(p.notes)
                self.history.setItem(row, col, item)
        self.history.resizeColumnsToContents()
        has = bool(ordered)
        self.edit_preg.setEnabled(has)
        self.remove_preg.setEnabled(has)

    def _show_risk(self, r: RiskHistory) -> None:
        self.smoking.setCurrentIndex(max(0, self.smoking.findData(r.smoking)))
        self.alcohol.setText(num(r.alcohol_units_per_week))
        self.height_edit.setText(num(r.height_cm))
        self.weight_edit.setText(num(r.weight_kg))
        self.bmi.setText(f"{r.bmi:.1f}" if r.bmi else "—")
        self.excisions.setText("; ".join(_format_excision(e) for e in r.cervical_excisions))
        self.cerclage.setChecked(r.previous_cerclage)
        self.cerclage_notes.setText(r.cerclage_notes)
        self.vte.setChecked(r.vte_history)
        self.vte_notes.setText(r.vte_notes)
        self.aps.setChecked(r.aps_diagnosed)
        self.allergies.setText("; ".join(r.drug_allergies))
        self.periods.setCurrentIndex(max(0, self.periods.findData(r.oligo_amenorrhoea)))
        for e in self.risk_errors.values():
            e.show_problem(None)
        self.risk_banner.show_problem(None)

    def _show_details(self, record: PatientRecord) -> None:
        d = record.data
        rows = [
            (tr("Phone"), d.phone),
            (tr("E-mail"), d.email),
            (tr("Address"), d.address),
            (tr("GP practice"), d.gp_practice),
            (tr("Notes"), d.notes),
        ]
        if d.partner:
            rows.append((tr("Partner's date of birth"), format_date(d.partner.date_of_birth)))
        self.details.setText("\n".join(f"{k}: {v or '—'}" for k, v in rows))
        self.archive.setText(tr("&Unarchive") if record.archived else tr("Ar&chive"))

    def set_can_edit(self, allowed: bool) -> None:
        """Read-only users see the record but no edit controls (the services refuse anyway)."""
        for w in (self.add_preg, self.edit_preg, self.remove_preg, self.save_risk, self.edit_details, self.archive):
            w.setVisible(allowed)
        self.workup.set_can_edit(allowed)
        self.pregnancy.set_can_edit(allowed)
        if self.alerts is not None:
            self.alerts.set_can_edit(allowed)
        if self.visits is not None:
            self.visits.set_can_edit(allowed)
        self._can_edit = allowed

    def discard_unsaved(self) -> None:
        if self.record is not None:
            self._show_risk(self.record.data.risk)

    # -- leaving with unsaved input ------------------------------------------------------------

    def has_unsaved_changes(self) -> bool:
        if self.record is None or not getattr(self, "_can_edit", True):
            return False
        risk, problems = self.collect_risk()
        return bool(problems) or risk != self.record.data.risk

    def confirm_leave(self) -> bool:
        """True when it is safe to show something else: saved, discarded on purpose, or unchanged."""
        if not self.has_unsaved_changes():
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            self.on_save_risk_clicked()
            return not self.has_unsaved_changes()
        return answer == QMessageBox.StandardButton.Discard

    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Ask what to do with unsaved risk history (tests replace this)."""
        return QMessageBox.question(
            self,
            tr("Unsaved changes"),
            tr("The risk history has changes that are not saved."),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    # -- actions ------------------------------------------------------------------------------

    def _saved(self, record: PatientRecord) -> None:
        self.set_record(record)
        self._reload_alerts()
        self.patient_saved.emit(record.id)

    def _selected_pregnancy(self) -> Any:
        row = self.history.currentRow()
        return self._history_ids[row] if 0 <= row < len(self._history_ids) else None

    def on_add_pregnancy_clicked(self) -> None:
        if self.record is None:
            return
        dlg = PregnancyDialog(self._service, self.record, parent=self)
        if dlg.exec() and dlg.saved:
            self._saved(dlg.saved)

    def on_edit_pregnancy_clicked(self) -> None:
        preg = self._selected_pregnancy()
        if self.record is None or preg is None:
            return
        dlg = PregnancyDialog(self._service, self.record, preg, parent=self)
        if dlg.exec() and dlg.saved:
            self._saved(dlg.saved)

    def on_remove_pregnancy_clicked(self) -> None:
        preg = self._selected_pregnancy()
        if self.record is None or preg is None:
            return
        if (
            QMessageBox.question(self, tr("Remove pregnancy"), tr("Remove this pregnancy, entered in error?"))
            != QMessageBox.StandardButton.Yes
        ):
            return
        try:
            self._saved(self._service.remove_pregnancy(self.record.id, preg.id, preg.version))
        except DomainError as e:
            QMessageBox.warning(self, tr("Not removed"), str(e))

    def on_edit_details_clicked(self) -> None:
        if self.record is None:
            return
        dlg = PatientDialog(self._service, self.record, parent=self)
        if dlg.exec() and dlg.saved:
            self._saved(dlg.saved)

    def on_archive_clicked(self) -> None:
        if self.record is None:
            return
        try:
            self._saved(self._service.set_archived(self.record.id, self.record.version, not self.record.archived))
        except DomainError as e:
            QMessageBox.warning(self, tr("Not saved"), str(e))

    def collect_risk(self) -> tuple[RiskHistory | None, dict[str, str]]:
        problems: dict[str, str] = {}
        values: dict[str, float | None] = {}
        for key, field in (
            ("alcohol_units_per_week", self.alcohol),
            ("height_cm", self.height_edit),
            ("weight_kg", self.weight_edit),
        ):
            v, p = parse_optional_float(field.text())
            values[key] = v
            if p:
                problems["risk." + key] = p
        excisions, p = parse_excisions(self.excisions.text())
        if p:
            problems["risk.cervical_excisions"] = p
        if problems:
            return None, problems
        return (
            RiskHistory(
                cervical_excisions=tuple(excisions),
                previous_cerclage=self.cerclage.isChecked(),
                cerclage_notes=self.cerclage_notes.text(),
                vte_history=self.vte.isChecked(),
                vte_notes=self.vte_notes.text(),
                smoking=self.smoking.currentData(),
                alcohol_units_per_week=values["alcohol_units_per_week"],
                height_cm=values["height_cm"],
                weight_kg=values["weight_kg"],
                drug_allergies=tuple(a.strip() for a in self.allergies.text().split(";") if a.strip()),
                oligo_amenorrhoea=self.periods.currentData(),
                aps_diagnosed=self.aps.isChecked(),
            ),
            {},
        )

    def on_save_risk_clicked(self) -> None:
        if self.record is None:
            return
        for e in self.risk_errors.values():
            e.show_problem(None)
        self.risk_banner.show_problem(None)
        risk, problems = self.collect_risk()
        if risk is None:
            for k, m in problems.items():
                self.risk_errors[k].show_problem(m)
            return
        try:
            self._saved(self._service.update_risk(self.record.id, self.record.risk_version, risk))
        except ValidationError as e:
            for prob in e.problems:
                key = prob.field if prob.field in self.risk_errors else ".".join(prob.field.split(".")[:2])
                (self.risk_errors.get(key) or self.risk_banner).show_problem(prob.message)
        except DomainError as e:
            self.risk_banner.show_problem(str(e))


def num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _format_excision(e: CervicalExcision) -> str:
    when = format_date(e.date) if e.date else (str(e.year) if e.year else "")
    depth = f" {e.depth_mm:g}" if e.depth_mm is not None else ""
    return f"{when} {e.kind}{depth}".strip()


def parse_excisions(text: str) -> tuple[list[CervicalExcision], str | None]:
    """Parse ``2015 lletz 9; 03/04/2018 cone`` (year or date, kind, optional depth in mm)."""
    out: list[CervicalExcision] = []
    for i, chunk in enumerate(c.strip() for c in text.split(";")):
        if not chunk:
            continue
        parts = chunk.split()
        date = year = depth = None
        kind = "lletz"
        for part in parts:
            low = part.lower()
            if low in EXCISION_KINDS:
                kind = low
            elif (d := parse_date_dmy(part)) is not None:
                date, year = d, d.year
            elif part.isdigit() and len(part) == 4:
                year = int(part)
            else:
                v, problem = parse_optional_float(low.removesuffix("mm"))
                if problem or v is None:
                    return [], tr(
                        "Procedure {n}: '{part}' is not a year, date, kind (lletz, cone, other) or depth."
                    ).format(n=i + 1, part=part)
                depth = v
        out.append(CervicalExcision(date=date, year=year, kind=kind, depth_mm=depth))
    return out, None
