"""Test set-up: offscreen Qt, hypothesis profiles, a frozen clock, and both database backends."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Before anything imports Qt.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("RMCLINIC_LOG_DIR", tempfile.mkdtemp(prefix="rmclinic-test-logs-"))
os.environ.pop("RMCLINIC_DATABASE_URL", None)
os.environ.pop("RMCLINIC_PORTABLE", None)  # a developer's own would move the tests' files beside the interpreter
# QSettings of the tests must never touch the user's real settings.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="rmclinic-test-config-")

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))
from argon2 import PasswordHasher
from pgserver import PostgresServer, find_bin_dir, required

import rmclinic.services.auth as auth_module
from rmclinic.app import build_services
from rmclinic.domain.accounts import Actor, Role
from rmclinic.domain.clock import FixedClock
from rmclinic.services.container import Services

# Argon2id at production cost takes ~50 ms a hash; the tests hash hundreds of passwords. Same algorithm,
# cheaper parameters (the stored hash records them, so verification is unchanged).
auth_module._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
auth_module._DUMMY_HASH = auth_module._hasher.hash("dummy")


def act_as(svc: Services, role: Role = Role.CONSULTANT, username: str = "") -> Actor:
    """Put a user in the session without a login (login itself is tested in test_accounts.py)."""
    actor = Actor(None, username or role.value, role, "test-workstation")
    svc.session.actor = actor
    svc.session.locked = False
    return actor


settings.register_profile("ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if required():
            pytest.fail("PostgreSQL server binaries not found, and RMCLINIC_REQUIRE_POSTGRES=1")
        yield None
        return
    server = PostgresServer(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    return str(server.create_database())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


def close_after_background_jobs(svc: Services) -> None:
    """As the app does at exit: a page's background load still running (a window's start page loads its
    worklist) finishes before the database closes, or its connection is left to the garbage collector."""
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(30_000)
    svc.close()


@pytest.fixture
def services(db_url: str, clock: FixedClock) -> Iterator[Services]:
    svc = build_services(db_url, clock=clock)
    act_as(svc)
    try:
        yield svc
    finally:
        close_after_background_jobs(svc)


@pytest.fixture
def sqlite_services(sqlite_url: str, clock: FixedClock) -> Iterator[Services]:
    svc = build_services(sqlite_url, clock=clock)
    act_as(svc)
    try:
        yield svc
    finally:
        close_after_background_jobs(svc)


def fake_exec(fill: Callable[[Any], None]) -> Callable[[Any], int]:
    """Stand-in for a modal dialog's ``exec()``: ``fill`` types into it, then Save is pressed, and the
    result is what the real ``exec()`` would have returned (1 when the dialog accepted)."""

    def run(dialog: Any) -> int:
        fill(dialog)
        dialog.on_save_clicked()
        return int(dialog.result() == 1)

    return run
