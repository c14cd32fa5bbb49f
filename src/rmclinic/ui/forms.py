"""A dialog with labelled fields whose problems show under the field they belong to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QVBoxLayout, QWidget

from ..domain.errors import DomainError, ValidationError
from ..domain.gestation import parse_weeks_days
from .common import DateField, ErrorLabel, add_field, parse_optional_float, tr


class FormDialog(QDialog):
    """Subclasses add fields with ``add``, then implement ``submit`` (collect, call a service, return the
    result or raise). A problem keyed by a field shows under it; anything else goes to the banner. The
    dialog stays open, with everything typed kept, until a save succeeds."""

    def __init__(self, title: str, parent: Any = None, ok_text: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.result_value: Any = None
        self.errors: dict[str, ErrorLabel] = {}
        self.fields: dict[str, QWidget] = {}
        self.outer = QVBoxLayout(self)
        self.banner = ErrorLabel(self)
        self.outer.addWidget(self.banner)
        self.form = QFormLayout()
        self.outer.addLayout(self.form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        if ok_text:
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(ok_text)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Save, self, self.on_save_clicked)

    def finish_layout(self) -> None:
        self.outer.addWidget(self.buttons)

    def add(self, key: str, label: str, widget: QWidget, form: QFormLayout | None = None) -> QWidget:
        self.errors[key] = add_field(form or self.form, label, widget, self)
        self.fields[key] = widget
        return widget

    def clear_problems(self) -> None:
        self.banner.show_problem(None)
        for e in self.errors.values():
            e.show_problem(None)

    def show_problems(self, problems: dict[str, str]) -> None:
        """Each message under its field (several for one field are all shown); the first field gets focus."""
        by_label: dict[ErrorLabel, list[str]] = {}
        first = None
        for key, message in problems.items():
            label = self.errors.get(key)
            parts = key.split(".")
            if label is None and len(parts) == 3 and parts[1].isdigit():  # a row of a table: say which
                label = self.errors.get(parts[0])
                if not message.startswith(tr("Step")):
                    message = tr("Row {n}: ").format(n=int(parts[1]) + 1) + message
            target = label or self.banner
            by_label.setdefault(target, []).append(message)
            if label is not None and first is None:
                first = self.fields.get(key) or self.fields.get(parts[0])
        for target, messages in by_label.items():
            target.show_problem("\n".join(messages))
        if first is not None:
            first.setFocus()

    def submit(self) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def on_save_clicked(self) -> None:
        self.clear_problems()
        try:
            self.result_value = self.submit()
        except ValidationError as e:
            self.show_problems({p.field: p.message for p in e.problems})
            return
        except DomainError as e:
            self.banner.show_problem(str(e))
            return
        if self.result_value is not None:
            self.accept()


class Problems(dict[str, str]):
    """Collects field problems while reading a form; ``raise_if_any`` turns them into a ValidationError."""

    def read(self, key: str, reader: Callable[[], Any]) -> Any:
        try:
            return reader()
        except ValueError as e:
            self[key] = str(e)
            return None

    def raise_if_any(self) -> None:
        if self:
            raise ValidationError.from_dict(dict(self))


def read_float(edit: QLineEdit, required: bool = True) -> float | None:
    value, problem = parse_optional_float(edit.text())
    if problem:
        raise ValueError(problem)
    if value is None and required:
        raise ValueError(tr("Type a number."))
    return value


def read_gestation(edit: QLineEdit, required: bool = True) -> int | None:
    if not edit.text().strip():
        if required:
            raise ValueError(tr("Type the gestation as weeks+days, for example 16+0."))
        return None
    return parse_weeks_days(edit.text()).days


def read_date(field: DateField) -> dt.date | None:
    value, problem = field.date_or_problem()
    if problem:
        raise ValueError(problem)
    return value
