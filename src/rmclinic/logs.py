"""Logging: one rotating file in the platform log directory. Never log a patient identifier."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path


def log_dir() -> Path:
    from platformdirs import user_log_dir

    return Path(os.environ.get("RMCLINIC_LOG_DIR") or user_log_dir("rmclinic", appauthor=False))


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
