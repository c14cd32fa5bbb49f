"""The audit trail in SQL: appends chained in the writer's transaction, read-side filters, verification.

Core on ``tables`` (no mapped classes): a log-in appends an entry before the first window shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from ..domain.accounts import Actor
from ..domain.audit import GENESIS_HASH, AuditEntry, AuditEvent, ChainReport, canonical_json, entry_hash, verify_chain
from ..services.dto import AuditFilter
from .tables import audit_event, audit_head

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
        head = self._head_row()
        if head is None:
            return 0, GENESIS_HASH
        return head.count, head.hash

    def _head_row(self) -> Any:
        return self.s.execute(select(audit_head.c.count, audit_head.c.hash).where(audit_head.c.id == 1)).first()

    def append(self, actor: Actor, events: Sequence[AuditEvent], at: dt.datetime) -> None:
        """Chain and insert ``events`` in the current transaction (they commit with the change)."""
        if not events:
            return
        # The change being audited goes to the database first, as it did when the ORM read the chain head: its
        # refusal (a duplicate, a stale version) surfaces here, before the entries that record it.
        self.s.flush()
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
        self.s.execute(insert(audit_event), rows)  # one executemany for the batch
        if count == len(rows):
            self.s.execute(insert(audit_head).values(id=1, count=count, hash=prev))
        else:
            self.s.execute(update(audit_head).where(audit_head.c.id == 1).values(count=count, hash=prev))

    def iter_entries(self, batch: int = 5000) -> Iterator[AuditEntry]:
        last = 0
        while True:
            rows = self.s.execute(
                select(audit_event).where(audit_event.c.seq > last).order_by(audit_event.c.seq).limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield _entry(r)
            last = rows[-1].seq

    def verify(self) -> ChainReport:
        head = self._head_row()
        return verify_chain(
            self.iter_entries(),
            expected_count=head.count if head else 0,
            expected_head=head.hash if head else GENESIS_HASH,
        )

    def query(self, f: AuditFilter, offset: int = 0, limit: int = 500) -> tuple[list[AuditEntry], int]:
        conds = []
        if f.since:
            conds.append(audit_event.c.at >= f.since)
        if f.until:
            conds.append(audit_event.c.at < f.until)
        if f.username:
            conds.append(audit_event.c.username == f.username)
        if f.patient_id is not None:
            conds.append(audit_event.c.patient_id == f.patient_id)
        if f.action:
            conds.append(audit_event.c.action == f.action)
        col: Any = {
            "seq": audit_event.c.seq,
            "at": audit_event.c.at,
            "username": audit_event.c.username,
            "action": audit_event.c.action,
            "patient_id": audit_event.c.patient_id,
        }[f.sort]
        order = [col.desc() if f.descending else col.asc(), audit_event.c.seq.desc()]
        rows = self.s.execute(select(audit_event).where(*conds).order_by(*order).offset(offset).limit(limit))
        total = self.s.scalar(select(func.count()).select_from(audit_event).where(*conds)) or 0
        return [_entry(r) for r in rows], total

    def last_seq(self) -> int:
        """The newest entry's number (0 for an empty trail), read without taking the append lock."""
        return self.s.scalar(select(func.max(audit_event.c.seq))) or 0

    def patients_changed_after(self, seq: int) -> tuple[set[int], int]:
        """The patients with an audit entry after entry ``seq``, and the newest entry's number: every change to a
        patient's record is audited in the transaction that makes it, so this tells whose data moved since
        ``seq``. Entries become visible in number order (appends are serialised), so a caller can go on from
        the number returned."""
        q = select(audit_event.c.seq, audit_event.c.patient_id).where(audit_event.c.seq > seq)
        last, ids = seq, set()
        for n, pid in self.s.execute(q):
            last = max(last, n)
            if pid is not None:
                ids.add(pid)
        return ids, last

    def last_for(self, entity: str, entity_id: str) -> AuditEntry | None:
        r = self.s.execute(
            select(audit_event)
            .where(audit_event.c.entity == entity, audit_event.c.entity_id == entity_id)
            .order_by(audit_event.c.seq.desc())
            .limit(1)
        ).first()
        return _entry(r) if r else None
