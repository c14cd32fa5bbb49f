"""The unit of work: one session and transaction per use case.

Repositories are made on first use in each unit of work, and their modules imported then: a log-in and the
patient list's first page touch only accounts, settings, the audit trail and the list's search, which need
no mapped classes (see ``tables``), so the first window is shown before the ORM models are declared.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ..services.ports import UnitOfWorkFactory
from .db import WRITER_OPTIONS
from .errors import translate_errors
from .tables import note_dialect

if TYPE_CHECKING:
    from .accounts import SqlSettingsRepository, SqlUserRepository
    from .alerts import SqlAlertRepository
    from .audit import SqlAuditLog
    from .careplans import SqlCarePlanRepository
    from .outcomes import SqlOutcomesQueries
    from .patient_list import SqlPatientList
    from .pregnancy import SqlPregnancyRepository
    from .repository import SqlPatientRepository
    from .visits import SqlVisitRepository
    from .workup import SqlWorkupRepository


class SqlUnitOfWork:
    """Rolls back unless ``commit()`` was called. Writers take SQLite's write lock at BEGIN."""

    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    @cached_property
    def patients(self) -> SqlPatientRepository:
        from .repository import SqlPatientRepository

        return SqlPatientRepository(self.session)

    @cached_property
    def patient_list(self) -> SqlPatientList:
        from .patient_list import SqlPatientList

        return SqlPatientList(self.session)

    @cached_property
    def users(self) -> SqlUserRepository:
        from .accounts import SqlUserRepository

        return SqlUserRepository(self.session)

    @cached_property
    def audit(self) -> SqlAuditLog:
        from .audit import SqlAuditLog

        return SqlAuditLog(self.session)

    @cached_property
    def settings(self) -> SqlSettingsRepository:
        from .accounts import SqlSettingsRepository

        return SqlSettingsRepository(self.session)

    @cached_property
    def workup(self) -> SqlWorkupRepository:
        from .workup import SqlWorkupRepository

        return SqlWorkupRepository(self.session)

    @cached_property
    def pregnancy(self) -> SqlPregnancyRepository:
        from .pregnancy import SqlPregnancyRepository

        return SqlPregnancyRepository(self.session)

    @cached_property
    def alerts(self) -> SqlAlertRepository:
        from .alerts import SqlAlertRepository

        return SqlAlertRepository(self.session)

    @cached_property
    def careplans(self) -> SqlCarePlanRepository:
        from .careplans import SqlCarePlanRepository

        return SqlCarePlanRepository(self.session)

    @cached_property
    def visits(self) -> SqlVisitRepository:
        from .visits import SqlVisitRepository

        return SqlVisitRepository(self.session)

    @cached_property
    def outcomes(self) -> SqlOutcomesQueries:
        from .outcomes import SqlOutcomesQueries

        return SqlOutcomesQueries(self.session)

    def commit(self) -> None:
        with translate_errors():
            self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def refresh_statistics(self) -> None:
        """After a bulk load: PostgreSQL's planner statistics brought up to date at once (ANALYZE), not when
        autovacuum comes round. Planned on the statistics of an empty clinic, the next all-patient alert refresh
        took twice as long (46 s against 22 s on 100,000 patients). SQLite plans without them."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("ANALYZE"))


def load_repositories() -> None:
    """Import every repository and configure the ORM's mappers (~90 ms): run off the UI thread once the first
    window shows, so that the first patient opened does not pay for it."""
    from sqlalchemy.orm import configure_mappers

    from . import alerts, careplans, outcomes, pregnancy, repository, visits, workup  # noqa: F401

    configure_mappers()


def unit_of_work_factory(engine: Engine) -> UnitOfWorkFactory:
    note_dialect(engine.dialect.name)
    readers = sessionmaker(engine, expire_on_commit=False)
    writers = sessionmaker(engine.execution_options(**WRITER_OPTIONS), expire_on_commit=False)

    def make(read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(readers if read_only else writers)

    return cast(UnitOfWorkFactory, make)
