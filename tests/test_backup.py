"""Backups and restore: consistent, private copies; a restore checks before it replaces anything."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from conftest import act_as

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.patient import PatientData
from rmclinic.persistence.backup import BackupError
from rmclinic.services.backup import RestoreRefused
from rmclinic.services.container import Services
from rmclinic.services.session import PermissionDenied

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))


def test_backup_is_a_private_consistent_copy(sqlite_services: Services, tmp_path: Path) -> None:
    svc = sqlite_services
    svc.demo.create(20)
    act_as(svc, Role.NURSE)
    with pytest.raises(PermissionDenied):
        svc.backup.backup(tmp_path / "b.sqlite3")
    act_as(svc, Role.ADMIN)
    made = svc.backup.backup(tmp_path / "b.sqlite3")
    assert made.stat().st_mode & 0o777 == 0o600
    con = sqlite3.connect(made)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT count(*) FROM patient").fetchone() == (20,)
    con.close()


def test_automatic_backups_rotate(sqlite_services: Services, tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    svc = sqlite_services
    act_as(svc, Role.ADMIN)
    svc.settings.set("backup_keep", "3")
    folder = tmp_path / "auto"
    made = []
    for _day in range(5):
        made.append(svc.backup.automatic(folder))
        assert svc.backup.automatic(folder) is None  # one a day
        clock.at += dt.timedelta(days=1)
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted(p.name for p in made[-3:] if p)
    assert folder.stat().st_mode & 0o077 == 0


def test_restore_checks_everything_first_and_keeps_the_replaced_file(tmp_path: Path) -> None:
    src_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = build_services(src_url)
    old.demo.create(7)
    act_as(old, Role.ADMIN)
    backup = old.backup.backup(tmp_path / "monday.sqlite3")
    old.close()

    live_path = tmp_path / "live.sqlite3"
    live = build_services(f"sqlite:///{live_path}")
    act_as(live, Role.NURSE)
    live.patients.register(AMIRA)
    with pytest.raises(RestoreRefused, match="administrator account of the backup"):
        live.backup.restore(backup, "nurse", "demo")  # a nurse of the backup is not enough
    with pytest.raises(RestoreRefused):
        live.backup.restore(backup, "admin", "wrong")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises((RestoreRefused, BackupError)):
        live.backup.restore(garbage, "admin", "demo")
    assert live.patients.count() == 1  # nothing replaced by the refusals
    kept = live.backup.restore(backup, "admin", "demo")
    act_as(live, Role.NURSE)
    assert live.patients.count() == 7
    assert kept is not None and kept.exists()
    con = sqlite3.connect(kept)
    assert con.execute("SELECT hospital_number FROM patient").fetchall() == [("RM1",)]
    con.close()
    act_as(live, Role.ADMIN)
    assert live.audit.verify().ok
    live.close()
    assert live_path.stat().st_mode & 0o777 == 0o600


def test_restore_refuses_a_schema_from_the_future(tmp_path: Path) -> None:
    svc = build_services(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    svc.demo.create(2)
    act_as(svc, Role.ADMIN)
    backup = svc.backup.backup(tmp_path / "b.sqlite3")
    con = sqlite3.connect(backup)
    con.execute("UPDATE alembic_version SET version_num = 'ffff'")
    con.commit()
    con.close()
    with pytest.raises(RestoreRefused, match="does not know"):
        svc.backup.restore(backup, "admin", "demo")
    svc.close()


def test_backup_and_restore_commands_into_a_new_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    assert main(["--database", url, "demo-data", "--patients", "12"]) == 0
    assert main(["--database", url, "backup", str(tmp_path / "copy.sqlite3")]) == 0
    new_url = f"sqlite:///{tmp_path / 'new' / 'fresh.sqlite3'}"
    assert main(["--database", new_url, "restore", str(tmp_path / "copy.sqlite3")]) == 0
    capsys.readouterr()
    assert main(["--database", new_url, "export", "-o", str(tmp_path / "e.json")]) == 0
    assert "exported 12 patients" in capsys.readouterr().out
    assert main(["--database", new_url, "audit", "verify"]) == 0
