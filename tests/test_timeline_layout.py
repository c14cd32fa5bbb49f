"""``domain.timeline.place``: where today's line, the 16+0-24+0 band, the lanes and the labels land.

``sample_layout`` is the realistic record the Qt tests (test_ui_timeline.py) draw as well.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from rmclinic.domain.dating import DatingMethod, date_at, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus, SwabResult
from rmclinic.domain.medication import Anchor, DoseStep, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy, TissueGenetics
from rmclinic.domain.pregnancy import CurrentPregnancy
from rmclinic.domain.timeline import (
    AlertMark,
    Drawing,
    Lane,
    Prim,
    Shape,
    TimelineLayout,
    build_timeline,
    place,
    text_width,
)
from rmclinic.domain.workup import ResultValue, Status, WorkupItem, assess
from rmclinic.services.catalogue import merged_catalogue

TODAY = dt.date(2026, 11, 22)
CAT = merged_catalogue()
GA_TODAY = 22 * 7 + 3
PLAN_ID, SCAN_30, SCAN_24, SWAB_DUE = 21, 34, 35, 33
NEG, BV = SwabResult.NEGATIVE, SwabResult.BV


def pregnancy(ga_today: int = GA_TODAY) -> CurrentPregnancy:
    lmp = TODAY - dt.timedelta(days=ga_today)
    return CurrentPregnancy(1, (date_entry(DatingMethod.LMP, min(TODAY, lmp + dt.timedelta(days=35)), lmp=lmp),))


def result(item_id: int, iid: str, sample: dt.date, value: ResultValue) -> WorkupItem:
    normalised, interpretation = assess(CAT.get(iid), value)
    return WorkupItem(
        item_id,
        iid,
        Status.RESULTED,
        1,
        requested_on=sample,
        sample_date=sample,
        value=value,
        normalised=normalised,
        interpretation=interpretation,
    )


def sample_layout(ga_today: int = GA_TODAY) -> TimelineLayout:
    """Twins, an early and a late miscarriage (tissue aneuploid), a year-only loss; three results, one
    abnormal; a pregnancy ``ga_today`` days along with vaginal progesterone from 6+0 tapered in two steps
    (14+0, 15+0) to a stop at 16+0; swabs negative, BV and due; cervical length 30 mm at 16+0 and 24 mm at
    20+0; a critical alert."""
    p = pregnancy(ga_today)

    def ga(weeks: int) -> dt.date:
        return date_at(p.edd, weeks * 7)

    history = [
        PreviousPregnancy(2020, Outcome.LIVE_BIRTH, dt.date(2020, 5, 3), 35 * 7, fetuses=2, preterm_birth=True),
        PreviousPregnancy(2022, Outcome.EARLY_MISCARRIAGE, dt.date(2022, 3, 9), 8 * 7),
        PreviousPregnancy(
            2023,
            Outcome.LATE_MISCARRIAGE,
            dt.date(2023, 6, 10),
            18 * 7 + 2,
            tissue_genetics=TissueGenetics.ABNORMAL_NUMERICAL,
        ),
        PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE),
    ]
    sampled = dt.date(2025, 9, 1)
    workup = [
        result(11, "tsh", sampled, ResultValue(2.0, "mIU/L", lab_low=0.4, lab_high=4.0)),
        result(12, "la", sampled, ResultValue(text="positive")),
        result(13, "ft4", sampled, ResultValue(15.0, "pmol/L", lab_low=12.0, lab_high=22.0)),
    ]
    plan = MedicationPlan(
        "progesterone_vaginal",
        400,
        Frequency.TWICE_DAILY,
        ga(6),
        Indication.THREATENED_MISCARRIAGE,
        stop=Anchor(gestation_days=16 * 7),
        taper=(
            DoseStep(Anchor(gestation_days=14 * 7), 200, Frequency.TWICE_DAILY),
            DoseStep(Anchor(gestation_days=15 * 7), 200, Frequency.ONCE_DAILY),
        ),
        pregnancy_id=1,
        id=PLAN_ID,
    )
    done = FollowUpStatus.DONE
    follow_ups = [
        FollowUp(FollowUpKind.SWAB, ga(12), status=done, pregnancy_id=1, result_date=ga(12), swab_result=NEG, id=31),
        FollowUp(FollowUpKind.SWAB, ga(16), status=done, pregnancy_id=1, result_date=ga(16), swab_result=BV, id=32),
        FollowUp(FollowUpKind.SWAB, ga(24), pregnancy_id=1, id=SWAB_DUE),
        FollowUp(
            FollowUpKind.CERVICAL_LENGTH_SCAN,
            ga(16),
            status=done,
            pregnancy_id=1,
            result_date=ga(16),
            cervical_length_mm=30,
            id=SCAN_30,
        ),
        FollowUp(
            FollowUpKind.CERVICAL_LENGTH_SCAN,
            ga(20),
            status=done,
            pregnancy_id=1,
            result_date=ga(20),
            cervical_length_mm=24,
            id=SCAN_24,
        ),
    ]
    alerts = [AlertMark("R20", "Short cervix: consider progesterone or cerclage", "critical", min(ga(20), TODAY), "e1")]
    return build_timeline(
        today=TODAY,
        history=history,
        workup=workup,
        investigation_names={k: i.name for k, i in CAT.investigations.items()},
        pregnancy=p,
        plans=[plan],
        follow_ups=follow_ups,
        alerts=alerts,
    )


# -- helpers ---------------------------------------------------------------------------------------------------


def panel_index(layout: TimelineLayout, axis: str) -> int:
    return next(i for i, p in enumerate(layout.panels) if p.axis == axis)


def prims_of(drawing: Drawing, index: int) -> list[Prim]:
    return [p for p in drawing.prims if p.mark == index]


def mark_index(drawing: Drawing, kind: str, key: str, shape: Shape | None = None) -> int:
    return next(
        i
        for i, m in enumerate(drawing.marks)
        if m.ref is not None and (m.ref.kind, m.ref.key) == (kind, key) and (shape is None or m.shape is shape)
    )


def text_box(p: Prim) -> tuple[float, float, float, float]:
    """left, top, right, bottom of a text prim, by the layout's own width estimate."""
    w = text_width(p.text, p.size, p.bold)
    left = p.x - {"middle": w / 2, "end": w}.get(p.anchor, 0.0)
    return left, p.y - p.size, left + w, p.y + p.size * 0.25


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def today_label(drawing: Drawing, label: str) -> Prim:
    return next(p for p in drawing.prims if p.op == "text" and p.text == label)


# -- tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [500.0, 800.0, 1600.0])
def test_todays_line_is_at_todays_gestation_and_the_band_spans_16_to_24_weeks(width: float) -> None:
    layout = sample_layout()
    drawing = place(layout, width)
    gi = panel_index(layout, "gestation")
    top, bottom = _panel_span(drawing, gi)
    x_today = drawing.x_of(gi, GA_TODAY)
    lines = [p for p in drawing.prims if p.op == "line" and p.style == "today" and p.y == top]
    assert [(p.x, p.w, p.h) for p in lines] == [(pytest.approx(x_today), pytest.approx(x_today), bottom)]
    (band,) = [p for p in drawing.prims if p.op == "rect" and p.style == "band"]
    assert band.x == pytest.approx(drawing.x_of(gi, 16 * 7))
    assert band.x + band.w == pytest.approx(drawing.x_of(gi, 24 * 7 + 1))  # 24+0 is inside the band
    assert (band.y, band.y + band.h) == (top, bottom)
    # the history panel's today line is at today's date
    hi = panel_index(layout, "calendar")
    origin = layout.panels[hi].origin
    hx = drawing.x_of(hi, (TODAY - origin).days)
    assert any(p.op == "line" and p.style == "today" and p.x == pytest.approx(hx) for p in drawing.prims)


def _panel_span(drawing: Drawing, panel: int) -> tuple[float, float]:
    boxes = [(top, h) for pi, _lane, top, h in drawing.lane_boxes if pi == panel]
    return boxes[0][0], boxes[-1][0] + boxes[-1][1]


@pytest.mark.parametrize("width", [500.0, 1000.0])
def test_lanes_and_rows_do_not_overlap_and_marks_stay_in_their_lane(width: float) -> None:
    layout = sample_layout()
    drawing = place(layout, width)
    boxes = sorted((top, top + h) for _pi, _lane, top, h in drawing.lane_boxes)
    for (_t0, b0), (t1, _b1) in itertools.pairwise(boxes):
        assert b0 <= t1
    lane_box = {(pi, lane): (top, top + h) for pi, lane, top, h in drawing.lane_boxes}
    panel_of = [pi for pi, panel in enumerate(layout.panels) for _ in panel.marks]
    markers: dict[tuple[int, Lane, int], list[Prim]] = {}
    for p in drawing.prims:
        if p.op in ("marker", "rect") and p.mark is not None:
            m = drawing.marks[p.mark]
            top, bottom = lane_box[(panel_of[p.mark], m.lane)]
            h = p.h if p.op == "rect" else p.w / 2
            y0, y1 = (p.y, p.y + h) if p.op == "rect" else (p.y - h, p.y + h)
            assert top <= y0 and y1 <= bottom, (m.label, top, bottom, y0, y1)
            if m.lane is not Lane.CERVIX:
                markers.setdefault((panel_of[p.mark], m.lane, m.row), []).append(p)
    # within a row, the shapes of different items do not overlap (a plan's stop cross sits on its last bar's end)
    for row in markers.values():
        for a, b in itertools.combinations(row, 2):
            ra, rb = drawing.marks[a.mark].ref, drawing.marks[b.mark].ref
            if ra != rb:
                a0, a1 = _span(a)
                b0, b1 = _span(b)
                assert a1 <= b0 or b1 <= a0, (drawing.marks[a.mark].label, drawing.marks[b.mark].label)


def _span(p: Prim) -> tuple[float, float]:
    return (p.x, p.x + p.w) if p.op == "rect" else (p.x - p.w / 2, p.x + p.w / 2)


@pytest.mark.parametrize("width", [500.0, 700.0, 1000.0, 2000.0])
def test_mark_labels_never_overlap_and_stay_inside_the_width(width: float) -> None:
    drawing = place(sample_layout(), width)
    labels = [p for p in drawing.prims if p.op == "text" and p.mark is not None and p.text]
    for a, b in itertools.combinations(labels, 2):
        assert not overlaps(text_box(a), text_box(b)), (a.text, b.text)
    for p in labels:
        assert text_box(p)[2] <= width
    # shortened labels end in an ellipsis; the detail keeps the whole text
    for p in labels:
        full = drawing.marks[p.mark].label
        assert p.text == full or (p.text.endswith("…") and full.startswith(p.text[:-1]))


def test_a_wide_drawing_keeps_every_label_whole() -> None:
    drawing = place(sample_layout(), 4000.0)
    shown = {p.text for p in drawing.prims if p.op == "text" and p.mark is not None}
    assert {m.label for m in drawing.marks if m.label} <= shown


@pytest.mark.parametrize("ga_today", [5 * 7 + 2, 22 * 7 + 3, 41 * 7])
@pytest.mark.parametrize("width", [500.0, 900.0])
def test_the_today_label_clears_the_title_and_the_edge(ga_today: int, width: float) -> None:
    layout = sample_layout(ga_today)
    drawing = place(layout, width)
    for panel in layout.panels:
        label = today_label(drawing, panel.today_label)
        title = next(p for p in drawing.prims if p.op == "text" and p.text == panel.title)
        assert not overlaps(text_box(label), text_box(title)), (panel.title, label.x)
        assert text_box(label)[0] >= 0 and text_box(label)[2] <= width


def test_the_cervical_length_points_sit_either_side_of_the_25_mm_line_and_their_labels_off_it() -> None:
    layout = sample_layout()
    drawing = place(layout, 900.0)
    gi = panel_index(layout, "gestation")
    (ref,) = [p for p in drawing.prims if p.op == "line" and p.style == "abnormal" and p.dashed]
    assert ref.y == ref.h
    short = prims_of(drawing, mark_index(drawing, "follow_up", str(SCAN_24)))
    normal = prims_of(drawing, mark_index(drawing, "follow_up", str(SCAN_30)))
    (m24,) = [p for p in short if p.op == "marker"]
    (m30,) = [p for p in normal if p.op == "marker"]
    assert m24.y > ref.y > m30.y  # y grows downwards: 24 mm is under the line
    assert m24.filled and not m30.filled and m24.shape is m30.shape is Shape.CIRCLE
    assert (m24.x, m30.x) == (pytest.approx(drawing.x_of(gi, 20 * 7)), pytest.approx(drawing.x_of(gi, 16 * 7)))
    for p in (*short, *normal):
        if p.op == "text":
            top, bottom = text_box(p)[1], text_box(p)[3]
            assert not top < ref.y < bottom, p.text
    caption = next(p for p in drawing.prims if p.text == "16+0 to 24+0")
    cervix_top = next(top for pi, lane, top, _h in drawing.lane_boxes if pi == gi and lane is Lane.CERVIX)
    assert cervix_top < caption.y < m30.y  # in the cervix lane, clear of the medication row


def test_the_plan_is_one_bar_per_dose_period_with_hatched_taper_steps_and_a_stop_cross() -> None:
    layout = sample_layout()
    drawing = place(layout, 900.0)
    gi = panel_index(layout, "gestation")
    bars = [p for p in drawing.prims if p.op == "rect" and p.mark is not None and _is_plan(drawing, p.mark)]
    assert [(round(p.x, 6), round(p.x + p.w, 6), p.hatched) for p in bars] == [
        (round(drawing.x_of(gi, a), 6), round(drawing.x_of(gi, b), 6), h)
        for a, b, h in ((42, 98, False), (98, 105, True), (105, 112, True))
    ]
    (cross,) = [p for p in drawing.prims if p.op == "marker" and p.mark is not None and _is_plan(drawing, p.mark)]
    assert cross.shape is Shape.CROSS and cross.x == pytest.approx(drawing.x_of(gi, 16 * 7))


def _is_plan(drawing: Drawing, index: int) -> bool:
    ref = drawing.marks[index].ref
    return ref is not None and ref.kind == "plan" and ref.key == str(PLAN_ID)


def test_visits_are_on_the_timeline_attended_booked_and_missed() -> None:
    from rmclinic.domain.visit import Visit, VisitStatus, VisitType

    p = pregnancy()
    booked_day = TODAY + dt.timedelta(days=60)
    visits = [
        Visit(dt.date(2024, 3, 1), VisitType.FIRST, id=1),
        Visit(TODAY - dt.timedelta(days=7), VisitType.EARLY_PREGNANCY, id=2),
        Visit(TODAY - dt.timedelta(days=3), VisitType.FOLLOW_UP, VisitStatus.DID_NOT_ATTEND, id=3),
        Visit(booked_day, VisitType.FOLLOW_UP, VisitStatus.BOOKED, id=4),
        Visit(TODAY - dt.timedelta(days=1), VisitType.FOLLOW_UP, VisitStatus.CANCELLED, id=5),
    ]
    layout = build_timeline(today=TODAY, pregnancy=p, visits=visits)
    history = next(panel for panel in layout.panels if panel.axis == "calendar")
    marks = {m.ref.key: m for m in history.marks if m.lane is Lane.VISITS and m.ref is not None}
    assert set(marks) == {"1", "2", "3", "4"}  # a cancelled visit is not shown
    assert (marks["1"].shape, marks["4"].shape, marks["3"].shape) == (Shape.CIRCLE, Shape.SQUARE, Shape.CROSS)
    assert marks["4"].label == "visit booked" and marks["3"].label == "did not attend"
    assert history.origin + dt.timedelta(days=history.length) > booked_day  # the axis reaches the booking
    assert marks["1"].x == (dt.date(2024, 3, 1) - history.origin).days
    gestation = next(panel for panel in layout.panels if panel.axis == "gestation")
    in_pregnancy = {m.ref.key for m in gestation.marks if m.ref is not None and m.ref.kind == "visit"}
    assert in_pregnancy == {"2", "3", "4"}  # the 2024 visit is before this pregnancy


def test_a_course_started_before_conception_starts_at_the_edge_of_the_pregnancy_axis() -> None:
    p = pregnancy()
    aspirin = MedicationPlan(
        "aspirin",
        75.0,
        Frequency.ONCE_DAILY,
        TODAY - dt.timedelta(days=GA_TODAY + 90),  # three months before 0+0
        Indication.APS,
        stop=Anchor(gestation_days=36 * 7),
        pregnancy_id=p.id,
        id=99,
    )
    layout = build_timeline(today=TODAY, pregnancy=p, plans=[aspirin])
    gestation = next(panel for panel in layout.panels if panel.axis == "gestation")
    [bar] = [m for m in gestation.marks if m.lane is Lane.TREATMENT and m.x_end is not None]
    assert bar.x == 0.0 and bar.x_end == 36 * 7
    assert (TODAY - dt.timedelta(days=GA_TODAY + 90)).strftime("%d/%m/%Y") in bar.detail
    drawing = place(layout, 900)
    rects = [pr for pr in drawing.prims if pr.op == "rect" and pr.mark is not None]
    assert all(r.x >= drawing.x_of(1, 0.0) - 0.01 for r in rects)  # nothing drawn left of the axis
