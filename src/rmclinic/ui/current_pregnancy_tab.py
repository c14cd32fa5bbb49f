"""The current-pregnancy tab: dating and gestation today, medication plans with their stop dates, and
follow-ups with their results. After a loss it says so plainly and uses no antenatal wording."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.dating import METHOD_LABELS, gestation_days_on
from ..domain.errors import DomainError
from ..domain.followup import (
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    result_summary,
)
from ..domain.medication import INDICATION_LABELS, MedicationPlan, PlanStatus, describe_dose
from ..domain.obstetric import OUTCOME_LABELS
from ..services.pregnancy import PregnancyService, PregnancyView
from .common import ErrorLabel, format_date, read_only_table, tr
from .followup_dialogs import AddFollowUpDialog, ChangeFollowUpDialog, ResultDialog, short_cervix_text
from .plan_dialogs import CalendarDialog, PlanDialog, StopPlanDialog
from .pregnancy_dialogs import IUP_LABELS, SEVERITY_LABELS, DatingDialog, DetailsDialog, EndDialog

STATUS_SYMBOLS = {
    FollowUpStatus.DUE: "◔",
    FollowUpStatus.DONE: "✓",
    FollowUpStatus.MISSED: "✗",
    FollowUpStatus.CANCELLED: "–",
}
WARN = QColor("#b00020")


class CurrentPregnancyTab(QWidget):
    changed = Signal()  # something was saved: the patient header and lists refresh

    def __init__(self, service: PregnancyService, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self.patient_id: int | None = None
        self.view: PregnancyView | None = None
        outer = QVBoxLayout(self)
        self.banner = ErrorLabel(self)
        outer.addWidget(self.banner)

        box = QGroupBox(tr("Pregnancy"))
        bl = QVBoxLayout(box)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAccessibleName(tr("Pregnancy status"))
        bl.addWidget(self.status)
        row = QHBoxLayout()
        self.start_button = QPushButton(tr("&Start pregnancy…"))
        self.redate_button = QPushButton(tr("Re&date…"))
        self.details_button = QPushButton(tr("D&etails, bleeding…"))
        self.end_button = QPushButton(tr("Record &outcome…"))
        for b, slot in (
            (self.start_button, self.on_start_clicked),
            (self.redate_button, self.on_redate_clicked),
            (self.details_button, self.on_details_clicked),
            (self.end_button, self.on_end_clicked),
        ):
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        bl.addLayout(row)
        outer.addWidget(box)

        plans_box = QGroupBox(tr("Medication plans"))
        pl = QVBoxLayout(plans_box)
        self.plans = read_only_table(
            [tr("Medicine"), tr("Dose"), tr("Indication"), tr("Start"), tr("No dose from"), tr("Status")],
            tr("Medication plans"),
        )
        self.plans.doubleClicked.connect(lambda _i: self.on_edit_plan_clicked())
        pl.addWidget(self.plans)
        row = QHBoxLayout()
        self.add_plan_button = QPushButton(tr("&Add plan…"))
        self.edit_plan_button = QPushButton(tr("&Change plan…"))
        self.calendar_button = QPushButton(tr("Dose ca&lendar…"))
        self.stop_plan_button = QPushButton(tr("S&top plan…"))
        for b, slot in (
            (self.add_plan_button, self.on_add_plan_clicked),
            (self.edit_plan_button, self.on_edit_plan_clicked),
            (self.calendar_button, self.on_calendar_clicked),
            (self.stop_plan_button, self.on_stop_plan_clicked),
        ):
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        pl.addLayout(row)
        outer.addWidget(plans_box, 2)

        fu_box = QGroupBox(tr("Follow-ups: scans, swabs, tests, appointments"))
        fl = QVBoxLayout(fu_box)
        self.follow_ups = read_only_table(
            [tr("Due"), tr("Gestation"), tr("What"), tr("Status"), tr("Result")], tr("Follow-ups")
        )
        self.follow_ups.doubleClicked.connect(lambda _i: self.on_result_clicked())
        fl.addWidget(self.follow_ups)
        row = QHBoxLayout()
        self.add_fu_button = QPushButton(tr("Sc&hedule…"))
        self.protocol = QComboBox()
        self.protocol.setAccessibleName(tr("Series protocol"))
        self.series_button = QPushButton(tr("Schedule se&ries"))
        self.result_button = QPushButton(tr("Enter res&ult…"))
        self.reschedule_button = QPushButton(tr("Reschedu&le…"))
        self.missed_button = QPushButton(tr("&Missed"))
        self.cancel_fu_button = QPushButton(tr("Ca&ncel…"))
        row.addWidget(self.add_fu_button)
        row.addWidget(self.protocol, 1)
        row.addWidget(self.series_button)
        for b in (self.result_button, self.reschedule_button, self.missed_button, self.cancel_fu_button):
            row.addWidget(b)
        self.add_fu_button.clicked.connect(self.on_add_follow_up_clicked)
        self.series_button.clicked.connect(self.on_series_clicked)
        self.result_button.clicked.connect(self.on_result_clicked)
        self.reschedule_button.clicked.connect(lambda: self.on_change_follow_up(cancel=False))
        self.cancel_fu_button.clicked.connect(lambda: self.on_change_follow_up(cancel=True))
        self.missed_button.clicked.connect(self.on_missed_clicked)
        fl.addLayout(row)
        self.protocol_source = QLabel()
        self.protocol_source.setWordWrap(True)
        self.protocol.currentIndexChanged.connect(self._show_protocol_source)
        fl.addWidget(self.protocol_source)
        outer.addWidget(fu_box, 3)
        self._can_edit = True
        self.can_override = False  # set from the user's role: consultants override critical alerts

    # -- loading and showing ----------------------------------------------------------------------

    def set_can_edit(self, allowed: bool) -> None:
        self._can_edit = allowed
        if self.view is not None:
            self.show_view(self.view, notify=False)

    def load(self, patient_id: int) -> None:
        self.patient_id = patient_id
        self.banner.show_problem(None)
        # never show (or act on) the previous patient's pregnancy while this one loads or if it fails
        self.view = None
        self._plans: list[MedicationPlan] = []
        self._follow_ups: list[FollowUp] = []
        self.plans.setRowCount(0)
        self.follow_ups.setRowCount(0)
        self.status.setText("")
        for b in self.findChildren(QPushButton):
            b.setVisible(False)
        try:
            protocols = self._service.protocols()
            self.protocol.clear()
            for p in protocols:
                self.protocol.addItem(p.label, p.key)
                self.protocol.setItemData(self.protocol.count() - 1, p.source, Qt.ItemDataRole.ToolTipRole)
            self._show_protocol_source()
            self.show_view(self._service.view(patient_id), notify=False)
        except (DomainError, ValueError) as e:
            self.banner.show_problem(str(e))

    def _show_protocol_source(self) -> None:
        self.protocol_source.setText(str(self.protocol.currentData(Qt.ItemDataRole.ToolTipRole) or ""))

    def show_view(self, view: PregnancyView, notify: bool = True) -> None:
        self.view = view
        p = view.pregnancy
        edit = self._can_edit
        self.start_button.setVisible(edit and p is None)
        for b in (self.redate_button, self.details_button, self.end_button):
            b.setVisible(edit and p is not None)
        for b in (
            self.add_plan_button,
            self.edit_plan_button,
            self.stop_plan_button,
            self.add_fu_button,
            self.result_button,
            self.reschedule_button,
            self.missed_button,
            self.cancel_fu_button,
        ):
            b.setVisible(edit)
        self.series_button.setVisible(edit and p is not None)
        self.protocol.setVisible(edit and p is not None)
        self.protocol_source.setVisible(edit and p is not None)
        self.status.setText(self.status_text(view))
        self._show_plans(view)
        self._show_follow_ups(view)
        if notify:
            self.changed.emit()

    @staticmethod
    def status_text(view: PregnancyView) -> str:
        p = view.pregnancy
        if p is None:
            if view.sensitive:
                last = view.ended[-1]
                outcome = OUTCOME_LABELS[last.outcome].lower() if last.outcome else ""
                return tr(
                    "No current pregnancy. The last pregnancy ended on {date} ({outcome}). "
                    "Please take care with wording."
                ).format(date=format_date(last.ended_on), outcome=outcome)
            return tr("No current pregnancy.")
        ga = p.gestation_on(view.today)
        entry = p.dating[-1]
        lines = [
            f"{tr('Today')} {ga if ga else '—'}   ·   {tr('EDD')} {format_date(p.edd)}   ·   "
            f"{tr('dated by')} {entry.basis(format_date)}",
        ]
        if len(p.dating) > 1:
            changes = "; ".join(
                f"{format_date(e.recorded_on)} {format_date(e.edd)} ({e.reason or tr(METHOD_LABELS[e.method])}"
                + (f", {e.recorded_by}" if e.recorded_by else "")
                + ")"
                for e in p.dating
            )
            lines.append(f"{tr('EDD history')}: {changes}")
        facts = [
            tr("{n} fetuses").format(n=p.fetuses) if p.fetuses > 1 else tr("singleton"),
            tr("ART") if p.conception.value == "art" else tr("spontaneous conception"),
        ]
        if p.iup_confirmed_on:
            how = tr(IUP_LABELS[p.iup_method]) if p.iup_method else ""
            facts.append(f"{tr('intrauterine confirmed')} {format_date(p.iup_confirmed_on)} ({how})")
        else:
            facts.append(tr("intrauterine pregnancy NOT yet confirmed"))
        facts.append(
            f"{tr('heartbeat seen')} {format_date(p.heartbeat_on)}" if p.heartbeat_on else tr("no heartbeat recorded")
        )
        lines.append("   ·   ".join(facts))
        if p.bleeding:
            episodes = ", ".join(f"{format_date(b.date)} {tr(SEVERITY_LABELS[b.severity]).lower()}" for b in p.bleeding)
            lines.append(f"{tr('Bleeding')}: {episodes}")
        if p.notes:
            lines.append(p.notes)
        return "\n".join(lines)

    def _show_plans(self, view: PregnancyView) -> None:
        self._plans = list(view.plans)
        self.plans.setRowCount(len(self._plans))
        for r, plan in enumerate(self._plans):
            edd = view.edd_for(plan.pregnancy_id)
            stop = plan.stop_date(edd)
            stop_text = "—"
            if stop is not None:
                ga = view.gestation_label(plan.pregnancy_id, stop)
                stop_text = format_date(stop) + (f" ({ga})" if ga else "")
            elif plan.stop is not None:
                stop_text = str(plan.stop)
            dose = describe_dose(plan.dose, plan.display_unit, plan.frequency)
            route = (plan.route or plan.drug_def.route).value
            dose += f" ({tr(route)})"
            if plan.taper:
                steps = "; ".join(
                    f"{tr('from')} {s.start}: {describe_dose(s.dose, plan.display_unit, s.frequency)}"
                    for s in plan.taper
                )
                dose += f"  ↘ {tr('taper')}: {steps}"
            status = tr(plan.status.value)
            warning = view.plan_warnings.get(plan.id or -1)
            if warning:
                status = f"⚠ {tr('check')}: {warning}"
            elif plan.status is PlanStatus.ACTIVE and stop is not None and stop <= view.today:
                status = tr("finished")
            elif plan.status is not PlanStatus.ACTIVE and plan.stop_reason:
                status += f" ({plan.stop_reason})"
            values = [
                plan.display_name,
                dose,
                tr(INDICATION_LABELS[plan.indication]),
                format_date(plan.start),
                stop_text,
                status,
            ]
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setToolTip(self._plan_history(plan) + (f"\n{plan.notes}" if plan.notes else ""))
                if warning and c == 5:
                    item.setForeground(WARN)
                self.plans.setItem(r, c, item)
        self.plans.resizeColumnsToContents()
        self.plans.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)

    @staticmethod
    def _plan_history(plan: MedicationPlan) -> str:
        return "\n".join(f"{c.at:%d/%m/%Y %H:%M} {c.by}: {c.reason} — {c.summary}" for c in plan.history)

    def _show_follow_ups(self, view: PregnancyView) -> None:
        self._follow_ups = list(view.follow_ups)
        self.follow_ups.setRowCount(len(self._follow_ups))
        for r, f in enumerate(self._follow_ups):
            ga = view.gestation_label(f.pregnancy_id, f.due_date)
            status = f"{STATUS_SYMBOLS[f.status]} {tr(f.status.value)}"
            warn = False
            if f.overdue(view.today):
                status = f"⚠ {tr('overdue')}"
                warn = True
            result = result_summary(f)
            edd = view.edd_for(f.pregnancy_id)
            if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.status is FollowUpStatus.DONE and edd:
                short = short_cervix_text(f.cervical_length_mm, gestation_days_on(edd, f.result_date or f.due_date))
                if short:
                    result = f"{result}  {short}"
                    warn = True
            what = f.label + (f" (±{f.window_days} d)" if f.window_days else "")
            if f.protocol:
                what += f"  [{tr('local protocol')}]"
            for c, text in enumerate((format_date(f.due_date), str(ga or ""), what, status, result)):
                item = QTableWidgetItem(text)
                if warn and c in (3, 4):
                    item.setForeground(WARN)
                item.setToolTip("\n".join(f"{h.at:%d/%m/%Y %H:%M} {h.by}: {h.reason} — {h.summary}" for h in f.history))
                self.follow_ups.setItem(r, c, item)
        self.follow_ups.resizeColumnsToContents()
        self.follow_ups.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

    # -- selection helpers ---------------------------------------------------------------------------

    def selected_plan(self) -> MedicationPlan | None:
        r = self.plans.currentRow()
        return self._plans[r] if 0 <= r < len(self._plans) else None

    def selected_follow_up(self) -> FollowUp | None:
        r = self.follow_ups.currentRow()
        return self._follow_ups[r] if 0 <= r < len(self._follow_ups) else None

    def _need(self, what: object, message: str) -> bool:
        if what is None:
            self.banner.show_problem(message)
            return False
        self.banner.show_problem(None)
        return True

    def _run(self, dialog: QDialog) -> bool:
        if dialog.exec() and getattr(dialog, "result_value", None) is not None:
            self.show_view(dialog.result_value)  # type: ignore[attr-defined]
            return True
        return False

    # -- actions -------------------------------------------------------------------------------------

    def on_start_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None
        self._run(DatingDialog(self._service, self.patient_id, self.view.today, parent=self))

    def on_redate_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None and self.view.pregnancy is not None
        self._run(DatingDialog(self._service, self.patient_id, self.view.today, self.view.pregnancy, self))

    def on_details_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None and self.view.pregnancy is not None
        self._run(DetailsDialog(self._service, self.patient_id, self.view.pregnancy, self))

    def on_end_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None and self.view.pregnancy is not None
        p = self.view.pregnancy
        assert p.id is not None
        try:
            pending = self._service.pending_on_end(self.patient_id, p.id)
        except DomainError as e:
            self.banner.show_problem(str(e))
            return
        self._run(EndDialog(self._service, self.patient_id, p, self.view.today, pending, self))

    def on_add_plan_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None
        edd = self.view.pregnancy.edd if self.view.pregnancy else None
        dlg = PlanDialog(self._service, self.patient_id, edd, self.view.today, parent=self)
        dlg.can_override = self.can_override
        self._run(dlg)

    def on_edit_plan_clicked(self) -> None:
        plan = self.selected_plan()
        if not self._need(plan, tr("Select a plan first.")) or not self._can_edit:
            return
        assert plan is not None and self.view is not None and self.patient_id is not None
        if plan.status is not PlanStatus.ACTIVE:
            self.banner.show_problem(
                tr("This plan is {status}; add a new plan instead.").format(status=plan.status.value)
            )
            return
        edd = self.view.edd_for(plan.pregnancy_id)
        self._run(
            PlanDialog(
                self._service, self.patient_id, edd, self.view.today, plan, self, self._is_current(plan.pregnancy_id)
            )
        )

    def on_calendar_clicked(self) -> None:
        plan = self.selected_plan()
        if not self._need(plan, tr("Select a plan first.")):
            return
        assert plan is not None and self.view is not None
        edd = self.view.edd_for(plan.pregnancy_id)
        CalendarDialog(plan, edd, self.view.today, self, self._is_current(plan.pregnancy_id)).exec()

    def _is_current(self, pregnancy_id: int | None) -> bool:
        """Gestations are shown only for the pregnancy that is still going on."""
        p = self.view.pregnancy if self.view else None
        return p is not None and p.id == pregnancy_id

    def on_stop_plan_clicked(self) -> None:
        plan = self.selected_plan()
        if not self._need(plan, tr("Select a plan first.")):
            return
        assert plan is not None and self.view is not None and self.patient_id is not None
        self._run(StopPlanDialog(self._service, self.patient_id, plan, self.view.today, self))

    def on_add_follow_up_clicked(self) -> None:
        assert self.patient_id is not None and self.view is not None
        self._run(AddFollowUpDialog(self._service, self.patient_id, self.view.today, self))

    def on_series_clicked(self) -> None:
        assert self.patient_id is not None
        try:
            self.show_view(self._service.schedule_series(self.patient_id, self.protocol.currentData()))
        except DomainError as e:
            self.banner.show_problem(str(e))

    def on_result_clicked(self) -> None:
        f = self.selected_follow_up()
        if not self._need(f, tr("Select a follow-up first.")) or not self._can_edit:
            return
        assert f is not None and self.view is not None and self.patient_id is not None
        self._run(
            ResultDialog(self._service, self.patient_id, f, self.view.edd_for(f.pregnancy_id), self.view.today, self)
        )

    def on_change_follow_up(self, cancel: bool) -> None:
        f = self.selected_follow_up()
        if not self._need(f, tr("Select a follow-up first.")):
            return
        assert f is not None and self.patient_id is not None
        self._run(ChangeFollowUpDialog(self._service, self.patient_id, f, cancel, self))

    def on_missed_clicked(self) -> None:
        f = self.selected_follow_up()
        if not self._need(f, tr("Select a follow-up first.")):
            return
        assert f is not None and f.id is not None and self.patient_id is not None
        try:
            self.show_view(self._service.mark_missed(self.patient_id, f.id, f.version))
        except DomainError as e:
            self.banner.show_problem(str(e))

    def select(self, ref_kind: str, ref_id: int) -> None:
        """Select the plan or follow-up a worklist row points at."""
        if ref_kind == "follow_up":
            for r, f in enumerate(self._follow_ups):
                if f.id == ref_id:
                    self.follow_ups.selectRow(r)
                    self.follow_ups.setFocus()
        elif ref_kind == "plan":
            for r, p in enumerate(self._plans):
                if p.id == ref_id:
                    self.plans.selectRow(r)
                    self.plans.setFocus()
