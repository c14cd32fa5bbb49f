"""The tables a log-in touches, declared in SQLAlchemy Core: accounts, settings and the audit trail.

Everything from start-up to the first window (password check, settings, the audit entry of the log-in, the
patient list's search) runs on these tables and plain SQL, so the first window never pays for declaring
the ORM classes (~60 ms) or configuring their mappers (~20 ms); ``models`` maps its record classes onto
these same Table objects, so each table is declared once and migrations compare against one metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    true,
)

# Stable names for every constraint: SQLite batch migrations need them, and so do downgrades.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


_dialects: list[str] = []
_dialect_hooks: list[Callable[[str], None]] = []


def note_dialect(name: str) -> None:
    """A database of this dialect is in use (called by the unit-of-work factory and Alembic): hooks that
    adapt the metadata to it run now, or when they register (``models`` is imported later, on first use)."""
    if name not in _dialects:
        _dialects.append(name)
        for hook in _dialect_hooks:
            hook(name)


def on_dialect(hook: Callable[[str], None]) -> None:
    _dialect_hooks.append(hook)
    for name in _dialects:
        hook(name)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _tracked() -> list[Column[Any]]:
    """Timestamps and the optimistic-lock counter every editable table has (see ``models.Tracked``)."""
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow, server_default=func.now()),
        Column(
            "updated_at",
            DateTime(timezone=True),
            nullable=False,
            default=utcnow,
            onupdate=utcnow,
            server_default=func.now(),
        ),
        Column("version", Integer, nullable=False, server_default="1"),
    ]


ROLES = ("admin", "consultant", "nurse", "read_only")

user_account = Table(
    "user_account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False, default="", server_default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    *_tracked(),
    CheckConstraint(in_list("role", ROLES), name="role"),
)

# Append-only. Not tracked: an audit row is never updated, so it has no version or updated_at.
audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("username", String(32), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("workstation", String(100), nullable=False),
    Column("action", String(24), nullable=False, index=True),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("patient_id", Integer, index=True),  # no FK: the trail outlives edits
    Column("details", Text, nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("emergency", Boolean, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The chain head, updated in the same transaction as each append: catches a deleted last entry.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Clinic settings live in the database: migrated, audited and backed up with the data.
app_setting = Table(
    "app_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    *_tracked(),
)
