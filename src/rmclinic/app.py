"""Wiring: choose the database, migrate it, build the services. Nothing happens at import."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from .domain.clock import Clock, SystemClock
from .persistence.db import describe, make_engine, resolve_url
from .persistence.migrate import upgrade
from .persistence.repository import unit_of_work_factory
from .services.demo import DemoService
from .services.patients import PatientService
from .services.transfer import TransferService

log = logging.getLogger("rmclinic.app")


@dataclass
class Services:
    url: str
    engine: Engine
    patients: PatientService
    transfer: TransferService
    demo: DemoService

    def close(self) -> None:
        self.engine.dispose()


def build_services(url: str | None = None, clock: Clock | None = None, migrate: bool = True) -> Services:
    """Open (and, unless told otherwise, migrate) the database and build every service over it."""
    resolved = resolve_url(url)
    if migrate:
        backup = upgrade(resolved)
        if backup:
            log.info("database backed up before migration")
    engine = make_engine(resolved)
    log.info("database: %s", engine.dialect.name)
    uow = unit_of_work_factory(sessionmaker(engine, expire_on_commit=False))
    clk = clock or SystemClock()
    return Services(
        url=resolved,
        engine=engine,
        patients=PatientService(uow, clk),
        transfer=TransferService(uow, clk),
        demo=DemoService(uow, clk),
    )


__all__ = ["Services", "build_services", "describe"]
