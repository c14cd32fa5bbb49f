"""Two workstations editing the same record: the second save is refused, nothing silently overwritten."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import act_as

from rmclinic.domain.accounts import Role
from rmclinic.domain.patient import PatientData
from rmclinic.services.container import Services
from rmclinic.services.patients import StaleRecord

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14), phone="01234 000000")
EDITOR = str(Path(__file__).parent / "concurrent_editor.py")


def _editor(url: str, pid: int, user: str, phone: str, go: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, EDITOR, url, str(pid), user, phone, str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def test_save_after_another_workstation_saved_is_refused_and_says_what_changed(
    services: Services, db_url: str, tmp_path: Path
) -> None:
    act_as(services, Role.NURSE, "anna")
    rec = services.patients.register(AMIRA)
    mine = services.patients.get(rec.id)
    go = tmp_path / "go"
    go.touch()
    other = _editor(db_url, rec.id, "bea", "07700 900222", go)
    out, err = other.communicate(timeout=120)
    assert "SAVED" in out, err
    with pytest.raises(StaleRecord) as refused:
        services.patients.update_demographics(
            rec.id, mine.version, replace(mine.data, given_name="Amirah"), base=mine.data
        )
    assert refused.value.changed_by == "bea"
    assert refused.value.changed_fields == ["phone"]
    stored = services.patients.get(rec.id).data
    assert (stored.phone, stored.given_name) == ("07700 900222", "Amira")


def test_two_processes_saving_at_once_one_wins(services: Services, db_url: str, tmp_path: Path) -> None:
    act_as(services, Role.NURSE)
    rec = services.patients.register(AMIRA)
    go = tmp_path / "go"
    editors = [_editor(db_url, rec.id, f"user{i}", f"07700 90000{i}", go) for i in range(2)]
    for e in editors:
        assert e.stdout is not None
        assert e.stdout.readline().strip() == "READ"
    go.touch()
    results = [e.communicate(timeout=120) for e in editors]
    outs = [out for out, _err in results]
    assert sorted(o.split()[0] for o in outs) == ["REFUSED", "SAVED"], results
    winner = outs.index(next(o for o in outs if o.startswith("SAVED")))
    assert services.patients.get(rec.id).data.phone == f"07700 90000{winner}"


def test_a_postgresql_connection_dropped_while_it_waited_is_replaced_before_use(
    services: Services, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server restarted (or the network dropped) while a workstation sat idle: its next action gets a
    fresh connection, not an error. A connection used moments before is not checked (a round trip saved on
    each of the dozen units of work of opening a patient): dropped in that moment, one action fails."""
    if services.backend != "postgresql":
        pytest.skip("SQLite has no server to lose")
    from sqlalchemy import create_engine, text

    import rmclinic.persistence.db as db

    services.patients.register(PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14)))

    def server_drops_our_connections() -> None:
        admin = create_engine(db_url)
        with admin.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        admin.dispose()

    server_drops_our_connections()
    monkeypatch.setattr(db, "PG_CHECK_AFTER_IDLE_S", 0.0)  # idle "long enough"
    assert services.patients.count() == 1

    monkeypatch.setattr(db, "PG_CHECK_AFTER_IDLE_S", 3600.0)  # used "moments ago": not checked
    server_drops_our_connections()
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        services.patients.count()
    assert services.patients.count() == 1  # and the pool has let the dead connection go
