"""Wiring: choose the database, migrate it, build the services, start the UI. Nothing runs at import.

Start-up order matters for speed (see the README's architecture notes): the login dialog shows before
SQLAlchemy and the services are imported, which happens in a background thread while the user types.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .domain.clock import Clock
    from .services.careplan import CarePlanData
    from .services.container import Services
    from .services.letters import LetterData
    from .services.outcomes import OutcomesReport

log = logging.getLogger("rmclinic.app")

OPEN_FALLBACK_MS = 300


def build_services(url: str | None = None, clock: Clock | None = None, migrate: bool = True) -> Services:
    """Open (and, unless told otherwise, migrate) the database and build every service over it."""
    import socket

    from .domain.clock import SystemClock
    from .persistence.backup import SqliteFiles
    from .persistence.db import describe, make_engine, resolve_url
    from .persistence.migrate import known_revisions, upgrade
    from .persistence.uow import unit_of_work_factory
    from .services.alerts import AlertService
    from .services.audit import AuditService
    from .services.auth import AuthService
    from .services.backup import BackupService
    from .services.careplan import CarePlanService
    from .services.container import Services
    from .services.demo import DemoService
    from .services.letters import VisitService
    from .services.outcomes import OutcomesService
    from .services.patients import PatientService
    from .services.pregnancy import PregnancyService
    from .services.session import SessionContext
    from .services.settings import SettingsService
    from .services.transfer import TransferService
    from .services.worklist import WorklistService
    from .services.workup import WorkupService

    resolved = resolve_url(url)
    if migrate and upgrade(resolved):
        log.info("database backed up before migration")
    engine = make_engine(resolved)
    uow = unit_of_work_factory(engine)
    clk = clock or SystemClock()
    session = SessionContext(workstation=socket.gethostname()[:100] or "unknown")
    settings = SettingsService(uow, clk, session)
    workup = WorkupService(uow, clk, session)
    alerts = AlertService(uow, clk, session, workup.catalogue)
    careplans = CarePlanService(uow, clk, session, alerts, workup.catalogue, render_care_plans)
    return Services(
        session=session,
        auth=AuthService(uow, clk, session),
        patients=PatientService(uow, clk, session),
        transfer=TransferService(uow, clk, session, workup.catalogue),
        demo=DemoService(uow, clk, session),
        audit=AuditService(uow, clk, session),
        settings=settings,
        backup=BackupService(
            uow,
            clk,
            session,
            SqliteFiles(resolved, engine),
            is_known_revision=lambda rev: rev in known_revisions(),
            upgrade=lambda: _upgrade_quietly(resolved),
            backup_keep=lambda: settings.get_int("backup_keep"),
        ),
        workup=workup,
        pregnancy=PregnancyService(uow, clk, session, alerts),
        alerts=alerts,
        careplans=careplans,
        visits=VisitService(uow, clk, session, careplans, render_letter),
        worklist=WorklistService(uow, clk, session),
        outcomes=OutcomesService(
            uow,
            clk,
            session,
            workup.catalogue,
            lambda: {r.id: r.title for r in alerts.rule_set().rules},
            render_outcomes,
        ),
        backend=engine.dialect.name,
        database_label=describe(resolved),
        close=engine.dispose,
    )


def render_care_plans(plans: Sequence[CarePlanData], progress: Callable[[int, int], None] | None = None) -> bytes:
    """ReportLab is imported on the first printout, not at start-up."""
    from .reports.careplan import render_care_plans as render

    return render(plans, progress)


def render_outcomes(report: OutcomesReport) -> bytes:
    from .reports.outcomes import render_outcomes as render

    return render(report)


def render_letter(data: LetterData) -> bytes:
    from .reports.letter import render_letter as render

    return render(data)


def _upgrade_quietly(url: str) -> None:
    from .persistence.migrate import upgrade

    upgrade(url, backup=False)


def run_self_test(services: Services) -> int:
    """Build the real main window and load the patient list; returns the number of patients listed.
    Runs as the app itself (no login), and writes nothing."""
    from .ui.main import make_application
    from .ui.main_window import MainWindow

    app = make_application()
    services.session.actor = services.session.system("self-test")
    window = MainWindow(services, remember_geometry=False)
    window.load()
    window.show()
    app.processEvents()
    shown = window.patients.model.total
    window.close()
    return shown


def install_excepthook(window: object) -> None:
    """An uncaught error is logged and shown with a copyable report that holds no patient data."""
    import sys

    from .ui.main import show_unexpected_error

    def hook(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        report = crash_report(exc_type, tb)
        log.error("unexpected error\n%s", report)
        from .cli import known_error_message

        show_unexpected_error(window, known_error_message(exc), report)

    sys.excepthook = hook


def crash_report(exc_type: type[BaseException], tb: object) -> str:
    """Exception type and code locations only: messages and values can carry patient data."""
    import platform
    import traceback

    from . import __version__

    frames = traceback.extract_tb(tb)  # type: ignore[arg-type]
    lines = [
        f"rmclinic {__version__}, Python {platform.python_version()}, {platform.system()}",
        f"{exc_type.__module__}.{exc_type.__qualname__}",
    ]
    lines += [f"  {f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames]
    return "\n".join(lines)


def _login_with_environment(services: Services, user: str | None) -> bool:
    """RMCLINIC_USER/RMCLINIC_PASSWORD (workstation scripts, the benchmark): no dialog when they are right."""
    from .services.auth import LoginFailed

    name = user or os.environ.get("RMCLINIC_USER")
    password = os.environ.get("RMCLINIC_PASSWORD")
    if not (name and password is not None) or not services.auth.has_users():
        return False
    try:
        services.auth.login(name, password)
    except LoginFailed:
        return False
    return True


def _login_overlapping_ui_imports(services: Services, user: str | None) -> bool:
    """Check the environment's password in a thread while this one imports Qt and the main window: the hash
    runs in C without the GIL, so the two overlap on a multi-core workstation."""
    import threading

    outcome: list[bool | BaseException] = []

    def check() -> None:
        try:
            outcome.append(_login_with_environment(services, user))
        except BaseException as exc:  # handed to the main thread, which reports it as any start-up error
            outcome.append(exc)

    worker = threading.Thread(target=check)
    worker.start()
    try:
        _start_qt()
        import rmclinic.ui.main_window  # noqa: F401  (the import is the work being overlapped)
    finally:
        worker.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _start_qt() -> None:
    from .ui.main import make_application, notice_previous_crash

    make_application()
    notice_previous_crash()


def _login_dialog(services: Services, user: str | None) -> bool:
    """The first administrator on an empty database, else the login dialog (the database already open)."""
    from .ui.login import FirstAdminDialog, LoginDialog

    if not services.auth.has_users():
        return FirstAdminDialog(services.auth).exec() == 1
    dlg = LoginDialog(services.auth, title_suffix=" — DEMO" if services.settings.is_demo() else "")
    name = user or os.environ.get("RMCLINIC_USER")
    if name:
        dlg.username.setText(name)
        dlg.password.setFocus()
    return dlg.exec() == 1


class _Opening:
    """The database opening in the background while the login dialog waits for the user."""

    FAILED, FIRST_ADMIN = 2, 3

    def __init__(self, database: str | None) -> None:
        self.database = database
        self.services: Services | None = None
        self.error: BaseException | None = None
        self.finished = False

    def open(self) -> tuple[Services, bool, bool]:
        services = build_services(self.database)
        try:
            return services, services.auth.has_users(), services.settings.is_demo()
        except BaseException:
            services.close()
            raise


def _login_while_opening(database: str | None, user: str | None) -> tuple[Services | None, bool]:
    """Show the login dialog at once and open the database meanwhile (SQLAlchemy, the services, a migration
    if one is due). Returns the services (None when they could not be built) and whether someone logged in."""
    from PySide6.QtCore import QEventLoop

    from .ui.login import FirstAdminDialog, LoginDialog
    from .ui.main import report_first_window_for_benchmark, show_start_error
    from .ui.tasks import after_first_paint, run_in_background

    state = _Opening(database)
    dlg = LoginDialog(None)
    name = user or os.environ.get("RMCLINIC_USER")
    if name:
        dlg.username.setText(name)
        dlg.password.setFocus()

    waiting = QEventLoop()  # runs only when the dialog closed before the database was open

    def opened(result: tuple[Services, bool, bool]) -> None:
        state.services, has_users, demo = result
        state.finished = True
        waiting.quit()
        if not has_users:
            dlg.done(_Opening.FIRST_ADMIN)
        else:
            dlg.set_auth(state.services.auth, " — DEMO" if demo else "")

    def failed(exc: BaseException) -> None:
        state.error, state.finished = exc, True
        waiting.quit()
        dlg.done(_Opening.FAILED)

    # Started once the dialog has painted, so the import work (which holds the GIL most of the time) does not
    # delay its first paint; at the latest after OPEN_FALLBACK_MS, should no paint come (a minimised window).
    after_first_paint(dlg, lambda: run_in_background(state.open, opened, failed), OPEN_FALLBACK_MS)
    report_first_window_for_benchmark()
    code = dlg.exec()
    if not state.finished:  # cancelled before the database was open: let the opening finish, then close
        waiting.exec()
    if state.error is not None:
        from .cli import known_error_message

        log.error("start-up failed: %s", type(state.error).__name__)
        show_start_error(
            known_error_message(state.error) or f"Could not start ({type(state.error).__name__}); see the log file."
        )
        return None, False
    assert state.services is not None
    if code == _Opening.FIRST_ADMIN:
        return state.services, FirstAdminDialog(state.services.auth).exec() == 1
    return state.services, code == 1


def start_background_checks(window: object, services: Services) -> None:
    """After the first window shows, off the UI thread: load the ORM models the first window did without,
    verify the audit chain, and take the daily backup."""
    from .domain.accounts import Permission
    from .paths import backups_dir
    from .ui.main import show_audit_warning
    from .ui.tasks import run_in_background

    def verified(report: object) -> None:
        if getattr(report, "ok", True):
            return
        message = f"entry {report.first_bad_seq}: {report.problem}"  # type: ignore[attr-defined]
        log.warning("audit chain verification failed at entry %s", report.first_bad_seq)  # type: ignore[attr-defined]
        services.settings.set_internal("audit_alert", message, "audit-check")
        actor = services.session.actor
        if actor is not None and actor.can(Permission.VIEW_AUDIT):
            show_audit_warning(window, message)

    def failed(exc: BaseException) -> None:
        log.error("background check failed: %s", type(exc).__name__)

    from PySide6.QtCore import QTimer

    from .persistence.uow import load_repositories

    # Once the window has been through the event loop: the import holds the GIL most of its ~90 ms.
    QTimer.singleShot(0, lambda: run_in_background(load_repositories, lambda _r: None, failed))
    run_in_background(services.audit.verify_unchecked, verified, failed)
    if services.backend == "sqlite":
        run_in_background(lambda: services.backup.automatic(backups_dir()), lambda _p: None, failed)


def run_app(database: str | None, user: str | None = None) -> int:
    import gc

    # Start-up allocates a great many objects and frees few: the collector's passes over them are wasted time
    # (about 50 ms here). It is back on once the first window has shown, or on any way out.
    gc.disable()
    try:
        return _run_app(database, user)
    finally:
        gc.enable()


def _run_app(database: str | None, user: str | None) -> int:
    import gc

    services: Services | None
    if (user or os.environ.get("RMCLINIC_USER")) and os.environ.get("RMCLINIC_PASSWORD") is not None:
        # Login from the environment: open the database first, then check the password while Qt loads.
        try:
            services = build_services(database)
        except Exception as exc:
            from .cli import known_error_message

            log.error("start-up failed: %s", type(exc).__name__)
            _start_qt()
            from .ui.main import show_start_error

            show_start_error(known_error_message(exc) or f"Could not start ({type(exc).__name__}); see the log file.")
            return 1
        try:
            logged_in = _login_overlapping_ui_imports(services, user) or _login_dialog(services, user)
        except BaseException:
            services.close()
            raise
    else:
        _start_qt()
        services, logged_in = _login_while_opening(database, user)
        if services is None:
            return 1
    try:
        if not logged_in:
            return 0
        from PySide6.QtWidgets import QApplication

        from .ui.main import report_first_window_for_benchmark
        from .ui.main_window import MainWindow

        window = MainWindow(services)
        install_excepthook(window)
        window.load()
        window.show()
        report_first_window_for_benchmark()
        start_background_checks(window, services)
        # What start-up built (modules, classes, mappers, widgets) lives as long as the app: frozen, the
        # collector never walks it again (each full pass over it took ~30 ms, three of them before the first
        # paint and more at random later).
        gc.freeze()
        gc.enable()
        code = QApplication.exec()
        services.auth.logout()
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(5000)  # let a background check finish before the database closes
        return code
    finally:
        services.close()
