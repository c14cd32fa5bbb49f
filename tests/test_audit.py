"""The audit trail: what it records, and that changes made behind the app's back are detected."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import act_as
from sqlalchemy import text

from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.persistence.db import make_engine
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14), phone="01234 000000")


def entries(svc: Services, **kw: object) -> list:  # type: ignore[type-arg]
    act_as(svc, Role.ADMIN, "auditor")
    found, _ = svc.audit.query(AuditFilter(sort="seq", descending=False, **kw), 0, 5000)  # type: ignore[arg-type]
    return found


def test_clinical_actions_are_recorded_with_field_changes(services: Services) -> None:
    actor = act_as(services, Role.NURSE, "nina")
    rec = services.patients.register(AMIRA)
    services.patients.get(rec.id)
    rec = services.patients.update_demographics(rec.id, rec.version, replace(AMIRA, phone="07700 900111"))
    services.patients.add_pregnancy(rec.id, PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE, gestation_days=50))
    services.patients.set_archived(rec.id, rec.version, True)
    act_as(services, Role.CONSULTANT, "drlee")
    services.transfer.export([AMIRA.hospital_number])
    log = entries(services, patient_id=rec.id)
    assert [(e.username, e.action, e.entity) for e in log] == [
        ("nina", "create", "patient"),
        ("nina", "view", "patient"),
        ("nina", "update", "patient"),
        ("nina", "create", "previous_pregnancy"),
        ("nina", "archive", "patient"),
        ("drlee", "export", "patient"),
    ]
    update = json.loads(log[2].details)
    assert update == {"phone": ["01234 000000", "07700 900111"]}
    assert all(e.workstation == actor.workstation and e.role in ("nurse", "consultant") for e in log)
    assert log[0].at.tzinfo is not None


def test_settings_changes_are_recorded(services: Services) -> None:
    act_as(services, Role.ADMIN, "boss")
    services.settings.set("idle_lock_minutes", "5")
    assert services.settings.get_int("idle_lock_minutes") == 5
    (e,) = [e for e in entries(services) if e.action == "settings_change"]
    assert json.loads(e.details) == {"idle_lock_minutes": [None, "5"]}


def test_demo_data_writes_one_entry_per_patient(services: Services) -> None:
    services.demo.create(25, seed=4)
    created = [e for e in entries(services, action="create") if e.entity == "patient"]
    assert len(created) == 25 and {e.username for e in created} == {"demo-data"}
    assert services.audit.verify().ok


def _tamper(url: str, *statements: str) -> None:
    """What someone with the sqlite3 shell or psql could do: drop the guard, then edit rows."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for s in statements:
                conn.execute(text(s))
    finally:
        engine.dispose()


def _drop_guards(url: str) -> str:
    if url.startswith("sqlite"):
        return "DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete"
    return "DROP TRIGGER audit_event_no_change ON audit_event"


def _chain(services: Services, db_url: str) -> None:
    act_as(services, Role.NURSE)
    for i in range(4):
        services.patients.register(replace(AMIRA, hospital_number=f"RM{i}", given_name=f"Amira{'abcd'[i]}"))
    act_as(services, Role.ADMIN)
    assert services.audit.verify().ok


def test_guards_refuse_edits_through_the_database(services: Services, db_url: str) -> None:
    _chain(services, db_url)
    with pytest.raises(Exception, match="append-only"):
        _tamper(db_url, "UPDATE audit_event SET username = 'someone' WHERE seq = 2")


@pytest.mark.parametrize(
    ("attack", "first_bad"),
    [
        ("UPDATE audit_event SET username = 'someone' WHERE seq = 2", 2),
        ("DELETE FROM audit_event WHERE seq = 3", 3),
        ("DELETE FROM audit_event WHERE seq = 4", 4),  # the last entry: caught by the chain head
        (
            "INSERT INTO audit_event SELECT 5, at, username, role, workstation, action, entity, entity_id, "
            "patient_id, details, outcome, emergency, hash, hash FROM audit_event WHERE seq = 4",
            5,
        ),
    ],
)
def test_verify_detects_rows_changed_deleted_or_inserted_out_of_band(
    services: Services, db_url: str, attack: str, first_bad: int
) -> None:
    _chain(services, db_url)
    for statement in _drop_guards(db_url).split("; "):
        _tamper(db_url, statement)
    _tamper(db_url, attack)
    act_as(services, Role.ADMIN)
    report = services.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem


def test_audit_verify_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clinic.sqlite3"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("RMCLINIC_USER", "admin")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    assert main(["--database", url, "demo-data", "--patients", "10"]) == 0
    capsys.readouterr()
    assert main(["--database", url, "audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("audit trail intact:")
    con = sqlite3.connect(path)  # exactly what the sqlite3 shell does
    con.execute("DROP TRIGGER audit_event_no_update")
    con.execute("UPDATE audit_event SET patient_id = 3 WHERE seq = 7")
    con.commit()
    con.close()
    assert main(["--database", url, "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "rmclinic: error: audit trail broken at entry 7: entry 7 was changed after it was written"


def test_audit_viewer_filters_sort_and_csv(services: Services) -> None:
    services.demo.create(5, seed=4)
    act_as(services, Role.NURSE, "nina")
    services.patients.get(1)
    services.patients.get(2)
    act_as(services, Role.ADMIN)
    views, total = services.audit.query(AuditFilter(username="nina", action="view", sort="patient_id", descending=True))
    assert total == 2 and [e.patient_id for e in views] == [2, 1]
    csv_text = services.audit.export_csv(AuditFilter(username="nina", sort="seq", descending=False))
    rows = csv_text.strip().splitlines()
    assert rows[0].startswith("seq,at,username") and len(rows) == 3
    assert any(e.action == "export" and e.entity == "audit_trail" for e in entries(services))


def test_the_change_reaches_the_database_before_the_entries_that_record_it(services: Services) -> None:
    """An ORM change still pending when its audit entries are appended is written first (as when the chain head
    was read through the ORM): a refusal of the change surfaces before anything is recorded of it."""
    from sqlalchemy import event

    from rmclinic.domain.audit import Action, AuditEvent
    from rmclinic.persistence.models import PatientRec

    act_as(services, Role.NURSE)
    pid = services.patients.register(PatientData("RM77", "Okafor", "Ada", dt.date(1990, 1, 2))).id
    with services.patients._uow() as uow:
        s = uow.session  # type: ignore[attr-defined]
        seen: list[str] = []
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: seen.append(a[2].split()[0:3]))
        rec = s.get(PatientRec, pid)
        rec.notes = "pending in the session"
        uow.audit.append(
            services.session.actor, [AuditEvent(Action.UPDATE, "patient", str(pid), pid)], dt.datetime.now(dt.UTC)
        )
        updates = [i for i, words in enumerate(seen) if words[:2] == ["UPDATE", "patient"]]
        inserts = [i for i, words in enumerate(seen) if words[:3] == ["INSERT", "INTO", "audit_event"]]
        assert updates and inserts and updates[0] < inserts[0]
