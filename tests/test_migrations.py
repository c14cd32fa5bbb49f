"""Schema: no drift between models and migrations; upgrade/downgrade keep data; newer schemas refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from rmclinic.app import build_services
from rmclinic.domain.clock import FixedClock
from rmclinic.paths import migrations_dir
from rmclinic.persistence import migrate
from rmclinic.persistence.db import make_engine
from rmclinic.persistence.models import Base, add_partial_index_conditions

ROOT = Path(__file__).resolve().parent.parent


def test_head_constant_is_alembics_head() -> None:
    # The app skips importing Alembic when the database is at HEAD_REVISION: it must be the real head.
    assert ScriptDirectory(str(migrations_dir())).get_heads() == [migrate.HEAD_REVISION]


def test_no_drift_between_models_and_migrations(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            add_partial_index_conditions(conn.dialect.name)
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_with_demo_data(db_url: str, clock: FixedClock) -> None:
    svc = build_services(db_url, clock=clock)
    svc.demo.create(40, seed=5)
    before = _counts(db_url)
    svc.close()
    assert before["patient"] == 40
    assert before["previous_pregnancy"] > 40
    # Step down and up again through every revision; rows of tables a step does not own survive.
    revisions = list(ScriptDirectory(str(migrations_dir())).walk_revisions())
    for rev in revisions[:-1]:  # every step but the first, newest first
        migrate.downgrade(db_url, rev.down_revision)  # type: ignore[arg-type]
        kept = _counts(db_url)
        assert kept == {t: before[t] for t in kept}, f"downgrading {rev.revision} lost rows"
        migrate.upgrade(db_url, backup=False)
        again = _counts(db_url)
        assert set(again) == set(before)
        assert {t: again[t] for t in kept} == kept
    migrate.downgrade(db_url, "base")
    assert _counts(db_url) == {}
    migrate.upgrade(db_url, backup=False)
    assert set(_counts(db_url)) == set(before)


def test_existing_sqlite_file_is_backed_up_before_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "clinic.sqlite3"
    url = f"sqlite:///{path}"
    assert migrate.upgrade(url) is None  # a brand-new file has nothing to back up
    migrate.downgrade(url, "base")
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE keep_me (x)")
    con.execute("INSERT INTO keep_me VALUES ('precious')")
    con.commit()
    con.close()
    backup = migrate.upgrade(url)
    assert backup is not None
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT x FROM keep_me").fetchall() == [("precious",)]
    copy.close()
    assert os.stat(backup).st_mode & 0o077 == 0
    assert migrate.upgrade(url) is None  # already at head: nothing to do, no second backup
    assert len(list(tmp_path.glob("clinic.backup-*"))) == 1


def test_newer_schema_is_refused_with_a_clear_message(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match="newer than this version"):
        migrate.upgrade(sqlite_url)


def test_new_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    assert path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0


def test_alembic_command_line_works_from_the_repository_root(tmp_path: Path) -> None:
    env = {**os.environ, "RMCLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    alembic = [sys.executable, "-m", "alembic"]
    for args in (["upgrade", "head"], ["check"], ["downgrade", "-1"], ["upgrade", "head"]):
        done = subprocess.run([*alembic, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_an_interrupted_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    """DDL runs inside the migration's transaction: a failure part-way changes nothing."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url, revision="0001")
    engine = make_engine(url)
    with engine.begin() as conn:  # a table the next migration will try to create: it fails half-way
        conn.execute(text("CREATE TABLE audit_head (x INTEGER)"))
    engine.dispose()
    with pytest.raises(Exception, match="audit_head"):
        migrate.upgrade(url, backup=False)
    engine = make_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()
    assert "app_setting" not in tables and "user_account" not in tables
