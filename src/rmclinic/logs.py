"""Logging: one rotating file in the platform log directory. Never log a patient identifier."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path


def log_dir() -> Path:
    """The platform's log folder, or ``data/logs`` beside the executable in portable mode (see paths.py)."""
    from .paths import log_dir as resolved

    return resolved()


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach the file handler once. Returns the log file, or None if it cannot be written."""
    root = logging.getLogger("rmclinic")
    root.setLevel(level)
    for h in root.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler):
            return Path(h.baseFilename)
    try:
        d = log_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = d / "rmclinic.log"
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
    return path
