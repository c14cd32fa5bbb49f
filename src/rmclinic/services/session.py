"""Who is logged in on this workstation, and the permission check every use case starts with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ..domain.accounts import Actor, Permission, Role
from ..domain.errors import DomainError


class NotAuthenticated(DomainError):
    """No one is logged in, or the session is locked."""


class PermissionDenied(DomainError):
    def __init__(self, permission: Permission, actor: Actor | None) -> None:
        self.permission = permission
        who = f"{actor.username} ({actor.role.value})" if actor else "nobody"
        super().__init__(f"Not allowed: {who} may not {permission.value.replace('_', ' ')}.")


@dataclass
class SessionContext:
    """Mutable, one per process: the UI logs in and out, locks and unlocks; the CLI logs in once."""

    workstation: str
    actor: Actor | None = None
    locked: bool = False
    emergency_until: dt.datetime | None = None

    def current(self, now: dt.datetime | None = None) -> Actor:
        if self.actor is None:
            raise NotAuthenticated("Please log in first.")
        if self.locked:
            raise NotAuthenticated("The session is locked: unlock it with your password.")
        if self.actor.emergency_reason and self.emergency_until and now and now >= self.emergency_until:
            self.actor = replace(self.actor, emergency_reason="")
            self.emergency_until = None
        return self.actor

    def system(self, name: str) -> Actor:
        """The app acting on its own (demo-data, restore): audited under this name."""
        return Actor(None, name, Role.SYSTEM, self.workstation)
