"""A patient's workup: investigation items through their workflow, repeats, the panel and completeness."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from .investigations import DOMAINS, QUALITATIVE, Catalogue, Interpretation, Investigation
from .typecheck import check_types


class Status(StrEnum):
    REQUESTED = "requested"
    SAMPLE_TAKEN = "sample_taken"
    RESULTED = "resulted"
    REVIEWED = "reviewed"


# Allowed moves. A result may be entered straight from "requested" (the sample date is part of it);
# correcting a result (resulted -> resulted) or a reviewed one (reviewed -> resulted) reopens review.
TRANSITIONS: dict[Status | None, frozenset[Status]] = {
    None: frozenset({Status.REQUESTED, Status.RESULTED}),
    Status.REQUESTED: frozenset({Status.SAMPLE_TAKEN, Status.RESULTED}),
    Status.SAMPLE_TAKEN: frozenset({Status.RESULTED}),
    Status.RESULTED: frozenset({Status.RESULTED, Status.REVIEWED}),
    Status.REVIEWED: frozenset({Status.RESULTED}),
}


def can_move(current: Status | None, target: Status) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class ResultValue:
    """What the nurse typed, in the laboratory's unit."""

    numeric: float | None = None
    unit: str = ""
    text: str = ""  # qualitative or categorical value
    findings: tuple[str, ...] = ()  # uterine findings
    method: str = ""  # uterine assessment method
    lab_low: float | None = None  # the laboratory's own range, in the same unit
    lab_high: float | None = None

    def describe(self) -> str:
        if self.numeric is not None:
            rng = ""
            if self.lab_low is not None or self.lab_high is not None:
                lo = "" if self.lab_low is None else f"{self.lab_low:g}"
                hi = "" if self.lab_high is None else f"{self.lab_high:g}"
                rng = f" (lab range {lo}-{hi})"
            return f"{self.numeric:g} {self.unit}{rng}".strip()
        if self.findings:
            return ", ".join(self.findings) + (f" ({self.method})" if self.method else "")
        return self.text


@dataclass(frozen=True)
class HistoryEntry:
    """An earlier value kept when a result was corrected."""

    value: ResultValue
    sample_date: dt.date | None
    entered_by: str
    entered_at: dt.datetime


@dataclass(frozen=True)
class WorkupItem:
    id: int
    investigation_id: str
    status: Status
    version: int
    requested_on: dt.date | None = None
    requested_by: str = ""
    sample_date: dt.date | None = None
    value: ResultValue | None = None
    normalised: float | None = None  # in the catalogue's unit
    interpretation: Interpretation | None = None
    entered_by: str = ""
    entered_at: dt.datetime | None = None
    reviewed_by: str = ""
    reviewed_at: dt.datetime | None = None
    review_comment: str = ""
    history: tuple[HistoryEntry, ...] = ()

    @property
    def has_result(self) -> bool:
        return self.status in (Status.RESULTED, Status.REVIEWED)


class RepeatState(StrEnum):
    NOT_NEEDED = "not_needed"
    DUE = "due"  # a positive result waits for its confirmatory repeat
    TOO_EARLY = "too_early"  # a repeat was taken before the interval: it does not confirm persistence
    CONFIRMED = "confirmed"  # positive twice, far enough apart
    NOT_PERSISTENT = "not_persistent"  # the repeat after the interval was negative


@dataclass(frozen=True)
class RepeatStatus:
    state: RepeatState
    due_on: dt.date | None = None


def repeat_status(inv: Investigation, items: Sequence[WorkupItem]) -> RepeatStatus:
    """Persistence of a flagged result (antiphospholipid antibodies: >= 12 weeks apart, Miyakis 2006)."""
    if not inv.repeat_after_days:
        return RepeatStatus(RepeatState.NOT_NEEDED)
    dated = sorted((i for i in items if i.has_result and i.sample_date), key=lambda i: i.sample_date)  # type: ignore[arg-type, return-value]
    first = next((i for i in dated if i.interpretation and i.interpretation.flagged), None)
    if first is None or first.sample_date is None:
        return RepeatStatus(RepeatState.NOT_NEEDED)
    due = first.sample_date + dt.timedelta(days=inv.repeat_after_days)
    later = [i for i in dated if i.sample_date and i.sample_date > first.sample_date]
    valid = [i for i in later if i.sample_date and i.sample_date >= due]
    if valid:
        repeat = valid[0]
        flagged = bool(repeat.interpretation and repeat.interpretation.flagged)
        return RepeatStatus(RepeatState.CONFIRMED if flagged else RepeatState.NOT_PERSISTENT, due)
    if later:
        return RepeatStatus(RepeatState.TOO_EARLY, due)
    return RepeatStatus(RepeatState.DUE, due)


class PanelState(StrEnum):
    NOT_DONE = "not_done"
    REQUESTED = "requested"
    PENDING = "pending"  # sample taken, no result yet
    RESULT = "result"  # resulted, not yet reviewed
    REPEAT_DUE = "repeat_due"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class PanelEntry:
    investigation: Investigation
    state: PanelState
    latest: WorkupItem | None
    interpretation: Interpretation | None
    repeat: RepeatStatus
    items: tuple[WorkupItem, ...] = field(default=())

    @property
    def done(self) -> bool:
        return any(i.has_result for i in self.items)


@dataclass(frozen=True)
class Completeness:
    done: int
    total: int
    missing: tuple[Investigation, ...]


def _entry(inv: Investigation, items: Sequence[WorkupItem]) -> PanelEntry:
    ordered = sorted(items, key=lambda i: (i.sample_date or i.requested_on or dt.date.min, i.id))
    latest = ordered[-1] if ordered else None
    resulted = [i for i in ordered if i.has_result]
    repeat = repeat_status(inv, ordered)
    interp = resulted[-1].interpretation if resulted else None
    if latest is None:
        state = PanelState.NOT_DONE
    elif repeat.state in (RepeatState.DUE, RepeatState.TOO_EARLY) and latest.has_result:
        state = PanelState.REPEAT_DUE
    elif latest.status is Status.REQUESTED:
        state = PanelState.REQUESTED
    elif latest.status is Status.SAMPLE_TAKEN:
        state = PanelState.PENDING
    elif latest.status is Status.RESULTED:
        state = PanelState.RESULT
    else:
        state = PanelState.REVIEWED
    return PanelEntry(inv, state, latest, interp, repeat, tuple(ordered))


def build_panel(catalogue: Catalogue, items: Sequence[WorkupItem]) -> dict[str, list[PanelEntry]]:
    """Per domain: the clinic protocol's items, then anything else recorded for this patient."""
    by_inv: dict[str, list[WorkupItem]] = {}
    for it in items:
        by_inv.setdefault(it.investigation_id, []).append(it)
    shown = list(catalogue.protocol.items) + [
        i for i in catalogue.investigations if i in by_inv and i not in catalogue.protocol.items
    ]
    panel: dict[str, list[PanelEntry]] = {d: [] for d in DOMAINS}
    for iid in shown:
        inv = catalogue.get(iid)
        panel[inv.domain].append(_entry(inv, by_inv.get(iid, [])))
    return panel


def completeness(catalogue: Catalogue, items: Sequence[WorkupItem]) -> Completeness:
    done_ids = {i.investigation_id for i in items if i.has_result}
    proto = catalogue.protocol.items
    missing = tuple(catalogue.get(i) for i in proto if i not in done_ids)
    return Completeness(len(proto) - len(missing), len(proto), missing)


def result_problems(inv: Investigation, value: ResultValue) -> tuple[ResultValue, dict[str, str]]:
    """Check a typed result against its investigation; returns the cleaned value and field problems."""
    check_types(value, ResultValue)
    problems: dict[str, str] = {}
    v = replace(value, text=value.text.strip(), unit=value.unit.strip(), method=value.method.strip())
    if inv.result_type == "numeric":
        if v.numeric is None:
            problems["value"] = f"Type the {inv.name} value."
        elif v.unit not in inv.units:
            problems["unit"] = f"{inv.name} is recorded in {', '.join(inv.units)}."
        else:
            p = inv.plausibility_problem(v.numeric, v.unit)
            if p:
                problems["value"] = p
        if v.lab_low is not None and v.lab_high is not None and v.lab_low >= v.lab_high:
            problems["lab_range"] = "The laboratory range's lower limit must be below its upper limit."
        return replace(v, text="", findings=(), method=""), problems
    if inv.result_type == "qualitative":
        if v.text not in QUALITATIVE:
            problems["value"] = "Choose positive, negative or equivocal."
        return ResultValue(text=v.text), problems
    if inv.result_type == "categorical":
        if v.text not in inv.categories:
            problems["value"] = f"Choose one of: {', '.join(inv.categories)}."
        return ResultValue(text=v.text), problems
    bad = [f for f in v.findings if f not in inv.categories]
    if not v.findings or bad:
        problems["value"] = f"Choose findings from: {', '.join(inv.categories)}."
    elif "normal" in v.findings and len(v.findings) > 1:
        problems["value"] = "'normal' cannot be combined with other findings."
    if v.method not in inv.methods:
        problems["method"] = f"Choose the method: {', '.join(inv.methods)}."
    return ResultValue(findings=tuple(v.findings), method=v.method), problems


def assess(inv: Investigation, value: ResultValue) -> tuple[float | None, Interpretation]:
    """The value in the catalogue's unit and its interpretation (a typed laboratory range is converted too)."""

    def canonical(x: float | None) -> float | None:
        return inv.normalise(x, value.unit) if x is not None else None

    normalised = canonical(value.numeric)
    interpretation = inv.interpret(
        numeric=normalised,
        text=value.text,
        findings=value.findings,
        lab_low=canonical(value.lab_low),
        lab_high=canonical(value.lab_high),
    )
    return normalised, interpretation
