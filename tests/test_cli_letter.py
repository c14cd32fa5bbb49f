"""`rmclinic letter HOSPNO [--visit YYYY-MM-DD] -o FILE.pdf`: the latest (or given) visit's letter — the
signed version when there is one, else the draft marked DRAFT — audited, with one clear line on mistakes."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from conftest import act_as
from pypdf import PdfReader

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.visit import Visit, VisitType

DAY = dt.date(2026, 11, 22)


@pytest.fixture
def db(sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "30", "--today", DAY.isoformat()]) == 0
    capsys.readouterr()
    monkeypatch.setenv("RMCLINIC_USER", "nurse")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    return sqlite_url


def text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_the_latest_visits_letter_draft_then_signed(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = build_services(db)
    act_as(svc, Role.CONSULTANT, "consultant")
    rec = svc.patients.find_by_hospital_number("RM000002")
    assert rec is not None
    older = dt.date.today() - dt.timedelta(days=60)
    svc.visits.save_visit(rec.id, Visit(older, VisitType.FIRST))
    latest = svc.visits.save_visit(rec.id, Visit(dt.date.today(), VisitType.FOLLOW_UP, plan="Scans every two weeks."))
    svc.close()
    out = tmp_path / "letter.pdf"
    assert main(["--database", db, "letter", "RM000002", "-o", str(out)]) == 0
    assert "(DRAFT, not signed)" in capsys.readouterr().out
    body = text(out)
    assert "RM000002" in body and "DRAFT" in body and "Scans every two weeks." in body
    svc = build_services(db)
    act_as(svc, Role.CONSULTANT, "consultant")
    draft = svc.visits.letter_for(rec.id)
    assert draft is not None and draft.visit_id == latest.id
    signed = svc.visits.sign(rec.id, draft.id, draft.row_version)  # type: ignore[arg-type]
    stored = svc.visits.pdf(rec.id, signed.id)  # type: ignore[arg-type]
    svc.close()
    assert main(["--database", db, "letter", "RM000002", "-o", str(out)]) == 0
    assert "signed by Demo consultant" in capsys.readouterr().out
    assert out.read_bytes() == stored  # the signed PDF, byte for byte
    # the older visit's letter on request
    assert main(["--database", db, "letter", "RM000002", "--visit", older.isoformat(), "-o", str(out)]) == 0
    assert "letter version 1" in capsys.readouterr().out and "DRAFT" in text(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["letter", "RM999999", "-o", "{tmp}/x.pdf"], "no patient with hospital number RM999999"),
        (["letter", "RM000003", "--visit", "2001-01-01", "-o", "{tmp}/x.pdf"], "No attended visit on 01/01/2001"),
        (["letter", "RM000003", "-o", "{tmp}/nowhere/x.pdf"], "folder"),
    ],
)
def test_mistakes_get_one_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["--database", db, *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.pdf").exists()


def test_a_patient_without_visits_gets_a_clear_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = build_services(db)
    act_as(svc, Role.CONSULTANT)
    rec = svc.patients.find_by_hospital_number("RM000004")  # demo visits are for every fifth patient only
    assert rec is not None and svc.visits.visits(rec.id) == []
    svc.close()
    code = main(["--database", db, "letter", "RM000004", "-o", str(tmp_path / "x.pdf")])
    err = capsys.readouterr().err
    assert code != 0 and "no attended visit" in err and "Traceback" not in err
