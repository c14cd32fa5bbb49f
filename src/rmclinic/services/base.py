"""What every service shares: the unit of work, the clock, the session, and the permission check."""

from __future__ import annotations

import datetime as dt

from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent, Outcome
from ..domain.clock import Clock
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import PermissionDenied, SessionContext


class ServiceBase:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, session: SessionContext) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._session = session

    def today(self) -> dt.date:
        """The service clock's date: screens default dates to this, never to the wall clock directly."""
        return self._clock.today()

    def _actor(self, permission: Permission) -> Actor:
        """The current user, if allowed; a refusal is itself audited."""
        actor = self._session.current(self._clock.now())
        if not actor.can(permission):
            with self._uow() as uow:
                uow.audit.append(
                    actor,
                    [AuditEvent(Action.PERMISSION_DENIED, "permission", permission.value, outcome=Outcome.DENIED)],
                    self._clock.now(),
                )
                uow.commit()
            raise PermissionDenied(permission, actor)
        return actor

    def _audit(self, uow: UnitOfWork, actor: Actor, *events: AuditEvent) -> None:
        uow.audit.append(actor, events, self._clock.now())

    def _after_bulk_load(self) -> None:
        """Once a bulk load (demo data, an import) has committed, in a transaction of its own (never one
        inside another): the database's planner statistics brought up to date."""
        with self._uow() as uow:
            uow.refresh_statistics()
            uow.commit()
