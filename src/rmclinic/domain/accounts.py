"""Roles, permissions and the password policy. Pure: hashing lives in services, storage in persistence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CONSULTANT = "consultant"
    NURSE = "nurse"
    READ_ONLY = "read_only"
    SYSTEM = "system"  # the app itself (demo-data, restore): never a login account


class Permission(StrEnum):
    VIEW_PATIENTS = "view_patients"
    EDIT_PATIENTS = "edit_patients"  # register, edit, archive, history, risk
    PRINT = "print"
    REVIEW_RESULTS = "review_results"
    SIGN_CARE_PLANS = "sign_care_plans"
    OVERRIDE_CRITICAL_ALERTS = "override_critical_alerts"
    EXPORT = "export"
    IMPORT = "import"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_AUDIT = "view_audit"
    BACKUP_RESTORE = "backup_restore"


_NURSE = frozenset({Permission.VIEW_PATIENTS, Permission.EDIT_PATIENTS, Permission.PRINT})
_CONSULTANT = _NURSE | {
    Permission.REVIEW_RESULTS,
    Permission.SIGN_CARE_PLANS,
    Permission.OVERRIDE_CRITICAL_ALERTS,
    Permission.EXPORT,
}
_ADMIN = frozenset(
    {
        Permission.VIEW_PATIENTS,
        Permission.MANAGE_USERS,
        Permission.MANAGE_SETTINGS,
        Permission.VIEW_AUDIT,
        Permission.BACKUP_RESTORE,
        Permission.IMPORT,
        Permission.EXPORT,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ADMIN,
    Role.CONSULTANT: frozenset(_CONSULTANT),
    Role.NURSE: _NURSE,
    Role.READ_ONLY: frozenset({Permission.VIEW_PATIENTS}),
    Role.SYSTEM: frozenset(Permission),
}
LOGIN_ROLES = (Role.ADMIN, Role.CONSULTANT, Role.NURSE, Role.READ_ONLY)

# What emergency ("break-glass") access adds for a consultant: patient-data permissions her role lacks.
# Account, audit and settings administration are never granted this way.
BREAK_GLASS_EXTRA = frozenset({Permission.IMPORT})
BREAK_GLASS_ROLES = frozenset({Role.CONSULTANT})

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.CONSULTANT: "Consultant",
    Role.NURSE: "Nurse",
    Role.READ_ONLY: "Read-only",
    Role.SYSTEM: "System",
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: carried into every service call, checked and written to the audit trail."""

    user_id: int | None
    username: str
    role: Role
    workstation: str
    emergency_reason: str = ""  # non-empty while break-glass access is active

    @property
    def permissions(self) -> frozenset[Permission]:
        granted = ROLE_PERMISSIONS[self.role]
        if self.emergency_reason and self.role in BREAK_GLASS_ROLES:
            granted = granted | BREAK_GLASS_EXTRA
        return granted

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10


def username_problem(name: str) -> str | None:
    if not USERNAME.match(name):
        return "User names are 2-32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter."
    return None


def password_problems(password: str, username: str) -> list[str]:
    """The password policy (docs/security.md): length and variety, never the user name."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[^A-Za-z]", password):
        problems.append("both letters and at least one digit or symbol")
    if username and username.lower() in password.lower():
        problems.append("not containing the user name")
    if len(set(password)) < 5:
        problems.append("at least 5 different characters")
    return problems
