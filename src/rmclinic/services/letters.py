"""Clinic visits and letters to the GP: booking and recording visits, drafting a letter from the record,
editing it, signing it (the PDF is then kept unchanged) and correcting it with a new version."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..domain.accounts import Permission
from ..domain.audit import Action, AuditEvent
from ..domain.clock import Clock
from ..domain.dating import gestation_on
from ..domain.errors import ConflictError, DomainError, FieldProblem, NotFoundError, ValidationError
from ..domain.followup import KIND_LABELS, FollowUp, FollowUpStatus, result_summary
from ..domain.medication import MedicationPlan, default_source, describe_dose, last_dose_day
from ..domain.patient import PatientData
from ..domain.visit import (
    NOTE_FIELDS,
    VISIT_TYPE_LABELS,
    Letter,
    LetterStatus,
    Visit,
    VisitStatus,
    VisitType,
    letter_problems,
    visit_problems,
)
from ..domain.workup import WorkupItem
from ..rules.lifecycle import AlertEvent, EventKind
from ..rules.model import Citation
from .base import ServiceBase
from .careplan import CarePlanData, CarePlanService, ClinicInfo
from .dto import WorklistRow
from .ports import UnitOfWork, UnitOfWorkFactory
from .session import SessionContext


@dataclass(frozen=True)
class LetterData:
    """Everything a letter's PDF shows. ``letter.body`` is plain text: paragraphs are separated by a blank
    line, a line starting with "## " is a subheading and a line starting with "- " is a bullet."""

    letter: Letter
    patient: PatientData
    visit: Visit
    clinic: ClinicInfo
    printed_at: dt.datetime  # local time
    supersedes: Letter | None = None  # the signed letter this version corrects
    hospital_contact: str = ""  # who to contact about the letter (the clinic phone, from the settings)

    @property
    def draft(self) -> bool:
        return self.letter.status.value == "draft"


LetterRenderer = Callable[[LetterData], bytes]


@dataclass(frozen=True)
class VisitView:
    """A visit with what was done in it (from the record) and its letters, oldest version first."""

    visit: Visit
    done: tuple[str, ...]
    letters: tuple[Letter, ...]

    @property
    def latest_letter(self) -> Letter | None:
        return self.letters[-1] if self.letters else None

    @property
    def latest_signed(self) -> Letter | None:
        signed = [x for x in self.letters if x.status is LetterStatus.SIGNED]
        return signed[-1] if signed else None


def _fmt(d: dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def _on(at: dt.datetime | None, day: dt.date) -> bool:
    return at is not None and at.astimezone().date() == day


def done_in_visit(
    day: dt.date,
    workup: Sequence[WorkupItem],
    names: Mapping[str, str],
    plans: Sequence[MedicationPlan],
    follow_ups: Sequence[FollowUp],
    alert_events: Sequence[AlertEvent],
) -> tuple[str, ...]:
    """What the record shows was done on the visit's day: results reviewed, medication started or changed,
    follow-up results entered, alerts answered."""
    out = []
    reviewed = sorted({names.get(i.investigation_id, i.investigation_id) for i in workup if _on(i.reviewed_at, day)})
    if reviewed:
        out.append("Results reviewed: " + ", ".join(reviewed))
    for p in plans:
        changes = [c for c in p.history if _on(c.at, day)]
        if changes:
            verb = "started" if p.history and changes[0] is p.history[0] else "changed"
            out.append(f"{p.display_name} {verb}" + (f" ({changes[-1].reason})" if changes[-1].reason else ""))
    for f in follow_ups:
        if f.result_date == day and f.status is FollowUpStatus.DONE:
            out.append(f"{KIND_LABELS[f.kind]} result recorded: {result_summary(f)}")
    answered = [e for e in alert_events if e.kind in _ANSWERS and _on(e.at, day)]
    for e in answered:
        out.append(f"Alert {e.rule_id} {e.kind.value}" + (f" ({e.reason_code})" if e.reason_code else ""))
    return tuple(out)


# Wording that must not reach a signed letter once the pregnancy has ended in a loss.
_ANTENATAL = re.compile(r"weeks pregnant|estimated due date|\b\d{1,2}\+[0-6]\b", re.IGNORECASE)

_ANSWERS = frozenset({EventKind.ACKNOWLEDGED, EventKind.OVERRIDDEN, EventKind.SNOOZED})


def draft_letter(data: CarePlanData, visit: Visit, paragraph: str = "") -> str:
    """The letter's text drafted from the record (the same data a care plan is made from): diagnosis and
    losses, investigations with abnormal results, the current plan with stop dates, follow-ups with dates,
    the evidence behind the key recommendations as numbered references, the next visit, and the clinician's
    own paragraph. Plain text with "## " headings and "- " bullets; edited before signing."""
    p = data.patient
    s = data.summary
    seen = "spoke with" if visit.type is VisitType.TELEPHONE else "saw"
    name = f"{p.given_name} {p.family_name}"
    if visit.patient_attended and visit.partner_attended:
        whom = f"{name} with her partner"
    elif visit.partner_attended:
        whom = f"the partner of {name}"  # she did not attend: the letter must not say she was seen
    else:
        whom = name
    opening = (
        f"I {seen} {whom} in the recurrent miscarriage clinic on {_fmt(visit.date)} "
        f"({VISIT_TYPE_LABELS[visit.type].lower()})."
    )
    lines = [opening, ""]
    if data.sensitive and data.last_ended is not None and data.last_ended.ended_on is not None:
        lines += [f"Her most recent pregnancy ended on {_fmt(data.last_ended.ended_on)}.", ""]
    elif data.pregnancy is not None and data.gestation is not None:
        lines += [
            f"She is currently {data.gestation} weeks pregnant (estimated due date {_fmt(data.pregnancy.edd)}).",
            "",
        ]
    lines.append("## Diagnosis")
    counts = (
        f"{s.total_losses} pregnancy loss{'es' if s.total_losses != 1 else ''} before 24 weeks "
        f"({s.first_trimester_losses} in the first trimester, {s.second_trimester_losses} in the second), "
        f"{s.consecutive_losses} consecutive; {s.live_births} live birth{'s' if s.live_births != 1 else ''}."
    )
    lines.append(f"- {counts}")
    lines += [f"- {d}" for d in data.diagnoses]
    lines.append("")
    lines.append("## Investigations")
    abnormal = [r for r in data.results if r.flagged]
    normal = [r for r in data.results if not r.flagged]
    for r in abnormal:
        lines.append(f"- Abnormal: {r.name} {r.value} ({r.interpretation}, {_fmt(r.sample_date)})")
    if normal:
        lines.append("- Normal: " + ", ".join(r.name for r in normal))
    if data.outstanding:
        lines.append("- Awaited: " + ", ".join(data.outstanding))
    if not data.results and not data.outstanding:
        lines.append("- No investigations recorded yet.")
    lines.append("")
    lines.append("## Current plan")
    refs: list[Citation] = []

    def cite(citations: Sequence[Citation]) -> str:
        marks = []
        for c in citations:
            if all(r.key != c.key for r in refs):
                refs.append(c)
            marks.append(next(i for i, r in enumerate(refs, 1) if r.key == c.key))
        return "".join(f"[{n}]" for n in marks)

    for plan in data.plans:
        edd = data.edd_for(plan.pregnancy_id)
        last = last_dose_day(plan, edd)
        dose = describe_dose(plan.dose, plan.display_unit, plan.frequency)
        text = f"- {plan.display_name} {dose} from {_fmt(plan.start)}"
        if last is not None:
            ga = gestation_on(edd, last) if edd and not data.sensitive else None
            text += f", last dose {_fmt(last)}" + (f" ({ga})" if ga else "")
        else:
            text += ", no planned stop"
        if plan.taper:
            text += f", reducing in {len(plan.taper)} step{'s' if len(plan.taper) > 1 else ''} before stopping"
        source = default_source(plan.drug, plan.indication)
        lines.append(text + (f". Dose: {source}." if source else "."))
    if not data.plans:
        lines.append("- No medication from the clinic at present.")
    for plan in data.unresolved_plans:
        lines.append(f"- {plan.display_name}: still recorded as active after the pregnancy ended; to be reviewed.")
    open_id = data.pregnancy.id if data.pregnancy is not None else None
    for f in data.follow_ups:
        if f.pregnancy_id is not None and f.pregnancy_id != open_id:
            continue  # a follow-up of a pregnancy that has ended is not part of the plan
        if f.due_date < data.today:
            lines.append(
                f"- {KIND_LABELS[f.kind]}{f' ({f.title})' if f.title else ''}: overdue since {_fmt(f.due_date)}"
            )
            continue
        edd = data.edd_for(f.pregnancy_id)
        ga = gestation_on(edd, f.due_date) if edd and not data.sensitive else None
        title = f" ({f.title})" if f.title else ""
        lines.append(f"- {KIND_LABELS[f.kind]}{title} on {_fmt(f.due_date)}" + (f" ({ga})" if ga else ""))
    # Only recommendations that still stand (not overridden or snoozed), never the software's own safety nets
    # (they cite the safety case, not evidence), and with the rule's own caveats.
    key = [
        v
        for v in data.alerts
        if v.alert.severity.value in ("critical", "warning")
        and not v.alert.error
        and v.status.value in ("active", "acknowledged")
        and all(c.key != "SAFETY" for c in v.alert.rule.citations)
    ]
    if key:
        lines.append("")
        lines.append("## Recommendations and their evidence")
        for v in key:
            caveat = ""
            if v.alert.rule.unverified:
                caveat += " (part of the evidence for this is not verified)"
            if v.alert.rule.conflict:
                caveat += " (guidelines differ on this)"
            lines.append(f"- {v.alert.message}{caveat} {cite(v.alert.rule.citations)}")
    lines.append("")
    booked = [v.date for v in data.booked_visits if v.date > visit.date]  # the diary, not the note
    if booked:
        lines.append(f"Her next appointment in the clinic is on {_fmt(min(booked))}.")
    else:
        lines.append("No further clinic appointment has been booked.")
    lines.append("")
    lines.append(paragraph.strip() or "[The clinician's own paragraph]")
    if refs:
        lines.append("")
        lines.append("## References")
        lines += [f"- [{i}] {c.label}" + (f" {c.link}" if c.link else "") for i, c in enumerate(refs, 1)]
    return "\n".join(lines).strip() + "\n"


def _visit_event(action: Action, patient_id: int, entity: str, entity_id: int, changes: dict[str, Any]) -> AuditEvent:
    return AuditEvent(action, entity, str(entity_id), patient_id, changes)


class VisitService(ServiceBase):
    """Visits and their letters. Letters are drafted from the same data as care plans."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        session: SessionContext,
        careplans: CarePlanService,
        renderer: LetterRenderer | None = None,
    ) -> None:
        super().__init__(uow_factory, clock, session)
        self._careplans = careplans
        self._renderer = renderer

    # -- visits -------------------------------------------------------------------------------------------------

    def visits(self, patient_id: int) -> list[VisitView]:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            uow.patients.require(patient_id)
            visits = uow.visits.visits(patient_id)
            letters = uow.visits.letters(patient_id)
            workup = uow.workup.for_patient(patient_id)
            plans = uow.pregnancy.plans(patient_id)
            follow_ups = uow.pregnancy.follow_ups(patient_id)
            events = uow.alerts.events(patient_id)
        names = {k: i.name for k, i in self._careplans.catalogue().investigations.items()}
        out = []
        for v in visits:
            done = (
                done_in_visit(v.date, workup, names, plans, follow_ups, events)
                if v.status is VisitStatus.ATTENDED
                else ()
            )
            out.append(VisitView(v, done, tuple(x for x in letters if x.visit_id == v.id)))
        return out

    def save_visit(self, patient_id: int, visit: Visit) -> Visit:
        """Record a new visit (``visit.id`` None) or change one. A next-visit date books that visit too,
        unless one is already booked for that day."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        problems = visit_problems(visit, self._clock.today())
        if problems:
            raise ValidationError([FieldProblem(k, v) for k, v in problems.items()])
        with self._uow() as uow:
            uow.patients.require(patient_id)
            if visit.id is None:
                vid = uow.visits.add_visit(patient_id, visit)
                self._audit(uow, actor, _visit_event(Action.CREATE, patient_id, "visit", vid, _visit_json(visit)))
            else:
                vid = visit.id
                before = uow.visits.get_visit(patient_id, vid)
                if before.status is not visit.status and uow.visits.visit_ids_with_letters([vid]):
                    raise ValidationError.single("status", "This visit has a letter: its status can no longer change.")
                uow.visits.update_visit(patient_id, vid, visit.version, visit)
                if before.next_visit not in (None, visit.next_visit):
                    self._cancel_booking(uow, actor, patient_id, before.next_visit)
                changes = {k: [a, b] for k, (a, b) in _pairs(_visit_json(before), _visit_json(visit)).items() if a != b}
                self._audit(uow, actor, _visit_event(Action.UPDATE, patient_id, "visit", vid, changes))
            if visit.id is None and visit.status is VisitStatus.ATTENDED:
                self._cancel_booking(uow, actor, patient_id, visit.date)  # the booking for today took place
            if visit.next_visit is not None and visit.status is VisitStatus.ATTENDED:
                booked = {v.date for v in uow.visits.visits(patient_id) if v.status is VisitStatus.BOOKED}
                if visit.next_visit not in booked:
                    nxt = Visit(
                        visit.next_visit,
                        VisitType.FOLLOW_UP,
                        VisitStatus.BOOKED,
                        clinician=visit.clinician,
                    )
                    nid = uow.visits.add_visit(patient_id, nxt)
                    self._audit(uow, actor, _visit_event(Action.CREATE, patient_id, "visit", nid, _visit_json(nxt)))
            saved = uow.visits.get_visit(patient_id, vid)
            uow.commit()
        return saved

    def _cancel_booking(self, uow: UnitOfWork, actor: Any, patient_id: int, day: dt.date | None) -> None:
        """A booking nobody has touched (no notes) on ``day`` is replaced: it must not linger as overdue."""
        for v in uow.visits.visits(patient_id):
            untouched = not any(getattr(v, k) for k in NOTE_FIELDS)
            if v.id is not None and v.status is VisitStatus.BOOKED and v.date == day and untouched:
                uow.visits.update_visit(patient_id, v.id, v.version, replace(v, status=VisitStatus.CANCELLED))
                self._audit(
                    uow,
                    actor,
                    _visit_event(Action.UPDATE, patient_id, "visit", v.id, {"status": ["booked", "cancelled"]}),
                )

    def booked(self, start: dt.date, end: dt.date) -> list[WorklistRow]:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            return uow.visits.booked_between(start, end)

    # -- letters ------------------------------------------------------------------------------------------------

    def _visit_of(self, uow: UnitOfWork, patient_id: int, visit_id: int) -> Visit:
        return uow.visits.get_visit(patient_id, visit_id)

    def start_letter(self, patient_id: int, visit_id: int) -> Letter:
        """The visit's draft letter: the open draft if there is one, else a new one drafted from the record
        (after a signed letter, a new draft is a correction of it)."""
        actor = self._actor(Permission.EDIT_PATIENTS)
        data = self._careplans.data(patient_id)  # alerts are evaluated in their own transaction first
        with self._uow() as uow:
            visit = self._visit_of(uow, patient_id, visit_id)
            if visit.status is not VisitStatus.ATTENDED:
                raise ValidationError.single("visit", "Letters are written about attended visits.")
            letters = [x for x in uow.visits.letters(patient_id) if x.visit_id == visit_id]
            if letters and letters[-1].status is LetterStatus.DRAFT:
                return letters[-1]
            previous = letters[-1] if letters else None
            body = (
                previous.body
                if previous is not None
                else draft_letter(data, visit, "\n\n".join(x for x in (visit.discussion, visit.plan) if x.strip()))
            )
            letter = Letter(
                visit_id=visit_id,
                body=body,
                recipient=previous.recipient if previous else data.patient.gp_practice,
                copy_to_patient=previous.copy_to_patient if previous else True,
                supersedes_id=previous.id if previous else None,
            )
            lid = uow.visits.add_letter(patient_id, letter, actor.username)
            self._audit(
                uow,
                actor,
                _visit_event(
                    Action.CREATE,
                    patient_id,
                    "letter",
                    lid,
                    {"visit_id": visit_id, "corrects": previous.id if previous else None},
                ),
            )
            out = uow.visits.get_letter(patient_id, lid)
            uow.commit()
        return out

    def redraft(self, patient_id: int, letter_id: int, row_version: int) -> Letter:
        """Replace a draft's text with a fresh draft from the record as it is now."""
        self._actor(Permission.EDIT_PATIENTS)
        data = self._careplans.data(patient_id)
        with self._uow(read_only=True) as uow:
            letter = uow.visits.get_letter(patient_id, letter_id)
            visit = self._visit_of(uow, patient_id, letter.visit_id)
        paragraph = "\n\n".join(x for x in (visit.discussion, visit.plan) if x.strip())
        return self.save_draft(
            patient_id,
            letter_id,
            row_version,
            draft_letter(data, visit, paragraph),
            letter.recipient,
            letter.copy_to_patient,
        )

    def save_draft(
        self, patient_id: int, letter_id: int, row_version: int, body: str, recipient: str, copy_to_patient: bool
    ) -> Letter:
        actor = self._actor(Permission.EDIT_PATIENTS)
        with self._uow() as uow:
            current = uow.visits.get_letter(patient_id, letter_id)
            changed = replace(current, body=body, recipient=recipient, copy_to_patient=copy_to_patient)
            problems = letter_problems(changed)
            if problems:
                raise ValidationError([FieldProblem(k, v) for k, v in problems.items()])
            uow.visits.update_draft(patient_id, letter_id, row_version, changed)
            self._audit(uow, actor, _visit_event(Action.UPDATE, patient_id, "letter", letter_id, {"body": "edited"}))
            out = uow.visits.get_letter(patient_id, letter_id)
            uow.commit()
        return out

    def _data(self, uow: UnitOfWork, patient_id: int, letter: Letter) -> LetterData:
        record = uow.patients.get(patient_id)
        visit = self._visit_of(uow, patient_id, letter.visit_id)
        old = uow.visits.get_letter(patient_id, letter.supersedes_id) if letter.supersedes_id else None
        clinic = self._careplans.clinic(uow)
        return LetterData(letter, record.data, visit, clinic, self._clock.now().astimezone(), old, clinic.phone)

    def _render(self, data: LetterData) -> bytes:
        if self._renderer is None:
            raise DomainError("Printing is not available in this installation.")
        return self._renderer(data)

    def sign(self, patient_id: int, letter_id: int, row_version: int) -> Letter:
        """Sign a draft: its PDF is made now and kept; the letter never changes again."""
        actor = self._actor(Permission.SIGN_CARE_PLANS)
        now_data = self._careplans.data(patient_id)  # alerts evaluated in their own transaction, first
        # The PDF is drawn before the write transaction opens, so other workstations' saves never wait for it;
        # the draft's row version then proves nobody changed it in between.
        with self._uow(read_only=True) as uow:
            letter = uow.visits.get_letter(patient_id, letter_id)
            if letter.status is not LetterStatus.DRAFT:
                raise ConflictError("This letter has already been signed.")
            if letter.row_version != row_version:
                raise ConflictError("Someone else changed this letter since you opened it. Reload and try again.")
            problems = letter_problems(letter)
            if problems:
                raise ValidationError([FieldProblem(k, v) for k, v in problems.items()])
            if now_data.sensitive and _ANTENATAL.search(letter.body):
                raise ConflictError(
                    "The pregnancy has ended since this letter was drafted: redraft it from the record before signing."
                )
            user = uow.users.get(actor.username)
            name = user.display_name if user and user.display_name else actor.username
            now = self._clock.now()
            signed = replace(
                letter, status=LetterStatus.SIGNED, signed_by=actor.username, signed_by_name=name, signed_at=now
            )
            data = self._data(uow, patient_id, signed)
        pdf = self._render(data)
        sha = hashlib.sha256(pdf).hexdigest()
        with self._uow() as uow:
            uow.visits.sign(patient_id, letter_id, row_version, actor.username, name, now, pdf, sha)
            self._audit(
                uow,
                actor,
                _visit_event(
                    Action.UPDATE, patient_id, "letter", letter_id, {"status": ["draft", "signed"], "pdf_sha256": sha}
                ),
            )
            out = uow.visits.get_letter(patient_id, letter_id)
            uow.commit()
        return out

    def pdf(self, patient_id: int, letter_id: int, destination: str = "file") -> bytes:
        """A signed letter's stored PDF (checked against its SHA-256), or a draft rendered now, marked DRAFT.
        Audited."""
        actor = self._actor(Permission.PRINT)
        with self._uow() as uow:
            letter = uow.visits.get_letter(patient_id, letter_id)
            if letter.status is LetterStatus.SIGNED:
                pdf = uow.visits.letter_pdf(patient_id, letter_id) or b""
                if hashlib.sha256(pdf).hexdigest() != letter.pdf_sha256:
                    raise DomainError("This signed letter is damaged: its PDF no longer matches its checksum.")
            else:
                pdf = self._render(self._data(uow, patient_id, letter))
            self._audit(
                uow,
                actor,
                _visit_event(
                    Action.PRINT if destination == "printer" else Action.EXPORT,
                    patient_id,
                    "letter",
                    letter_id,
                    {"status": letter.status.value, "version": letter.version, "to": destination},
                ),
            )
            uow.commit()
        return pdf

    def letter_for(self, patient_id: int, visit_date: dt.date | None = None) -> Letter | None:
        """The letter of the latest attended visit (or the attended visit on ``visit_date``): its latest
        signed version, else its draft; None when that visit has no letter."""
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            visits = [v for v in uow.visits.visits(patient_id) if v.status is VisitStatus.ATTENDED]
            if visit_date is not None:
                visits = [v for v in visits if v.date == visit_date]
                if not visits:
                    raise NotFoundError(f"No attended visit on {_fmt(visit_date)}.")
            if not visits:
                raise NotFoundError("This patient has no attended visit.")
            visit = visits[-1]
            letters = [x for x in uow.visits.letters(patient_id) if x.visit_id == visit.id]
        signed = [x for x in letters if x.status is LetterStatus.SIGNED]
        return signed[-1] if signed else (letters[-1] if letters else None)

    def latest_visit_id(self, patient_id: int, visit_date: dt.date | None = None) -> int:
        self._actor(Permission.VIEW_PATIENTS)
        with self._uow(read_only=True) as uow:
            visits = [v for v in uow.visits.visits(patient_id) if v.status is VisitStatus.ATTENDED]
        if visit_date is not None:
            visits = [v for v in visits if v.date == visit_date]
        if not visits or visits[-1].id is None:
            raise NotFoundError("No attended visit" + (f" on {_fmt(visit_date)}." if visit_date else "."))
        return visits[-1].id


def _visit_json(v: Visit) -> dict[str, Any]:
    return {
        "date": v.date.isoformat(),
        "type": v.type.value,
        "status": v.status.value,
        "clinician": v.clinician,
        "patient_attended": v.patient_attended,
        "partner_attended": v.partner_attended,
        "notes": {k: bool(getattr(v, k)) for k in NOTE_FIELDS},  # whether written; the text stays out of the trail
        "next_visit": v.next_visit.isoformat() if v.next_visit else None,
    }


def _pairs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys()}
