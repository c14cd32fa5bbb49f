"""One resolver for the files shipped beside the code: from source, an installed wheel or a bundle."""

from __future__ import annotations

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


def backups_dir() -> Path:
    """Automatic backups: <user data dir>/backups (RMCLINIC_BACKUP_DIR overrides, for tests)."""
    import os

    from platformdirs import user_data_dir

    return Path(os.environ.get("RMCLINIC_BACKUP_DIR") or Path(user_data_dir("rmclinic", appauthor=False)) / "backups")
