"""Start-up: the login dialog shows at once and the database opens behind it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from rmclinic.services.container import Services
from rmclinic.ui.login import LoginDialog


def test_log_in_pressed_while_the_database_opens_goes_ahead_once_it_is_open(
    qtbot: QtBot, sqlite_services: Services
) -> None:
    svc = sqlite_services
    svc.auth.create_first_admin("admin", "Correct-horse-9", "Admin")
    dlg = LoginDialog(None)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.username.setText("admin")
    dlg.password.setText("Correct-horse-9")
    dlg.ok.click()
    assert dlg.waiting.isVisible() and dlg.result() == 0  # nothing to check the password against yet
    assert dlg.password.text() == "Correct-horse-9"  # what was typed is kept
    dlg.set_auth(svc.auth, " — DEMO")
    assert dlg.result() == 1 and svc.session.actor is not None and svc.session.actor.username == "admin"
    assert dlg.windowTitle().endswith("— DEMO") and not dlg.waiting.isVisible()


def test_a_wrong_password_typed_early_is_refused_when_the_database_opens(
    qtbot: QtBot, sqlite_services: Services
) -> None:
    svc = sqlite_services
    svc.auth.create_first_admin("admin", "Correct-horse-9", "Admin")
    dlg = LoginDialog(None)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.username.setText("admin")
    dlg.password.setText("wrong-password-1")
    before = svc.session.actor
    dlg.ok.click()
    dlg.set_auth(svc.auth)
    assert dlg.result() == 0 and dlg.error.isVisible() and dlg.password.text() == ""
    assert svc.session.actor == before  # nobody logged in as admin


def test_the_app_shows_its_login_dialog_and_reports_it_for_the_benchmark(tmp_path: Path) -> None:
    """`make bench` times a fresh process to its first window through $RMCLINIC_BENCH_SHOWN."""
    shown = tmp_path / "shown"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RMCLINIC_BENCH_SHOWN": str(shown),
        "RMCLINIC_LOG_DIR": str(tmp_path / "log"),
        "RMCLINIC_USER": "",
    }
    env.pop("RMCLINIC_PASSWORD", None)
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-m", "rmclinic", "--database", url], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert float(shown.read_text()) > 0


def test_a_login_cancelled_before_the_database_opened_waits_for_it_and_closes_cleanly(
    qtbot: QtBot, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel pressed at once: the opening still finishes (it may be migrating), and then nobody is logged in."""
    import time

    import rmclinic.app as app_module

    real = app_module.build_services
    opened: list[Services] = []

    def slow_build(url: str | None = None, **kw: object) -> Services:
        time.sleep(0.3)  # a migration, say
        opened.append(real(url))
        return opened[-1]

    monkeypatch.setattr(app_module, "build_services", slow_build)
    monkeypatch.setattr(LoginDialog, "exec", lambda self: 0)  # the user cancels before anything opened
    started = time.thread_time()
    services, logged_in = app_module._login_while_opening(sqlite_url, None)
    try:
        assert services is opened[0] and not logged_in
        assert services.session.actor is None
        assert time.thread_time() - started < 0.25  # this thread waited for the opening, not spinning meanwhile
    finally:
        assert services is not None
        services.close()


def test_the_window_icon_is_set_just_after_the_first_window(qtbot: QtBot) -> None:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from rmclinic.ui.main import ICON_DELAY_MS, make_application

    app = make_application()
    assert isinstance(app, QApplication)
    app.setWindowIcon(QIcon())  # as if none had been set before in this test session
    app = make_application()
    assert app.windowIcon().isNull()  # not yet: the first window comes first
    qtbot.waitUntil(lambda: not app.windowIcon().isNull(), timeout=ICON_DELAY_MS + 2000)
    assert app.windowIcon().availableSizes()  # the rendered PNG, not an empty icon
