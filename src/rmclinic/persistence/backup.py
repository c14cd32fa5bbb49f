"""SQLite file operations: online backups, inspecting a backup, replacing the database file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from ..domain.errors import DomainError
from ..services.dto import BackupInfo
from .db import connect_sqlite, copy_database, db_key, key_for, sqlite_file
from .migrate import backup_sqlite


class BackupError(DomainError):
    pass


class SqliteFiles:
    """Implements the services' DatabaseFiles port for an SQLite database."""

    def __init__(self, url: str, engine: Engine) -> None:
        self._path = sqlite_file(url)
        self._engine = engine

    @property
    def path(self) -> Path | None:
        return self._path

    def _require_file(self) -> Path:
        if self._path is None:
            raise BackupError(
                "This database is on a PostgreSQL server: back it up with pg_dump (see docs/install.md), "
                "not with rmclinic backup."
            )
        return self._path

    def backup_to(self, target: Path) -> Path:
        """Online backup (readers and writers may go on); owner-only; written beside then renamed."""
        src = self._require_file()
        target = target.resolve()
        if target == src.resolve():
            raise BackupError("The backup cannot overwrite the database itself.")
        if not target.parent.is_dir():
            raise BackupError(f"Folder {target.parent} does not exist.")
        tmp = target.with_name(f".{target.name}.partial")
        key = key_for(src)
        copy_database(src, tmp, key, key)  # an encrypted database gives an encrypted backup
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def rotate(self, folder: Path, keep: int, now: dt.datetime) -> Path | None:
        """Daily automatic backup into ``folder``; returns the new file, or None if today's exists."""
        src = self._require_file()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = src.stem
        today = now.strftime("%Y%m%d")
        existing = sorted(folder.glob(f"{stem}-auto-*.sqlite3"))
        made = None
        if not any(p.name.startswith(f"{stem}-auto-{today}") for p in existing):
            made = self.backup_to(folder / f"{stem}-auto-{now.strftime('%Y%m%d-%H%M%S')}.sqlite3")
            existing = sorted(folder.glob(f"{stem}-auto-*.sqlite3"))
        for old in existing[:-keep] if keep > 0 else []:
            old.unlink(missing_ok=True)
        return made

    @staticmethod
    def inspect(path: Path) -> BackupInfo:
        """Open read-only and check what a restore needs to know, changing nothing."""
        if not path.is_file():
            raise BackupError(f"No such file: {path}")
        try:
            con = connect_sqlite(path, key_for(path), readonly=True)
        except sqlite3.Error as e:
            raise BackupError(f"{path} cannot be opened: {e}") from None
        try:
            try:
                check = con.execute("PRAGMA integrity_check").fetchall()
            except Exception as e:
                raise BackupError(f"{path} is not an rmclinic database ({e}).") from None
            ok = check == [("ok",)]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            admins: dict[str, str] = {}
            if "user_account" in tables:
                admins = {
                    u: h
                    for u, h in con.execute(
                        "SELECT username, password_hash FROM user_account WHERE role='admin' AND active"
                    )
                }
            patients = con.execute("SELECT count(*) FROM patient").fetchone()[0] if "patient" in tables else 0
        finally:
            con.close()
        return BackupInfo(path=str(path), integrity_ok=ok, revision=revision, admin_hashes=admins, patients=patients)

    def replace_with(self, backup: Path, now: dt.datetime) -> Path | None:
        """Swap the database file for a copy of ``backup``; the replaced file (with its WAL) is kept."""
        target = self._require_file()
        self._engine.dispose()
        stamp = now.strftime("%Y%m%dT%H%M%S")
        kept = None
        if target.exists():
            con = connect_sqlite(target, key_for(target))
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
            kept = backup_sqlite(target, now)
            kept = kept.rename(target.with_name(f"{target.stem}.replaced-{stamp}{target.suffix}"))
        tmp = target.with_name(f".{target.name}.restoring")
        # The restored file takes this installation's encryption setting, whatever the backup's.
        copy_database(backup, tmp, key_for(backup), db_key())
        for side in ("-wal", "-shm"):  # a stale WAL beside the new file would be replayed into it
            Path(str(target) + side).unlink(missing_ok=True)
        os.replace(tmp, target)
        return kept

    def convert(self, new_key: str | None, now: dt.datetime) -> Path:
        """Encrypt (``new_key``) or decrypt (None) the database in place; returns the kept copy of the
        file as it was. The new file is checked before it replaces the old one."""
        src = self._require_file()
        current = key_for(src)
        if bool(current) == bool(new_key):
            state = "already encrypted" if current else "not encrypted"
            raise BackupError(f"The database is {state}; nothing was changed.")
        stamp = now.strftime("%Y%m%dT%H%M%S")
        kept = src.with_name(f"{src.stem}.before-{'encrypt' if new_key else 'decrypt'}-{stamp}{src.suffix}")
        copy_database(src, kept, current, current)
        tmp = src.with_name(f".{src.name}.converting")
        copy_database(src, tmp, current, new_key)
        con = connect_sqlite(tmp, new_key)
        try:
            if con.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                raise BackupError("The converted copy failed its integrity check; nothing was changed.")
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()
        self._engine.dispose()
        con = connect_sqlite(src, current)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        for side in ("-wal", "-shm"):
            Path(str(src) + side).unlink(missing_ok=True)
        os.replace(tmp, src)
        return kept
