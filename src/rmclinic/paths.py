"""Where rmclinic finds its files, in one place, from source, an installed wheel or a PyInstaller bundle alike.

- Shipped files (migrations, resources): ``migrations_dir()``, ``resources_dir()``, ``resource()``.
- The user's files: ``data_dir()`` (the default SQLite database), ``backups_dir()``, ``log_dir()``,
  ``cache_dir()`` and ``settings_dir()`` (Qt's window settings). By default these are the platform's standard
  folders (platformdirs); in **portable mode** they all live in a ``data`` folder beside the executable, for an
  install on a USB stick or a shared drive. Portable mode is on when a file named ``rmclinic-portable.ini``
  lies beside the executable, or when ``$RMCLINIC_PORTABLE`` is ``1`` (``0`` turns it off even with the file).

Nothing heavy is imported here (no Qt, no SQLAlchemy): the login dialog's start-up imports this module.
"""

from __future__ import annotations

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
_OFF = {"0", "false", "no", "off"}


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


def portable_root() -> Path | None:
    """The ``data`` folder beside the executable when in portable mode, else None."""
    env = os.environ.get(PORTABLE_ENV, "").strip().lower()
    if env in _OFF:
        return None
    base = app_dir()
    if not env and not (base / PORTABLE_MARKER).is_file():
        return None
    root = base / PORTABLE_DATA
    try:
        root.mkdir(mode=0o700, exist_ok=True)  # private, whichever of its folders is made first
    except OSError:
        pass  # a read-only program folder: writing there fails later, with a message naming the file
    return root


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
        return root / "logs"
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
    return None if root is None else root / "settings"
