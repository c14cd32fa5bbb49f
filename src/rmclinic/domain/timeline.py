"""The patient timeline, laid out once in pure Python and drawn twice: by Qt on screen and by ReportLab on paper.

``build_timeline`` decides *what* is shown and *where on the axis* (days from the axis origin, lane and row);
``place`` turns that into drawing primitives with coordinates in points (origin top left, y downwards) for a
given width. Both drawers only copy the primitives, so the screen and the printout cannot disagree.

Meaning is never carried by colour alone: every mark has a shape, a fill (abnormal and critical marks are
filled) and a text label, so the picture reads in black and white.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .dating import TERM_DAYS, gestation_days_on
from .followup import (
    KIND_LABELS,
    SHORT_CERVIX_MM,
    SWAB_LABELS,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    SwabResult,
    is_short_cervix,
)
from .gestation import format_days
from .medication import FREQUENCY_LABELS, MedicationPlan, PlanStatus, segments
from .obstetric import BIRTH_OUTCOMES, LOSS_OUTCOMES, Outcome, PreviousPregnancy, TissueGenetics
from .pregnancy import CurrentPregnancy
from .visit import VISIT_TYPE_LABELS, Visit, VisitStatus, VisitType
from .workup import WorkupItem


class Shape(StrEnum):
    CIRCLE = "circle"
    SQUARE = "square"
    TRIANGLE = "triangle"
    DIAMOND = "diamond"
    CROSS = "cross"
    BAR = "bar"


class Lane(StrEnum):
    PREGNANCIES = "pregnancies"
    TREATMENT = "treatment"
    INVESTIGATIONS = "investigations"
    FOLLOW_UPS = "follow_ups"
    CERVIX = "cervix"
    ALERTS = "alerts"
    VISITS = "visits"


LANE_LABELS = {
    Lane.PREGNANCIES: "Pregnancies",
    Lane.TREATMENT: "Medication",
    Lane.INVESTIGATIONS: "Investigations",
    Lane.FOLLOW_UPS: "Swabs and visits",
    Lane.CERVIX: "Cervical length (mm)",
    Lane.ALERTS: "Alerts",
    Lane.VISITS: "Clinic visits",
}

# Colours for the screen; the printed picture relies on shape, fill and text (see the module docstring).
PALETTE: dict[str, str] = {
    "ink": "#1f2933",
    "muted": "#7b8794",
    "grid": "#d9dee3",
    "band": "#eef2f6",
    "today": "#0b6bcb",
    "loss": "#8e2c48",
    "birth": "#2f7d4f",
    "other": "#52606d",
    "current": "#0b6bcb",
    "dose": "#3d6fb6",
    "taper": "#8fb1e0",
    "stop": "#1f2933",
    "normal": "#2f7d4f",
    "abnormal": "#b3261e",
    "due": "#52606d",
    "missed": "#b3261e",
    "critical": "#b3261e",
    "warning": "#b26a00",
    "info": "#3d6fb6",
}


@dataclass(frozen=True)
class ItemRef:
    """What clicking a mark opens: kind is history | pregnancy | plan | follow_up | workup | alert | visit."""

    kind: str
    key: str


@dataclass(frozen=True)
class AlertMark:
    """An alert as the timeline needs it (the rules layer sits above the domain, so it is handed in)."""

    rule_id: str
    title: str
    severity: str  # critical | warning | info
    on: dt.date
    episode: str = ""


@dataclass(frozen=True)
class Mark:
    lane: Lane
    x: float  # days from the panel's origin
    shape: Shape
    label: str
    detail: str
    style: str  # a PALETTE key
    filled: bool = False  # abnormal, positive, critical
    x_end: float | None = None  # bars: exclusive end
    value: float | None = None  # plotted value (cervical length, mm)
    ref: ItemRef | None = None
    row: int = 0
    hatched: bool = False  # taper steps: a pattern, not only a lighter colour
    open_end: bool = False  # a bar with no planned stop


@dataclass(frozen=True)
class Panel:
    title: str
    axis: str  # "calendar" or "gestation"
    origin: dt.date  # day 0 of the axis (for gestation: 0+0)
    length: int  # days shown
    ticks: tuple[tuple[float, str], ...]
    lanes: tuple[Lane, ...]
    rows: Mapping[Lane, int]
    marks: tuple[Mark, ...]
    today: float | None = None
    today_label: str = ""
    bands: tuple[tuple[float, float, str], ...] = ()  # shaded spans with a caption
    reference_value: float | None = None  # the 25 mm line of the cervix lane
    value_max: float = 50.0


@dataclass(frozen=True)
class TimelineLayout:
    panels: tuple[Panel, ...]
    today: dt.date

    def marks(self) -> list[Mark]:
        return [m for p in self.panels for m in p.marks]


# -- building the layout ---------------------------------------------------------------------------------------

_OUTCOME_SHORT = {
    Outcome.LIVE_BIRTH: "Live birth",
    Outcome.BIOCHEMICAL: "Biochemical loss",
    Outcome.EARLY_MISCARRIAGE: "Miscarriage",
    Outcome.LATE_MISCARRIAGE: "Late miscarriage",
    Outcome.STILLBIRTH: "Stillbirth",
    Outcome.ECTOPIC: "Ectopic",
    Outcome.MOLAR: "Molar",
    Outcome.TERMINATION: "Termination",
}
_TISSUE = {
    TissueGenetics.NORMAL: "tissue normal",
    TissueGenetics.ABNORMAL_NUMERICAL: "tissue aneuploid",
    TissueGenetics.UNBALANCED_STRUCTURAL: "tissue unbalanced",
    TissueGenetics.BALANCED: "tissue balanced",
    TissueGenetics.FAILED: "tissue failed",
}
_SEVERITY_SHAPE = {
    "critical": (Shape.TRIANGLE, True),
    "warning": (Shape.TRIANGLE, False),
    "info": (Shape.CIRCLE, False),
}


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def _history_date(p: PreviousPregnancy) -> tuple[dt.date, bool]:
    """The pregnancy's end date, or mid-year when only the year is known (flagged approximate)."""
    if p.date is not None:
        return p.date, False
    return dt.date(p.year, 7, 1), True


def _pack(marks: list[Mark], char_days: float) -> list[Mark]:
    """Give marks of a lane rows so that neither their extents nor their labels overlap."""
    ends: list[float] = []  # per row: the last x used
    out: list[Mark] = []
    for m in sorted(marks, key=lambda m: (m.x, m.label)):
        right = max(m.x_end if m.x_end is not None else m.x, m.x + len(m.label) * char_days) + char_days
        for row, end in enumerate(ends):
            if m.x > end:
                ends[row] = right
                break
        else:
            row = len(ends)
            ends.append(right)
        out.append(_with_row(m, row))
    return out


def _with_row(m: Mark, row: int) -> Mark:
    return Mark(
        m.lane, m.x, m.shape, m.label, m.detail, m.style, m.filled, m.x_end, m.value, m.ref, row, m.hatched, m.open_end
    )


def _result_mark(item: WorkupItem, x: float, names: Mapping[str, str], lane: Lane = Lane.INVESTIGATIONS) -> Mark | None:
    if item.value is None:
        return None
    name = names.get(item.investigation_id, item.investigation_id)
    flagged = item.interpretation is not None and item.interpretation.flagged
    v = item.value
    value = f"{v.numeric:g} {v.unit}".strip() if v.numeric is not None else (v.text or ", ".join(v.findings))
    when = item.sample_date or (item.entered_at.date() if item.entered_at else None)
    interp = item.interpretation.value if item.interpretation else "not interpreted"
    detail = f"{name}: {value} ({interp})" + (f", sample {_fmt(when)}" if when else "")
    return Mark(
        lane,
        x,
        Shape.DIAMOND if flagged else Shape.CIRCLE,
        name if flagged else "",
        detail,
        "abnormal" if flagged else "normal",
        filled=flagged,
        ref=ItemRef("workup", str(item.id)),
    )


def _result_day(item: WorkupItem) -> dt.date | None:
    if item.value is None:
        return None
    return item.sample_date or (item.entered_at.date() if item.entered_at else None)


def _plan_marks(plan: MedicationPlan, edd: dt.date | None, to_x: _ToX, panel_end: float, row: int) -> list[Mark]:
    """One bar per dose period (taper steps hatched) and a stop mark, all on the plan's own row."""
    out: list[Mark] = []
    ref = ItemRef("plan", str(plan.id))
    name = plan.display_name
    unit = plan.display_unit
    stop = plan.stop_date(edd)
    for i, seg in enumerate(segments(plan, edd)):
        # A course started before the axis begins (e.g. aspirin before conception) starts at its edge; the
        # detail keeps the real date.
        x0 = max(0.0, to_x(seg.start))
        x1 = max(x0 + 1, to_x(seg.end)) if seg.end is not None else max(panel_end, x0 + 1)
        dose = f"{seg.dose:g} {unit} {FREQUENCY_LABELS[seg.frequency]}"
        until = f" until {_fmt(seg.end - dt.timedelta(days=1))}" if seg.end is not None else " (no planned stop)"
        label = f"{name} {dose}" if i == 0 else (f"taper {seg.dose:g} {unit}" if seg.taper else f"{seg.dose:g} {unit}")
        out.append(
            Mark(
                Lane.TREATMENT,
                x0,
                Shape.BAR,
                label,
                f"{name} {dose} from {_fmt(seg.start)}{until}" + (" (taper step)" if seg.taper else ""),
                "taper" if seg.taper else "dose",
                x_end=x1,
                ref=ref,
                row=row,
                hatched=seg.taper,
                open_end=seg.end is None,
            )
        )
    if stop is not None and out:
        early = plan.stopped_on is not None and plan.stopped_on == stop
        why = f" ({plan.stop_reason})" if early and plan.stop_reason else ""
        out.append(
            Mark(
                Lane.TREATMENT,
                to_x(stop),
                Shape.CROSS,
                "stopped" if early else "stop",
                f"{name}: first day without a dose {_fmt(stop)}" + (" — stopped early" + why if early else ""),
                "stop",
                ref=ref,
                row=row,
            )
        )
    return out


class _ToX:
    def __init__(self, origin: dt.date) -> None:
        self.origin = origin

    def __call__(self, d: dt.date) -> float:
        return float((d - self.origin).days)


_KIND_SHORT = {
    FollowUpKind.SWAB: "swab",
    FollowUpKind.CERVICAL_LENGTH_SCAN: "scan",
    FollowUpKind.BLOOD_TEST: "blood",
    FollowUpKind.APPOINTMENT: "visit",
}


def _follow_up_mark(f: FollowUp, x: float, ga_label: str) -> Mark | None:
    if f.status is FollowUpStatus.CANCELLED:
        return None
    ref = ItemRef("follow_up", str(f.id))
    kind = KIND_LABELS[f.kind] + (f" ({f.title})" if f.title else "")
    when = f"{_fmt(f.result_date or f.due_date)}" + (f", {ga_label}" if ga_label else "")
    short = _KIND_SHORT[f.kind]
    if f.status is FollowUpStatus.MISSED:
        return Mark(
            Lane.FOLLOW_UPS, x, Shape.CROSS, f"{short} missed", f"{kind} missed (due {when})", "missed", ref=ref
        )
    if f.status is FollowUpStatus.DUE:
        return Mark(Lane.FOLLOW_UPS, x, Shape.SQUARE, f"{short} due", f"{kind} due {when}", "due", ref=ref)
    if f.kind is FollowUpKind.SWAB and f.swab_result is not None:
        shape, label, filled = {
            SwabResult.NEGATIVE: (Shape.CIRCLE, "neg", False),
            SwabResult.ORGANISM: (Shape.TRIANGLE, "organism", True),
            SwabResult.BV: (Shape.DIAMOND, "BV", True),
        }[f.swab_result]
        organism = f": {f.organism}" if f.organism else ""
        return Mark(
            Lane.FOLLOW_UPS,
            x,
            shape,
            label,
            f"{kind} {when}: {SWAB_LABELS[f.swab_result]}{organism}",
            "abnormal" if filled else "normal",
            filled=filled,
            ref=ref,
        )
    return Mark(Lane.FOLLOW_UPS, x, Shape.CIRCLE, f"{short} done", f"{kind} done {when}", "normal", ref=ref)


def _calendar_ticks(start: dt.date, end: dt.date, to_x: _ToX) -> tuple[tuple[float, str], ...]:
    span = (end - start).days
    ticks = []
    if span > 3 * 366:
        step = max(1, span // 366 // 10)
        for year in range(start.year + 1, end.year + 1, step):
            ticks.append((to_x(dt.date(year, 1, 1)), str(year)))
    else:
        months = 3 if span > 366 else 1
        y, m = start.year, start.month
        while True:
            m += months
            y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
            day = dt.date(y, m, 1)
            if day >= end:
                break
            ticks.append((to_x(day), day.strftime("%b %Y")))
    return tuple(ticks)


def build_timeline(
    *,
    today: dt.date,
    history: Sequence[PreviousPregnancy] = (),
    workup: Sequence[WorkupItem] = (),
    investigation_names: Mapping[str, str] | None = None,
    pregnancy: CurrentPregnancy | None = None,
    ended: Sequence[CurrentPregnancy] = (),
    plans: Sequence[MedicationPlan] = (),
    follow_ups: Sequence[FollowUp] = (),
    alerts: Sequence[AlertMark] = (),
    visits: Sequence[Visit] = (),
) -> TimelineLayout:
    """The whole story: previous pregnancies, workup and past treatment on a calendar axis; the open
    pregnancy on a gestational-week axis with medication, follow-ups, cervical length, results and alerts."""
    names = investigation_names or {}
    edds = {p.id: p.edd for p in (*ended, *([pregnancy] if pregnancy else []))}
    panels = []
    current_plans = [
        p
        for p in plans
        if pregnancy is not None and p.pregnancy_id == pregnancy.id and p.status is not PlanStatus.CANCELLED
    ]
    current_ids = {id(p) for p in current_plans}

    # -- the calendar panel: the whole history ---------------------------------------------------------------
    dates = [_history_date(p)[0] for p in history]
    dates += [d for d in (_result_day(i) for i in workup) if d is not None]
    dates += [p.start for p in plans]
    shown_visits = [v for v in visits if v.status is not VisitStatus.CANCELLED]
    dates += [v.date for v in shown_visits]
    if pregnancy is not None:
        dates.append(pregnancy.edd - dt.timedelta(days=TERM_DAYS))
    if not pregnancy:
        dates += [a.on for a in alerts]
    if dates:
        first = min(*dates, today)
        start = dt.date(first.year, first.month, 1) - dt.timedelta(days=31)
        last = max([today, *(v.date for v in shown_visits)])  # a booked visit may lie ahead
        end = last + dt.timedelta(days=max(31, (last - start).days // 20))
        to_x = _ToX(start)
        length = (end - start).days
        char_days = length / 170  # ~170 characters across the panel at its usual width
        marks: list[Mark] = []
        preg_marks = []
        for i, p in enumerate(history):
            day, approx = _history_date(p)
            loss = p.outcome in LOSS_OUTCOMES
            shape, filled, style = (
                (Shape.TRIANGLE, True, "loss")
                if loss
                else (Shape.SQUARE, True, "loss")
                if p.outcome is Outcome.STILLBIRTH
                else (Shape.CIRCLE, False, "birth")
                if p.outcome in BIRTH_OUTCOMES
                else (Shape.DIAMOND, False, "other")
            )
            ga = format_days(p.gestation_days) if p.gestation_days is not None else ""
            bits = [_OUTCOME_SHORT[p.outcome] + (f" {ga}" if ga else "")]
            if p.fetuses == 2:
                bits.append("twins")
            elif p.fetuses > 2:
                bits.append(f"{p.fetuses} fetuses")
            if p.tissue_genetics in _TISSUE:
                bits.append(_TISSUE[p.tissue_genetics])
            when = str(p.year) + " (year only)" if approx else _fmt(day)
            extra = [f"conceived by {'ART' if p.conception.value == 'art' else 'spontaneous conception'}"]
            if p.preterm_birth:
                extra.append("preterm birth")
            if p.notes:
                extra.append(p.notes)
            preg_marks.append(
                Mark(
                    Lane.PREGNANCIES,
                    to_x(day),
                    shape,
                    ", ".join(bits),
                    f"{when}: " + ", ".join(bits) + "; " + "; ".join(extra),
                    style,
                    filled=filled,
                    ref=ItemRef("history", str(i)),
                )
            )
        if pregnancy is not None:
            day0 = pregnancy.edd - dt.timedelta(days=TERM_DAYS)
            ga_now = pregnancy.gestation_on(today)
            preg_marks.append(
                Mark(
                    Lane.PREGNANCIES,
                    to_x(day0),
                    Shape.BAR,
                    f"This pregnancy {ga_now}" if ga_now else "This pregnancy",
                    f"Current pregnancy, EDD {_fmt(pregnancy.edd)}" + (f", {ga_now} today" if ga_now else ""),
                    "current",
                    x_end=to_x(today) + 1,
                    ref=ItemRef("pregnancy", str(pregnancy.id)),
                )
            )
        marks += _pack(preg_marks, char_days)
        row = 0
        past_plans = []
        for plan in sorted(plans, key=lambda p: p.start):
            if id(plan) in current_ids or plan.status is PlanStatus.CANCELLED:
                continue
            past_plans += _plan_marks(plan, edds.get(plan.pregnancy_id), to_x, to_x(today) + 1, row)
            row += 1
        marks += past_plans
        results = [m for i in workup if (d := _result_day(i)) and (m := _result_mark(i, to_x(d), names))]
        marks += _pack(results, char_days)
        marks += _pack([_visit_mark(v, to_x(v.date)) for v in shown_visits], char_days)
        if pregnancy is None:
            marks += _alert_marks(alerts, to_x, char_days)
        lanes = tuple(
            lane
            for lane in (Lane.PREGNANCIES, Lane.VISITS, Lane.TREATMENT, Lane.INVESTIGATIONS, Lane.ALERTS)
            if any(m.lane is lane for m in marks) or lane is Lane.PREGNANCIES
        )
        panels.append(
            Panel(
                "History",
                "calendar",
                start,
                length,
                _calendar_ticks(start, end, to_x),
                lanes,
                _rows(marks, lanes),
                tuple(marks),
                to_x(today),
                f"Today {_fmt(today)}",
            )
        )

    # -- the gestation panel: the open pregnancy -------------------------------------------------------------
    if pregnancy is not None:
        edd = pregnancy.edd
        day0 = edd - dt.timedelta(days=TERM_DAYS)
        to_x = _ToX(day0)
        today_ga = gestation_days_on(edd, today)
        length = max(TERM_DAYS + 7, today_ga + 14)
        char_days = length / 170
        marks = []
        for row, plan in enumerate(sorted(current_plans, key=lambda p: p.start)):
            marks += _plan_marks(plan, edd, to_x, float(length), row)
        fus = [f for f in follow_ups if f.pregnancy_id == pregnancy.id]
        swabs = []
        for f in fus:
            day = f.result_date or f.due_date
            if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.status is FollowUpStatus.DONE:
                mm = f.cervical_length_mm
                if mm is None:
                    continue
                ga_days = gestation_days_on(edd, day)
                short = is_short_cervix(mm, ga_days)
                funnel = ", funnelling" if f.funnelling else ""
                marks.append(
                    Mark(
                        Lane.CERVIX,
                        to_x(day),
                        Shape.CIRCLE,
                        f"{mm:g} mm" + (" short" if short else ""),
                        f"Cervical length {mm:g} mm{funnel} on {_fmt(day)} ({format_days(ga_days)})"
                        + (" — 25 mm or less between 16+0 and 24+0 (NICE NG25)" if short else ""),
                        "abnormal" if short else "normal",
                        filled=short,
                        value=mm,
                        ref=ItemRef("follow_up", str(f.id)),
                    )
                )
                continue
            ga_days = gestation_days_on(edd, day)
            m = _follow_up_mark(f, to_x(day), format_days(ga_days) if 0 <= ga_days <= 45 * 7 else "")
            if m is not None:
                swabs.append(m)
        swabs += [
            _visit_mark(v, to_x(v.date), Lane.FOLLOW_UPS) for v in shown_visits if 0 <= (v.date - day0).days <= length
        ]
        marks += _pack(swabs, char_days)
        results = []
        for item in workup:
            d = _result_day(item)
            if d is not None and day0 <= d <= today:
                m = _result_mark(item, to_x(d), names)
                if m is not None:
                    results.append(m)
        marks += _pack(results, char_days)
        marks += _alert_marks(alerts, to_x, char_days)
        lanes = tuple(
            lane
            for lane in (Lane.TREATMENT, Lane.FOLLOW_UPS, Lane.CERVIX, Lane.INVESTIGATIONS, Lane.ALERTS)
            if any(m.lane is lane for m in marks) or lane is Lane.TREATMENT
        )
        has_cervix = Lane.CERVIX in lanes or any(f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN for f in fus)
        if has_cervix and Lane.CERVIX not in lanes:
            lanes = (*lanes[:2], Lane.CERVIX, *lanes[2:])
        ga_now = pregnancy.gestation_on(today)
        panels.append(
            Panel(
                "This pregnancy (weeks of gestation)",
                "gestation",
                day0,
                length,
                tuple((float(w * 7), f"{w}w") for w in range(0, length // 7 + 1, 2)),
                lanes,
                _rows(marks, lanes),
                tuple(marks),
                float(today_ga) if 0 <= today_ga <= length else None,
                f"Today {ga_now}" if ga_now else "Today",
                ((16 * 7.0, 24 * 7.0 + 1, "16+0 to 24+0"),) if has_cervix else (),
                SHORT_CERVIX_MM if has_cervix else None,
                max([50.0, *(m.value or 0 for m in marks if m.lane is Lane.CERVIX)]),
            )
        )
    return TimelineLayout(tuple(panels), today)


_VISIT_SHORT = {
    VisitType.FIRST: "first visit",
    VisitType.FOLLOW_UP: "clinic",
    VisitType.EARLY_PREGNANCY: "early pregnancy review",
    VisitType.SCAN: "scan visit",
    VisitType.TELEPHONE: "telephone",
}


def _visit_mark(v: Visit, x: float, lane: Lane = Lane.VISITS) -> Mark:
    """Attended ● (open), booked ■ (open, "booked"), did not attend ✕."""
    ref = ItemRef("visit", str(v.id))
    what = VISIT_TYPE_LABELS[v.type] + (f" with {v.clinician}" if v.clinician else "")
    if v.status is VisitStatus.BOOKED:
        return Mark(lane, x, Shape.SQUARE, "visit booked", f"{what} booked for {_fmt(v.date)}", "due", ref=ref)
    if v.status is VisitStatus.DID_NOT_ATTEND:
        return Mark(
            lane, x, Shape.CROSS, "did not attend", f"{what} on {_fmt(v.date)}: did not attend", "missed", ref=ref
        )
    nxt = f"; next visit {_fmt(v.next_visit)}" if v.next_visit else ""
    return Mark(lane, x, Shape.CIRCLE, _VISIT_SHORT[v.type], f"{what} on {_fmt(v.date)}{nxt}", "current", ref=ref)


def _alert_marks(alerts: Sequence[AlertMark], to_x: _ToX, char_days: float) -> list[Mark]:
    out = []
    for a in alerts:
        shape, filled = _SEVERITY_SHAPE.get(a.severity, (Shape.CIRCLE, False))
        out.append(
            Mark(
                Lane.ALERTS,
                max(0.0, to_x(a.on)),
                shape,
                a.rule_id,
                f"{a.severity.capitalize()} {a.rule_id}: {a.title} (since {_fmt(a.on)})",
                a.severity if a.severity in PALETTE else "info",
                filled=filled,
                ref=ItemRef("alert", f"{a.rule_id}|{a.episode}"),
            )
        )
    return _pack(out, char_days)


def _rows(marks: Sequence[Mark], lanes: Sequence[Lane]) -> dict[Lane, int]:
    return {lane: max([0, *(m.row for m in marks if m.lane is lane)]) + 1 for lane in lanes}


# -- placing it on a page or a screen ------------------------------------------------------------------------


@dataclass(frozen=True)
class Prim:
    """One drawing instruction. Coordinates are points from the top left; y grows downwards."""

    op: str  # rect | line | text | marker | polyline
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0  # rect width; line/marker: x2 or size
    h: float = 0.0  # rect height; line: y2
    style: str = "ink"
    filled: bool = False
    shape: Shape | None = None
    text: str = ""
    size: float = 8.0  # font size or stroke width
    bold: bool = False
    anchor: str = "start"  # start | middle | end (text)
    dashed: bool = False
    hatched: bool = False
    points: tuple[tuple[float, float], ...] = ()
    mark: int | None = None  # index into Drawing.marks: hover text and what a click opens


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    prims: tuple[Prim, ...]
    marks: tuple[Mark, ...] = ()
    lane_boxes: tuple[tuple[int, Lane, float, float], ...] = field(default=())  # panel, lane, top, height

    def x_of(self, panel: int, x_days: float) -> float:
        """Where a day of a panel's axis lands (tests and click handling use it)."""
        return self._scales[panel][0] + x_days * self._scales[panel][1]

    @property
    def _scales(self) -> tuple[tuple[float, float], ...]:
        return tuple((p.x, p.w) for p in self.prims if p.op == "scale")


LABEL_W = 110.0  # lane captions on the left
ROW_H = 16.0
CERVIX_H = 90.0
AXIS_H = 18.0
TITLE_H = 18.0
GAP = 14.0
FONT = 7.5
MARK = 7.0
LABEL = 6.5  # mark labels
TITLE = 10.0


def text_width(text: str, size: float, bold: bool = False) -> float:
    """A slightly generous estimate of a label's width in DejaVu Sans (the printed font; most screen fonts are
    narrower), so that labels judged to fit do fit."""
    return len(text) * size * (0.67 if bold else 0.6)


def _fit_labels(prims: list[Prim], first: int, marks: Sequence[Mark], width: float) -> None:
    """Shorten (with "…") or drop mark labels that would run into the next thing on their row; the full text
    stays in the mark's detail. Bar labels sit above their bar, so only other bar labels can get in their
    way; marker labels sit level with the bars and markers of the row. The cervix lane plots values, not
    rows, and is left alone."""

    def key(p: Prim) -> tuple[Lane, int, bool] | None:
        if p.mark is None or p.op == "scale":
            return None
        m = marks[p.mark]
        if m.lane is Lane.CERVIX:
            return None
        above = p.op == "text" and m.shape is Shape.BAR
        return (m.lane, m.row, above)

    starts: dict[tuple[Lane, int, bool], list[tuple[float, int]]] = {}
    for p in prims[first:]:
        k = key(p)
        if k is not None and p.mark is not None:
            left = p.x - p.w / 2 if p.op == "marker" else p.x
            starts.setdefault(k, []).append((left, p.mark))
    for i in range(first, len(prims)):
        p = prims[i]
        k = key(p)
        if p.op != "text" or k is None or not p.text:
            continue
        limit = min([width - 2] + [x - 3 for x, mi in starts[k] if mi != p.mark and x > p.x])
        room = limit - p.x
        if text_width(p.text, p.size, p.bold) <= room:
            continue
        n = int(room / text_width("x", p.size, p.bold)) - 1
        text = p.text[:n].rstrip(" ,(") + "…" if n >= 5 else ""  # "ta…" would say nothing
        prims[i] = Prim("text", p.x, p.y, text=text, size=p.size, bold=p.bold, style=p.style, mark=p.mark)


def place(layout: TimelineLayout, width: float) -> Drawing:
    """Drawing primitives for ``layout`` at ``width`` points."""
    prims: list[Prim] = []
    marks: list[Mark] = []
    boxes: list[tuple[int, Lane, float, float]] = []
    y = 0.0
    plot_w = max(width - LABEL_W - 12, 100.0)
    for pi, panel in enumerate(layout.panels):
        scale = plot_w / panel.length
        left = LABEL_W

        def px(x: float, left: float = left, scale: float = scale) -> float:
            return left + x * scale

        prims.append(Prim("scale", left, 0, scale))  # read back by Drawing.x_of; not drawn
        prims.append(Prim("text", 0, y + 12, text=panel.title, size=TITLE, bold=True))
        y += TITLE_H
        top = y
        lane_tops = []
        for lane in panel.lanes:
            h = CERVIX_H if lane is Lane.CERVIX else panel.rows.get(lane, 1) * ROW_H + 6
            lane_tops.append((lane, y, h))
            boxes.append((pi, lane, y, h))
            y += h
        bottom = y
        # The band is the cervical-length window: its caption goes in that lane, clear of the medication bars
        # (a course often stops on the band's first day) and of the short values that matter.
        caption_y = next((ly for lane, ly, _h in lane_tops if lane is Lane.CERVIX), top) + 8
        for x0, x1, caption in panel.bands:
            prims.append(Prim("rect", px(x0), top, (x1 - x0) * scale, bottom - top, style="band", filled=True))
            prims.append(Prim("text", px(x0) + 2, caption_y, text=caption, size=6.5, style="muted"))
        for lane, ly, _lh in lane_tops:
            prims.append(Prim("line", 0, ly, width, ly, style="grid", size=0.5))
            prims.append(Prim("text", 2, ly + 11, text=LANE_LABELS[lane], size=FONT, bold=True))
        prims.append(Prim("line", 0, bottom, width, bottom, style="grid", size=0.5))
        for x, label in panel.ticks:
            prims.append(Prim("line", px(x), top, px(x), bottom, style="grid", size=0.3, dashed=True))
            prims.append(Prim("text", px(x), bottom + 11, text=label, size=6.5, anchor="middle", style="muted"))
        lane_y = {lane: (ly, lh) for lane, ly, lh in lane_tops}
        cervix = lane_y.get(Lane.CERVIX, (0.0, CERVIX_H))

        def vy(v: float, ly: float = cervix[0], lh: float = cervix[1], vmax: float = panel.value_max) -> float:
            return ly + lh - 6 - (min(v, vmax) / vmax) * (lh - 16)

        ref_y: float | None = None
        if Lane.CERVIX in lane_y and panel.reference_value is not None:
            ref_y = vy(panel.reference_value)
            prims.append(Prim("line", left, ref_y, width, ref_y, style="abnormal", size=0.8, dashed=True))
            prims.append(
                Prim("text", width - 2, ref_y - 2, text=f"{panel.reference_value:g} mm", size=6.5, anchor="end")
            )
            for v in (0.0, panel.value_max):
                prims.append(Prim("text", left - 3, vy(v) + 2, text=f"{v:g}", size=6, anchor="end", style="muted"))
            points = sorted((px(m.x), vy(m.value)) for m in panel.marks if m.lane is Lane.CERVIX and m.value)
            if len(points) > 1:
                prims.append(Prim("polyline", points=tuple(points), style="muted", size=0.8))
        first_mark_prim = len(prims)
        for m in panel.marks:
            ly = lane_y[m.lane][0]
            idx = len(marks)
            marks.append(m)
            cy = ly + 3 + m.row * ROW_H + ROW_H / 2
            if m.lane is Lane.CERVIX and m.value is not None:
                cy = vy(m.value)
            if m.shape is Shape.BAR:
                x0, x1 = px(m.x), px(m.x_end if m.x_end is not None else m.x + 1)
                prims.append(
                    Prim(
                        "rect",
                        x0,
                        cy - 5,
                        max(x1 - x0, 1.5),
                        10,
                        style=m.style,
                        filled=not m.hatched,
                        hatched=m.hatched,
                        dashed=m.open_end,
                        mark=idx,
                    )
                )
                prims.append(Prim("text", x0 + 2, cy - 6.5, text=m.label, size=LABEL, mark=idx))
                continue
            prims.append(Prim("marker", px(m.x), cy, MARK, style=m.style, filled=m.filled, shape=m.shape, mark=idx))
            if m.label:
                ty = cy + 2.5
                if m.lane is Lane.CERVIX and ref_y is not None and ty - LABEL - 1 < ref_y < ty + 2:
                    # a value close to 25 mm: its label goes off the dashed line, on the value's side of it
                    ty = ref_y + LABEL + 1.5 if cy >= ref_y else ref_y - 2.5
                prims.append(Prim("text", px(m.x) + MARK / 2 + 2, ty, text=m.label, size=LABEL, mark=idx))
        _fit_labels(prims, first_mark_prim, marks, width)
        if panel.today is not None:
            tx = px(panel.today)
            prims.append(Prim("line", tx, top, tx, bottom, style="today", size=1.2))
            # On the title's line: right of the today line, or left of it near the right edge; never over
            # the panel's title.
            label_w = text_width(panel.today_label, 7, bold=True)
            tx_label, anchor = max(tx + 2, text_width(panel.title, TITLE, bold=True) + 6), "start"
            if tx_label + label_w > width:
                tx_label, anchor = tx - 2, "end"
            prims.append(
                Prim("text", tx_label, top - 3, text=panel.today_label, size=7, bold=True, style="today", anchor=anchor)
            )
        y = bottom + AXIS_H + GAP
    return Drawing(width, y, tuple(prims), tuple(marks), tuple(boxes))
