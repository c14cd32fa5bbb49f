"""The care plan tab: print, save or open a care plan (patient or clinician copy), sign a version as a
consultant, and reprint signed versions exactly. A signed version whose record has changed is marked out
of date, in words and with a warning sign, not by colour alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.dating import gestation_on
from ..domain.errors import DomainError
from ..domain.followup import KIND_LABELS
from ..domain.medication import describe_dose, last_dose_day
from ..services.careplan import CarePlanService, SignedStatus, Variant
from ..services.session import PermissionDenied, SessionContext
from . import printing
from .common import ErrorLabel, format_date, read_only_table, tr

VARIANT_LABELS = {
    Variant.PATIENT: "For the patient (plain words, large type)",
    Variant.CLINICIAN: "For clinicians (workup, alerts, references, timeline)",
}


class CarePlanTab(QWidget):
    out_of_date_changed = Signal(bool)

    # Replaced in tests: modal dialogs must not block an offscreen run.
    exec_print_dialog: Callable[[QPrintDialog], int] = staticmethod(lambda d: d.exec())

    def __init__(self, service: CarePlanService, session: SessionContext, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self._session = session
        self.patient_id: int | None = None
        self.hospital_number = ""
        self.statuses: list[SignedStatus] = []

        lay = QVBoxLayout(self)
        self.stale = QLabel()
        self.stale.setWordWrap(True)
        self.stale.setTextFormat(Qt.TextFormat.PlainText)
        self.stale.setStyleSheet(
            "QLabel { color: #8a1c00; font-weight: bold; border: 1px solid #8a1c00; padding: 6px; }"
        )
        self.stale.setAccessibleName(tr("Signed care plan out of date"))
        self.stale.hide()
        lay.addWidget(self.stale)

        row = QHBoxLayout()
        row.addWidget(QLabel(tr("Copy:")))
        self.variant = QComboBox()
        for key, label in VARIANT_LABELS.items():
            self.variant.addItem(tr(label), key)
        self.variant.setAccessibleName(tr("Care plan copy"))
        self.variant.currentIndexChanged.connect(lambda _i: self.show_preview())
        row.addWidget(self.variant, 1)
        self.print_button = QPushButton(tr("&Print…"))
        self.print_button.clicked.connect(self.on_print_clicked)
        self.save_button = QPushButton(tr("&Save as PDF…"))
        self.save_button.clicked.connect(self.on_save_clicked)
        self.open_button = QPushButton(tr("&Open in viewer"))
        self.open_button.clicked.connect(self.on_open_clicked)
        self.sign_button = QPushButton(tr("Si&gn this version…"))
        self.sign_button.setToolTip(
            tr("Consultants: sign the care plan as it is now; the signed PDF is kept unchanged.")
        )
        self.sign_button.clicked.connect(self.on_sign_clicked)
        for b in (self.print_button, self.save_button, self.open_button, self.sign_button):
            row.addWidget(b)
        lay.addLayout(row)
        self.problem = ErrorLabel()
        lay.addWidget(self.problem)
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setAccessibleName(tr("Care plan status"))
        lay.addWidget(self.note)

        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setAccessibleName(tr("What the care plan will say"))
        self.preview.setStyleSheet("QLabel { border: 1px solid palette(mid); padding: 6px; }")
        lay.addWidget(self.preview)

        lay.addWidget(QLabel(tr("Signed versions")))
        self.table = read_only_table(
            [tr("Copy"), tr("Version"), tr("Signed by"), tr("Signed on"), tr("Status"), tr("Comment")],
            tr("Signed care plan versions"),
        )
        lay.addWidget(self.table, 1)
        signed_row = QHBoxLayout()
        self.reprint_button = QPushButton(tr("&Reprint signed…"))
        self.reprint_button.clicked.connect(self.on_reprint_clicked)
        self.save_signed_button = QPushButton(tr("Save si&gned as PDF…"))
        self.save_signed_button.clicked.connect(self.on_save_signed_clicked)
        signed_row.addWidget(self.reprint_button)
        signed_row.addWidget(self.save_signed_button)
        signed_row.addStretch(1)
        lay.addLayout(signed_row)
        self._update_buttons()

    # -- loading ----------------------------------------------------------------------------------------------

    def load(self, patient_id: int, hospital_number: str) -> None:
        self.patient_id = patient_id
        self.hospital_number = hospital_number
        self.problem.show_problem(None)
        self.statuses = self._service.signatures(patient_id)
        self.table.setRowCount(len(self.statuses))
        for r, st in enumerate(self.statuses):
            s = st.signature
            status = tr("⚠ Out of date: {why}").format(why=st.reason) if st.out_of_date else tr("✔ Current")
            cells = [
                tr("Patient") if s.variant == Variant.PATIENT else tr("Clinician"),
                str(s.version),
                s.signed_by_name,
                s.signed_at.astimezone().strftime("%d/%m/%Y %H:%M"),
                status,
                s.comment,
            ]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if self.statuses:
            self.table.selectRow(0)
        latest: dict[str, SignedStatus] = {}
        for st in self.statuses:  # newest first
            latest.setdefault(st.signature.variant, st)
        stale = [st for st in latest.values() if st.out_of_date]
        if stale:
            lines = [
                tr(
                    "⚠ The signed {copy} care plan (version {v}, {who}, {when}) is out of date: {why}. "
                    "Sign a new version before handing it out."
                ).format(
                    copy=tr("patient") if st.signature.variant == Variant.PATIENT else tr("clinician"),
                    v=st.signature.version,
                    who=st.signature.signed_by_name,
                    when=format_date(st.signature.signed_at.astimezone().date()),
                    why=st.reason,
                )
                for st in stale
            ]
            self.stale.setText("\n".join(lines))
        self.stale.setVisible(bool(stale))
        self.out_of_date_changed.emit(bool(stale))
        if self.isVisible():
            self.show_preview()
        self._update_buttons()

    def show_preview(self) -> None:
        """What a care plan made now would say, in short: checked before printing or signing."""
        if self.patient_id is None:
            return
        try:
            data = self._service.data(self.patient_id, self.chosen_variant)
        except DomainError as e:
            self.preview.setText(str(e))
            return
        lines = [
            tr("Made now from record {h} with rules {r}.").format(h=data.short_hash, r=data.rule_set_version),
        ]
        for plan in data.plans:
            edd = data.edd_for(plan.pregnancy_id)
            last = last_dose_day(plan, edd)
            ga = gestation_on(edd, last) if edd and last and not data.sensitive else None
            until = (
                tr("last dose {d}").format(d=format_date(last)) + (f" ({ga})" if ga else "")
                if last
                else tr("no planned stop")
            )
            taper = tr(", {n} taper step(s)").format(n=len(plan.taper)) if plan.taper else ""
            dose = describe_dose(plan.dose, plan.display_unit, plan.frequency)
            lines.append(f"• {plan.display_name} {dose}, {until}{taper}")
        if not data.plans:
            lines.append(tr("• No current medicines."))
        for f in data.follow_ups[:6]:
            f_edd = data.edd_for(f.pregnancy_id)
            ga = gestation_on(f_edd, f.due_date) if f_edd else None
            lines.append(
                f"• {KIND_LABELS[f.kind]}{f' ({f.title})' if f.title else ''} {format_date(f.due_date)}"
                + (f" ({ga})" if ga and not data.sensitive else "")
            )
        if len(data.follow_ups) > 6:
            lines.append(tr("• … and {n} more appointments and tests").format(n=len(data.follow_ups) - 6))
        if self.chosen_variant == Variant.CLINICIAN:
            lines.append(
                tr("{a} current alert(s) with {r} numbered reference(s); {n} result(s).").format(
                    a=len(data.alerts), r=len(data.references), n=len(data.results)
                )
            )
        if data.sensitive:
            lines.append(tr("The last pregnancy ended in a loss: the patient copy uses no antenatal wording."))
        for plan in data.unresolved_plans:
            lines.append(
                tr(
                    "⚠ {name} is still active although its pregnancy has ended: review it (not printed as current)."
                ).format(name=plan.display_name)
            )
        if not (data.clinic.phone or data.clinic.urgent_phone):
            lines.append(
                tr("⚠ No clinic telephone numbers are set (Settings): the patient copy has lines to write them on.")
            )
        self.preview.setText("\n".join(lines))

    def _update_buttons(self) -> None:
        actor = self._session.actor
        can_print = actor is not None and actor.can(Permission.PRINT)
        can_sign = actor is not None and actor.can(Permission.SIGN_CARE_PLANS)
        has_patient = self.patient_id is not None
        for b in (self.print_button, self.save_button, self.open_button):
            b.setEnabled(can_print and has_patient)
        self.sign_button.setVisible(can_sign)
        self.sign_button.setEnabled(can_sign and has_patient)
        has_signed = bool(self.statuses)
        self.reprint_button.setEnabled(can_print and has_signed)
        self.save_signed_button.setEnabled(can_print and has_signed)

    @property
    def chosen_variant(self) -> str:
        return str(self.variant.currentData())

    def _selected(self) -> SignedStatus | None:
        r = self.table.currentRow()
        return self.statuses[r] if 0 <= r < len(self.statuses) else None

    # -- actions ----------------------------------------------------------------------------------------------

    def _guard(self, what: Callable[[], object]) -> object | None:
        """Run an action with a wait cursor; problems are shown in the tab, never as a crash."""
        self.problem.show_problem(None)
        self.note.clear()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return what()
        except (DomainError, PermissionDenied, printing.PrintFailed) as e:
            self.problem.show_problem(str(e))
        except OSError as e:
            self.problem.show_problem(tr("The file could not be written: {e}").format(e=e.strerror or e))
        finally:
            QGuiApplication.restoreOverrideCursor()
        return None

    def _stem(self, variant: str) -> str:
        return f"careplan-{self.hospital_number}-{variant}"

    def on_print_clicked(self) -> None:
        if self.patient_id is None:
            return
        pid, variant = self.patient_id, self.chosen_variant
        self._guard(
            lambda: printing.ask_print_pdf(
                self,
                lambda: self._service.render(pid, variant, destination="printer"),
                tr("care plan {n}").format(n=self.hospital_number),
                type(self).exec_print_dialog,
            )
        )

    def on_save_clicked(self) -> None:
        if self.patient_id is None:
            return
        pid, variant = self.patient_id, self.chosen_variant
        saved = self._guard(
            lambda: printing.ask_save_pdf(
                self, lambda: self._service.render(pid, variant, destination="file"), self._stem(variant) + ".pdf"
            )
        )
        if isinstance(saved, Path):
            self.note.setText(tr("Saved {p}").format(p=saved))

    def on_open_clicked(self) -> None:
        if self.patient_id is None:
            return
        pid, variant = self.patient_id, self.chosen_variant
        self._guard(
            lambda: printing.open_in_viewer(
                self._service.render(pid, variant, destination="viewer"), self._stem(variant)
            )
        )

    def on_sign_clicked(self) -> None:
        if self.patient_id is None:
            return
        variant = self.chosen_variant
        comment, ok = self.ask_comment()
        if not ok:
            return
        pid = self.patient_id
        if self._guard(lambda: self._service.sign(pid, variant, comment)) is not None:
            self.note.setText(tr("Signed. The signed PDF is kept unchanged."))
            self.load(pid, self.hospital_number)

    def ask_comment(self) -> tuple[str, bool]:
        """Replaced in tests; the consultant may add a note to the sign-off."""
        return QInputDialog.getMultiLineText(
            self,
            tr("Sign care plan"),
            tr(
                "You are signing the {copy} care plan as it is now. The signed PDF is kept unchanged and can be "
                "reprinted exactly. Note (optional):"
            ).format(copy=tr("patient") if self.chosen_variant == Variant.PATIENT else tr("clinician")),
        )

    def on_reprint_clicked(self) -> None:
        st = self._selected()
        if st is None:
            return
        if st.out_of_date and not self.confirm_out_of_date(st):
            return
        sid = st.signature.id
        self._guard(
            lambda: printing.ask_print_pdf(
                self,
                lambda: self._service.signed_pdf(sid, destination="printer")[1],
                tr("signed care plan {n}").format(n=self.hospital_number),
                type(self).exec_print_dialog,
            )
        )

    def on_save_signed_clicked(self) -> None:
        st = self._selected()
        if st is None:
            return
        sid, s = st.signature.id, st.signature
        self._guard(
            lambda: printing.ask_save_pdf(
                self,
                lambda: self._service.signed_pdf(sid, destination="file")[1],
                f"{self._stem(s.variant)}-signed-v{s.version}.pdf",
            )
        )

    def confirm_out_of_date(self, st: SignedStatus) -> bool:
        answer = QMessageBox.warning(
            self,
            tr("Signed care plan out of date"),
            tr("This signed version is out of date: {why}. Reprint it anyway?").format(why=st.reason),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.show_preview()  # made when the tab is looked at, not on every change behind it
