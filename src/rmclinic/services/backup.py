"""Backups and restore (SQLite). PostgreSQL clinics use pg_dump; see docs/install.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..domain.accounts import Actor, Permission, Role
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.errors import DomainError, ValidationError
from .auth import password_matches
from .base import ServiceBase
from .dto import BackupInfo
from .ports import UnitOfWorkFactory
from .session import SessionContext


class DatabaseFiles(Protocol):
    @property
    def path(self) -> Path | None: ...

    def backup_to(self, target: Path) -> Path: ...

    def rotate(self, folder: Path, keep: int, now: dt.datetime) -> Path | None: ...

    def inspect(self, path: Path) -> BackupInfo: ...

    def replace_with(self, backup: Path, now: dt.datetime) -> Path | None: ...

    def convert(self, new_key: str | None, now: dt.datetime) -> Path: ...


MIN_KEY_LENGTH = 12


class RestoreRefused(DomainError):
    pass


class BackupService(ServiceBase):
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        session: SessionContext,
        files: DatabaseFiles,
        is_known_revision: Callable[[str], bool],
        upgrade: Callable[[], None],
        backup_keep: Callable[[], int],
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._files = files
        self._known = is_known_revision
        self._upgrade = upgrade
        self._keep = backup_keep

    def backup(self, target: Path) -> Path:
        actor = self._actor(Permission.BACKUP_RESTORE)
        made = self._files.backup_to(target)
        self._record(actor, Action.BACKUP, str(made.name))
        return made

    def automatic(self, folder: Path) -> Path | None:
        """The daily rotating backup, taken by the app itself in the background."""
        made = self._files.rotate(folder, self._keep(), self._clock.now())
        if made is not None:
            self._record(self._session.system("auto-backup"), Action.BACKUP, made.name)
        return made

    def check(self, backup: Path, username: str, password: str) -> BackupInfo:
        """Everything a restore needs, checked before anything is replaced."""
        info = self._files.inspect(backup)
        if not info.integrity_ok:
            raise RestoreRefused(f"{backup} fails SQLite's integrity check; nothing was changed.")
        if info.revision is None or not self._known(info.revision):
            raise RestoreRefused(
                f"{backup} has schema revision {info.revision or 'none'}, which this version of rmclinic "
                "does not know; nothing was changed."
            )
        stored = info.admin_hashes.get(username.strip().lower()) if isinstance(username, str) else None
        if stored is None or not password_matches(stored, password):
            raise RestoreRefused("Restoring needs an administrator account of the backup itself; nothing was changed.")
        return info

    def restore(self, backup: Path, username: str, password: str) -> Path | None:
        """Replace the database with ``backup``; returns where the replaced file was kept."""
        self.check(backup, username, password)
        kept = self._files.replace_with(backup, self._clock.now())
        self._upgrade()
        actor = Actor(None, username.strip().lower(), Role.ADMIN, self._session.workstation)
        self._record(actor, Action.RESTORE, Path(backup).name, {"replaced_file_kept_as": kept.name if kept else None})
        return kept

    def encrypt(self, new_key: str) -> Path:
        """Encrypt the database file with SQLCipher; returns the kept (plaintext) copy to delete securely."""
        actor = self._actor(Permission.BACKUP_RESTORE)
        if not isinstance(new_key, str) or len(new_key) < MIN_KEY_LENGTH:
            raise ValidationError.single("key", f"The database key needs at least {MIN_KEY_LENGTH} characters.")
        self._record(actor, Action.ENCRYPT, "database")  # recorded first, so the encrypted copy holds it
        return self._files.convert(new_key, self._clock.now())

    def decrypt(self) -> Path:
        actor = self._actor(Permission.BACKUP_RESTORE)
        self._record(actor, Action.DECRYPT, "database")
        return self._files.convert(None, self._clock.now())

    def _record(self, actor: Actor, action: Action, what: str, changes: dict[str, object] | None = None) -> None:
        with self._uow() as uow:
            self._audit(uow, actor, AuditEvent(action, "database", what, changes=dict(changes or {})))
            uow.commit()
