"""The audit trail's content (ASTM E2147 / ISO 27789) and its tamper-evident hash chain.

Each entry's hash covers its own fields and the previous entry's hash, so changing, deleting or
inserting a row anywhere breaks the chain from that point on; ``verify_chain`` names the first bad
entry. Detection needs no trigger or database guard: it is recomputed from the rows themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    DELETE = "delete"  # history entries removed as entered in error (patients are never deleted)
    VIEW = "view"
    PRINT = "print"
    EXPORT = "export"
    IMPORT = "import"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LOCK = "lock"
    UNLOCK = "unlock"
    PERMISSION_CHANGE = "permission_change"
    SETTINGS_CHANGE = "settings_change"
    BREAK_GLASS = "break_glass"
    BACKUP = "backup"
    RESTORE = "restore"
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    PERMISSION_DENIED = "permission_denied"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True)
class AuditEvent:
    """What a service asks to record; the persistence layer numbers, times and chains it."""

    action: Action
    entity: str = ""  # e.g. "patient", "previous_pregnancy", "user"
    entity_id: str = ""
    patient_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # field -> [before, after], or other detail
    outcome: Outcome = Outcome.SUCCESS


@dataclass(frozen=True)
class AuditEntry:
    """One stored row of the trail."""

    seq: int
    at: dt.datetime  # UTC
    username: str
    role: str
    workstation: str
    action: str
    entity: str
    entity_id: str
    patient_id: int | None
    details: str  # canonical JSON of the changes
    outcome: str
    emergency: bool
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    username: str,
    role: str,
    workstation: str,
    action: str,
    entity: str,
    entity_id: str,
    patient_id: int | None,
    details: str,
    outcome: str,
    emergency: bool,
    prev_hash: str,
) -> str:
    at_utc = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
    payload = canonical_json(
        [
            seq,
            at_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            username,
            role,
            workstation,
            action,
            entity,
            entity_id,
            patient_id,
            details,
            outcome,
            emergency,
            prev_hash,
        ]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def rehash(e: AuditEntry) -> str:
    return entry_hash(
        seq=e.seq,
        at=e.at,
        username=e.username,
        role=e.role,
        workstation=e.workstation,
        action=e.action,
        entity=e.entity,
        entity_id=e.entity_id,
        patient_id=e.patient_id,
        details=e.details,
        outcome=e.outcome,
        emergency=e.emergency,
        prev_hash=e.prev_hash,
    )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_hash: str = GENESIS_HASH


def verify_chain(
    entries: Iterable[AuditEntry], expected_count: int | None = None, expected_head: str | None = None
) -> ChainReport:
    """Walk the trail in sequence order. ``expected_*`` come from the stored chain head, which
    catches a deleted last entry (nothing after it would otherwise notice)."""
    prev = GENESIS_HASH
    expected_seq = 1
    n = 0
    for e in entries:
        n += 1
        if e.seq != expected_seq:
            kind = "missing (deleted)" if e.seq > expected_seq else "duplicated or out of order"
            return ChainReport(False, n - 1, expected_seq, f"entry {expected_seq} is {kind}", prev)
        if e.prev_hash != prev:
            return ChainReport(False, n - 1, e.seq, f"entry {e.seq} does not follow entry {e.seq - 1}", prev)
        if rehash(e) != e.hash:
            return ChainReport(False, n - 1, e.seq, f"entry {e.seq} was changed after it was written", prev)
        prev = e.hash
        expected_seq += 1
    if expected_count is not None and n < expected_count:
        return ChainReport(False, n, n + 1, f"{expected_count - n} entries after entry {n} are missing", prev)
    if expected_count is not None and n > expected_count:
        return ChainReport(False, n, expected_count + 1, f"entries after {expected_count} were added out of band", prev)
    if expected_head is not None and expected_head != prev:
        return ChainReport(False, n, n, "the last entry does not match the recorded chain head", prev)
    return ChainReport(True, n, head_hash=prev)


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field-level before/after for the fields that differ."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}
