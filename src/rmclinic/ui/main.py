"""Start the Qt application (or the offscreen self-test)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QSettings, QTimer, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..paths import resource, settings_dir

ICON_DELAY_MS = 150


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv or sys.argv[:1])
    app.setOrganizationName("rmclinic")
    app.setApplicationName("rmclinic")
    app.setApplicationDisplayName("rmclinic")
    app.setDesktopFileName("rmclinic")  # the taskbar matches the window to packaging/linux/rmclinic.desktop
    # The icon (rendered from packaging/icons/rmclinic.svg) costs ~25 ms at the first window's show: it is set just
    # after, so the login dialog or the list is on screen first and the title bar and taskbar get it a moment later.
    QTimer.singleShot(ICON_DELAY_MS, app, lambda: app.setWindowIcon(QIcon(str(resource("icons", "rmclinic.png")))))
    use_portable_settings()
    _install_translators(app)
    return app


def use_portable_settings() -> None:
    """In portable mode every ``QSettings()`` (window geometry, column widths) is an INI file in the ``data``
    folder beside the executable; otherwise Qt's native place for the platform."""
    folder = settings_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        # The windowed app has no console: failing here would end it without a word. With Qt's native settings it
        # goes on to open the database, whose error (the same folder) the window shows.
        import logging

        logging.getLogger("rmclinic.ui").warning(
            "portable mode: cannot create %s (%s); window settings in Qt's native place", folder, e.strerror or e
        )
        return
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


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


def show_unexpected_error(parent: object, known: str | None, report: str = "") -> None:
    text = known or QCoreApplication.translate(
        "rmclinic",
        "Something went wrong and your last action may not have been saved. Please check the record. "
        "The report below holds no patient data; copy it for your IT support.",
    )
    box = QMessageBox(parent if isinstance(parent, QWidget) else None)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("rmclinic")
    box.setText(text)
    if report:
        box.setDetailedText(report)
    box.exec()


def show_audit_warning(parent: object, message: str) -> None:
    QMessageBox.critical(
        parent if isinstance(parent, QWidget) else None,
        QCoreApplication.translate("rmclinic", "Audit trail check failed"),
        QCoreApplication.translate(
            "rmclinic",
            "The audit trail does not verify: it may have been changed outside rmclinic ({m}). "
            "Keep the database as it is and investigate with rmclinic audit verify and your backups.",
        ).format(m=message),
    )


def notice_previous_crash() -> None:
    """Enable faulthandler into the log folder; if the last run left a native crash trace, say so once."""
    import faulthandler
    import logging

    from ..logs import log_dir

    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    trace = folder / "native-crash.log"
    if trace.exists() and trace.stat().st_size > 0:
        kept = trace.with_name("native-crash.previous.log")
        trace.replace(kept)
        logging.getLogger("rmclinic.ui").warning("the previous run crashed; trace kept in %s", kept.name)
        QMessageBox.warning(
            None,
            "rmclinic",
            QCoreApplication.translate(
                "rmclinic",
                "rmclinic closed unexpectedly last time. A technical trace (no patient data) was kept "
                "in {p} for your IT support.",
            ).format(p=kept),
        )
    handle = trace.open("w")
    faulthandler.enable(handle)
    _keep.append(handle)


_keep: list[object] = []


BENCH_SHOWN_ENV = "RMCLINIC_BENCH_SHOWN"


def report_first_window_for_benchmark() -> None:
    """For `make bench` only: with $RMCLINIC_BENCH_SHOWN set to a file, once the window just shown has been
    through the event loop, write the wall-clock time there and end the process at once. The bare-window
    floor program calls the same function, so both are timed to the same point."""
    import os

    path = os.environ.get(BENCH_SHOWN_ENV)
    if not path:
        return
    from PySide6.QtCore import QTimer

    def report() -> None:
        import time

        with open(path, "w", encoding="ascii") as f:
            f.write(repr(time.time()))
        os._exit(0)

    QTimer.singleShot(0, report)
