"""The command line contract: exact commands, one-line errors, deterministic demo data, self-test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rmclinic import __version__
from rmclinic.cli import main
from rmclinic.persistence.migrate import HEAD_REVISION

STRONG = "Correct-Horse-9"


@pytest.fixture(autouse=True)
def demo_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that touch patient data need a user: demo-data's admin unless a test says otherwise."""
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rmclinic", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )


def test_version_in_a_real_process() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"rmclinic {__version__}"


def test_db_current_and_upgrade(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "db", "current"]) == 0
    assert capsys.readouterr().out.startswith("none (empty)")
    assert main(["--database", sqlite_url, "db", "upgrade"]) == 0
    assert "(head)" in capsys.readouterr().out
    assert main(["--database", sqlite_url, "db", "current"]) == 0
    assert capsys.readouterr().out.startswith(f"{HEAD_REVISION} (head)")


def test_database_url_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RMCLINIC_DATABASE_URL", sqlite_url)
    assert main(["db", "upgrade"]) == 0
    assert Path(sqlite_url.removeprefix("sqlite:///")).exists()


def _export(url: str, out: Path) -> dict:  # type: ignore[type-arg]
    assert main(["--database", url, "export", "-o", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_demo_data_is_deterministic_and_refuses_a_filled_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.sqlite3'}", f"sqlite:///{tmp_path / 'b.sqlite3'}"
    for url in (a, b):
        assert main(["--database", url, "demo-data", "--patients", "50", "--seed", "7", "--today", "2026-01-05"]) == 0
    assert _export(a, tmp_path / "a.json")["patients"] == _export(b, tmp_path / "b.json")["patients"]
    capsys.readouterr()
    assert main(["--database", a, "demo-data", "--patients", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--force" in err
    assert main(["--database", a, "demo-data", "--patients", "5", "--seed", "8", "--force"]) == 0
    assert len(_export(a, tmp_path / "a2.json")["patients"]) == 5


def test_demo_dates_follow_today(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    assert main(["--database", url, "demo-data", "--patients", "30", "--today", "2030-06-01"]) == 0
    doc = _export(url, tmp_path / "d.json")
    dates = [p["date"] for pt in doc["patients"] for p in pt["previous_pregnancies"] if p["date"]]
    assert max(dates) <= "2030-06-01"
    assert max(dates) > "2029-01-01"


def test_export_import_round_trip_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = f"sqlite:///{tmp_path / 's.sqlite3'}", f"sqlite:///{tmp_path / 't.sqlite3'}"
    main(["--database", src, "demo-data", "--patients", "20"])
    first = _export(src, tmp_path / "s.json")
    assert (tmp_path / "s.json").stat().st_mode & 0o077 == 0
    os.environ["RMCLINIC_NEW_PASSWORD"] = STRONG
    try:
        assert main(["--database", dst, "users", "add", "boss", "--role", "admin"]) == 0
    finally:
        del os.environ["RMCLINIC_NEW_PASSWORD"]
    assert main(["--database", dst, "--user", "boss", "import", str(tmp_path / "s.json")]) == 1  # wrong password
    os.environ["RMCLINIC_PASSWORD"] = STRONG
    assert main(["--database", dst, "--user", "boss", "import", str(tmp_path / "s.json")]) == 0
    os.environ["RMCLINIC_PASSWORD"] = "demo"
    assert main(["--database", dst, "--user", "boss", "export", "-o", str(tmp_path / "t.json")]) != 0  # demo pw
    os.environ["RMCLINIC_PASSWORD"] = STRONG
    assert main(["--database", dst, "--user", "boss", "export", "-o", str(tmp_path / "t.json")]) == 0
    os.environ["RMCLINIC_PASSWORD"] = "demo"
    assert json.loads((tmp_path / "t.json").read_text())["patients"] == first["patients"]
    main(["--database", src, "export", "--patient", "RM000002", "-o", str(tmp_path / "one.json")])
    assert [p["hospital_number"] for p in json.loads((tmp_path / "one.json").read_text())["patients"]] == ["RM000002"]


def test_import_of_a_bad_file_prints_paths_and_writes_nothing(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--database", sqlite_url, "demo-data", "--patients", "1"])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": {"name": "rmclinic-patients", "version": 1},
                "exported_at": "2026-11-22T10:00:00Z",
                "patients": [
                    {
                        "hospital_number": "A1",
                        "family_name": "X",
                        "given_name": "Y",
                        "date_of_birth": "2099-01-01",
                        "nhs_number": "9434765918",
                    }
                ],
            }
        )
    )
    assert main(["--database", sqlite_url, "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "$.patients[0].date_of_birth" in err
    assert "$.patients[0].nhs_number" in err
    assert err.strip().splitlines()[-1].startswith("rmclinic: error: import refused, nothing was written")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--database", "nonsense://x", "db", "current"], "unsupported database URL"),
        (["--database", "sqlite:///{tmp}/a-file/y.sqlite3", "db", "current"], "rmclinic: error:"),
        (["import", "/nonexistent/file.json"], "no such file"),
        (["export", "-o", "{tmp}/x.json"], "needs a user"),
        (["export", "-o", "/nonexistent/dir/out.json"], "does not exist"),
    ],
)
def test_errors_are_one_line_without_traceback(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    if "needs a user" in expected:
        monkeypatch.delenv("RMCLINIC_USER")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    full = args if args[0] == "--database" else ["--database", f"sqlite:///{tmp_path / 'e.sqlite3'}", *args]
    assert main(full) != 0
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_option_value_is_a_usage_error_not_a_traceback() -> None:
    done = run("demo-data", "--patients", "3", "--today", "22/11/2026")
    assert done.returncode == 2
    assert "YYYY-MM-DD" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_self_test_on_a_1000_patient_demo_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert run("--database", url, "demo-data", "--patients", "1000").returncode == 0
    done = run("--database", url, "--self-test")
    assert done.returncode == 0, done.stderr
    import re

    m = re.search(r"self-test passed: sqlite database migrated, main window built, (\d+) patients listed", done.stdout)
    assert m, done.stdout
    assert 950 <= int(m.group(1)) <= 1000  # about 1 % of demo patients are archived and not listed


def test_self_test_fails_clearly_on_a_database_from_the_future(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    con.execute("INSERT INTO alembic_version VALUES ('ffff')")
    con.commit()
    con.close()
    done = run("--database", f"sqlite:///{path}", "--self-test")
    assert done.returncode == 1
    assert "newer than this version" in done.stderr
    assert "Traceback" not in done.stderr
