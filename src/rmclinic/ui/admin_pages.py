"""Administrator pages: accounts, the audit trail viewer, clinic settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import LOGIN_ROLES, ROLE_LABELS, Role
from ..domain.audit import Action
from ..domain.errors import DomainError
from ..fileio import write_private_atomically
from ..services.container import Services
from ..services.dto import AuditFilter, UserRecord
from ..services.settings import SPECS
from .common import ErrorLabel, add_field, read_only_table, tr


class UsersPage(QWidget):
    def __init__(self, services: Services, parent: Any = None) -> None:
        super().__init__(parent)
        self.s = services
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("User accounts") + "</h2>"))
        self.table = read_only_table(
            [tr("User name"), tr("Name"), tr("Role"), tr("Active"), tr("Last login")], tr("Accounts")
        )
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(tr("&Add user…"))
        self.role_button = QPushButton(tr("Change &role…"))
        self.active_button = QPushButton(tr("Activate / &deactivate"))
        self.password_button = QPushButton(tr("Reset &password…"))
        for b, slot in (
            (self.add_button, self.on_add_clicked),
            (self.role_button, self.on_role_clicked),
            (self.active_button, self.on_active_clicked),
            (self.password_button, self.on_password_clicked),
        ):
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.users: list[UserRecord] = []

    def load(self) -> None:
        try:
            self.users = self.s.auth.list_users()
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        self.table.setRowCount(len(self.users))
        for r, u in enumerate(self.users):
            last = u.last_login_at.astimezone().strftime("%d/%m/%Y %H:%M") if u.last_login_at else ""
            for c, v in enumerate(
                [u.username, u.display_name, tr(ROLE_LABELS[u.role]), tr("yes") if u.active else tr("no"), last]
            ):
                self.table.setItem(r, c, QTableWidgetItem(v))
        self.table.resizeColumnsToContents()

    def _selected(self) -> UserRecord | None:
        r = self.table.currentRow()
        return self.users[r] if 0 <= r < len(self.users) else None

    def _run(self, fn: Any) -> None:
        self.error.show_problem(None)
        try:
            fn()
        except DomainError as e:
            self.error.show_problem(str(e))
        self.load()

    def _ask_role(self, current: Role | None = None) -> Role | None:
        labels = [tr(ROLE_LABELS[r]) for r in LOGIN_ROLES]
        start = LOGIN_ROLES.index(current) if current in LOGIN_ROLES else 2
        label, ok = QInputDialog.getItem(self, tr("Role"), tr("Role:"), labels, start, False)
        return LOGIN_ROLES[labels.index(label)] if ok else None

    def _ask_password(self, who: str) -> str | None:
        text, ok = QInputDialog.getText(
            self, tr("Password"), tr("New password for {u}:").format(u=who), QLineEdit.EchoMode.Password
        )
        return text if ok else None

    def on_add_clicked(self) -> None:
        name, ok = QInputDialog.getText(self, tr("Add user"), tr("User name (lower case):"))
        if not ok:
            return
        role = self._ask_role()
        password = self._ask_password(name) if role else None
        if role and password is not None:
            self._run(lambda: self.s.auth.add_user(name.strip(), role, password))

    def on_role_clicked(self) -> None:
        u = self._selected()
        if u is None:
            return
        role = self._ask_role(u.role)
        if role:
            self._run(lambda: self.s.auth.set_role(u.username, role, u.version))

    def on_active_clicked(self) -> None:
        u = self._selected()
        if u is not None:
            self._run(lambda: self.s.auth.set_active(u.username, not u.active, u.version))

    def on_password_clicked(self) -> None:
        u = self._selected()
        password = self._ask_password(u.username) if u else None
        if u is not None and password is not None:
            self._run(lambda: self.s.auth.reset_password(u.username, password))


class AuditPage(QWidget):
    """Filter by date range, user, patient and action; sortable; CSV export."""

    COLUMNS = ("seq", "at", "username", "role", "workstation", "action", "entity", "patient_id", "outcome", "details")
    HEADERS = (
        "No.",
        "Time (UTC)",
        "User",
        "Role",
        "Workstation",
        "Action",
        "Record",
        "Patient id",
        "Outcome",
        "Details",
    )

    def __init__(self, services: Services, parent: Any = None) -> None:
        super().__init__(parent)
        self.s = services
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("Audit trail") + "</h2>"))
        filters = QHBoxLayout()
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until = QDateEdit(QDate.currentDate())
        for edit, name in ((self.since, tr("From date")), (self.until, tr("To date"))):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
            edit.setAccessibleName(name)
        self.user = QLineEdit()
        self.user.setPlaceholderText(tr("user"))
        self.user.setAccessibleName(tr("User filter"))
        self.patient = QLineEdit()
        self.patient.setPlaceholderText(tr("patient id"))
        self.patient.setAccessibleName(tr("Patient filter"))
        self.action = QComboBox()
        self.action.setAccessibleName(tr("Action filter"))
        self.action.addItem(tr("any action"), "")
        for a in Action:
            self.action.addItem(a.value, a.value)
        self.apply = QPushButton(tr("&Show"))
        self.export = QPushButton(tr("Export &CSV…"))
        for w in (
            QLabel(tr("From")),
            self.since,
            QLabel(tr("to")),
            self.until,
            self.user,
            self.patient,
            self.action,
            self.apply,
            self.export,
        ):
            filters.addWidget(w)
        lay.addLayout(filters)
        self.status = QLabel()
        lay.addWidget(self.status)
        self.table = read_only_table([tr(c) for c in self.HEADERS], tr("Audit entries"))
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().sectionClicked.connect(self.on_header_clicked)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        lay.addWidget(self.table, 1)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.sort, self.descending = "seq", True
        self.apply.clicked.connect(self.load)
        self.export.clicked.connect(self.on_export_clicked)

    def current_filter(self) -> AuditFilter:
        def utc(d: QDate, plus: int = 0) -> dt.datetime:
            return dt.datetime(d.year(), d.month(), d.day(), tzinfo=dt.UTC) + dt.timedelta(days=plus)

        pid = self.patient.text().strip()
        return AuditFilter(
            since=utc(self.since.date()),
            until=utc(self.until.date(), 1),
            username=self.user.text().strip().lower(),
            patient_id=int(pid) if pid.isdigit() else None,
            action=self.action.currentData(),
            sort=self.sort,
            descending=self.descending,
        )

    def on_header_clicked(self, section: int) -> None:
        key = self.COLUMNS[section]
        if key not in ("seq", "at", "username", "action", "patient_id"):
            return
        self.descending = not self.descending if key == self.sort else False
        self.sort = key
        self.load()

    def load(self) -> None:
        self.error.show_problem(None)
        try:
            entries, total = self.s.audit.query(self.current_filter(), 0, 1000)
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        self.status.setText(tr("{shown} of {total} entries").format(shown=len(entries), total=total))
        self.table.setRowCount(len(entries))
        for r, entry in enumerate(entries):
            values = [
                str(entry.seq),
                entry.at.strftime("%d/%m/%Y %H:%M:%S"),
                entry.username,
                entry.role,
                entry.workstation,
                entry.action + (" (EMERGENCY)" if entry.emergency else ""),
                f"{entry.entity} {entry.entity_id}".strip(),
                "" if entry.patient_id is None else str(entry.patient_id),
                entry.outcome,
                entry.details,
            ]
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if entry.emergency:
                    item.setToolTip(tr("Emergency (break-glass) access"))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Export audit trail"), "audit.csv", "CSV (*.csv)")
        if not path:
            return
        try:
            data = self.s.audit.export_csv(self.current_filter())
            write_private_atomically(Path(path), data.encode("utf-8"))
        except (DomainError, OSError) as e:
            self.error.show_problem(str(e))


MULTILINE_SETTINGS = frozenset(
    {"catalogue_additions", "followup_protocols", "worklist_milestones", "rule_settings", "clinic_urgent_advice"}
)


class LogoField(QLineEdit):
    """The clinic logo: chosen from a file, kept as base64 in the database so every workstation prints it.
    Shows what is set rather than the encoded bytes; double-click (or F4) to choose, Delete to remove."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._value = ""
        self.setReadOnly(True)
        self.setPlaceholderText(tr("No logo — double-click to choose a PNG or JPEG file"))

    def text(self) -> str:
        return self._value

    def setText(self, value: str) -> None:  # type: ignore[override]
        self._value = value
        size = len(value) * 3 // 4
        super().setText(
            tr("Logo set ({kb} KB) — double-click to change, Delete to remove").format(kb=max(1, size // 1024))
            if value
            else ""
        )

    def choose(self, path: str | None = None) -> None:
        import base64

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, tr("Clinic logo"), "", tr("Images (*.png *.jpg *.jpeg)"))
        if path:
            self.setText(base64.b64encode(Path(path).read_bytes()).decode("ascii"))

    def mouseDoubleClickEvent(self, event: Any) -> None:
        self.choose()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.setText("")
        elif event.key() in (Qt.Key.Key_F4, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.choose()
        else:
            super().keyPressEvent(event)


class SettingsPage(QWidget):
    def __init__(self, services: Services, parent: Any = None) -> None:
        super().__init__(parent)
        self.s = services
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("Settings") + "</h2>"))
        form = QFormLayout()
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {}
        self.errors: dict[str, ErrorLabel] = {}
        for key, spec in SPECS.items():
            if not spec.user_editable:
                continue
            w: QLineEdit | QPlainTextEdit = (
                QPlainTextEdit() if key in MULTILINE_SETTINGS else LogoField() if key == "clinic_logo" else QLineEdit()
            )
            if isinstance(w, QPlainTextEdit):
                w.setTabChangesFocus(True)
                w.setFixedHeight(120)
            self.errors[key] = add_field(form, tr(spec.label), w, self)
            self.fields[key] = w
        holder = QWidget()
        holder.setLayout(form)
        scroll = QScrollArea()  # the JSON settings make the form taller than a small screen
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        lay.addWidget(scroll, 1)
        self.save = QPushButton(tr("&Save settings"))
        self.save.clicked.connect(self.on_save_clicked)
        lay.addWidget(self.save, 0, Qt.AlignmentFlag.AlignLeft)
        self.db = QLabel(tr("Database: {db}").format(db=services.database_label))
        self.db.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.db)

    def load(self) -> None:
        values = self.s.settings.all()
        for key, w in self.fields.items():
            if isinstance(w, QPlainTextEdit):
                w.setPlainText(values[key])
            else:
                w.setText(values[key])
            self.errors[key].show_problem(None)

    def on_save_clicked(self) -> None:
        for key, w in self.fields.items():
            self.errors[key].show_problem(None)
            try:
                self.s.settings.set(key, w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text())
            except DomainError as e:
                self.errors[key].show_problem(str(e).split(": ", 1)[-1])
        if not any(e.text() for e in self.errors.values()):
            QMessageBox.information(self, tr("Settings"), tr("Settings saved."))
