"""`rmclinic report outcomes --from YYYY-MM-DD --to YYYY-MM-DD -o FILE.pdf|FILE.csv`: the format follows the
extension, a consultant or admin only, audited, written owner-only, and every mistake is one line."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import act_as
from pypdf import PdfReader

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.services.dto import AuditFilter
from rmclinic.services.outcomes import OUTCOMES_CSV_HEADER

DAY = "2026-11-22"


@pytest.fixture
def demo_db(sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "40", "--today", DAY]) == 0
    capsys.readouterr()
    monkeypatch.setenv("RMCLINIC_USER", "consultant")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    return sqlite_url


def report(url: str, *args: str) -> int:
    try:
        return main(["--database", url, "report", "outcomes", *args])
    except SystemExit as e:  # argparse's own usage errors
        return int(e.code or 0)


def test_pdf_and_csv_by_extension_owner_only_and_audited(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf, csv_file = tmp_path / "audit.pdf", tmp_path / "audit.CSV"
    assert report(demo_db, "--from", "2025-11-23", "--to", DAY, "-o", str(pdf)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("wrote the outcomes audit 2025-11-23 to 2026-11-22 (") and str(pdf) in out
    # a period ending less than 308 days ago: the rates leave recent pregnancies out, and the command says so
    assert err.startswith("warning: the period ends after ") and "not yet assessable" in err
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Clinic outcomes audit" in text and "DEMO DATA" in text
    assert report(demo_db, "--from", "2025-11-23", "--to", DAY, "-o", str(csv_file)) == 0
    rows = list(csv.reader(io.StringIO(csv_file.read_bytes().decode("utf-8-sig"))))
    assert tuple(rows[0]) == OUTCOMES_CSV_HEADER and rows[1][:4] == ["report", "period", "2025-11-23", "from"]
    for f in (pdf, csv_file):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    svc = build_services(demo_db)
    act_as(svc, Role.ADMIN)
    entries = [e for e in svc.audit.query(AuditFilter(username="consultant"))[0] if e.entity == "outcomes_report"]
    svc.close()
    formats = sorted(e.details for e in entries if e.patient_id is None)
    assert len(formats) == 2 and '"format":"csv"' in formats[0] and '"format":"pdf"' in formats[1]
    assert {e.action for e in entries} == {"export"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "2025-13-01", "--to", DAY, "-o", "{tmp}/x.pdf"],
            "'2025-13-01' is not a date in the form YYYY-MM-DD",
        ),
        (["--from", "01/01/2025", "--to", DAY, "-o", "{tmp}/x.pdf"], "is not a date in the form YYYY-MM-DD"),
        (["--to", DAY, "-o", "{tmp}/x.pdf"], "the following arguments are required: --from"),
        (["--from", DAY, "--to", "2025-01-01", "-o", "{tmp}/x.pdf"], "--to 2025-01-01 is before --from 2026-11-22"),
        (["--from", "2025-01-01", "--to", DAY, "-o", "{tmp}/x.xlsx"], "name it FILE.pdf or FILE.csv"),
        (["--from", "2025-01-01", "--to", DAY, "-o", "{tmp}/no/such/x.pdf"], "folder"),
        (["--from", "2025-01-01", "--to", DAY, "-o", "{tmp}"], "it is a folder"),
    ],
)
def test_mistakes_get_one_clear_line(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = report(demo_db, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.xlsx").exists()


def test_a_nurse_is_refused_with_one_line_and_nothing_is_written(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "nurse")
    out = tmp_path / "x.csv"
    assert report(demo_db, "--from", "2025-01-01", "--to", DAY, "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rmclinic: error: ") and "export" in err.lower()
    assert not out.exists()


def test_an_administrator_may_run_it(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    assert report(demo_db, "--from", "2025-01-01", "--to", DAY, "-o", str(tmp_path / "x.csv")) == 0


def test_in_a_real_process_without_a_traceback(demo_db: str, tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RMCLINIC_USER": "consultant", "RMCLINIC_PASSWORD": "demo"}
    command = [sys.executable, "-m", "rmclinic", "--database", demo_db, "report", "outcomes", "--to", DAY]
    done = subprocess.run(
        [*command, "--from", "2025-01-01", "-o", str(tmp_path / "r.pdf")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run(
        [*command, "--from", "x", "-o", str(tmp_path / "r.pdf")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
