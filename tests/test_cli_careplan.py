"""`rmclinic careplan HOSPNO [--variant patient|clinician] -o FILE.pdf` and
`rmclinic careplan --worklist-date YYYY-MM-DD -o FILE.pdf`: the PDF holds the right patients, a nurse may
print and an administrator may not, every printout is audited, and mistakes get one clear line."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pytest
from conftest import act_as
from pypdf import PdfReader

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.services.dto import AuditFilter

DAY = dt.date(2026, 11, 22)


@pytest.fixture
def demo_db(sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "60", "--today", DAY.isoformat()]) == 0
    capsys.readouterr()
    monkeypatch.setenv("RMCLINIC_USER", "nurse")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    return sqlite_url


def pages(path: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages]


def test_one_patients_care_plan_in_each_variant(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = build_services(demo_db)
    act_as(svc, Role.NURSE, "nurse")
    record = svc.patients.find_by_hospital_number("RM000001")
    assert record is not None
    name = f"{record.data.given_name}"
    svc.close()
    for variant in ("patient", "clinician"):
        out = tmp_path / f"{variant}.pdf"
        assert main(["--database", demo_db, "careplan", "RM000001", "--variant", variant, "-o", str(out)]) == 0
        assert f"wrote {variant} care plan of RM000001" in capsys.readouterr().out
        texts = pages(out)
        assert all("RM000001" in t and name in t for t in texts)
        assert all(f"Page {i} of {len(texts)}" in t for i, t in enumerate(texts, 1))
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # patient data: private to the user
    assert "References" in "".join(pages(tmp_path / "clinician.pdf"))
    svc = build_services(demo_db)
    act_as(svc, Role.ADMIN)
    entries = [e for e in svc.audit.query(AuditFilter(patient_id=record.id))[0] if e.entity == "care_plan"]
    svc.close()
    assert sorted(json.loads(e.details)["variant"] for e in entries) == ["clinician", "patient"]
    assert {e.username for e in entries} == {"nurse"}


def test_batch_for_a_worklist_day(demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", demo_db, "worklist", "--date", DAY.isoformat(), "--json"]) == 0
    due = {i["hospital_number"] for i in json.loads(capsys.readouterr().out)}
    assert due, "the demo clinic has patients on today's worklist"
    out = tmp_path / "batch.pdf"
    assert main(["--database", demo_db, "careplan", "--worklist-date", DAY.isoformat(), "-o", str(out)]) == 0
    assert f"wrote {len(due)} patient care plan" in capsys.readouterr().out
    text = "\n".join(pages(out))
    assert {h for h in due if h in text} == due
    assert text.count("Page 1 of") == len(due)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["careplan", "RM999999", "-o", "{tmp}/x.pdf"], "no patient with hospital number RM999999"),
        (["careplan", "-o", "{tmp}/x.pdf"], "give a hospital number or --worklist-date"),
        (["careplan", "RM000001", "--worklist-date", "2026-11-22", "-o", "{tmp}/x.pdf"], "one of them"),
        (["careplan", "RM000001", "-o", "{tmp}/no/such/x.pdf"], "folder"),
        (["careplan", "RM000001", "--variant", "gp", "-o", "{tmp}/x.pdf"], "invalid choice"),
        (["careplan", "--worklist-date", "2001-01-01", "-o", "{tmp}/x.pdf"], "Nobody is on the worklist"),
    ],
)
def test_mistakes_get_one_clear_line(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        code = main(["--database", demo_db, *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    except SystemExit as e:  # argparse's own usage errors
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.pdf").exists()


def test_an_administrator_may_not_print(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    code = main(["--database", demo_db, "careplan", "RM000001", "-o", str(tmp_path / "x.pdf")])
    err = capsys.readouterr().err
    assert code != 0 and "print" in err.lower() and not (tmp_path / "x.pdf").exists()


def test_an_output_folder_is_refused_before_anything_is_printed(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--database", demo_db, "careplan", "RM000001", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "it is a folder" in err and ".tmp" not in err
    svc = build_services(demo_db)
    act_as(svc, Role.ADMIN)
    printed = [e for e in svc.audit.query(AuditFilter())[0] if e.entity == "care_plan"]
    svc.close()
    assert printed == []  # nothing was made, so nothing is recorded as printed
