"""Accounts and roles: first admin, password policy, login throttling, service-side permissions,
emergency access, lock and unlock, all recorded in the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import act_as
from sqlalchemy import text

from rmclinic.domain.accounts import Role, password_problems
from rmclinic.domain.errors import ValidationError
from rmclinic.domain.patient import PatientData
from rmclinic.services.auth import LoginFailed
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.services.session import NotAuthenticated, PermissionDenied

STRONG = "Correct-Horse-9"
AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))


def actions(svc: Services) -> list[str]:
    act_as(svc, Role.ADMIN, "auditor")
    entries, _ = svc.audit.query(AuditFilter(sort="seq", descending=False), 0, 1000)
    return [f"{e.username}:{e.action}:{e.outcome}" for e in entries]


@pytest.fixture
def fresh(sqlite_services: Services) -> Services:
    sqlite_services.session.actor = None
    return sqlite_services


def test_password_policy() -> None:
    assert password_problems(STRONG, "anna") == []
    assert "at least 10 characters" in password_problems("Ab1", "anna")
    assert any("letters" in p for p in password_problems("1234567890", "anna"))
    assert "not containing the user name" in password_problems("anna-1234567", "anna")
    assert any("different" in p for p in password_problems("aaaaaaaaa1", "x"))


def test_first_admin_only_on_an_empty_database(fresh: Services) -> None:
    assert not fresh.auth.has_users()
    with pytest.raises(ValidationError):
        fresh.auth.create_first_admin("boss", "short")
    fresh.auth.create_first_admin("boss", STRONG)
    assert fresh.auth.has_users()
    with pytest.raises(PermissionDenied):
        fresh.auth.create_first_admin("other", STRONG)


def test_login_logout_and_failed_login_are_audited(fresh: Services) -> None:
    fresh.auth.create_first_admin("boss", STRONG)
    with pytest.raises(LoginFailed, match="not right"):
        fresh.auth.login("boss", "wrong-password-1")
    with pytest.raises(LoginFailed):
        fresh.auth.login("nobody", STRONG)
    actor = fresh.auth.login(" BOSS ", STRONG)
    assert actor.role is Role.ADMIN
    fresh.auth.logout()
    with pytest.raises(NotAuthenticated):
        fresh.patients.count()
    log = actions(fresh)
    assert "boss:login_failed:failure" in log and "nobody:login_failed:failure" in log
    assert "boss:login:success" in log and "boss:logout:success" in log


def test_repeated_failures_are_throttled(fresh: Services, clock) -> None:  # type: ignore[no-untyped-def]
    fresh.auth.create_first_admin("boss", STRONG)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            fresh.auth.login("boss", "wrong-password-1")
    with pytest.raises(LoginFailed, match="try again in 30 seconds"):
        fresh.auth.login("boss", STRONG)  # even the right password waits
    clock.at += dt.timedelta(seconds=31)
    assert fresh.auth.login("boss", STRONG).username == "boss"


def test_permissions_are_checked_in_the_services(sqlite_services: Services) -> None:
    svc = sqlite_services
    act_as(svc, Role.READ_ONLY)
    with pytest.raises(PermissionDenied):
        svc.patients.register(AMIRA)
    act_as(svc, Role.NURSE)
    rec = svc.patients.register(AMIRA)
    with pytest.raises(PermissionDenied):
        svc.transfer.export()
    with pytest.raises(PermissionDenied):
        svc.auth.list_users()
    act_as(svc, Role.ADMIN)
    with pytest.raises(PermissionDenied):  # administrators manage the system, not the clinical record
        svc.patients.set_archived(rec.id, rec.version, True)
    act_as(svc, Role.READ_ONLY)
    assert svc.patients.get(rec.id).data.family_name == "Haddad"
    assert "read_only:permission_denied:denied" in actions(svc)


def test_break_glass_needs_a_reason_and_is_prominent(sqlite_services: Services) -> None:
    svc = sqlite_services
    act_as(svc, Role.NURSE)
    with pytest.raises(PermissionDenied):
        svc.auth.break_glass("patient collapsed in clinic, need the referral record")
    act_as(svc, Role.CONSULTANT, "drlee")
    doc = {"format": {"name": "rmclinic-patients", "version": 1}, "exported_at": "2026-11-22T10:00:00Z", "patients": []}
    with pytest.raises(PermissionDenied):
        svc.transfer.import_document(doc)
    with pytest.raises(ValidationError, match="reason"):
        svc.auth.break_glass("urgent")
    svc.auth.break_glass("Transferred in labour; import her record from the referring clinic")
    assert svc.transfer.import_document(doc) == 0
    act_as(svc, Role.ADMIN)
    entries, _ = svc.audit.query(AuditFilter(username="drlee", sort="seq", descending=False))
    glass = [e for e in entries if e.action == "break_glass"]
    assert len(glass) == 1 and "referring clinic" in glass[0].details and glass[0].emergency


def test_emergency_access_expires(sqlite_services: Services, clock) -> None:  # type: ignore[no-untyped-def]
    svc = sqlite_services
    act_as(svc, Role.CONSULTANT)
    svc.auth.break_glass("Emergency transfer needing the referral import")
    clock.at += dt.timedelta(minutes=61)
    doc = {"format": {"name": "rmclinic-patients", "version": 1}, "exported_at": "2026-11-22T10:00:00Z", "patients": []}
    with pytest.raises(PermissionDenied):
        svc.transfer.import_document(doc)


def test_lock_refuses_service_calls_until_unlocked(fresh: Services) -> None:
    fresh.auth.create_first_admin("boss", STRONG)
    fresh.auth.login("boss", STRONG)
    fresh.auth.lock()
    with pytest.raises(NotAuthenticated, match="locked"):
        fresh.patients.count()
    with pytest.raises(LoginFailed):
        fresh.auth.unlock("wrong-password-1")
    with pytest.raises(NotAuthenticated):
        fresh.patients.count()
    fresh.auth.unlock(STRONG)
    assert fresh.patients.count() == 0
    log = actions(fresh)
    assert "boss:lock:success" in log and "boss:unlock:success" in log


def test_user_management_is_audited_and_guarded(fresh: Services) -> None:
    fresh.auth.create_first_admin("boss", STRONG)
    fresh.auth.login("boss", STRONG)
    nurse = fresh.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    with pytest.raises(ValidationError, match="taken"):
        fresh.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    changed = fresh.auth.set_role("nina", Role.CONSULTANT, nurse.version)
    assert changed.role is Role.CONSULTANT
    with pytest.raises(ValidationError):
        fresh.auth.set_role("boss", Role.NURSE, fresh.auth.list_users()[0].version)
    fresh.auth.set_active("nina", False, changed.version)
    fresh.auth.logout()
    with pytest.raises(LoginFailed):
        fresh.auth.login("nina", "Nurse-Pass-42")
    assert sum(1 for a in actions(fresh) if a.startswith("boss:permission_change")) >= 3


def test_demo_accounts_exist_only_in_demo_databases(sqlite_services: Services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    svc = sqlite_services
    svc.demo.create(3)
    assert svc.settings.is_demo()
    svc.session.actor = None
    assert svc.auth.login("nurse", "demo").role is Role.NURSE
    from rmclinic.app import build_services

    other = build_services(f"sqlite:///{tmp_path / 'real.sqlite3'}")
    try:
        assert not other.auth.has_users() and not other.settings.is_demo()
    finally:
        other.close()


def test_demo_data_never_replaces_a_real_clinics_patients(sqlite_services: Services) -> None:
    from rmclinic.services.demo import DemoDataRefused

    sqlite_services.patients.register(AMIRA)
    with pytest.raises(DemoDataRefused, match="not created by demo-data"):
        sqlite_services.demo.create(5, force=True)
    assert sqlite_services.patients.count() == 1


def test_saving_an_account_or_setting_unchanged_makes_no_new_version(services: Services) -> None:
    """As the ORM did: an edit that changes nothing is not a change, so another administrator's open form
    (which holds the version it read) is not refused for it."""
    act_as(services, Role.ADMIN)
    services.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    user = next(u for u in services.auth.list_users() if u.username == "nina")
    same = services.auth.set_role("nina", Role.NURSE, user.version)
    assert same.version == user.version
    changed = services.auth.set_role("nina", Role.CONSULTANT, user.version)  # the form opened before: still fine
    assert changed.version == user.version + 1 and changed.role is Role.CONSULTANT
    with services.settings._uow() as uow:
        uow.settings.set("idle_lock_minutes", "12")
        version = uow.session.execute(  # type: ignore[attr-defined]
            text("SELECT version FROM app_setting WHERE key = 'idle_lock_minutes'")
        ).scalar_one()
        assert uow.settings.set("idle_lock_minutes", "12") == "12"
        assert (
            uow.session.execute(  # type: ignore[attr-defined]
                text("SELECT version FROM app_setting WHERE key = 'idle_lock_minutes'")
            ).scalar_one()
            == version
        )


def test_an_account_changed_while_its_password_is_checked_does_not_log_in(
    services: Services, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator deactivates (or demotes) the account in the moment between reading it and recording
    the log-in: the log-in is refused, not granted with the old role. (On SQLite the log-in's transaction
    holds the write lock from its start, so the change waits for it; this runs on PostgreSQL.)"""
    if services.backend != "postgresql":
        pytest.skip("SQLite serialises writers: the change cannot fall in between")
    from sqlalchemy import create_engine

    import rmclinic.services.auth as auth_module

    act_as(services, Role.ADMIN)
    services.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    real = auth_module.password_matches

    def admin_acts_meanwhile(stored: str, password: str) -> bool:
        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE user_account SET active = false, version = version + 1 WHERE username = 'nina'"))
        engine.dispose()
        return real(stored, password)

    monkeypatch.setattr(auth_module, "password_matches", admin_acts_meanwhile)
    services.session.actor = None
    with pytest.raises(LoginFailed, match="changed as you logged in"):
        services.auth.login("nina", "Nurse-Pass-42")
    assert services.session.actor is None
