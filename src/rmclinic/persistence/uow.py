"""The unit of work: one session and transaction per use case."""

from __future__ import annotations

from types import TracebackType
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..services.ports import UnitOfWorkFactory
from .accounts import SqlSettingsRepository, SqlUserRepository
from .alerts import SqlAlertRepository
from .audit import SqlAuditLog
from .careplans import SqlCarePlanRepository
from .db import WRITER_OPTIONS
from .models import add_partial_index_conditions
from .outcomes import SqlOutcomesQueries
from .pregnancy import SqlPregnancyRepository
from .repository import SqlPatientRepository, translate_errors
from .visits import SqlVisitRepository
from .workup import SqlWorkupRepository


class SqlUnitOfWork:
    """Rolls back unless ``commit()`` was called. Writers take SQLite's write lock at BEGIN."""

    patients: SqlPatientRepository
    users: SqlUserRepository
    audit: SqlAuditLog
    settings: SqlSettingsRepository
    workup: SqlWorkupRepository
    pregnancy: SqlPregnancyRepository
    alerts: SqlAlertRepository
    careplans: SqlCarePlanRepository
    visits: SqlVisitRepository
    outcomes: SqlOutcomesQueries

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.patients = SqlPatientRepository(self.session)
        self.users = SqlUserRepository(self.session)
        self.audit = SqlAuditLog(self.session)
        self.settings = SqlSettingsRepository(self.session)
        self.workup = SqlWorkupRepository(self.session)
        self.pregnancy = SqlPregnancyRepository(self.session)
        self.alerts = SqlAlertRepository(self.session)
        self.careplans = SqlCarePlanRepository(self.session)
        self.visits = SqlVisitRepository(self.session)
        self.outcomes = SqlOutcomesQueries(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        with translate_errors():
            self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def unit_of_work_factory(engine: Engine) -> UnitOfWorkFactory:
    add_partial_index_conditions(engine.dialect.name)
    readers = sessionmaker(engine, expire_on_commit=False)
    writers = sessionmaker(engine.execution_options(**WRITER_OPTIONS), expire_on_commit=False)

    def make(read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(readers if read_only else writers)

    return cast(UnitOfWorkFactory, make)
