"""Where rmclinic finds its files, in one place, from source, an installed wheel or a PyInstaller bundle alike.

- Shipped files (migrations, resources): ``migrations_dir()``, ``resources_dir()``, ``resource()``.
- The user's files: ``data_dir()`` (the default SQLite database), ``backups_dir()``, ``log_dir()``,
  ``cache_dir()`` and ``settings_dir()`` (Qt's window settings). By default these are the platform's standard
  folders (platformdirs); in **portable mode** they all live in a ``data`` folder beside the executable, for one
  person's copy on a USB stick or in their own folder. Portable mode is on when a file named
  ``rmclinic-portable.ini`` lies beside the executable, or when ``$RMCLINIC_PORTABLE`` is ``1`` (``true``, ``yes``,
  ``on``); ``0`` (``false``, ``no``, ``off``) turns it off even with the file; any other value is ignored (with a
  warning in the log). When the ``data`` folder cannot be written, the logs (no patient data) and the window
  settings go to the user's usual places, so the start-up error reaches the screen and the log.

Nothing heavy is imported here (no Qt, no SQLAlchemy): the login dialog's start-up imports this module.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def _data_root(name: str) -> Path:
    candidates = [
        _PKG / "_data" / name,  # wheel: force-included by hatchling
        _PKG.parent.parent / name,  # source checkout / editable install: <repo>/src/rmclinic
    ]
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller one-folder bundle
    if bundle:
        candidates.insert(0, Path(bundle) / "rmclinic" / "_data" / name)
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(f"rmclinic installation is incomplete: no {name} directory found")


def migrations_dir() -> Path:
    return _data_root("migrations")


def resources_dir() -> Path:
    return _data_root("resources")


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


APP_NAME = "rmclinic"
PORTABLE_ENV = "RMCLINIC_PORTABLE"
PORTABLE_MARKER = "rmclinic-portable.ini"  # beside the executable: portable mode
PORTABLE_DATA = "data"  # the folder beside the executable that holds everything in portable mode
_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}
_warned: set[str] = set()
log = logging.getLogger("rmclinic.paths")


def _warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning once a process; before the log file is set up (which itself asks where the logs go) it is
    shown on standard error only, and logged again once there is a log file."""
    if key not in _warned:
        if log.hasHandlers():
            _warned.add(key)
        log.warning(message, *args)


def app_dir() -> Path:
    """The folder of the installed program: the bundle's folder (the folder holding ``rmclinic.app`` on macOS),
    else the folder of the Python interpreter running rmclinic (a virtual environment's ``bin``)."""
    exe = Path(sys.executable or sys.argv[0])
    if not getattr(sys, "frozen", False):
        return exe.absolute().parent  # a venv's python is a symbolic link: its folder, not the link's target
    folder = exe.resolve().parent  # a link to the bundle's executable (/usr/local/bin/rmclinic): the bundle
    if folder.name == "MacOS" and folder.parent.name == "Contents":
        bundle = folder.parent.parent
        if bundle.suffix == ".app":  # never write inside a signed .app: beside it
            return bundle.parent
    return folder


def _portable_setting() -> bool | None:
    """``$RMCLINIC_PORTABLE``: True (1, true, yes, on), False (0, false, no, off), or None (unset, empty, or
    anything else, which is ignored with a warning: the marker file decides)."""
    raw = os.environ.get(PORTABLE_ENV, "")
    value = raw.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    if value:
        _warn_once(
            f"env:{raw}",
            "%s=%r is neither on (1, true, yes, on) nor off (0, false, no, off): ignored",
            PORTABLE_ENV,
            raw,
        )
    return None


def portable_root() -> Path | None:
    """The ``data`` folder beside the executable when in portable mode, else None."""
    setting = _portable_setting()
    if setting is False:
        return None
    base = app_dir()
    if setting is None and not (base / PORTABLE_MARKER).is_file():
        return None
    root = base / PORTABLE_DATA
    try:
        root.mkdir(mode=0o700, exist_ok=True)  # private, whichever of its folders is made first
    except OSError as e:
        # a read-only program folder (Program Files, /opt, a locked stick): the database cannot be opened there
        # either, and the window says so, naming the file; the log says why (no patient data in it)
        _warn_once(f"mkdir:{root}", "portable mode: cannot create %s (%s)", root, e.strerror or type(e).__name__)
    return root


def _portable_writable(root: Path) -> bool:
    return root.is_dir() and os.access(root, os.W_OK | os.X_OK)


def data_dir() -> Path:
    """The user's data folder: the default SQLite database lives here."""
    root = portable_root()
    if root is not None:
        return root
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def backups_dir() -> Path:
    """Automatic backups: <data folder>/backups (RMCLINIC_BACKUP_DIR overrides, for tests)."""
    return Path(os.environ.get("RMCLINIC_BACKUP_DIR") or data_dir() / "backups")


def log_dir() -> Path:
    """The log folder: the platform's (``~/.local/state/rmclinic/log`` on Linux), ``data/logs`` when portable
    (RMCLINIC_LOG_DIR overrides, for tests)."""
    override = os.environ.get("RMCLINIC_LOG_DIR")
    if override:
        return Path(override)
    root = portable_root()
    if root is not None:
        if _portable_writable(root):
            return root / "logs"
        # logs hold no patient data: kept in the user's folder rather than lost, so the reason is on record
        _warn_once(f"logs:{root}", "portable mode: %s cannot be written; logging to the user's log folder", root)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Throwaway files (copies handed to the PDF viewer or printer)."""
    root = portable_root()
    if root is not None:
        return root / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def settings_dir() -> Path | None:
    """Where Qt keeps the window settings as an INI file in portable mode; None: Qt's native place (the registry
    on Windows, ``~/.config/rmclinic/rmclinic.conf`` on Linux, a plist on macOS)."""
    root = portable_root()
    if root is None:
        return None
    if not _portable_writable(root):  # window layout only: Qt's native place rather than failing the start
        _warn_once(
            f"settings:{root}", "portable mode: %s cannot be written; window settings in Qt's native place", root
        )
        return None
    return root / "settings"
