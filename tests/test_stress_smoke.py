"""A few kills in the fast suite keep the stress script working; `make stress` runs 200."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_a_few_kills_leave_a_whole_database() -> None:
    script = Path(__file__).parent / "stress" / "kill_stress.py"
    done = subprocess.run(
        [sys.executable, str(script), "--kills", "5", "--seed", "7"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed, 0 failed" in done.stdout
