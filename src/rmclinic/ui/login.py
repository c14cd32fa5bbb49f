"""First-admin, login and unlock dialogs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from ..domain.errors import DomainError, ValidationError
from .common import ErrorLabel, tr

if TYPE_CHECKING:  # the login dialog shows before the services (and SQLAlchemy) are imported
    from ..services.auth import AuthService

POLICY_TEXT = (
    "Passwords need at least {n} characters, letters and at least one digit or symbol, at least 5 different "
    "characters, and must not contain the user name."
)


def _password_field() -> QLineEdit:
    w = QLineEdit()
    w.setEchoMode(QLineEdit.EchoMode.Password)
    return w


class FirstAdminDialog(QDialog):
    """Shown once, on an empty database: creates the first administrator."""

    def __init__(self, auth: AuthService, parent: Any = None) -> None:
        super().__init__(parent)
        self._auth = auth
        self.setWindowTitle(tr("rmclinic: create the first administrator"))
        lay = QVBoxLayout(self)
        intro = QLabel(
            tr(
                "This database has no accounts yet. Create the administrator account, who then adds "
                "the clinic's nurses and consultants."
            )
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.username = QLineEdit()
        self.display = QLineEdit()
        self.password = _password_field()
        self.again = _password_field()
        for label, w in (
            (tr("&User name"), self.username),
            (tr("&Full name"), self.display),
            (tr("&Password"), self.password),
            (tr("Password &again"), self.again),
        ):
            w.setAccessibleName(label.replace("&", ""))
            lab = QLabel(label)
            lab.setBuddy(w)
            form.addRow(lab, w)
        lay.addLayout(form)
        from ..domain.accounts import MIN_PASSWORD_LENGTH

        policy = QLabel(tr(POLICY_TEXT).format(n=MIN_PASSWORD_LENGTH))
        policy.setWordWrap(True)
        lay.addWidget(policy)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.on_ok_clicked)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def on_ok_clicked(self) -> None:
        if self.password.text() != self.again.text():
            self.error.show_problem(tr("The two passwords differ."))
            return
        try:
            self._auth.create_first_admin(self.username.text().strip(), self.password.text(), self.display.text())
            self._auth.login(self.username.text().strip(), self.password.text())
        except ValidationError as e:
            self.error.show_problem(" ".join(p.message for p in e.problems))
            return
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        self.accept()


class LoginDialog(QDialog):
    """Log in; in ``unlock`` mode the same user re-enters the password, or someone else logs in."""

    def __init__(
        self, auth: AuthService | None, parent: Any = None, locked_user: str | None = None, title_suffix: str = ""
    ) -> None:
        super().__init__(parent)
        self._auth = auth
        self._pending = False  # "Log in" pressed while the database was still opening
        self.locked_user = locked_user
        self.switched_user = False
        self.setWindowTitle(tr("rmclinic: log in") + title_suffix)
        lay = QVBoxLayout(self)
        if locked_user:
            note = QLabel(
                tr("The screen was locked. {user}, enter your password to carry on.").format(user=locked_user)
            )
            note.setWordWrap(True)
            lay.addWidget(note)
        form = QFormLayout()
        self.username = QLineEdit(locked_user or "")
        self.username.setAccessibleName(tr("User name"))
        self.password = _password_field()
        self.password.setAccessibleName(tr("Password"))
        form.addRow(tr("&User name"), self.username)
        form.addRow(tr("&Password"), self.password)
        lay.addLayout(form)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.waiting = QLabel(tr("Opening the database…"))  # then the login goes ahead by itself
        self.waiting.hide()
        lay.addWidget(self.waiting)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = QPushButton(tr("Log in") if not locked_user else tr("Unlock"))
        self.ok.setDefault(True)
        buttons.addButton(self.ok, QDialogButtonBox.ButtonRole.AcceptRole)
        if locked_user:
            self.other = QPushButton(tr("Another user…"))
            self.other.clicked.connect(self.on_other_user_clicked)
            buttons.addButton(self.other, QDialogButtonBox.ButtonRole.ActionRole)
            self.username.setReadOnly(True)
            self.password.setFocus()
        buttons.accepted.connect(self.on_ok_clicked)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def on_other_user_clicked(self) -> None:
        self.username.setReadOnly(False)
        self.username.clear()
        self.username.setFocus()
        self.ok.setText(tr("Log in"))

    def set_auth(self, auth: AuthService, title_suffix: str = "") -> None:
        """The database is open (it opens while the user types): a login already asked for goes ahead."""
        self._auth = auth
        if not self.isVisible():  # cancelled while the database opened: a login asked for earlier is dropped
            self._pending = False
        if title_suffix:
            self.setWindowTitle(self.windowTitle() + title_suffix)
        if self._pending:
            self._pending = False
            self.waiting.hide()
            self.on_ok_clicked()

    def on_ok_clicked(self) -> None:
        if self._auth is None:
            self._pending = True
            self.waiting.show()
            self.adjustSize()
            return
        name = self.username.text().strip()
        try:
            if self.locked_user and name == self.locked_user:
                self._auth.unlock(self.password.text())
            else:
                self._auth.login(name, self.password.text())
                self.switched_user = self.locked_user is not None
        except DomainError as e:
            self.error.show_problem(str(e))
            self.password.clear()
            self.password.setFocus()
            return
        self.accept()
