"""User accounts and clinic settings in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..domain.accounts import Role
from ..domain.errors import ConflictError, NotFoundError
from ..services.dto import UserRecord
from .tables import app_setting, user_account

# Core on ``tables`` (no mapped classes): these run on every log-in, before the first window. Each update
# bumps ``version`` as the ORM's version counter does, so an account edited elsewhere is still caught.

_CONFLICT = "Someone else changed this account after you opened it. Reload and try again."


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _user(r: Any) -> UserRecord:
    return UserRecord(
        id=r.id,
        username=r.username,
        display_name=r.display_name,
        role=Role(r.role),
        active=bool(r.active),
        version=r.version,
        failed_logins=r.failed_logins,
        locked_until=_aware(r.locked_until),
        last_login_at=_aware(r.last_login_at),
    )


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def count(self) -> int:
        return self.s.scalar(select(func.count()).select_from(user_account)) or 0

    def _row(self, username: str) -> Any:
        return self.s.execute(select(user_account).where(user_account.c.username == username)).first()

    def get(self, username: str) -> UserRecord | None:
        r = self._row(username)
        return _user(r) if r else None

    def password_hash(self, username: str) -> str | None:
        return self.s.scalar(select(user_account.c.password_hash).where(user_account.c.username == username))

    def list(self) -> list[UserRecord]:
        return [_user(r) for r in self.s.execute(select(user_account).order_by(user_account.c.username))]

    def add(self, username: str, display_name: str, role: Role, password_hash: str) -> UserRecord:
        self.s.execute(
            insert(user_account).values(
                username=username, display_name=display_name, role=role.value, password_hash=password_hash, version=1
            )
        )
        return _user(self._row(username))

    def _update(self, username: str, version: int | None, values: dict[str, object]) -> None:
        """One UPDATE, bumping the version as the ORM's counter did; ``version`` given: only if the account is
        still at it."""
        t = user_account
        cond = [t.c.username == username]
        if version is not None:
            cond.append(t.c.version == version)
        done = self.s.execute(update(t).where(*cond).values(**values, version=t.c.version + 1))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            if self._row(username) is None:
                raise NotFoundError(f"No user {username}.")
            raise ConflictError(_CONFLICT)

    def update(self, username: str, version: int | None = None, **values: object) -> UserRecord:
        row = self._row(username)
        if row is None:
            raise NotFoundError(f"No user {username}.")
        if version is not None and row.version != version:
            raise ConflictError(_CONFLICT)
        if any(getattr(row, k) != v for k, v in values.items()):  # nothing changed: no new version (as the ORM)
            self._update(username, row.version, values)
            row = self._row(username)
        return _user(row)

    def record_login(
        self, username: str, ok: bool, now: dt.datetime, locked_until: dt.datetime | None, version: int | None = None
    ) -> None:
        """``version``: the account as read when the password was checked; changed since (deactivated, another
        role), the login is refused with ConflictError."""
        t = user_account
        values: dict[str, object] = (
            {"failed_logins": 0, "locked_until": None, "last_login_at": now}
            if ok
            else {"failed_logins": t.c.failed_logins + 1, "locked_until": locked_until}
        )
        self._update(username, version, values)


class SqlSettingsRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, key: str) -> str | None:
        return self.s.scalar(select(app_setting.c.value).where(app_setting.c.key == key))

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored ones of these settings, in one query (a care plan's clinic details are six)."""
        t = app_setting
        return {k: v for k, v in self.s.execute(select(t.c.key, t.c.value).where(t.c.key.in_(list(keys))))}

    def all(self) -> dict[str, str]:
        return {k: v for k, v in self.s.execute(select(app_setting.c.key, app_setting.c.value))}

    def set(self, key: str, value: str) -> str | None:
        """Store and return the previous value (for the audit trail)."""
        t = app_setting
        before = self.get(key)
        if before is None:
            self.s.execute(insert(t).values(key=key, value=value, version=1))
        elif before != value:  # the same value again is no change (no new version, as with the ORM)
            self.s.execute(update(t).where(t.c.key == key).values(value=value, version=t.c.version + 1))
        return before
