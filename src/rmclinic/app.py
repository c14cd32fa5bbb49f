"""Wiring: choose the database, migrate it, build the services, start the UI. Nothing runs at import."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence

from .domain.accounts import Permission
from .domain.clock import Clock, SystemClock
from .persistence.backup import SqliteFiles
from .persistence.db import describe, make_engine, resolve_url
from .persistence.migrate import known_revisions, upgrade
from .persistence.uow import unit_of_work_factory
from .services.alerts import AlertService
from .services.audit import AuditService
from .services.auth import AuthService
from .services.backup import BackupService
from .services.careplan import CarePlanData, CarePlanService
from .services.container import Services
from .services.demo import DemoService
from .services.letters import LetterData, VisitService
from .services.patients import PatientService
from .services.pregnancy import PregnancyService
from .services.session import SessionContext
from .services.settings import SettingsService
from .services.transfer import TransferService
from .services.worklist import WorklistService
from .services.workup import WorkupService

log = logging.getLogger("rmclinic.app")


def build_services(url: str | None = None, clock: Clock | None = None, migrate: bool = True) -> Services:
    """Open (and, unless told otherwise, migrate) the database and build every service over it."""
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
        backend=engine.dialect.name,
        database_label=describe(resolved),
        close=engine.dispose,
    )


def render_care_plans(plans: Sequence[CarePlanData], progress: Callable[[int, int], None] | None = None) -> bytes:
    """ReportLab is imported on the first printout, not at start-up."""
    from .reports.careplan import render_care_plans as render

    return render(plans, progress)


def render_letter(data: LetterData) -> bytes:
    from .reports.letter import render_letter as render

    return render(data)


def _upgrade_quietly(url: str) -> None:
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


def _login_at_start(services: Services, user: str | None) -> bool:
    """First admin on an empty database; RMCLINIC_USER/RMCLINIC_PASSWORD; else the login dialog."""
    import os

    from .services.auth import LoginFailed
    from .ui.login import FirstAdminDialog, LoginDialog

    if not services.auth.has_users():
        return FirstAdminDialog(services.auth).exec() == 1
    name = user or os.environ.get("RMCLINIC_USER")
    password = os.environ.get("RMCLINIC_PASSWORD")
    if name and password is not None:
        try:
            services.auth.login(name, password)
            return True
        except LoginFailed:
            pass
    demo = " — DEMO" if services.settings.is_demo() else ""
    dlg = LoginDialog(services.auth, title_suffix=demo)
    if name:
        dlg.username.setText(name)
        dlg.password.setFocus()
    return dlg.exec() == 1


def start_background_checks(window: object, services: Services) -> None:
    """After the first window shows: verify the audit chain and take the daily backup, off the UI thread."""
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

    run_in_background(services.audit.verify_unchecked, verified, failed)
    if services.backend == "sqlite":
        run_in_background(lambda: services.backup.automatic(backups_dir()), lambda _p: None, failed)


def run_app(database: str | None, user: str | None = None) -> int:
    from .ui.main import make_application, notice_previous_crash, show_start_error
    from .ui.main_window import MainWindow

    app = make_application()
    notice_previous_crash()
    try:
        services = build_services(database)
    except Exception as exc:
        from .cli import known_error_message

        log.error("start-up failed: %s", type(exc).__name__)
        show_start_error(known_error_message(exc) or f"Could not start ({type(exc).__name__}); see the log file.")
        return 1
    try:
        if not _login_at_start(services, user):
            return 0
        window = MainWindow(services)
        install_excepthook(window)
        window.load()
        window.show()
        start_background_checks(window, services)
        code = app.exec()
        services.auth.logout()
        return code
    finally:
        services.close()
