"""What every part of the harness shares: paths, the error it reports in one line, progress messages."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLOORS = Path(__file__).resolve().parent / "floors"
FONTS = REPO / "resources" / "fonts"


class BenchError(Exception):
    """A failure the harness reports as one line (and a non-zero exit), not a traceback."""


def rmclinic_exe() -> Path:
    """The installed app's console script beside this interpreter: what a clinic runs."""
    exe = Path(sys.executable).parent / "rmclinic"
    if not exe.exists():
        raise BenchError(f"{exe} not found: run the harness with the project's virtualenv (.venv/bin/python)")
    return exe


_started = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr (never a patient identifier), so a long run shows where it is."""
    print(f"[bench {time.monotonic() - _started:6.0f}s] {message}", file=sys.stderr, flush=True)
