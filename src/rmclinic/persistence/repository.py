"""SQL implementation of the services' repository and unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, selectinload

from ..domain.errors import ConflictError, NotFoundError
from ..domain.obstetric import Conception, Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory
from ..domain.text import fold
from ..services.dto import PatientRecord, PatientRow, PregnancyRecord
from .bulk import insert_rows
from .errors import CONFLICT, translate_errors
from .models import (
    AlertEventRec,
    AlertStateRec,
    CarePlanSignatureRec,
    CervicalExcisionRec,
    CurrentPregnancyRec,
    DrugAllergyRec,
    FollowUpRec,
    LetterRec,
    MedicationPlanRec,
    MedicationStepRec,
    PartnerRec,
    PatientRec,
    PreviousPregnancyRec,
    RiskHistoryRec,
    VisitRec,
    table_of,
)
from .tables import utcnow as _utcnow


def _to_pregnancy(r: PreviousPregnancyRec) -> PreviousPregnancy:
    return PreviousPregnancy(
        year=r.year,
        outcome=Outcome(r.outcome),
        date=r.outcome_date,
        gestation_days=r.gestation_days,
        fetuses=r.fetuses,
        conception=Conception(r.conception),
        preterm_birth=r.preterm_birth,
        tissue_genetics=TissueGenetics(r.tissue_genetics),
        notes=r.notes,
    )


def _pregnancy_values(p: PreviousPregnancy) -> dict[str, Any]:
    return {
        "year": p.year,
        "outcome": p.outcome.value,
        "outcome_date": p.date,
        "gestation_days": p.gestation_days,
        "fetuses": p.fetuses,
        "conception": p.conception.value,
        "preterm_birth": p.preterm_birth,
        "tissue_genetics": p.tissue_genetics.value,
        "notes": p.notes,
    }


def _risk_values(r: RiskHistory) -> dict[str, Any]:
    return {
        "previous_cerclage": r.previous_cerclage,
        "cerclage_notes": r.cerclage_notes,
        "vte_history": r.vte_history,
        "vte_notes": r.vte_notes,
        "smoking": r.smoking,
        "alcohol_units_per_week": r.alcohol_units_per_week,
        "height_cm": r.height_cm,
        "weight_kg": r.weight_kg,
        "oligo_amenorrhoea": r.oligo_amenorrhoea,
        "aps_diagnosed": r.aps_diagnosed,
    }


def _demographic_values(d: PatientData) -> dict[str, Any]:
    return {
        "hospital_number": d.hospital_number,
        "nhs_number": d.nhs_number or None,
        "family_name": d.family_name,
        "given_name": d.given_name,
        "family_fold": fold(d.family_name),
        "given_fold": fold(d.given_name),
        "date_of_birth": d.date_of_birth,
        "phone": d.phone,
        "email": d.email,
        "address": d.address,
        "gp_practice": d.gp_practice,
        "notes": d.notes,
    }


def _row(r: Any) -> PatientRow:
    return PatientRow(
        id=r.id,
        hospital_number=r.hospital_number,
        nhs_number=r.nhs_number or "",
        family_name=r.family_name,
        given_name=r.given_name,
        date_of_birth=r.date_of_birth,
        archived=r.archived_at is not None,
    )


class SqlPatientRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _flush(self) -> None:
        with translate_errors():
            self.s.flush()

    # -- reads --------------------------------------------------------------------------------

    @staticmethod
    @cache
    def _whole_record() -> tuple[Any, ...]:
        """Made on first use, not at import: loader options cost start-up time the patient list does not need."""
        return (
            selectinload(PatientRec.partner),
            selectinload(PatientRec.pregnancies),
            selectinload(PatientRec.risk),
            selectinload(PatientRec.excisions),
            selectinload(PatientRec.allergies),
        )

    def _load(self, patient_id: int) -> PatientRec:
        rec = self.s.scalar(select(PatientRec).where(PatientRec.id == patient_id).options(*self._whole_record()))
        if rec is None:
            raise NotFoundError(f"No patient with id {patient_id}.")
        return rec

    def require(self, patient_id: int) -> None:
        """NotFoundError for an unknown patient: one indexed look-up, not the six queries of the record (a tab's
        read checked the patient exists by reading the whole record, six times per patient opened)."""
        if self.s.scalar(select(PatientRec.id).where(PatientRec.id == patient_id)) is None:
            raise NotFoundError(f"No patient with id {patient_id}.")

    def get(self, patient_id: int) -> PatientRecord:
        """Read as plain rows (every tab of an opened patient reads the record; ORM loading cost ~30 ms)."""
        found = self.get_many([patient_id])
        if not found:
            raise NotFoundError(f"No patient with id {patient_id}.")
        return found[0]

    def get_many(self, patient_ids: Sequence[int]) -> list[PatientRecord]:
        """Many records in a handful of queries of plain rows (one per table), in the order asked for: the same
        records as ``get`` builds (batch alert evaluation reads the whole clinic through this)."""
        ids = list(patient_ids)
        if not ids:
            return []
        if self.s.autoflush:
            self.s.flush()  # as an ORM query would: pending changes are read back
        found = _bulk_records(self.s.connection(), ids)
        return [found[i] for i in patient_ids if i in found]

    @staticmethod
    def _record(rec: PatientRec) -> PatientRecord:
        risk = rec.risk
        risk_data = RiskHistory(
            cervical_excisions=tuple(
                CervicalExcision(date=e.procedure_date, year=e.year, kind=e.kind, depth_mm=e.depth_mm)
                for e in rec.excisions
            ),
            drug_allergies=tuple(a.substance for a in rec.allergies),
            **({k: getattr(risk, k) for k in _risk_values(RiskHistory())} if risk else {}),
        )
        partner = (
            Partner(rec.partner.family_name, rec.partner.given_name, rec.partner.date_of_birth) if rec.partner else None
        )
        preg_records = tuple(PregnancyRecord(p.id, p.version, _to_pregnancy(p)) for p in rec.pregnancies)
        data = PatientData(
            hospital_number=rec.hospital_number,
            family_name=rec.family_name,
            given_name=rec.given_name,
            date_of_birth=rec.date_of_birth,
            nhs_number=rec.nhs_number or "",
            phone=rec.phone,
            email=rec.email,
            address=rec.address,
            gp_practice=rec.gp_practice,
            notes=rec.notes,
            partner=partner,
            risk=risk_data,
            pregnancies=tuple(p.data for p in preg_records),
        )
        return PatientRecord(
            id=rec.id,
            version=rec.version,
            archived=rec.archived_at is not None,
            data=data,
            pregnancy_records=preg_records,
            risk_version=risk.version if risk else 0,
        )

    def id_for_hospital_number(self, hospital_number: str) -> int | None:
        return self.s.scalar(select(PatientRec.id).where(PatientRec.hospital_number == hospital_number))

    def id_for_nhs_number(self, nhs_number: str) -> int | None:
        return self.s.scalar(select(PatientRec.id).where(PatientRec.nhs_number == nhs_number))

    def ids_with_name_and_dob(self, family_fold: str, given_fold: str, dob: object) -> list[int]:
        q = select(PatientRec.id).where(
            PatientRec.family_fold == family_fold,
            PatientRec.given_fold == given_fold,
            PatientRec.date_of_birth == dob,
        )
        return list(self.s.scalars(q))

    def _row_select(self) -> Select[Any]:
        return select(
            PatientRec.id,
            PatientRec.hospital_number,
            PatientRec.nhs_number,
            PatientRec.family_name,
            PatientRec.given_name,
            PatientRec.date_of_birth,
            PatientRec.archived_at,
        )

    def rows_for_ids(self, ids: Iterable[int]) -> list[PatientRow]:
        q = self._row_select().where(PatientRec.id.in_(list(ids))).order_by(PatientRec.id)
        return [_row(r) for r in self.s.execute(q)]

    def all_ids(self) -> list[int]:
        return list(self.s.scalars(select(PatientRec.id).order_by(PatientRec.id)))

    def count(self) -> int:
        return self.s.scalar(select(func.count()).select_from(PatientRec)) or 0

    # -- writes -------------------------------------------------------------------------------

    def add(self, data: PatientData) -> int:
        rec = PatientRec(**_demographic_values(data))
        self.s.add(rec)
        self._flush()
        self._insert_children(rec.id, data)
        return rec.id

    def _insert_children(self, pid: int, data: PatientData) -> None:
        if data.partner:
            self.s.add(
                PartnerRec(
                    patient_id=pid,
                    family_name=data.partner.family_name,
                    given_name=data.partner.given_name,
                    date_of_birth=data.partner.date_of_birth,
                )
            )
        self.s.add(RiskHistoryRec(patient_id=pid, **_risk_values(data.risk)))
        for i, p in enumerate(data.pregnancies):
            self.s.add(PreviousPregnancyRec(patient_id=pid, seq=i, **_pregnancy_values(p)))
        self._replace_risk_lists(pid, data.risk)
        self._flush()

    def _replace_risk_lists(self, pid: int, risk: RiskHistory) -> None:
        self.s.execute(delete(CervicalExcisionRec).where(CervicalExcisionRec.patient_id == pid))
        self.s.execute(delete(DrugAllergyRec).where(DrugAllergyRec.patient_id == pid))
        for i, e in enumerate(risk.cervical_excisions):
            self.s.add(
                CervicalExcisionRec(
                    patient_id=pid, seq=i, procedure_date=e.date, year=e.year, kind=e.kind, depth_mm=e.depth_mm
                )
            )
        for i, a in enumerate(risk.drug_allergies):
            self.s.add(DrugAllergyRec(patient_id=pid, seq=i, substance=a))

    def add_many(self, patients: Sequence[PatientData], archived: Sequence[bool] = ()) -> list[int]:
        """Bulk insert for demo data and imports: executemany per table, ids assigned up front."""
        if not patients:
            return []
        start = (self.s.scalar(select(func.max(PatientRec.id))) or 0) + 1
        now = _utcnow()
        stamp = {"created_at": now, "updated_at": now, "version": 1}
        people, partners, risks, pregs, excisions, allergies = [], [], [], [], [], []
        for offset, d in enumerate(patients):
            pid = start + offset
            gone = now if offset < len(archived) and archived[offset] else None
            people.append({"id": pid, **_demographic_values(d), "archived_at": gone, **stamp})
            if d.partner:
                partners.append(
                    {
                        "patient_id": pid,
                        "family_name": d.partner.family_name,
                        "given_name": d.partner.given_name,
                        "date_of_birth": d.partner.date_of_birth,
                        **stamp,
                    }
                )
            risks.append({"patient_id": pid, **_risk_values(d.risk), **stamp})
            for i, p in enumerate(d.pregnancies):
                pregs.append({"patient_id": pid, "seq": i, **_pregnancy_values(p), **stamp})
            for i, e in enumerate(d.risk.cervical_excisions):
                excisions.append(
                    {
                        "patient_id": pid,
                        "seq": i,
                        "procedure_date": e.date,
                        "year": e.year,
                        "kind": e.kind,
                        "depth_mm": e.depth_mm,
                        **stamp,
                    }
                )
            for i, a in enumerate(d.risk.drug_allergies):
                allergies.append({"patient_id": pid, "seq": i, "substance": a, **stamp})
        for model, rows in (
            (PatientRec, people),
            (PartnerRec, partners),
            (RiskHistoryRec, risks),
            (PreviousPregnancyRec, pregs),
            (CervicalExcisionRec, excisions),
            (DrugAllergyRec, allergies),
        ):
            if rows:
                with translate_errors():
                    insert_rows(self.s, table_of(model), rows)
        if self.s.get_bind().dialect.name == "postgresql":
            # Explicit ids bypass the sequence: move it past them.
            self.s.execute(select(func.setval(func.pg_get_serial_sequence("patient", "id"), func.max(PatientRec.id))))
        return [start + i for i in range(len(patients))]

    def delete_all(self) -> int:
        """Remove every patient (demo-data --force only); children go first for the foreign keys."""
        n = self.count()
        for model in (
            CarePlanSignatureRec,
            LetterRec,
            VisitRec,
            AlertStateRec,
            AlertEventRec,
            MedicationStepRec,
            MedicationPlanRec,
            FollowUpRec,
            CurrentPregnancyRec,
            DrugAllergyRec,
            CervicalExcisionRec,
            PreviousPregnancyRec,
            RiskHistoryRec,
            PartnerRec,
            PatientRec,
        ):
            self.s.execute(delete(model))
        return n

    def _locked(self, rec: Any, version: int) -> None:
        if rec.version != version:
            raise ConflictError(CONFLICT)

    def update_demographics(self, patient_id: int, version: int, data: PatientData, partner: Partner | None) -> None:
        rec = self._load(patient_id)
        self._locked(rec, version)
        for k, v in _demographic_values(data).items():
            setattr(rec, k, v)
        if partner is None:
            rec.partner = None
        elif rec.partner is None:
            rec.partner = PartnerRec(
                family_name=partner.family_name, given_name=partner.given_name, date_of_birth=partner.date_of_birth
            )
        else:
            rec.partner.family_name = partner.family_name
            rec.partner.given_name = partner.given_name
            rec.partner.date_of_birth = partner.date_of_birth
        # Bump the version even when only the partner changed, so a stale editor is refused.
        rec.updated_at = _utcnow()
        self._flush()

    def set_archived(self, patient_id: int, version: int, archived: bool) -> None:
        rec = self._load(patient_id)
        self._locked(rec, version)
        rec.archived_at = _utcnow() if archived else None
        self._flush()

    def update_risk(self, patient_id: int, version: int, risk: RiskHistory) -> None:
        rec = self._load(patient_id)
        if rec.risk is None:
            rec.risk = RiskHistoryRec(**_risk_values(risk))
        else:
            self._locked(rec.risk, version)
            for k, v in _risk_values(risk).items():
                setattr(rec.risk, k, v)
            rec.risk.updated_at = _utcnow()
        self._replace_risk_lists(patient_id, risk)
        self._flush()

    def add_pregnancy(self, patient_id: int, pregnancy: PreviousPregnancy) -> int:
        rec = self._load(patient_id)
        seq = max((p.seq for p in rec.pregnancies), default=-1) + 1
        prec = PreviousPregnancyRec(patient_id=patient_id, seq=seq, **_pregnancy_values(pregnancy))
        self.s.add(prec)
        self._flush()
        return prec.id

    def _pregnancy(self, patient_id: int, pregnancy_id: int) -> PreviousPregnancyRec:
        prec = self.s.get(PreviousPregnancyRec, pregnancy_id)
        if prec is None or prec.patient_id != patient_id:
            raise NotFoundError("That pregnancy is no longer recorded for this patient.")
        return prec

    def update_pregnancy(self, patient_id: int, pregnancy_id: int, version: int, pregnancy: PreviousPregnancy) -> None:
        prec = self._pregnancy(patient_id, pregnancy_id)
        self._locked(prec, version)
        for k, v in _pregnancy_values(pregnancy).items():
            setattr(prec, k, v)
        self._flush()

    def remove_pregnancy(self, patient_id: int, pregnancy_id: int, version: int) -> None:
        prec = self._pregnancy(patient_id, pregnancy_id)
        self._locked(prec, version)
        self.s.delete(prec)
        self._flush()


# -- bulk reading for get_many: plain rows straight to records -------------------------------------------

_RISK_FIELDS = tuple(_risk_values(RiskHistory()))
_OUTCOMES = {o.value: o for o in Outcome}
_CONCEPTIONS = {c.value: c for c in Conception}
_GENETICS = {g.value: g for g in TissueGenetics}


def _bulk_records(conn: Any, ids: list[int]) -> dict[int, PatientRecord]:
    """The records ``SqlPatientRepository._record`` builds, by patient id, in one query per table. Child rows
    come in the order the record's relationships give them (``seq``)."""
    pt, prt, ppt = table_of(PatientRec), table_of(PartnerRec), table_of(PreviousPregnancyRec)
    rt, et, at = table_of(RiskHistoryRec), table_of(CervicalExcisionRec), table_of(DrugAllergyRec)
    partners = {
        pid: Partner(family, given, dob)
        for pid, family, given, dob in conn.execute(
            select(prt.c.patient_id, prt.c.family_name, prt.c.given_name, prt.c.date_of_birth).where(
                prt.c.patient_id.in_(ids)
            )
        )
    }
    pregnancies: dict[int, list[PregnancyRecord]] = {}
    pq = (
        select(
            ppt.c.patient_id,
            ppt.c.id,
            ppt.c.version,
            ppt.c.year,
            ppt.c.outcome,
            ppt.c.outcome_date,
            ppt.c.gestation_days,
            ppt.c.fetuses,
            ppt.c.conception,
            ppt.c.preterm_birth,
            ppt.c.tissue_genetics,
            ppt.c.notes,
        )
        .where(ppt.c.patient_id.in_(ids))
        .order_by(ppt.c.seq, ppt.c.id)
    )
    for pid, preg_id, version, year, outcome, date, days, fetuses, conception, preterm, genetics, notes in conn.execute(
        pq
    ):
        pregnancies.setdefault(pid, []).append(
            PregnancyRecord(
                preg_id,
                version,
                PreviousPregnancy(
                    year=year,
                    outcome=_OUTCOMES[outcome],
                    date=date,
                    gestation_days=days,
                    fetuses=fetuses,
                    conception=_CONCEPTIONS[conception],
                    preterm_birth=preterm,
                    tissue_genetics=_GENETICS[genetics],
                    notes=notes,
                ),
            )
        )
    risks: dict[int, tuple[int, dict[str, Any]]] = {}
    for row in conn.execute(
        select(rt.c.patient_id, rt.c.version, *(rt.c[k] for k in _RISK_FIELDS)).where(rt.c.patient_id.in_(ids))
    ):
        risks[row[0]] = (row[1], dict(zip(_RISK_FIELDS, row[2:], strict=True)))
    excisions: dict[int, list[CervicalExcision]] = {}
    eq = (
        select(et.c.patient_id, et.c.procedure_date, et.c.year, et.c.kind, et.c.depth_mm)
        .where(et.c.patient_id.in_(ids))
        .order_by(et.c.seq, et.c.id)
    )
    for pid, date, year, kind, depth in conn.execute(eq):
        excisions.setdefault(pid, []).append(CervicalExcision(date=date, year=year, kind=kind, depth_mm=depth))
    allergies: dict[int, list[str]] = {}
    aq = select(at.c.patient_id, at.c.substance).where(at.c.patient_id.in_(ids)).order_by(at.c.seq, at.c.id)
    for pid, substance in conn.execute(aq):
        allergies.setdefault(pid, []).append(substance)
    out: dict[int, PatientRecord] = {}
    q = select(
        pt.c.id,
        pt.c.version,
        pt.c.archived_at,
        pt.c.hospital_number,
        pt.c.family_name,
        pt.c.given_name,
        pt.c.date_of_birth,
        pt.c.nhs_number,
        pt.c.phone,
        pt.c.email,
        pt.c.address,
        pt.c.gp_practice,
        pt.c.notes,
    ).where(pt.c.id.in_(ids))
    for pid, version, archived_at, hosp, family, given, dob, nhs, phone, email, address, gp, notes in conn.execute(q):
        risk_version, risk_values = risks.get(pid, (0, {}))
        preg_records = tuple(pregnancies.get(pid, ()))
        out[pid] = PatientRecord(
            id=pid,
            version=version,
            archived=archived_at is not None,
            data=PatientData(
                hospital_number=hosp,
                family_name=family,
                given_name=given,
                date_of_birth=dob,
                nhs_number=nhs or "",
                phone=phone,
                email=email,
                address=address,
                gp_practice=gp,
                notes=notes,
                partner=partners.get(pid),
                risk=RiskHistory(
                    cervical_excisions=tuple(excisions.get(pid, ())),
                    drug_allergies=tuple(allergies.get(pid, ())),
                    **risk_values,
                ),
                pregnancies=tuple(p.data for p in preg_records),
            ),
            pregnancy_records=preg_records,
            risk_version=risk_version,
        )
    return out
