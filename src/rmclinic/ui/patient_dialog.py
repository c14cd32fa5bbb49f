"""Register a patient or edit her details. Problems are shown at the field; input is never lost."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import ConflictError, DomainError, DuplicateError, ValidationError
from ..domain.identifiers import format_nhs_number, nhs_number_problem
from ..domain.patient import Partner, PatientData
from ..services.dto import PatientRecord
from ..services.patients import PatientService, PossibleDuplicate
from .common import DateField, ErrorLabel, add_field, format_date, tr


class PatientDialog(QDialog):
    """Add (``record is None``) or edit. After ``accept()``, ``saved`` holds the stored record."""

    def __init__(self, service: PatientService, record: PatientRecord | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self._record = record
        self.saved: PatientRecord | None = None
        self.setWindowTitle(tr("New patient") if record is None else tr("Edit patient details"))
        self.setMinimumWidth(520)

        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, ErrorLabel] = {}
        outer = QVBoxLayout(self)
        self.banner = ErrorLabel(self)
        outer.addWidget(self.banner)

        main = QFormLayout()
        outer.addLayout(main)
        self._add(main, "hospital_number", tr("&Hospital number *"), QLineEdit())
        self._add(main, "nhs_number", tr("&NHS number"), QLineEdit())
        self._add(main, "family_name", tr("&Family name *"), QLineEdit())
        self._add(main, "given_name", tr("&Given name(s) *"), QLineEdit())
        self._add(main, "date_of_birth", tr("&Date of birth *"), DateField())
        self._add(main, "phone", tr("&Phone"), QLineEdit())
        self._add(main, "email", tr("&E-mail"), QLineEdit())
        address = QPlainTextEdit()
        address.setTabChangesFocus(True)
        address.setFixedHeight(60)
        self._add(main, "address", tr("&Address"), address)
        self._add(main, "gp_practice", tr("GP &practice"), QLineEdit())
        notes = QPlainTextEdit()
        notes.setTabChangesFocus(True)
        notes.setFixedHeight(60)
        self._add(main, "notes", tr("N&otes"), notes)

        partner_box = QGroupBox(tr("Partner (leave empty if none recorded)"))
        pform = QFormLayout(partner_box)
        self._add(pform, "partner.family_name", tr("Partner's fa&mily name"), QLineEdit())
        self._add(pform, "partner.given_name", tr("Partner's g&iven name"), QLineEdit())
        self._add(pform, "partner.date_of_birth", tr("Partner's date of &birth"), DateField(optional=True))
        outer.addWidget(partner_box)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        QShortcut(QKeySequence.StandardKey.Save, self, self.on_save_clicked)

        nhs = self.fields["nhs_number"]
        assert isinstance(nhs, QLineEdit)
        nhs.editingFinished.connect(self._check_nhs_now)
        if record is not None:
            self._fill(record.data)

    def _add(self, form: QFormLayout, key: str, label: str, widget: QWidget) -> None:
        self.errors[key] = add_field(form, label, widget, self)
        self.fields[key] = widget

    def text(self, key: str) -> str:
        w = self.fields[key]
        return w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text()  # type: ignore[attr-defined]

    def set_text(self, key: str, value: str) -> None:
        w = self.fields[key]
        if isinstance(w, QPlainTextEdit):
            w.setPlainText(value)
        else:
            w.setText(value)  # type: ignore[attr-defined]

    def _fill(self, d: PatientData) -> None:
        for key in (
            "hospital_number",
            "family_name",
            "given_name",
            "phone",
            "email",
            "address",
            "gp_practice",
            "notes",
        ):
            self.set_text(key, getattr(d, key))
        self.set_text("nhs_number", format_nhs_number(d.nhs_number))
        self.set_text("date_of_birth", format_date(d.date_of_birth))
        if d.partner:
            self.set_text("partner.family_name", d.partner.family_name)
            self.set_text("partner.given_name", d.partner.given_name)
            self.set_text("partner.date_of_birth", format_date(d.partner.date_of_birth))

    def _check_nhs_now(self) -> None:
        self.errors["nhs_number"].show_problem(nhs_number_problem(self.text("nhs_number")))

    def _clear_errors(self) -> None:
        self.banner.show_problem(None)
        for e in self.errors.values():
            e.show_problem(None)

    def show_problems(self, problems: dict[str, str]) -> None:
        first: QWidget | None = None
        for key, message in problems.items():
            label = self.errors.get(key)
            if label is None:
                self.banner.show_problem(message)
                continue
            label.show_problem(message)
            first = first or self.fields[key]
        if first is not None:
            first.setFocus()

    def collect(self) -> tuple[PatientData | None, dict[str, str]]:
        problems: dict[str, str] = {}
        dob_field = self.fields["date_of_birth"]
        pdob_field = self.fields["partner.date_of_birth"]
        assert isinstance(dob_field, DateField)
        assert isinstance(pdob_field, DateField)
        dob, p = dob_field.date_or_problem()
        if p:
            problems["date_of_birth"] = p
        pdob, p = pdob_field.date_or_problem()
        if p:
            problems["partner.date_of_birth"] = p
        partner_bits = [self.text("partner.family_name").strip(), self.text("partner.given_name").strip()]
        partner = None
        if any(partner_bits) or pdob:
            partner = Partner(partner_bits[0], partner_bits[1], pdob)
        if problems:
            return None, problems
        return (
            PatientData(
                hospital_number=self.text("hospital_number"),
                nhs_number=self.text("nhs_number"),
                family_name=self.text("family_name"),
                given_name=self.text("given_name"),
                date_of_birth=dob or dt.date.min,
                phone=self.text("phone"),
                email=self.text("email"),
                address=self.text("address").strip(),
                gp_practice=self.text("gp_practice").strip(),
                notes=self.text("notes").strip(),
                partner=partner,
            ),
            {},
        )

    def confirm_possible_duplicate(self, e: PossibleDuplicate) -> bool:
        """Ask before registering someone whose names and date of birth match (tests replace this)."""
        who = "\n".join(f"{m.hospital_number}: {m.family_name}, {m.given_name}" for m in e.matches)
        answer = QMessageBox.question(
            self,
            tr("Possible duplicate"),
            tr("A patient with the same names and date of birth is already registered:")
            + f"\n\n{who}\n\n"
            + tr("Register a new patient anyway?"),
        )
        return answer == QMessageBox.StandardButton.Yes

    def on_save_clicked(self) -> None:
        self._clear_errors()
        data, problems = self.collect()
        if data is None:
            self.show_problems(problems)
            return
        try:
            if self._record is None:
                try:
                    self.saved = self._service.register(data)
                except PossibleDuplicate as dup:
                    if not self.confirm_possible_duplicate(dup):
                        return
                    self.saved = self._service.register(data, confirm_possible_duplicate=True)
            else:
                self.saved = self._service.update_demographics(
                    self._record.id, self._record.version, data, base=self._record.data
                )
        except ValidationError as e:
            self.show_problems({p.field: p.message for p in e.problems})
            return
        except DuplicateError as e:
            self.show_problems({e.field: str(e)})
            return
        except ConflictError as e:
            self.banner.show_problem(str(e))
            return
        except DomainError as e:
            self.banner.show_problem(str(e))
            return
        self.accept()
