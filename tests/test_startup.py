"""Start-up: the login dialog shows at once and the database opens behind it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
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


def test_a_log_in_from_the_environment_reaches_the_list_without_declaring_the_orm_models(tmp_path: Path) -> None:
    """The first window (log-in, its audit entry, settings, the list's first page) runs on Core tables and
    plain SQL: the mapped classes are loaded after it shows. The log-in is still audited, the chain intact."""
    from rmclinic.app import build_services

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    svc = build_services(url)
    svc.session.actor = svc.session.system("test")
    svc.demo.create(5)
    svc.close()
    seen = tmp_path / "seen"
    code = (
        "import os, sys\n"
        "real_exit = os._exit\n"
        "def at_first_window(status):\n"  # the app ends here once its window has been through the event loop
        f"    open({str(seen)!r}, 'w').write(repr(sorted(m for m in sys.modules if m.startswith('rmclinic.'))))\n"
        "    real_exit(status)\n"
        "os._exit = at_first_window\n"
        "from rmclinic.cli import main\n"
        f"sys.exit(main(['--database', {url!r}]))\n"
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RMCLINIC_BENCH_SHOWN": str(tmp_path / "shown"),
        "RMCLINIC_LOG_DIR": str(tmp_path / "log"),
        "RMCLINIC_BACKUP_DIR": str(tmp_path / "backups"),
        "RMCLINIC_USER": "admin",
        "RMCLINIC_PASSWORD": "demo",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = seen.read_text()
    assert "rmclinic.ui.main_window" in modules and "rmclinic.persistence.patient_list" in modules
    assert "rmclinic.persistence.models" not in modules

    svc = build_services(url)
    try:
        svc.session.actor = svc.session.system("test")
        assert svc.audit.verify_unchecked().ok
        logins, n = svc.audit.query(AuditFilter(username="admin", action="login"))
        assert n == 1 and logins[0].outcome == "success"
    finally:
        svc.close()


def test_the_orm_models_load_after_the_first_window_in_one_step() -> None:
    """What the first window did without is loaded off the UI thread just after it: every repository and a
    configured mapper for every record class, so the first patient opened pays for none of it."""
    code = (
        "import sys\n"
        "from rmclinic.persistence.uow import load_repositories\n"
        "assert 'rmclinic.persistence.models' not in sys.modules\n"
        "load_repositories()\n"
        "from rmclinic.persistence.models import Base\n"
        "mappers = Base.registry.mappers\n"
        "assert len(mappers) >= 15 and all(m.configured for m in mappers), mappers\n"
        "assert 'rmclinic.persistence.repository' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_database_opens_after_the_login_dialog_has_painted_or_after_a_while(qtbot: QtBot) -> None:
    """The opening (imports that hold the GIL) waits for the dialog's first paint, so it does not delay it; a
    window that never paints (minimised) still gets its database, after the fallback delay; once either way."""
    from PySide6.QtWidgets import QWidget

    from rmclinic.ui.tasks import after_first_paint

    shown, hidden = QWidget(), QWidget()
    qtbot.addWidget(shown)
    qtbot.addWidget(hidden)
    calls: list[str] = []
    painted: list[bool] = []
    shown.paintEvent = lambda _e: painted.append(True)  # type: ignore[method-assign]
    after_first_paint(shown, lambda: calls.append(f"shown, painted={bool(painted)}"), 5_000)
    after_first_paint(hidden, lambda: calls.append("hidden"), 200)
    shown.show()
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=3_000)
    assert calls == ["shown, painted=True", "hidden"]
    shown.update()
    qtbot.wait(300)
    assert len(calls) == 2  # once
