"""Reading the audit trail: verification, the admin viewer's queries, CSV export."""

from __future__ import annotations

import csv
import io

from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEntry, AuditEvent, ChainReport
from .base import ServiceBase
from .dto import AUDIT_SORT_KEYS, AuditFilter

CSV_COLUMNS = (
    "seq",
    "at",
    "username",
    "role",
    "workstation",
    "action",
    "entity",
    "entity_id",
    "patient_id",
    "details",
    "outcome",
    "emergency",
    "hash",
)


class AuditService(ServiceBase):
    def verify(self) -> ChainReport:
        self._actor(Permission.VIEW_AUDIT)
        return self.verify_unchecked()

    def verify_unchecked(self) -> ChainReport:
        """For the app's own background check after start-up; the result only decides a warning."""
        with self._uow(read_only=True) as uow:
            return uow.audit.verify()

    def query(self, f: AuditFilter, offset: int = 0, limit: int = 500) -> tuple[list[AuditEntry], int]:
        self._actor(Permission.VIEW_AUDIT)
        if f.sort not in AUDIT_SORT_KEYS:
            raise ValueError(f"unknown sort key {f.sort!r}")
        with self._uow(read_only=True) as uow:
            return uow.audit.query(f, offset, max(1, min(limit, 5000)))

    def export_csv(self, f: AuditFilter) -> str:
        actor = self._actor(Permission.VIEW_AUDIT)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        offset, n = 0, 0
        while True:
            entries, _total = self.query(f, offset, 5000)
            for e in entries:
                writer.writerow([getattr(e, c) if c != "at" else e.at.isoformat() for c in CSV_COLUMNS])
            n += len(entries)
            if len(entries) < 5000:
                break
            offset += 5000
        with self._uow() as uow:
            self._audit(uow, actor, AuditEvent(Action.EXPORT, "audit_trail", "", changes={"rows": n}))
            uow.commit()
        return out.getvalue()
