"""Wiring: choose the database, migrate it, build the services, start the UI. Nothing runs at import."""

from __future__ import annotations

import logging

from sqlalchemy.orm import sessionmaker

from .domain.clock import Clock, SystemClock
from .persistence.db import describe, make_engine, resolve_url
from .persistence.migrate import upgrade
from .persistence.repository import unit_of_work_factory
from .services.container import Services
from .services.demo import DemoService
from .services.patients import PatientService
from .services.transfer import TransferService

log = logging.getLogger("rmclinic.app")


def build_services(url: str | None = None, clock: Clock | None = None, migrate: bool = True) -> Services:
    """Open (and, unless told otherwise, migrate) the database and build every service over it."""
    resolved = resolve_url(url)
    if migrate and upgrade(resolved):
        log.info("database backed up before migration")
    engine = make_engine(resolved)
    uow = unit_of_work_factory(sessionmaker(engine, expire_on_commit=False))
    clk = clock or SystemClock()
    return Services(
        patients=PatientService(uow, clk),
        transfer=TransferService(uow, clk),
        demo=DemoService(uow, clk),
        backend=engine.dialect.name,
        database_label=describe(resolved),
        close=engine.dispose,
    )


def run_self_test(services: Services) -> int:
    """Build the real main window and load the patient list; returns the number of patients listed."""
    from .ui.main import make_application
    from .ui.main_window import MainWindow

    app = make_application()
    window = MainWindow(services, remember_geometry=False)
    window.load()
    window.show()
    app.processEvents()
    shown = window.patients.model.total
    window.close()
    return shown


def install_excepthook(window: object) -> None:
    """An error nobody caught is logged (without patient data) and shown, instead of killing the app."""
    import sys

    from .ui.main import show_unexpected_error

    def hook(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        log.error("unexpected error", exc_info=(exc_type, exc, tb))  # type: ignore[arg-type]
        from .cli import known_error_message

        show_unexpected_error(window, known_error_message(exc))

    sys.excepthook = hook


def run_app(database: str | None) -> int:
    from .ui.main import make_application, show_start_error
    from .ui.main_window import MainWindow

    app = make_application()
    try:
        services = build_services(database)
    except Exception as exc:
        from .cli import known_error_message

        log.exception("start-up failed")
        show_start_error(known_error_message(exc) or f"Could not start ({type(exc).__name__}); see the log file.")
        return 1
    window = MainWindow(services)
    install_excepthook(window)
    window.load()
    window.show()
    code = app.exec()
    services.close()
    return code
