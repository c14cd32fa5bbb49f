"""Run Alembic from code: upgrade on start, back up SQLite first, refuse a newer schema.

Alembic is imported only when the database is not already at ``HEAD_REVISION`` (a test checks that
this constant is Alembic's head), so a normal start pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text

from ..domain.errors import DomainError
from ..paths import migrations_dir
from .db import SQLITE_BUSY_TIMEOUT_MS, connect_sqlite, copy_database, db_key, make_engine, sqlite_file

log = logging.getLogger("rmclinic.persistence")

HEAD_REVISION = "0011"
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x726D636C  # "rmcl": serialises migrations between workstations on one server


class SchemaError(DomainError):
    """The database cannot be used by this version of the app."""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def alembic_config(url: str, connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migration_engine(url: str) -> Engine:
    """An engine for migrations: on SQLite foreign keys are OFF, so a batch table copy can never
    cascade-delete child rows (Prefect's lesson); integrity is checked after the upgrade."""
    path = sqlite_file(url)
    if path is None:
        return make_engine(url)
    key = db_key()
    if key:
        eng = create_engine(url, creator=lambda: connect_sqlite(path, key))
    else:
        eng = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
        # The driver would run DDL outside any transaction (it only opens one before DML): issue BEGIN
        # ourselves so a migration interrupted at any point leaves the old schema, not half a new one.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    event.listen(eng, "connect", _pragmas)
    event.listen(eng, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return eng


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrations_dir()))
    return {rev.revision for rev in script.walk_revisions()}


def backup_sqlite(path: Path, when: dt.datetime | None = None) -> Path:
    """Copy a live SQLite file (WAL included) to ``<name>.backup-<timestamp>.sqlite3``; an encrypted
    database gives an encrypted backup with the same key."""
    stamp = (when or dt.datetime.now()).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix or '.sqlite3'}")
    key = db_key()
    copy_database(path, target, key, key)
    return target


def _has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    con = connect_sqlite(path, db_key())
    try:
        return bool(con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    finally:
        con.close()


def upgrade(url: str, revision: str = "head", backup: bool = True) -> str | None:
    """Bring the schema up to ``revision``. Returns the backup path when one was written."""
    engine = make_engine(url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    if current == HEAD_REVISION and revision == "head":
        return None
    if current is not None and current not in known_revisions():
        raise SchemaError(
            f"The database schema ({current}) is newer than this version of rmclinic understands; "
            "install the newer rmclinic that wrote it."
        )
    backup_path: Path | None = None
    path = sqlite_file(url)
    if backup and path is not None and _has_tables(path):
        backup_path = backup_sqlite(path)
        log.info("backed up the database before migrating")

    from alembic import command

    meng = migration_engine(url)
    try:
        with meng.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            command.upgrade(alembic_config(url, conn), revision)
            if conn.dialect.name == "sqlite":
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise SchemaError(f"Migration left {len(bad)} rows with broken links; nothing was changed.")
    finally:
        meng.dispose()
    log.info("database migrated to %s", revision)
    return str(backup_path) if backup_path else None


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    meng = migration_engine(url)
    try:
        with meng.begin() as conn:
            command.downgrade(alembic_config(url, conn), revision)
    finally:
        meng.dispose()
