"""Encryption at rest with SQLCipher: convert, open only with the key, encrypted backups, clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rmclinic.cli import main
from rmclinic.persistence.db import is_encrypted


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_encrypt_open_backup_restore_decrypt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "clinic.sqlite3"
    url = f"sqlite:///{db}"
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    assert main(["--database", url, "demo-data", "--patients", "15"]) == 0
    monkeypatch.setenv("RMCLINIC_NEW_DB_KEY", "short")
    assert main(["--database", url, "encrypt"]) == 1
    assert not is_encrypted(db)
    monkeypatch.setenv("RMCLINIC_NEW_DB_KEY", "a long clinic passphrase")
    assert main(["--database", url, "encrypt"]) == 0
    assert is_encrypted(db)
    assert b"Haddad" not in db.read_bytes()
    capsys.readouterr()

    # Without the key, or with a wrong one: one clear line, and the file is untouched.
    before = sha(db)
    assert main(["--database", url, "export", "-o", str(tmp_path / "x.json")]) == 1
    assert "RMCLINIC_DB_KEY" in capsys.readouterr().err
    monkeypatch.setenv("RMCLINIC_DB_KEY", "not the key at all")
    assert main(["--database", url, "export", "-o", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert "key" in err and "nothing was changed" in err and err.count("\n") == 1
    assert sha(db) == before

    monkeypatch.setenv("RMCLINIC_DB_KEY", "a long clinic passphrase")
    assert main(["--database", url, "export", "-o", str(tmp_path / "e.json")]) == 0
    assert len(json.loads((tmp_path / "e.json").read_text())["patients"]) == 15
    assert main(["--database", url, "audit", "verify"]) == 0
    assert main(["--database", url, "backup", str(tmp_path / "b.sqlite3")]) == 0
    assert is_encrypted(tmp_path / "b.sqlite3")
    assert (
        main(["--database", f"sqlite:///{tmp_path / 'restored.sqlite3'}", "restore", str(tmp_path / "b.sqlite3")]) == 0
    )
    assert is_encrypted(tmp_path / "restored.sqlite3")
    assert main(["--database", url, "decrypt"]) == 0
    monkeypatch.delenv("RMCLINIC_DB_KEY")
    assert not is_encrypted(db)
    assert main(["--database", url, "audit", "verify"]) == 0
