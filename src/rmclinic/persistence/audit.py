"""The audit trail in SQL: appends chained in the writer's transaction, read-side filters, verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from ..domain.accounts import Actor
from ..domain.audit import GENESIS_HASH, AuditEntry, AuditEvent, ChainReport, canonical_json, entry_hash, verify_chain
from ..services.dto import AuditFilter
from .models import AuditEventRec, AuditHeadRec, table_of

_PG_AUDIT_LOCK = 0x726D6175  # "rmau": one appender at a time across workstations


def _entry(r: Any) -> AuditEntry:
    at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
    return AuditEntry(
        seq=r.seq,
        at=at,
        username=r.username,
        role=r.role,
        workstation=r.workstation,
        action=r.action,
        entity=r.entity,
        entity_id=r.entity_id,
        patient_id=r.patient_id,
        details=r.details,
        outcome=r.outcome,
        emergency=bool(r.emergency),
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _head(self) -> tuple[int, str]:
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
        head = self.s.get(AuditHeadRec, 1)
        if head is None:
            return 0, GENESIS_HASH
        return head.count, head.hash

    def append(self, actor: Actor, events: Sequence[AuditEvent], at: dt.datetime) -> None:
        """Chain and insert ``events`` in the current transaction (they commit with the change)."""
        if not events:
            return
        count, prev = self._head()
        rows = []
        for ev in events:
            count += 1
            values: dict[str, Any] = {
                "seq": count,
                "at": at,
                "username": actor.username,
                "role": actor.role.value,
                "workstation": actor.workstation,
                "action": ev.action.value,
                "entity": ev.entity,
                "entity_id": ev.entity_id,
                "patient_id": ev.patient_id,
                "details": canonical_json(ev.changes),
                "outcome": ev.outcome.value,
                "emergency": bool(actor.emergency_reason),
                "prev_hash": prev,
            }
            values["hash"] = prev = entry_hash(**values)
            rows.append(values)
        # Core executemany on the table: one statement for the batch, not one per row (ORM bulk path)
        self.s.execute(insert(table_of(AuditEventRec)), rows)
        if count == len(rows):
            self.s.add(AuditHeadRec(id=1, count=count, hash=prev))
        else:
            self.s.execute(update(AuditHeadRec).where(AuditHeadRec.id == 1).values(count=count, hash=prev))
        self.s.flush()

    def iter_entries(self, batch: int = 5000) -> Iterator[AuditEntry]:
        last = 0
        while True:
            rows = (
                self.s.execute(
                    select(AuditEventRec).where(AuditEventRec.seq > last).order_by(AuditEventRec.seq).limit(batch)
                )
                .scalars()
                .all()
            )
            if not rows:
                return
            for r in rows:
                yield _entry(r)
            last = rows[-1].seq

    def verify(self) -> ChainReport:
        head = self.s.get(AuditHeadRec, 1)
        return verify_chain(
            self.iter_entries(),
            expected_count=head.count if head else 0,
            expected_head=head.hash if head else GENESIS_HASH,
        )

    def query(self, f: AuditFilter, offset: int = 0, limit: int = 500) -> tuple[list[AuditEntry], int]:
        conds = []
        if f.since:
            conds.append(AuditEventRec.at >= f.since)
        if f.until:
            conds.append(AuditEventRec.at < f.until)
        if f.username:
            conds.append(AuditEventRec.username == f.username)
        if f.patient_id is not None:
            conds.append(AuditEventRec.patient_id == f.patient_id)
        if f.action:
            conds.append(AuditEventRec.action == f.action)
        col: Any = {
            "seq": AuditEventRec.seq,
            "at": AuditEventRec.at,
            "username": AuditEventRec.username,
            "action": AuditEventRec.action,
            "patient_id": AuditEventRec.patient_id,
        }[f.sort]
        order = [col.desc() if f.descending else col.asc(), AuditEventRec.seq.desc()]
        rows = self.s.execute(select(AuditEventRec).where(*conds).order_by(*order).offset(offset).limit(limit))
        total = self.s.scalar(select(func.count()).select_from(AuditEventRec).where(*conds)) or 0
        return [_entry(r) for r in rows.scalars()], total

    def last_seq(self) -> int:
        """The newest entry's number (0 for an empty trail), read without taking the append lock."""
        return self.s.scalar(select(func.max(AuditEventRec.seq))) or 0

    def patients_changed_since(self, seq: int, patient_ids: Sequence[int]) -> set[int]:
        """Which of these patients have an audit entry after entry ``seq``: every change to a patient's record
        is audited in the transaction that makes it, so this tells whose data moved since ``seq`` was read."""
        if not patient_ids:
            return set()
        q = select(AuditEventRec.patient_id).where(AuditEventRec.seq > seq, AuditEventRec.patient_id.in_(patient_ids))
        return {pid for pid in self.s.scalars(q.distinct()) if pid is not None}

    def last_for(self, entity: str, entity_id: str) -> AuditEntry | None:
        r = self.s.scalar(
            select(AuditEventRec)
            .where(AuditEventRec.entity == entity, AuditEventRec.entity_id == entity_id)
            .order_by(AuditEventRec.seq.desc())
            .limit(1)
        )
        return _entry(r) if r else None
