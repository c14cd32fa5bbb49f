"""Signed care plan versions in SQL: appended, never updated; the PDF bytes are read only to reprint."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from ..services.dto import SignatureInfo
from .accounts import _aware
from .errors import translate_errors
from .models import CarePlanSignatureRec

_META = (
    CarePlanSignatureRec.id,
    CarePlanSignatureRec.patient_id,
    CarePlanSignatureRec.variant,
    CarePlanSignatureRec.version,
    CarePlanSignatureRec.signed_by,
    CarePlanSignatureRec.signed_by_name,
    CarePlanSignatureRec.signed_at,
    CarePlanSignatureRec.record_hash,
    CarePlanSignatureRec.rule_set_version,
    CarePlanSignatureRec.pdf_sha256,
    CarePlanSignatureRec.comment,
    CarePlanSignatureRec.inputs_hash,
    CarePlanSignatureRec.valid_until,
)


def _info(r: CarePlanSignatureRec) -> SignatureInfo:
    return SignatureInfo(
        id=r.id,
        patient_id=r.patient_id,
        variant=r.variant,
        version=r.version,
        signed_by=r.signed_by,
        signed_by_name=r.signed_by_name,
        signed_at=_aware(r.signed_at) or r.signed_at,
        record_hash=r.record_hash,
        rule_set_version=r.rule_set_version,
        pdf_sha256=r.pdf_sha256,
        comment=r.comment,
        inputs_hash=r.inputs_hash,
        valid_until=r.valid_until,
    )


class SqlCarePlanRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def signatures(self, patient_id: int) -> list[SignatureInfo]:
        """Every signed version of the patient's care plans, newest first (without the PDF bytes)."""
        q = (
            select(CarePlanSignatureRec)
            .options(load_only(*_META))
            .where(CarePlanSignatureRec.patient_id == patient_id)
            .order_by(CarePlanSignatureRec.signed_at.desc(), CarePlanSignatureRec.id.desc())
        )
        return [_info(r) for r in self.s.scalars(q)]

    def pdf(self, signature_id: int) -> tuple[SignatureInfo, bytes] | None:
        r = self.s.get(CarePlanSignatureRec, signature_id)
        return None if r is None else (_info(r), r.pdf)

    def add(
        self,
        info: SignatureInfo,
        pdf: bytes,
    ) -> SignatureInfo:
        """Store a new version, numbered after the patient's last one of the same variant. The unique index
        turns a race between two workstations into a conflict instead of two "version 3"s."""
        last = self.s.scalar(
            select(func.max(CarePlanSignatureRec.version)).where(
                CarePlanSignatureRec.patient_id == info.patient_id, CarePlanSignatureRec.variant == info.variant
            )
        )
        rec = CarePlanSignatureRec(
            patient_id=info.patient_id,
            variant=info.variant,
            version=(last or 0) + 1,
            signed_by=info.signed_by,
            signed_by_name=info.signed_by_name,
            signed_at=info.signed_at,
            record_hash=info.record_hash,
            rule_set_version=info.rule_set_version,
            pdf_sha256=info.pdf_sha256,
            pdf=pdf,
            comment=info.comment,
            inputs_hash=info.inputs_hash,
            valid_until=info.valid_until,
        )
        self.s.add(rec)
        with translate_errors():
            self.s.flush()
        return _info(rec)

    def latest_for(self, patient_ids: Sequence[int]) -> dict[int, list[SignatureInfo]]:
        """Each patient's newest signature per variant (for the out-of-date marks)."""
        out: dict[int, list[SignatureInfo]] = {pid: [] for pid in patient_ids}
        newest = (
            select(func.max(CarePlanSignatureRec.id))
            .where(CarePlanSignatureRec.patient_id.in_(list(patient_ids)))
            .group_by(CarePlanSignatureRec.patient_id, CarePlanSignatureRec.variant)
        )
        q = select(CarePlanSignatureRec).options(load_only(*_META)).where(CarePlanSignatureRec.id.in_(newest))
        for r in self.s.scalars(q):
            out[r.patient_id].append(_info(r))
        return out
