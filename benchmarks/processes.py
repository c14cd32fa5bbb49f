"""Fresh processes timed to their first window: the app against its floors, interleaved so that a noisy
machine slows both sides of each ratio alike. Peak memory comes from the kernel's rusage of each child,
started by a small launcher process (launcher.py) so that the harness's own memory does not count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .common import FLOORS, BenchError, rmclinic_exe

SHOWN_ENV = "RMCLINIC_BENCH_SHOWN"
START_TIMEOUT_S = 180


@dataclass
class Started:
    """Seconds from just before the process was started to the time it reported its window shown."""

    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


def _base_env(work: Path) -> dict[str, str]:
    """The same environment for the app and the floors: offscreen Qt, logs and backups inside ``work``,
    and no login or database from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMCLINIC_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        RMCLINIC_LOG_DIR=str(work / "log"),
        RMCLINIC_BACKUP_DIR=str(work / "backups"),
    )
    return env


class Launcher:
    """The small process that starts and reaps the timed children (launcher.py says why)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "launcher.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, cmd: list[str], env: dict[str, str], stderr: Path) -> tuple[float, int, int]:
        """(time.time() just before the start, exit code, peak RSS in KiB)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        request = {"cmd": cmd, "env": env, "stderr": str(stderr), "timeout": START_TIMEOUT_S}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise BenchError("the benchmark launcher process ended unexpectedly")
        answer = json.loads(line)
        return float(answer["t0"]), int(answer["returncode"]), int(answer["maxrss_kib"])

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def time_to_window(
    launcher: Launcher, cmd: list[str], env: dict[str, str], work: Path, what: str
) -> tuple[float, float]:
    """Start ``cmd``; return (seconds until it reported its window, its peak RSS in MB). The child must write
    the time into $RMCLINIC_BENCH_SHOWN and exit 0."""
    shown = work / f"shown-{uuid.uuid4().hex[:8]}"
    errors = work / "child-stderr.txt"
    t0, code, maxrss_kib = launcher.run(cmd, {**env, SHOWN_ENV: str(shown)}, errors)
    if code != 0 or not shown.exists():
        lines = errors.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        why = f"killed after {START_TIMEOUT_S} s" if code == -signal.SIGKILL else f"exit {code}"
        raise BenchError(f"{what} did not report a window ({why}): {lines[-1] if lines else 'no message'}")
    at = float(shown.read_text(encoding="ascii"))
    shown.unlink()
    return at - t0, maxrss_kib / 1024  # ru_maxrss is in KiB on Linux


def measure_starts(launcher: Launcher, url: str, runs: int, work: Path) -> dict[str, Started]:
    """``runs`` rounds of four starts: the bare window, the app to its login dialog, the ORM list floor and the
    app logged in to its main window. The order rotates each round."""
    env = _base_env(work)
    app = [str(rmclinic_exe()), "--database", url]
    programs: list[tuple[str, list[str], dict[str, str]]] = [
        ("bare_window", [sys.executable, str(FLOORS / "bare_window.py")], env),
        ("first_window", app, env),
        ("orm_list", [sys.executable, str(FLOORS / "orm_list.py"), url], env),
        # The administrator's start page is the patient list (a nurse's is the worklist, measured on its own).
        ("list", app, {**env, "RMCLINIC_USER": "admin", "RMCLINIC_PASSWORD": "demo"}),
    ]
    out = {name: Started() for name, _, _ in programs}
    for i in range(runs):
        for name, cmd, e in programs[i % 4 :] + programs[: i % 4]:
            seconds, rss = time_to_window(launcher, cmd, e, work, name)
            out[name].seconds.append(seconds)
            out[name].rss_mb.append(rss)
    return out
