"""Where rmclinic keeps the user's files: the platform's folders, or a ``data`` folder beside the executable in
portable mode (rmclinic/paths.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmclinic import logs, paths
from rmclinic.persistence.db import default_database_url


@pytest.fixture
def exe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed program's folder holding its executable; the platform's folders point into tmp too."""
    folder = tmp_path / "usb" / "rmclinic"
    folder.mkdir(parents=True)
    program = folder / "rmclinic"
    program.write_text("")
    monkeypatch.setattr(sys, "executable", str(program))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    for name in ("RMCLINIC_PORTABLE", "RMCLINIC_LOG_DIR", "RMCLINIC_BACKUP_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home" / name.lower()))
    return program


def test_by_default_the_platforms_folders_are_used(exe: Path, tmp_path: Path) -> None:
    assert paths.portable_root() is None
    home = tmp_path / "home"
    assert paths.data_dir() == home / "xdg_data_home" / "rmclinic"
    assert default_database_url() == f"sqlite:///{home / 'xdg_data_home' / 'rmclinic' / 'rmclinic.sqlite3'}"
    assert paths.backups_dir() == home / "xdg_data_home" / "rmclinic" / "backups"
    assert paths.log_dir() == logs.log_dir() == home / "xdg_state_home" / "rmclinic" / "log"
    assert paths.cache_dir() == home / "xdg_cache_home" / "rmclinic"
    assert paths.settings_dir() is None  # Qt's native place


def test_a_marker_file_beside_the_executable_puts_everything_beside_it(exe: Path) -> None:
    (exe.parent / "rmclinic-portable.ini").write_text("")
    data = exe.parent / "data"
    assert paths.portable_root() == data
    assert paths.data_dir() == data
    assert default_database_url() == f"sqlite:///{data / 'rmclinic.sqlite3'}"
    assert paths.backups_dir() == data / "backups"
    assert paths.log_dir() == logs.log_dir() == data / "logs"
    assert paths.cache_dir() == data / "cache"
    assert paths.settings_dir() == data / "settings"
    assert data.stat().st_mode & 0o777 == 0o700  # made private at once, whichever file is written first


def test_the_environment_switches_portable_mode_on_and_off(exe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMCLINIC_PORTABLE", "1")
    assert paths.data_dir() == exe.parent / "data"
    (exe.parent / "rmclinic-portable.ini").write_text("")
    monkeypatch.setenv("RMCLINIC_PORTABLE", "0")  # off, even with the marker file
    assert paths.portable_root() is None
    assert paths.settings_dir() is None


def test_explicit_test_overrides_still_win_in_portable_mode(
    exe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCLINIC_PORTABLE", "1")
    monkeypatch.setenv("RMCLINIC_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("RMCLINIC_BACKUP_DIR", str(tmp_path / "backups"))
    assert paths.log_dir() == tmp_path / "logs"
    assert paths.backups_dir() == tmp_path / "backups"


def test_a_link_to_the_bundles_executable_finds_the_bundle(
    exe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "bin" / "rmclinic"
    link.parent.mkdir()
    link.symlink_to(exe)
    monkeypatch.setattr(sys, "executable", str(link))
    (exe.parent / "rmclinic-portable.ini").write_text("")
    assert paths.app_dir() == exe.parent
    assert paths.data_dir() == exe.parent / "data"


def test_a_virtual_environments_python_is_not_followed_to_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "python3.11"
    real.write_text("")
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(real)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert paths.app_dir() == venv_bin


def test_on_macos_portable_data_goes_beside_the_app_never_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    macos = tmp_path / "stick" / "rmclinic.app" / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    (macos / "rmclinic").write_text("")
    monkeypatch.setattr(sys, "executable", str(macos / "rmclinic"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("RMCLINIC_PORTABLE", "1")
    assert paths.app_dir() == tmp_path / "stick"
    assert paths.data_dir() == tmp_path / "stick" / "data"


def test_portable_qt_settings_are_an_ini_file_in_the_data_folder(exe: Path, qapp: object) -> None:
    from PySide6.QtCore import QSettings

    from rmclinic.ui.main import use_portable_settings

    (exe.parent / "rmclinic-portable.ini").write_text("")
    try:
        use_portable_settings()
        settings = QSettings()
        settings.setValue("main_window/geometry", "test")
        settings.sync()
        ini = Path(settings.fileName())  # <organisation>/<application>.ini: the app's is rmclinic/rmclinic.ini
        assert ini.is_relative_to(exe.parent / "data" / "settings")
        assert ini.suffix == ".ini"
        assert "main_window" in ini.read_text()
        assert (exe.parent / "data" / "settings").stat().st_mode & 0o077 == 0  # private to the user
    finally:
        QSettings.setDefaultFormat(QSettings.Format.NativeFormat)


@pytest.mark.parametrize("value", ["1", "true", "Yes", " ON "])
def test_portable_mode_is_on_for_the_usual_yes_values(exe: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RMCLINIC_PORTABLE", value)
    assert paths.portable_root() == exe.parent / "data"


@pytest.mark.parametrize("value", ["0", "false", "NO", "off"])
def test_portable_mode_is_off_for_the_usual_no_values(exe: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    (exe.parent / "rmclinic-portable.ini").write_text("")
    monkeypatch.setenv("RMCLINIC_PORTABLE", value)
    assert paths.portable_root() is None


@pytest.mark.parametrize("value", ["2", "maybe", "portable"])
def test_any_other_value_is_ignored_with_a_warning(
    exe: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """Before, any value outside the "off" set turned portable mode on (a typo moved the data)."""
    monkeypatch.setattr(paths, "_warned", set(), raising=False)
    monkeypatch.setenv("RMCLINIC_PORTABLE", value)
    with caplog.at_level("WARNING", logger="rmclinic.paths"):
        assert paths.portable_root() is None  # no marker: the platform's folders
        (exe.parent / "rmclinic-portable.ini").write_text("")
        assert paths.portable_root() == exe.parent / "data"  # the marker decides
    assert [r.getMessage() for r in caplog.records] == [
        f"RMCLINIC_PORTABLE={value!r} is neither on (1, true, yes, on) nor off (0, false, no, off): ignored"
    ]


def make_unwritable(folder: Path, how: str) -> None:
    if how == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        folder.chmod(0o555)
    else:  # something in the way of the data folder (also stops root)
        (folder / "data").write_text("")


@pytest.fixture(params=["read-only folder", "data is a file"])
def unwritable(request: pytest.FixtureRequest, exe: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A portable program folder (the marker beside the executable) where the data folder cannot be made."""
    (exe.parent / "rmclinic-portable.ini").write_text("")
    monkeypatch.setattr(paths, "_warned", set(), raising=False)
    make_unwritable(exe.parent, request.param)
    try:
        yield exe
    finally:
        exe.parent.chmod(0o755)


def test_an_unwritable_portable_folder_keeps_the_data_there_but_not_the_logs_or_settings(
    unwritable: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = unwritable.parent / "data"
    with caplog.at_level("WARNING", logger="rmclinic.paths"):
        assert paths.portable_root() == data
        assert paths.data_dir() == data  # the database: opening it fails, and the window names the file
        assert paths.cache_dir() == data / "cache"  # print copies hold patient data: never elsewhere
        assert paths.log_dir() == tmp_path / "home" / "xdg_state_home" / "rmclinic" / "log"
        assert paths.settings_dir() is None  # Qt's native place
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert f"cannot create {data}" in messages
    assert "logging to the user's log folder" in messages


def test_the_window_starts_far_enough_to_show_the_database_error(
    unwritable: Path, qapp: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, the settings folder (and the crash notice's log folder) raised an OSError before any window: the
    windowed app, which has no console, ended without a word."""
    from PySide6.QtCore import QSettings

    from rmclinic.cli import known_error_message
    from rmclinic.persistence.db import default_database_url, make_engine
    from rmclinic.ui import main as ui_main

    QSettings.setDefaultFormat(QSettings.Format.NativeFormat)
    ui_main.make_application()
    assert QSettings.defaultFormat() == QSettings.Format.NativeFormat
    logs.log_dir().mkdir(parents=True, exist_ok=True)  # what notice_previous_crash() does next
    try:  # then the database, whose error the start-up's dialog shows
        make_engine(default_database_url())
    except OSError as e:
        assert str(unwritable.parent / "data") in (known_error_message(e) or "")
    else:
        pytest.fail("the database opened in an unwritable folder")
    # the settings folder itself failing (whatever the reason) is logged, not raised
    monkeypatch.setattr(ui_main, "settings_dir", lambda: unwritable.parent / "data" / "settings")
    with caplog.at_level("WARNING", logger="rmclinic.ui"):
        ui_main.use_portable_settings()
    assert QSettings.defaultFormat() == QSettings.Format.NativeFormat
    assert "window settings in Qt's native place" in caplog.text
