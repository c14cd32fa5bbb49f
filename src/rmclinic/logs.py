"""Logging: one rotating file in the platform log directory. Never log a patient identifier."""

from __future__ import annotations

import logging
import os
from pathlib import Path

MAX_BYTES = 2_000_000
KEEP = 5  # rmclinic.log.1 … rmclinic.log.5


class RotatingFile(logging.FileHandler):
    """A log file moved aside (``.1`` … ``.5``, the oldest dropped) when the next line would take it past
    ``max_bytes``: what logging.handlers' RotatingFileHandler does, without importing that module (it brings
    socket, pickle and queue: ~7 ms of every start, before the first window)."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        super().__init__(path, encoding="utf-8")
        self.max_bytes, self.keep = max_bytes, keep

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self.stream is not None and self.stream.tell() + len(line.encode("utf-8")) > self.max_bytes:
                self._roll()
        except Exception:
            self.handleError(record)
            return
        super().emit(record)

    def _roll(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        base = self.baseFilename
        for i in range(self.keep - 1, 0, -1):
            if os.path.exists(f"{base}.{i}"):
                os.replace(f"{base}.{i}", f"{base}.{i + 1}")
        if os.path.exists(base):
            os.replace(base, f"{base}.1")
        self.stream = self._open()


def log_dir() -> Path:
    """The platform's log folder, or ``data/logs`` beside the executable in portable mode (see paths.py)."""
    from .paths import log_dir as resolved

    return resolved()


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach the file handler once. Returns the log file, or None if it cannot be written."""
    root = logging.getLogger("rmclinic")
    root.setLevel(level)
    for h in root.handlers:
        if isinstance(h, RotatingFile):
            return Path(h.baseFilename)
    try:
        d = log_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = d / "rmclinic.log"
        handler = RotatingFile(path)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
    return path
