"""Accounts: first admin, login with throttling, idle lock, break-glass access, user management."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..domain.accounts import (
    BREAK_GLASS_ROLES,
    LOGIN_ROLES,
    Actor,
    Permission,
    Role,
    password_problems,
    username_problem,
)
from ..domain.audit import Action, AuditEvent, Outcome
from ..domain.errors import ConflictError, DomainError, FieldProblem, ValidationError
from ..domain.typecheck import text_problem
from .base import ServiceBase
from .dto import UserRecord
from .session import NotAuthenticated, PermissionDenied

# Throttling: the first failures cost nothing more than the hash; from the fifth on, the account waits
# 30 s, doubling each time, at most 15 minutes. (A policy choice, documented in docs/security.md.)
FREE_FAILURES = 4
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60
BREAK_GLASS_MINUTES = 60
MIN_REASON = 10

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 "low memory" defaults


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so timing stays even; made on first need (a hash costs
    as much as a login, and start-up should not pay it)."""
    return _hasher.hash("not a real password, used to keep timing even")


class LoginFailed(DomainError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _lock_seconds(failures: int) -> int:
    if failures <= FREE_FAILURES:
        return 0
    return int(min(FIRST_LOCK_SECONDS * 2 ** (failures - FREE_FAILURES - 1), MAX_LOCK_SECONDS))


class AuthService(ServiceBase):
    # -- accounts -----------------------------------------------------------------------------

    def has_users(self) -> bool:
        with self._uow(read_only=True) as uow:
            return uow.users.count() > 0

    def _check_new_account(self, username: str, password: str, role: Role, exempt_policy: bool = False) -> None:
        problems = []
        if not isinstance(username, str) or (p := username_problem(username)):
            problems.append(FieldProblem("username", p if isinstance(username, str) else "Must be text."))
        if not isinstance(role, Role) or role not in LOGIN_ROLES:
            problems.append(FieldProblem("role", "Role must be admin, consultant, nurse or read_only."))
        if not isinstance(password, str):
            problems.append(FieldProblem("password", "Must be text."))
        elif not exempt_policy and (bad := password_problems(password, username)):
            problems.append(FieldProblem("password", "The password needs " + "; ".join(bad) + "."))
        if problems:
            raise ValidationError(problems)

    def create_first_admin(self, username: str, password: str, display_name: str = "") -> UserRecord:
        """Only while the database has no accounts at all (first start)."""
        self._check_new_account(username, password, Role.ADMIN)
        with self._uow() as uow:
            if uow.users.count():
                raise PermissionDenied(Permission.MANAGE_USERS, None)
            user = uow.users.add(username, display_name.strip(), Role.ADMIN, hash_password(password))
            actor = Actor(user.id, username, Role.ADMIN, self._session.workstation)
            self._audit(uow, actor, AuditEvent(Action.CREATE, "user", username, changes={"role": [None, "admin"]}))
            uow.commit()
            return user

    def add_user(
        self, username: str, role: Role, password: str, display_name: str = "", exempt_policy: bool = False
    ) -> UserRecord:
        """``exempt_policy`` is for demo-data's 'demo' passwords only; the UI and CLI never set it."""
        actor = self._actor(Permission.MANAGE_USERS)
        self._check_new_account(username, password, role, exempt_policy)
        with self._uow() as uow:
            if uow.users.get(username) is not None:
                raise ValidationError.single("username", f"The user name {username} is taken.")
            user = uow.users.add(username, display_name.strip(), role, hash_password(password))
            self._audit(
                uow,
                actor,
                AuditEvent(Action.CREATE, "user", username, changes={"role": [None, role.value]}),
                AuditEvent(Action.PERMISSION_CHANGE, "user", username, changes={"role": [None, role.value]}),
            )
            uow.commit()
            return user

    def list_users(self) -> list[UserRecord]:
        self._actor(Permission.MANAGE_USERS)
        with self._uow(read_only=True) as uow:
            return uow.users.list()

    def set_role(self, username: str, role: Role, version: int) -> UserRecord:
        actor = self._actor(Permission.MANAGE_USERS)
        if role not in LOGIN_ROLES:
            raise ValidationError.single("role", "Role must be admin, consultant, nurse or read_only.")
        with self._uow() as uow:
            before = uow.users.get(username)
            if before is None:
                raise ValidationError.single("username", f"No user {username}.")
            if username == actor.username and role is not Role.ADMIN:
                raise ValidationError.single("role", "You cannot take away your own administrator role.")
            user = uow.users.update(username, version, role=role.value)
            self._audit(
                uow,
                actor,
                AuditEvent(
                    Action.PERMISSION_CHANGE, "user", username, changes={"role": [before.role.value, role.value]}
                ),
            )
            uow.commit()
            return user

    def set_active(self, username: str, active: bool, version: int) -> UserRecord:
        actor = self._actor(Permission.MANAGE_USERS)
        if username == actor.username and not active:
            raise ValidationError.single("active", "You cannot deactivate your own account.")
        with self._uow() as uow:
            user = uow.users.update(username, version, active=active)
            self._audit(
                uow,
                actor,
                AuditEvent(Action.PERMISSION_CHANGE, "user", username, changes={"active": [not active, active]}),
            )
            uow.commit()
            return user

    def reset_password(self, username: str, new_password: str) -> None:
        actor = self._actor(Permission.MANAGE_USERS)
        self._change_password(actor, username, new_password)

    def change_own_password(self, old_password: str, new_password: str) -> None:
        actor = self._session.current(self._clock.now())
        with self._uow(read_only=True) as uow:
            stored = uow.users.password_hash(actor.username)
        if stored is None or not password_matches(stored, old_password):
            raise ValidationError.single("old_password", "The current password is not right.")
        self._change_password(actor, actor.username, new_password)

    def _change_password(self, actor: Actor, username: str, new_password: str) -> None:
        bad = password_problems(new_password, username) if isinstance(new_password, str) else ["text"]
        if bad:
            raise ValidationError.single("password", "The password needs " + "; ".join(bad) + ".")
        with self._uow() as uow:
            uow.users.update(username, password_hash=hash_password(new_password), failed_logins=0, locked_until=None)
            self._audit(uow, actor, AuditEvent(Action.UPDATE, "user", username, changes={"password": "changed"}))
            uow.commit()

    # -- logging in and out --------------------------------------------------------------------

    def login(self, username: str, password: str) -> Actor:
        """Check the password (Argon2id), throttle repeated failures, audit either way."""
        now = self._clock.now()
        name = username.strip().lower()[:32] if isinstance(username, str) else ""
        with self._uow() as uow:
            user = uow.users.get(name)
            stored = uow.users.password_hash(name) if user else None
            failed_actor = Actor(None, name or "?", user.role if user else Role.READ_ONLY, self._session.workstation)
            if user is not None and user.locked_until and user.locked_until > now:
                wait = math.ceil((user.locked_until - now).total_seconds())
                self._audit(
                    uow,
                    failed_actor,
                    AuditEvent(
                        Action.LOGIN_FAILED, "user", name, changes={"reason": "throttled"}, outcome=Outcome.DENIED
                    ),
                )
                uow.commit()
                raise LoginFailed(f"Too many failed attempts: try again in {wait} seconds.")
            ok = password_matches(stored or _dummy_hash(), password if isinstance(password, str) else "")
            ok = ok and user is not None and user.active
            if not ok:
                if user is not None:
                    failures = user.failed_logins + 1
                    seconds = _lock_seconds(failures)
                    until = now + dt.timedelta(seconds=seconds) if seconds else None
                    uow.users.record_login(name, False, now, until)
                self._audit(uow, failed_actor, AuditEvent(Action.LOGIN_FAILED, "user", name, outcome=Outcome.FAILURE))
                uow.commit()
                raise LoginFailed("User name or password is not right.")
            assert user is not None
            try:  # the account as read with the password: not deactivated or given another role since
                uow.users.record_login(name, True, now, None, version=user.version)
            except ConflictError:
                raise LoginFailed("Your account was changed as you logged in: please try again.") from None
            actor = Actor(user.id, user.username, user.role, self._session.workstation)
            previous = self._session.actor
            if previous is not None and previous.username != actor.username:
                # Another user takes over a locked workstation: the first one is logged out.
                self._audit(
                    uow,
                    previous,
                    AuditEvent(Action.LOGOUT, "user", previous.username, changes={"reason": "another user logged in"}),
                )
            self._audit(uow, actor, AuditEvent(Action.LOGIN, "user", name))
            uow.commit()
        self._session.actor = actor
        self._session.locked = False
        self._session.emergency_until = None
        return actor

    def logout(self) -> None:
        actor = self._session.actor
        if actor is None:
            return
        with self._uow() as uow:
            self._audit(uow, actor, AuditEvent(Action.LOGOUT, "user", actor.username))
            uow.commit()
        self._session.actor = None
        self._session.locked = False

    def lock(self) -> None:
        actor = self._session.actor
        if actor is None or self._session.locked:
            return
        with self._uow() as uow:
            self._audit(uow, actor, AuditEvent(Action.LOCK, "user", actor.username))
            uow.commit()
        self._session.locked = True

    def unlock(self, password: str) -> Actor:
        """The same user re-enters the password; anyone else must log in (``login``)."""
        actor = self._session.actor
        if actor is None:
            raise NotAuthenticated("Please log in.")
        with self._uow(read_only=True) as uow:
            user = uow.users.get(actor.username)
        if user is not None and user.locked_until and user.locked_until > self._clock.now():
            raise LoginFailed("Too many failed attempts: wait, or ask an administrator.")
        try:
            self.login(actor.username, password)
        except LoginFailed:
            self._session.actor = actor
            self._session.locked = True
            raise
        with self._uow() as uow:
            self._audit(uow, self._session.current(), AuditEvent(Action.UNLOCK, "user", actor.username))
            uow.commit()
        return self._session.current()

    # -- emergency access ---------------------------------------------------------------------

    def break_glass(self, reason: str) -> Actor:
        """A consultant takes permissions her role lacks, for a limited time, with a stated reason."""
        actor = self._session.current(self._clock.now())
        if actor.role not in BREAK_GLASS_ROLES:
            raise PermissionDenied(Permission.IMPORT, actor)
        text = reason.strip() if isinstance(reason, str) else ""
        problem = text_problem(text)
        if len(text) < MIN_REASON or problem:
            raise ValidationError.single("reason", problem or f"State the reason in at least {MIN_REASON} characters.")
        until = self._clock.now() + dt.timedelta(minutes=BREAK_GLASS_MINUTES)
        elevated = replace(actor, emergency_reason=text)
        with self._uow() as uow:
            self._audit(
                uow,
                elevated,
                AuditEvent(
                    Action.BREAK_GLASS, "user", actor.username, changes={"reason": text, "until": until.isoformat()}
                ),
            )
            uow.commit()
        self._session.actor = elevated
        self._session.emergency_until = until
        return elevated
