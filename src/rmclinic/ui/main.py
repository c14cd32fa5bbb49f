"""Start the Qt application (or the offscreen self-test)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..paths import resource


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv or sys.argv[:1])
    app.setOrganizationName("rmclinic")
    app.setApplicationName("rmclinic")
    app.setApplicationDisplayName("rmclinic")
    _install_translators(app)
    return app


def _install_translators(app: QApplication) -> None:
    """Qt's own strings and ours, for the system locale; English needs no file."""
    locale = QLocale.system()
    qt = QTranslator(app)
    if qt.load(locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(qt)
    ours = QTranslator(app)
    if ours.load(locale, "rmclinic", "_", str(resource("translations"))):
        app.installTranslator(ours)


def show_start_error(message: str) -> None:
    QMessageBox.critical(None, "rmclinic", message)


def show_unexpected_error(parent: object, known: str | None) -> None:
    text = known or QCoreApplication.translate(
        "rmclinic",
        "Something went wrong and your last action may not have been saved. "
        "Please check the record; details are in the log file.",
    )
    QMessageBox.warning(parent if isinstance(parent, QWidget) else None, "rmclinic", text)
