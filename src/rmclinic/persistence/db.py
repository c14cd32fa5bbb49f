"""Engine set-up for SQLite (embedded default) and PostgreSQL (shared clinic server)."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from ..domain.errors import DomainError

ENV_URL = "RMCLINIC_DATABASE_URL"
ENV_KEY = "RMCLINIC_DB_KEY"  # the passphrase of an SQLCipher-encrypted database file
SQLITE_BUSY_TIMEOUT_MS = 10_000
# A PostgreSQL connection that waited in the pool longer than this is checked before use, so a server restarted
# or a network that dropped meanwhile is met with a fresh connection rather than an error. One used moments
# ago is not checked: opening a patient runs a dozen units of work in ~100 ms, and a check on each was a dozen
# round trips (the pool's own pre-ping checks every time). The price: a server lost within these seconds of a
# workstation's last use fails that workstation's next action once (docs/install.md).
PG_CHECK_AFTER_IDLE_S = 5.0


class DatabaseKeyError(DomainError):
    """The file is encrypted and the key is missing or wrong (or it is not a database at all)."""


def db_key() -> str | None:
    return os.environ.get(ENV_KEY) or None


def _quote(key: str) -> str:
    return "'" + key.replace("'", "''") + "'"


def connect_sqlite(path: Path, key: str | None = None, readonly: bool = False, cipher: bool = False) -> Any:
    """A DB-API connection to an SQLite file: SQLCipher (sqlcipher3) when ``key`` (or ``cipher``) is given.

    A wrong key fails here, at once and before anything is written, with a clear message.
    """
    target = f"file:{path}?mode=ro" if readonly else str(path)
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    if not key and not cipher:
        return sqlite3.connect(target, uri=readonly, timeout=timeout, check_same_thread=False)
    import sqlcipher3

    con = sqlcipher3.connect(target, uri=readonly, timeout=timeout, check_same_thread=False)
    if key:
        con.execute(f"PRAGMA key = {_quote(key)}")
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError:
        con.close()
        raise DatabaseKeyError(
            f"cannot open {path.name}: the database key ({ENV_KEY}) is wrong, or the file is not an rmclinic "
            "database; nothing was changed"
        ) from None
    return con


def key_for(path: Path) -> str | None:
    """The key to open ``path`` with: the configured one if the file is encrypted, else none."""
    return db_key() if is_encrypted(path) else None


def is_encrypted(path: Path) -> bool:
    """An SQLCipher file has no plaintext SQLite header."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return bool(head) and head != b"SQLite format 3\x00"


def copy_database(src: Path, dst: Path, src_key: str | None, dst_key: str | None) -> None:
    """A consistent copy of a live database, re-keyed as asked (plain to plain uses the backup API)."""
    dst.unlink(missing_ok=True)
    if not src_key and not dst_key:
        source = sqlite3.connect(src)
        try:
            dest = sqlite3.connect(dst)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            finally:
                dest.close()
        finally:
            source.close()
    else:
        con = connect_sqlite(src, src_key, cipher=True)
        try:
            con.execute(f"ATTACH DATABASE {_quote(str(dst))} AS copy KEY {_quote(dst_key or '')}")
            con.execute("SELECT sqlcipher_export('copy')")
            ver = con.execute("PRAGMA user_version").fetchone()[0]
            con.execute(f"PRAGMA copy.user_version = {int(ver)}")
            con.execute("DETACH DATABASE copy")
        finally:
            con.close()
    os.chmod(dst, 0o600)


def default_database_url() -> str:
    """An SQLite file in the user's data folder (beside the executable in portable mode: see paths.py)."""
    from ..paths import data_dir

    return f"sqlite:///{data_dir() / 'rmclinic.sqlite3'}"


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
        key = db_key()
        if key and path is not None:
            engine = create_engine(url, creator=lambda: connect_sqlite(path, key), hide_parameters=True)
        else:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    # hide_parameters: SQL errors must never carry patient data into logs or messages.
    engine = create_engine(u, hide_parameters=True)
    dialect = engine.dialect

    def checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")  # none on a connection just opened
        if since is None or time.monotonic() - since < PG_CHECK_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error:
            # the pool replaces every connection it holds (a restarted server dropped them all) and checks out again
            raise exc.InvalidatePoolError() from None

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)
    return engine


def describe(url: str) -> str:
    """The URL without its password, safe for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
