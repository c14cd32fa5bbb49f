"""No patient identifier ever reaches a log file or an error report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rmclinic.app import crash_report


def test_logs_of_a_full_session_hold_no_patient_identifiers(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    env = {
        **os.environ,
        "RMCLINIC_LOG_DIR": str(logs),
        "QT_QPA_PLATFORM": "offscreen",
        "RMCLINIC_USER": "admin",
        "RMCLINIC_PASSWORD": "demo",
    }

    def rm(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rmclinic", "--database", url, *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=300,
        )

    assert rm("demo-data", "--patients", "40").returncode == 0
    assert rm("export", "-o", str(tmp_path / "all.json")).returncode == 0
    doc = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    bad = json.loads(json.dumps(doc))
    bad["patients"][0]["date_of_birth"] = "2099-01-01"
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    rm("import", str(tmp_path / "bad.json"))  # refused, naming paths, not people
    rm("import", str(tmp_path / "all.json"))  # refused: duplicates
    rm("export", "--patient", doc["patients"][3]["hospital_number"], "-o", str(tmp_path / "one.json"))
    rm("export", "--patient", "NOSUCH99", "-o", str(tmp_path / "none.json"))
    rm("export", "-o", str(tmp_path / "x.json"), RMCLINIC_PASSWORD="wrong")
    assert rm("--self-test").returncode == 0
    assert rm("audit", "verify").returncode == 0

    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs.rglob("*") if p.is_file())
    assert "migrated" in text  # the log is really written, so its silence about patients means something
    identifiers = set()
    for p in doc["patients"]:
        identifiers |= {p["hospital_number"], p["family_name"], p["nhs_number"] or "RMCLINIC-NONE"}
    identifiers.discard("")
    leaked = sorted(i for i in identifiers if i in text)
    assert leaked == []


def test_crash_report_holds_code_locations_not_values() -> None:
    try:
        raise ValueError("Haddad, Amira, RM000001, 999 000 0018")
    except ValueError as e:
        report = crash_report(type(e), e.__traceback__)
    assert "builtins.ValueError" in report and "test_privacy.py" in report
    assert "Haddad" not in report and "RM000001" not in report


def test_the_log_file_is_moved_aside_when_full_keeping_five(tmp_path: Path) -> None:
    """The log rotates as logging.handlers' RotatingFileHandler did (without importing it at start-up): a line
    that would take the file past its size starts a new one; .1 is the newest old file, five are kept."""
    import logging

    from rmclinic.logs import RotatingFile

    path = tmp_path / "rmclinic.log"
    handler = RotatingFile(path, max_bytes=200, keep=5)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("rmclinic.test-rotation")
    log.propagate = False
    log.addHandler(handler)
    try:
        for i in range(60):
            log.warning("line %02d %s", i, "x" * 40)  # 49 bytes a line: four to a file
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rmclinic.log", *(f"rmclinic.log.{i}" for i in range(1, 6))]
    assert all(p.stat().st_size <= 200 for p in tmp_path.iterdir())
    assert path.read_text(encoding="utf-8").splitlines()[-1].startswith("line 59")
    newest_old = (tmp_path / "rmclinic.log.1").read_text(encoding="utf-8").splitlines()
    assert newest_old[-1].startswith(f"line {59 - len(path.read_text(encoding='utf-8').splitlines()):02d}")
