"""Small shared widgets and helpers: field errors, date fields, message boxes."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)


def tr(text: str, context: str = "rmclinic") -> str:
    return QCoreApplication.translate(context, text)


class ErrorLabel(QLabel):
    """A plain-words problem shown right under the field it belongs to; hidden when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self._styled = False
        self.hide()

    def show_problem(self, message: str | None) -> None:
        if message:
            if not self._styled:  # styled when first needed: the login dialog shows without loading Qt's enums
                self._styled = True
                from PySide6.QtCore import Qt

                self.setTextFormat(Qt.TextFormat.PlainText)
                # Red plus a warning sign: colour is never the only carrier of meaning.
                self.setStyleSheet("color: #b00020;")
            self.setText("⚠ " + message)
            self.show()
        else:
            self.clear()
            self.hide()


class DateField(QLineEdit):
    """Date typed as dd/mm/yyyy: faster by keyboard than a spin box, and nothing typed is lost."""

    def __init__(self, parent: QWidget | None = None, optional: bool = False) -> None:
        super().__init__(parent)
        self.optional = optional
        self.setPlaceholderText(tr("dd/mm/yyyy"))
        self.setMaxLength(10)

    def set_date(self, value: dt.date | None) -> None:
        self.setText(value.strftime("%d/%m/%Y") if value else "")

    def date_or_problem(self) -> tuple[dt.date | None, str | None]:
        text = self.text().strip()
        if not text:
            return None, None if self.optional else tr("A date is required (dd/mm/yyyy).")
        from ..domain.search import parse_date_dmy

        value = parse_date_dmy(text)
        if value is None:
            return None, tr("Not a date: type it as dd/mm/yyyy, for example 14/03/1992.")
        return value, None


def parse_optional_float(text: str) -> tuple[float | None, str | None]:
    t = text.strip().replace(",", ".")
    if not t:
        return None, None
    try:
        return float(t), None
    except ValueError:
        return None, tr("Type a number, for example 65 or 65.5.")


def format_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def add_field(form: QFormLayout, label: str, widget: QWidget, owner: QWidget) -> ErrorLabel:
    """One form row: the label (with its mnemonic) bound to the widget, and an error label under the
    widget. The accessible name comes from the label, or from a check box's own text."""
    err = ErrorLabel(owner)
    holder = QWidget()
    lay = QVBoxLayout(holder)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(widget)
    lay.addWidget(err)
    lab = QLabel(label)
    lab.setBuddy(widget)
    name = label or (widget.text() if isinstance(widget, QAbstractButton) else "")
    widget.setAccessibleName(name.replace("&", "").rstrip(" *"))
    form.addRow(lab, holder)
    return err


def read_only_table(headers: list[str], name: str) -> QTableWidget:
    """A list of records: whole rows selected one at a time, not editable in place, the last column
    stretched, and Tab moving on to the next control rather than through the cells."""
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setAccessibleName(name)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    t.setTabKeyNavigation(False)
    return t
