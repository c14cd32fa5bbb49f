"""User accounts and clinic settings in SQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.accounts import Role
from ..domain.errors import ConflictError, NotFoundError
from ..services.dto import UserRecord
from .models import SettingRec, UserAccountRec


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _user(r: UserAccountRec) -> UserRecord:
    return UserRecord(
        id=r.id,
        username=r.username,
        display_name=r.display_name,
        role=Role(r.role),
        active=r.active,
        version=r.version,
        failed_logins=r.failed_logins,
        locked_until=_aware(r.locked_until),
        last_login_at=_aware(r.last_login_at),
    )


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def count(self) -> int:
        return self.s.scalar(select(func.count()).select_from(UserAccountRec)) or 0

    def _rec(self, username: str) -> UserAccountRec | None:
        return self.s.scalar(select(UserAccountRec).where(UserAccountRec.username == username))

    def get(self, username: str) -> UserRecord | None:
        r = self._rec(username)
        return _user(r) if r else None

    def password_hash(self, username: str) -> str | None:
        r = self._rec(username)
        return r.password_hash if r else None

    def list(self) -> list[UserRecord]:
        return [_user(r) for r in self.s.scalars(select(UserAccountRec).order_by(UserAccountRec.username))]

    def add(self, username: str, display_name: str, role: Role, password_hash: str) -> UserRecord:
        r = UserAccountRec(username=username, display_name=display_name, role=role.value, password_hash=password_hash)
        self.s.add(r)
        self.s.flush()
        return _user(r)

    def _must(self, username: str) -> UserAccountRec:
        r = self._rec(username)
        if r is None:
            raise NotFoundError(f"No user {username}.")
        return r

    def update(self, username: str, version: int | None = None, **values: object) -> UserRecord:
        r = self._must(username)
        if version is not None and r.version != version:
            raise ConflictError("Someone else changed this account after you opened it. Reload and try again.")
        for k, v in values.items():
            setattr(r, k, v)
        self.s.flush()
        return _user(r)

    def record_login(self, username: str, ok: bool, now: dt.datetime, locked_until: dt.datetime | None) -> None:
        r = self._must(username)
        if ok:
            r.failed_logins = 0
            r.locked_until = None
            r.last_login_at = now
        else:
            r.failed_logins += 1
            r.locked_until = locked_until
        self.s.flush()


class SqlSettingsRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, key: str) -> str | None:
        r = self.s.get(SettingRec, key)
        return r.value if r else None

    def all(self) -> dict[str, str]:
        return {r.key: r.value for r in self.s.scalars(select(SettingRec))}

    def set(self, key: str, value: str) -> str | None:
        """Store and return the previous value (for the audit trail)."""
        r = self.s.get(SettingRec, key)
        if r is None:
            self.s.add(SettingRec(key=key, value=value))
            self.s.flush()
            return None
        before = r.value
        r.value = value
        self.s.flush()
        return before
