"""SQLite file operations: online backups, inspecting a backup, replacing the database file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from ..domain.errors import DomainError
from ..services.dto import BackupInfo
from .db import sqlite_file
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
        tmp.unlink(missing_ok=True)
        source = sqlite3.connect(src)
        try:
            dest = sqlite3.connect(tmp)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            finally:
                dest.close()
        finally:
            source.close()
        os.chmod(tmp, 0o600)
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
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as e:
            raise BackupError(f"{path} cannot be opened: {e}") from None
        try:
            try:
                check = con.execute("PRAGMA integrity_check").fetchall()
            except sqlite3.DatabaseError as e:
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
            con = sqlite3.connect(target)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
            kept = backup_sqlite(target, now)
            kept = kept.rename(target.with_name(f"{target.stem}.replaced-{stamp}{target.suffix}"))
        tmp = target.with_name(f".{target.name}.restoring")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                dst.close()
        finally:
            src.close()
        os.chmod(tmp, 0o600)
        for side in ("-wal", "-shm"):  # a stale WAL beside the new file would be replayed into it
            Path(str(target) + side).unlink(missing_ok=True)
        os.replace(tmp, target)
        return kept
