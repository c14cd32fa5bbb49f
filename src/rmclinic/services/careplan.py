"""Care plans: the data a printed care plan is made from, the hash that identifies that data, consultant
sign-off of a version, and printing and exporting (audited).

The PDF itself is drawn by ``rmclinic.reports`` (above this layer); the service is handed a renderer, so a
signed version stores exactly the bytes that were printed and can be reprinted unchanged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.errors import ConflictError, DomainError, NotFoundError, ValidationError
from ..domain.followup import FollowUp, FollowUpStatus
from ..domain.gestation import GestationalAge
from ..domain.investigations import Catalogue, Interpretation
from ..domain.medication import MedicationPlan, PlanStatus
from ..domain.obstetric import ObstetricSummary, PreviousPregnancy, summarise
from ..domain.patient import PatientData, RiskHistory
from ..domain.pregnancy import CurrentPregnancy
from ..domain.timeline import AlertMark, TimelineLayout, build_timeline
from ..domain.typecheck import text_problem
from ..domain.visit import Visit, VisitStatus
from ..domain.workup import Status as WorkupStatus
from ..domain.workup import WorkupItem, build_panel
from ..rules.lifecycle import EventKind
from ..rules.model import Citation
from .alerts import AlertService, AlertView
from .base import ServiceBase
from .dto import SignatureInfo
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import SessionContext

_CLINIC_KEYS = (
    "clinic_logo",
    "clinic_name",
    "clinic_address",
    "clinic_phone",
    "clinic_urgent_phone",
    "clinic_urgent_advice",
)


class Variant:
    PATIENT = "patient"
    CLINICIAN = "clinician"
    ALL = (PATIENT, CLINICIAN)


@dataclass(frozen=True)
class ClinicInfo:
    """Clinic settings printed on every care plan."""

    name: str
    address: str = ""
    phone: str = ""  # the clinic's number in working hours
    urgent_phone: str = ""  # out of hours: early pregnancy unit / maternity triage
    urgent_advice: str = ""  # the clinic's own words on what to do with bleeding or pain (a setting)
    logo: bytes | None = None  # PNG or JPEG


@dataclass(frozen=True)
class ResultLine:
    """One investigation's latest result, as printed."""

    domain: str  # genetic | anatomical | endocrine | thrombophilia | ...
    name: str
    value: str  # value with unit, or the categorical result / findings
    interpretation: str  # normal | abnormal | positive | negative | equivocal | unknown
    flagged: bool
    sample_date: dt.date | None
    reviewed: bool
    lab_range: str = ""  # the laboratory's own range when typed


@dataclass(frozen=True)
class CarePlanData:
    """Everything one care plan shows. Both variants are drawn from the same data."""

    variant: str  # Variant.PATIENT or Variant.CLINICIAN
    patient: PatientData
    printed_at: dt.datetime  # local time of printing
    today: dt.date
    gestation: GestationalAge | None  # today's, for an open pregnancy
    pregnancy: CurrentPregnancy | None  # the open one
    last_ended: CurrentPregnancy | None  # the pregnancy that ended last (sensitive wording after a loss)
    sensitive: bool  # the last pregnancy ended in a loss and no new one is open: no antenatal wording
    history: tuple[PreviousPregnancy, ...]
    summary: ObstetricSummary
    risk: RiskHistory
    diagnoses: tuple[str, ...]  # e.g. "Recurrent pregnancy loss (ESHRE 2022: 2 or more losses)"
    results: tuple[ResultLine, ...]  # latest per investigation, abnormal ones first
    outstanding: tuple[str, ...]  # investigations requested and not yet resulted
    plans: tuple[MedicationPlan, ...]  # current plans (active or still to come), oldest first
    past_plans: tuple[MedicationPlan, ...]  # stopped, completed or of ended pregnancies (clinician only)
    edds: Mapping[int, dt.date]  # pregnancy id -> EDD, to resolve gestation anchors of plans and follow-ups
    follow_ups: tuple[FollowUp, ...]  # still due, by date
    done_follow_ups: tuple[FollowUp, ...]  # results of this pregnancy (clinician only)
    alerts: tuple[AlertView, ...]  # current alerts, most severe first (clinician only)
    references: tuple[Citation, ...]  # the alerts' citations, numbered in this order ([1], [2], ...)
    timeline: TimelineLayout
    clinic: ClinicInfo
    rule_set_version: str
    record_hash: str  # SHA-256 of the record this plan was made from (see record_hash)
    signed: SignatureInfo | None = None  # set when printing a signed version
    # Plans still active although their pregnancy has ended: never printed as current; the clinician copy
    # lists them for review (rule R29), the patient copy leaves them out.
    unresolved_plans: tuple[MedicationPlan, ...] = ()
    booked_visits: tuple[Visit, ...] = ()  # clinic visits booked from today on, by date
    inputs_hash: str = ""  # the record hash with everything else printed: clinic details, alert responses,
    # rule settings (a signed version is out of date when it changes)
    valid_until: dt.date | None = None  # the first date printed in it that will pass (then out of date)

    @property
    def short_hash(self) -> str:
        return self.record_hash[:12]

    def edd_for(self, pregnancy_id: int | None) -> dt.date | None:
        return self.edds.get(pregnancy_id) if pregnancy_id is not None else None

    def citation_number(self, key: str) -> int:
        """The [n] a reference has in this document (1-based)."""
        for i, c in enumerate(self.references, 1):
            if c.key == key:
                return i
        raise KeyError(key)


Renderer = Callable[[Sequence[CarePlanData], Callable[[int, int], None] | None], bytes]


def record_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a canonical JSON form of the record (keys sorted, no whitespace, UTF-8)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- building the data ------------------------------------------------------------------------------------------

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _diagnoses(summary: ObstetricSummary, risk: RiskHistory) -> tuple[str, ...]:
    out = []
    if summary.meets_eshre or summary.meets_rcog:
        met = []
        if summary.meets_eshre:
            met.append("ESHRE 2022: two or more pregnancy losses")
        if summary.meets_rcog:
            met.append("RCOG 2023: three or more first-trimester losses or a second-trimester loss")
        kind = "secondary" if summary.secondary else "primary"
        out.append(f"Recurrent pregnancy loss, {kind} ({'; '.join(met)})")
    if risk.aps_diagnosed:
        out.append("Antiphospholipid syndrome (diagnosis recorded)")
    return tuple(out)


def _results(catalogue: Catalogue, items: Sequence[WorkupItem]) -> tuple[tuple[ResultLine, ...], tuple[str, ...]]:
    lines: list[ResultLine] = []
    outstanding: list[str] = []
    for domain, entries in build_panel(catalogue, items).items():
        for e in entries:
            latest = e.latest
            if latest is None:
                continue
            if latest.value is None:
                when = latest.requested_on.strftime("%d/%m/%Y") if latest.requested_on else ""
                outstanding.append(f"{e.investigation.name}" + (f" (requested {when})" if when else ""))
                continue
            v = latest.value
            rng = ""
            if v.lab_low is not None or v.lab_high is not None:
                lo = "" if v.lab_low is None else f"{v.lab_low:g}"
                hi = "" if v.lab_high is None else f"{v.lab_high:g}"
                rng = f"{lo}–{hi} {v.unit}".strip()
            interp = latest.interpretation or Interpretation.UNKNOWN
            value = f"{v.numeric:g} {v.unit}".strip() if v.numeric is not None else v.describe()
            lines.append(
                ResultLine(
                    domain,
                    e.investigation.name,
                    value,
                    interp.value,
                    interp.flagged,
                    latest.sample_date,
                    latest.status is WorkupStatus.REVIEWED,
                    rng,
                )
            )
    lines.sort(key=lambda r: (not r.flagged, r.domain, r.name))
    return tuple(lines), tuple(outstanding)


def record_document(
    patient: PatientData,
    workup: Sequence[WorkupItem],
    pregnancies: Sequence[CurrentPregnancy],
    plans: Sequence[MedicationPlan],
    follow_ups: Sequence[FollowUp],
) -> dict[str, Any]:
    """The record a care plan is made from, in the export format's words (so the hash covers every field a
    user can change, and nothing that changes by itself, like the print time)."""
    from .transfer import follow_up_to_json, item_to_json, patient_to_json, plan_to_json, pregnancy_to_json

    index = {p.id: j for j, p in enumerate(pregnancies)}
    return {
        "patient": patient_to_json(patient, archived=False),
        "investigations": [item_to_json(i) for i in workup],
        "pregnancies": [pregnancy_to_json(p) for p in pregnancies],
        "medication_plans": [plan_to_json(p, index.get(p.pregnancy_id)) for p in plans],
        "follow_ups": [follow_up_to_json(f, index.get(f.pregnancy_id)) for f in follow_ups],
    }


def _classify_plans(
    plans: Sequence[MedicationPlan], pregnancies: Sequence[CurrentPregnancy], today: dt.date
) -> tuple[list[MedicationPlan], list[MedicationPlan], list[MedicationPlan]]:
    """Current plans (still to be taken: active, or stopped early from a date still to come), past ones, and
    unresolved ones: still active although their pregnancy has ended. Those are never printed as current."""
    edds = {p.id: p.edd for p in pregnancies if p.id is not None}
    open_ids = {p.id for p in pregnancies if p.is_open}
    current, past, unresolved = [], [], []
    for plan in sorted(plans, key=lambda p: p.start):
        if plan.status is PlanStatus.CANCELLED:
            continue
        stop = plan.stop_date(edds.get(plan.pregnancy_id) if plan.pregnancy_id else None)
        still = stop is None or stop > today
        ended = plan.pregnancy_id is not None and plan.pregnancy_id not in open_ids
        if still and ended and plan.status is PlanStatus.ACTIVE:
            unresolved.append(plan)
        elif still and not ended:
            current.append(plan)
        else:
            past.append(plan)
    return current, past, unresolved


def inputs_hash(
    record: str, clinic: ClinicInfo, alerts: Sequence[tuple[str, str, str]], rule_set_version: str, rule_settings: str
) -> str:
    """What a printout shows beyond the record: the clinic's details, the alerts with their responses
    ((rule, episode, status) triples), and the rule settings and version. Together with the record hash, it
    tells whether a signed version still says what a new one would."""
    return record_hash(
        {
            "record": record,
            "clinic": [clinic.name, clinic.address, clinic.phone, clinic.urgent_phone, clinic.urgent_advice],
            "logo": hashlib.sha256(clinic.logo).hexdigest() if clinic.logo else "",
            "alerts": sorted(alerts),
            "rules": [rule_set_version, rule_settings],
        }
    )


def valid_until(data: CarePlanData) -> dt.date | None:
    """The first date after today that the printout names: a follow-up or visit due, a taper step or a stop.
    After it, the signed version describes a plan that has moved on."""
    days: list[dt.date] = [f.due_date for f in data.follow_ups] + [v.date for v in data.booked_visits]
    for plan in data.plans:
        edd = data.edd_for(plan.pregnancy_id)
        stop = plan.stop_date(edd)
        if stop is not None:
            days.append(stop)
        days += [d for step in plan.taper if (d := step.start.resolve(edd)) is not None]
    later = [d for d in days if d > data.today]
    return min(later) if later else None


@dataclass(frozen=True)
class SignedStatus:
    """A signed version and whether the record (or the rule set) has changed since."""

    signature: SignatureInfo
    out_of_date: bool
    reason: str  # why it is out of date, in plain words; empty when current


class CarePlanService(ServiceBase):
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        session: SessionContext,
        alerts: AlertService,
        catalogue: Callable[[], Catalogue],
        renderer: Renderer | None = None,
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._alerts = alerts
        self._catalogue = catalogue
        self._renderer = renderer

    # -- data -------------------------------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        return self._catalogue()

    def clinic(self, uow: UnitOfWork | None = None) -> ClinicInfo:
        if uow is None:
            with self._uow(read_only=True) as own:
                return self.clinic(own)
        got = uow.settings.get_many(_CLINIC_KEYS)
        logo = got.get("clinic_logo")
        return ClinicInfo(
            name=got.get("clinic_name") or "Recurrent Miscarriage Clinic",
            address=got.get("clinic_address") or "",
            phone=got.get("clinic_phone") or "",
            urgent_phone=got.get("clinic_urgent_phone") or "",
            urgent_advice=got.get("clinic_urgent_advice") or "",
            logo=decode_logo(logo) if logo else None,
        )

    def _build(
        self, uow: UnitOfWork, patient_id: int, variant: str, views: Sequence[AlertView]
    ) -> tuple[CarePlanData, str]:
        record = uow.patients.get(patient_id)
        data = record.data
        items = uow.workup.for_patient(patient_id)
        pregnancies = uow.pregnancy.pregnancies(patient_id)
        plans = uow.pregnancy.plans(patient_id)
        follow_ups = uow.pregnancy.follow_ups(patient_id)
        today = self._clock.today()
        rhash = record_hash(record_document(data, items, pregnancies, plans, follow_ups))
        open_p = next((p for p in pregnancies if p.is_open), None)
        ended = sorted((p for p in pregnancies if not p.is_open), key=lambda p: p.ended_on or dt.date.min)
        edds = {p.id: p.edd for p in pregnancies if p.id is not None}
        current_plans, past, unresolved = _classify_plans(plans, pregnancies, today)
        due = sorted((f for f in follow_ups if f.status is FollowUpStatus.DUE), key=lambda f: f.due_date)
        done = sorted(
            (
                f
                for f in follow_ups
                if f.status is not FollowUpStatus.DUE
                and f.status is not FollowUpStatus.CANCELLED
                and open_p is not None
                and f.pregnancy_id == open_p.id
            ),
            key=lambda f: f.result_date or f.due_date,
        )
        views = sorted(views, key=lambda v: (_SEVERITY_ORDER.get(v.alert.severity.value, 3), v.alert.rule.id))
        refs: list[Citation] = []
        for v in views:
            for c in v.alert.rule.citations:
                if all(r.key != c.key for r in refs):
                    refs.append(c)
        marks = []
        for v in views:
            fired = [e.at.date() for e in v.history if e.kind is EventKind.FIRED]
            marks.append(
                AlertMark(
                    v.alert.rule.id,
                    v.alert.rule.title,
                    v.alert.severity.value,
                    fired[-1] if fired else today,
                    v.alert.episode,
                )
            )
        cat = self._catalogue()
        results, outstanding = _results(cat, items)
        visits = uow.visits.visits(patient_id)
        timeline = build_timeline(
            today=today,
            history=data.pregnancies,
            workup=items,
            investigation_names={k: i.name for k, i in cat.investigations.items()},
            pregnancy=open_p,
            ended=ended,
            plans=plans,
            follow_ups=follow_ups,
            alerts=marks,
            visits=visits,
        )
        summary = summarise(data.pregnancies)
        out = CarePlanData(
            variant=variant,
            patient=data,
            printed_at=self._clock.now().astimezone(),
            today=today,
            gestation=open_p.gestation_on(today) if open_p else None,
            pregnancy=open_p,
            last_ended=ended[-1] if ended else None,
            sensitive=open_p is None and bool(ended) and ended[-1].sensitive,
            history=tuple(data.pregnancies),
            summary=summary,
            risk=data.risk,
            diagnoses=_diagnoses(summary, data.risk),
            results=results,
            outstanding=outstanding,
            plans=tuple(current_plans),
            past_plans=tuple(past),
            edds=edds,
            follow_ups=tuple(due),
            done_follow_ups=tuple(done),
            alerts=tuple(views),
            references=tuple(refs),
            timeline=timeline,
            clinic=self.clinic(uow),
            rule_set_version=self._alerts.rule_set().version,
            record_hash=rhash,
            unresolved_plans=tuple(unresolved),
            booked_visits=tuple(
                sorted(
                    (v for v in visits if v.status is VisitStatus.BOOKED and v.date >= today),
                    key=lambda v: v.date,
                )
            ),
        )
        triples = [(v.alert.rule.id, v.alert.episode, v.status.value) for v in views]
        stamp = inputs_hash(rhash, out.clinic, triples, out.rule_set_version, uow.settings.get("rule_settings") or "")
        out = replace(out, inputs_hash=stamp, valid_until=valid_until(out))
        return out, data.hospital_number

    def data(self, patient_id: int, variant: str = Variant.CLINICIAN) -> CarePlanData:
        """The care plan as it would print now (nothing is recorded but the alert evaluation)."""
        self._check_variant(variant)
        self._actor(Permission.VIEW_PATIENTS)
        views = self._alerts.for_patient(patient_id)  # its own transaction: never inside another writer
        with self._uow(read_only=True) as uow:
            return self._build(uow, patient_id, variant, views)[0]

    def timeline(self, patient_id: int) -> TimelineLayout:
        return self.data(patient_id).timeline

    @staticmethod
    def _check_variant(variant: str) -> None:
        if variant not in Variant.ALL:
            raise ValidationError.single("variant", f"Choose a variant: {' or '.join(Variant.ALL)}.")

    # -- printing ---------------------------------------------------------------------------------------------

    def _render(self, plans: Sequence[CarePlanData], progress: Callable[[int, int], None] | None = None) -> bytes:
        if self._renderer is None:
            raise DomainError("Printing is not available in this installation.")
        return self._renderer(plans, progress)

    def render(self, patient_id: int, variant: str, destination: str = "file") -> bytes:
        """A care plan PDF made now. Printing, saving and opening it are audited (destination says which)."""
        self._check_variant(variant)
        actor = self._actor(Permission.PRINT)
        views = self._alerts.for_patient(patient_id)
        with self._uow(read_only=True) as uow:
            data, _ = self._build(uow, patient_id, variant, views)
        pdf = self._render([data])
        with self._uow() as uow:
            self._audit(uow, actor, _print_event(patient_id, data, destination))
            uow.commit()
        return pdf

    def record_timeline_export(self, patient_id: int, path: str) -> None:
        """Saving the timeline as an image is an export of patient data: print permission, audited."""
        actor = self._actor(Permission.PRINT)
        with self._uow() as uow:
            uow.patients.require(patient_id)
            self._audit(uow, actor, AuditEvent(Action.EXPORT, "timeline", str(patient_id), patient_id, {"to": "png"}))
            uow.commit()
        del path  # where it went is the user's business; the trail records that it left

    def worklist_patients(self, day: dt.date) -> list[tuple[int, str]]:
        """(patient id, hospital number) of every patient on ``day``'s worklist, in worklist order."""
        from .worklist import WorklistService

        seen: dict[int, str] = {}
        for item in WorklistService(self._uow, self._clock, self._session).items(day, 1):
            seen.setdefault(item.patient_id, item.hospital_number)
        return list(seen.items())

    def render_batch(
        self,
        day: dt.date,
        variant: str = Variant.PATIENT,
        progress: Callable[[int, int], None] | None = None,
        destination: str = "file",
    ) -> tuple[bytes, int]:
        """One PDF with the care plans of every patient on ``day``'s worklist, each numbered on its own.
        Returns the PDF and how many patients it holds."""
        self._check_variant(variant)
        actor = self._actor(Permission.PRINT)
        patients = self.worklist_patients(day)
        if not patients:
            raise DomainError(f"Nobody is on the worklist for {day.strftime('%d/%m/%Y')}.")
        total = len(patients) * 2  # building, then drawing
        datas = []
        for i, (pid, _) in enumerate(patients):
            views = self._alerts.for_patient(pid)
            with self._uow(read_only=True) as uow:
                datas.append(self._build(uow, pid, variant, views)[0])
            if progress:
                progress(i + 1, total)

        def drawn(done: int, _: int) -> None:
            if progress:
                progress(len(patients) + done, total)

        pdf = self._render(datas, drawn)
        with self._uow() as uow:
            self._audit(
                uow, actor, *(_print_event(pid, d, destination) for (pid, _), d in zip(patients, datas, strict=True))
            )
            uow.commit()
        return pdf, len(patients)

    # -- sign-off ---------------------------------------------------------------------------------------------

    def sign(self, patient_id: int, variant: str, comment: str = "") -> SignatureInfo:
        """A consultant signs the care plan as it is now: the PDF printed with the sign-off is stored whole."""
        self._check_variant(variant)
        actor = self._actor(Permission.SIGN_CARE_PLANS)
        problem = text_problem(comment)
        if problem:
            raise ValidationError.single("comment", problem)
        views = self._alerts.for_patient(patient_id)
        # Drawn before the write transaction opens: a long PDF must not hold every workstation's saves.
        with self._uow(read_only=True) as uow:
            user = uow.users.get(actor.username)
            data, _ = self._build(uow, patient_id, variant, views)
            earlier = [s.version for s in uow.careplans.signatures(patient_id) if s.variant == variant]
        info = SignatureInfo(
            id=0,
            patient_id=patient_id,
            variant=variant,
            version=1 + max(earlier, default=0),
            signed_by=actor.username,
            signed_by_name=user.display_name if user and user.display_name else actor.username,
            signed_at=self._clock.now(),
            record_hash=data.record_hash,
            rule_set_version=data.rule_set_version,
            pdf_sha256="",
            comment=comment.strip(),
            inputs_hash=data.inputs_hash,
            valid_until=data.valid_until,
        )
        pdf = self._render([replace(data, signed=info)])
        with self._uow() as uow:
            if self._current_record_hash(uow, patient_id) != data.record_hash:
                raise ConflictError("The record changed while the care plan was being signed. Sign it again.")
            # the unique (patient, variant, version) index refuses a version another workstation just took
            stored = uow.careplans.add(replace(info, pdf_sha256=hashlib.sha256(pdf).hexdigest()), pdf)
            if stored.version != info.version:
                raise ConflictError("Someone else signed a version at the same moment. Reload and try again.")
            self._audit(
                uow,
                actor,
                AuditEvent(
                    Action.CREATE,
                    "care_plan_signature",
                    str(stored.id),
                    patient_id,
                    {
                        "variant": variant,
                        "version": stored.version,
                        "record_hash": data.record_hash,
                        "rule_set_version": data.rule_set_version,
                        "pdf_sha256": stored.pdf_sha256,
                    },
                ),
            )
            uow.commit()
        return stored

    @staticmethod
    def _current_record_hash(uow: UnitOfWork, patient_id: int) -> str:
        record = uow.patients.get(patient_id)
        return record_hash(
            record_document(
                record.data,
                uow.workup.for_patient(patient_id),
                uow.pregnancy.pregnancies(patient_id),
                uow.pregnancy.plans(patient_id),
                uow.pregnancy.follow_ups(patient_id),
            )
        )

    def signatures(self, patient_id: int) -> list[SignedStatus]:
        """Every signed version, newest first, each marked out of date when what it would print has changed:
        the record, the clinic's details, the alert responses, the rules, or a date in it has passed."""
        self._actor(Permission.VIEW_PATIENTS)
        today = self._clock.today()
        with self._uow(read_only=True) as uow:
            sigs = uow.careplans.signatures(patient_id)
            if not sigs:
                uow.patients.require(patient_id)  # NotFoundError for an unknown patient
                return []
            current = self._current_record_hash(uow, patient_id)
            rules = self._alerts.rule_set().version
            stamp = inputs_hash(
                current, self.clinic(uow), uow.alerts.state(patient_id), rules, uow.settings.get("rule_settings") or ""
            )
        out = []
        for s in sigs:
            reasons = []
            if s.record_hash != current:
                reasons.append("the record has changed since it was signed")
            elif s.inputs_hash and s.inputs_hash != stamp:
                reasons.append("the clinic's details, an alert's response or the rule settings have changed since")
            if s.rule_set_version != rules:
                reasons.append(f"the rules have changed since ({s.rule_set_version} → {rules})")
            if s.valid_until is not None and today > s.valid_until:
                reasons.append(f"a date in it has passed ({s.valid_until.strftime('%d/%m/%Y')})")
            out.append(SignedStatus(s, bool(reasons), "; ".join(reasons)))
        return out

    def signed_pdf(self, signature_id: int, destination: str = "file") -> tuple[SignatureInfo, bytes]:
        """A signed version's PDF exactly as signed (checked against its stored SHA-256); reprinting is audited."""
        actor = self._actor(Permission.PRINT)
        with self._uow() as uow:
            found = uow.careplans.pdf(signature_id)
            if found is None:
                raise NotFoundError(f"No signed care plan with id {signature_id}.")
            info, pdf = found
            if hashlib.sha256(pdf).hexdigest() != info.pdf_sha256:
                raise DomainError("This signed care plan is damaged: its PDF no longer matches its checksum.")
            self._audit(
                uow,
                actor,
                AuditEvent(
                    Action.PRINT if destination == "printer" else Action.EXPORT,
                    "care_plan_signature",
                    str(info.id),
                    info.patient_id,
                    {"variant": info.variant, "version": info.version, "to": destination},
                ),
            )
            uow.commit()
        return info, pdf


def _print_event(patient_id: int, data: CarePlanData, destination: str) -> AuditEvent:
    return AuditEvent(
        Action.PRINT if destination == "printer" else Action.EXPORT,
        "care_plan",
        str(patient_id),
        patient_id,
        {
            "variant": data.variant,
            "record_hash": data.record_hash,
            "rule_set_version": data.rule_set_version,
            "to": destination,
        },
    )


LOGO_MAX_BYTES = 256 * 1024


def decode_logo(text: str) -> bytes | None:
    """The clinic logo setting is a base64 PNG or JPEG (kept in the database so every workstation prints
    the same); anything else is ignored rather than breaking every printout."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if logo_problem(raw) is None else None


def logo_problem(raw: bytes) -> str | None:
    if len(raw) > LOGO_MAX_BYTES:
        return f"The logo must be at most {LOGO_MAX_BYTES // 1024} KB."
    if not (raw.startswith(b"\x89PNG\r\n\x1a\n") or raw.startswith(b"\xff\xd8\xff")):
        return "The logo must be a PNG or JPEG image."
    return None
