"""Engine set-up for SQLite (embedded default) and PostgreSQL (shared clinic server)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

ENV_URL = "RMCLINIC_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def default_database_url() -> str:
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('rmclinic', appauthor=False)) / 'rmclinic.sqlite3'}"


def resolve_url(explicit: str | None) -> str:
    return explicit or os.environ.get(ENV_URL) or default_database_url()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (below), so the driver must not: see SQLAlchemy's pysqlite notes.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a power cut right after a commit never loses that commit (workflows.md §7).
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers take the write lock at BEGIN (IMMEDIATE): a read-then-write transaction in WAL mode
    could otherwise fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout can wait out."""
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


WRITER_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


def sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str) -> Engine:
    """Create the engine; for SQLite also create the private data directory and file."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                path.touch(mode=0o600)
            # Health data: readable by the owner only, whatever the umask.
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    # hide_parameters: SQL errors must never carry patient data into logs or messages.
    return create_engine(u, pool_pre_ping=True, hide_parameters=True)


def describe(url: str) -> str:
    """The URL without its password, safe for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
