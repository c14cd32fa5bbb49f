"""The outcomes audit as a PDF (ReportLab Platypus, charts from ``reportlab.graphics.charts``).

Every chart carries its numbers beside the bars and is followed by a table with the counts, percentages and 95 %
Wilson intervals, so nothing depends on reading a bar's length. Meaning never rests on colour: bars are black,
grey or white with diagonal hatching, each named on its axis or in a legend, so a black-and-white print reads the
same. Groups under the small-group threshold are marked †. The loss-to-follow-up list holds patient identifiers:
the footer says so on every page when it is not empty.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from ..domain.followup import KIND_LABELS
from ..domain.outcomes import (
    LOSS_CLASSES,
    OUTCOME_CLASS_SHORT,
    SMALL_GROUP,
    TIMING_LABELS,
    OutcomeClass,
    OutcomeRow,
    Proportion,
    Timing,
)
from ..services.outcomes import OutcomesReport
from .common import INK, MUTED, PAGE_H, PAGE_W, RULE, NumberedCanvas, draw_fitted, esc, fmt_date, fmt_datetime
from .fonts import BOLD, REGULAR, register_fonts

MARGIN_X = 15 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X
HEADER_BASELINE = PAGE_H - 12 * mm
FRAME_TOP = PAGE_H - 20 * mm
FRAME_BOTTOM = 18 * mm

BLACK = colors.HexColor("#222222")
GREY = colors.HexColor("#9e9e9e")
LIGHT = colors.HexColor("#dddddd")
HATCHED = colors.HexColor("#fefefe")  # drawn white with diagonal lines (the marker colour is never printed as is)
HEAD_BG = colors.HexColor("#e4e7eb")
MAX_ALERT_BARS = 8

SMALL_MARK = "†"


# -- charts -----------------------------------------------------------------------------------------------------


def _hatch_lines(shape: Rect, spacing: float) -> list[Line]:
    x0, y0, w, h = shape.x, shape.y, shape.width, shape.height
    if w < 0:
        x0, w = x0 + w, -w
    out = []
    c = -h
    while c < w:  # the lines x - y = c that cross the rectangle, clipped to it
        pts = [
            (x, y)
            for x, y in ((c, 0.0), (c + h, h), (0.0, -c), (w, w - c))
            if -1e-9 <= x <= w + 1e-9 and -1e-9 <= y <= h + 1e-9
        ]
        if len(pts) >= 2:
            (ax, ay), (bx, by) = min(pts), max(pts)
            out.append(Line(x0 + ax, y0 + ay, x0 + bx, y0 + by, strokeColor=BLACK, strokeWidth=0.5))
        c += spacing
    return out


def _hatch(group: Group, spacing: float = 3.5) -> None:
    """Every bar drawn in the marker colour becomes white with 45° hatching and a black outline (the hatching
    goes right after its bar, so labels drawn later stay on top)."""
    contents: list[Any] = []
    for shape in group.contents:
        contents.append(shape)
        if isinstance(shape, Group):
            _hatch(shape, spacing)
        elif isinstance(shape, Rect) and abs(shape.width) < 0.01:
            shape.strokeColor = None  # an empty segment: no hairline
        elif isinstance(shape, Rect) and shape.fillColor == HATCHED:
            shape.fillColor = colors.white
            shape.strokeColor = BLACK
            shape.strokeWidth = 0.6
            contents += _hatch_lines(shape, spacing)
    group.contents = contents


class _HatchedBars(HorizontalBarChart):  # type: ignore[misc]
    """Bars whose hatched series are hatched when drawn (the chart stays in the drawing: its labels need it)."""

    def draw(self) -> Group:
        g = super().draw()
        _hatch(g)
        return g


LABEL_W = 150  # points left of the plot for the category names
VALUE_W = 110  # points right of the plot for the numbers


def _bar_chart(
    categories: Sequence[str],
    series: Sequence[Sequence[float]],
    fills: Sequence[Any],
    labels: Sequence[Sequence[str]],
    *,
    stacked: bool = False,
    legend: Sequence[str] = (),
    value_max: float | None = None,
    bar_h: float = 13,
) -> Drawing:
    """Horizontal bars, the first category at the top, each bar's own label beside it (stacked: inside each
    segment, and the total beside the bar)."""
    n = max(1, len(categories))
    groups = 1 if stacked else len(series)
    plot_h = n * (bar_h * groups + 8)
    legend_h = 16 if legend else 0
    d = Drawing(FRAME_W, plot_h + 18 + legend_h)
    d.initialFontName = REGULAR  # else the drawing's initial state puts Times-Roman (unembedded) in the PDF
    ch = _HatchedBars()
    ch.x, ch.y = LABEL_W, 14
    ch.width, ch.height = FRAME_W - LABEL_W - VALUE_W, plot_h
    ch.data = [list(reversed(s)) for s in series]
    ch.categoryAxis.categoryNames = list(reversed(categories))
    ch.categoryAxis.labels.fontName = REGULAR
    ch.categoryAxis.labels.fontSize = 8
    ch.categoryAxis.labels.boxAnchor = "e"
    ch.categoryAxis.labels.textAnchor = "end"
    ch.categoryAxis.labels.leading = 8.5
    ch.categoryAxis.labels.dx = -4
    ch.categoryAxis.strokeColor = BLACK
    if stacked:
        ch.categoryAxis.style = "stacked"
    ch.valueAxis.valueMin = 0
    top = max((sum(col) if stacked else max(col)) for col in zip(*series, strict=True)) if categories else 0
    ch.valueAxis.valueMax = value_max if value_max is not None else max(1, top)
    ch.valueAxis.labels.fontName = REGULAR
    ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.strokeColor = BLACK
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = LIGHT
    ch.barSpacing = 1
    ch.groupSpacing = 8
    ch.barLabelFormat = "values"
    ch.barLabelArray = [list(reversed(t)) for t in labels]
    ch.barLabels.fontName = REGULAR
    ch.barLabels.fontSize = 7.5
    if stacked:
        ch.barLabels.boxTarget = "mid"
    else:
        ch.barLabels.boxAnchor = "w"
        ch.barLabels.boxTarget = "hi"
        ch.barLabels.dx = 3
    for i, fill in enumerate(fills):
        ch.bars[i].fillColor = fill
        ch.bars[i].strokeColor = BLACK
        ch.bars[i].strokeWidth = 0.4
        if stacked and fill == BLACK:
            ch.barLabels[i].fillColor = colors.white
        if stacked and fill == HATCHED:  # readable over the hatching
            ch.barLabels[i].boxFillColor = colors.white
    d.add(ch)
    ch.draw()  # lays out the axes, whose scales place the totals below
    if stacked:  # the total right of the plot, clear of the last segment's own number
        for i in range(len(categories)):
            total = sum(s[i] for s in series)
            start, width = ch.categoryAxis.scale(len(categories) - 1 - i)
            _label(d, ch.x + ch.width + 6, start + width / 2, f"n = {total:g}", "start", BLACK)
    if legend:
        lg = Legend()
        lg.x, lg.y = ch.x, d.height - 4
        lg.alignment = "right"
        lg.columnMaximum = 1
        lg.deltax = min(95, (FRAME_W - ch.x) / max(1, len(legend)))
        lg.fontName, lg.fontSize = REGULAR, 8
        lg.strokeColor, lg.strokeWidth = BLACK, 0.4
        lg.colorNamePairs = list(zip([colors.white if f == HATCHED else f for f in fills], legend, strict=False))
        d.add(lg)
        for i, f in enumerate(fills[: len(legend)]):  # hatch the legend swatch of a hatched series too
            if f == HATCHED:
                swatch = Rect(ch.x + i * lg.deltax, d.height - 4 - lg.dy, lg.dx, lg.dy, fillColor=HATCHED)
                d.add(Group(swatch, *_hatch_lines(swatch, 2.5)))
    return d


def _label(d: Drawing, x: float, y: float, text: str, anchor: str, fill: Any) -> None:
    d.add(String(x, y - 2.6, text, fontName=REGULAR, fontSize=7.5, fillColor=fill, textAnchor=anchor))


def _rate_chart(rows: Sequence[tuple[str, Proportion]]) -> Drawing:
    """Rates as bars (percent) with the 95 % interval as a whisker, each labelled k/n and the interval."""
    shown = list(rows)
    cats = [_wrap(g + (f" {SMALL_MARK}" if p.small else "")) for g, p in shown]
    values = [100 * (p.rate or 0.0) for _, p in shown]  # an empty group (0/0) draws no bar: its label says 0/0
    texts = [_short(p) for _, p in shown]
    d = _bar_chart(cats, [values], [GREY], [[""] * len(values)], value_max=100)
    # the same geometry as _bar_chart's: the plot from 14 points up, one band of 13 + 8 points per category
    x_of = _scale(LABEL_W, FRAME_W - LABEL_W - VALUE_W)
    n = len(shown)
    for i, (_, p) in enumerate(shown):
        y = 14 + (n - 1 - i + 0.5) * (13 + 8)
        ci = p.ci
        if ci is not None:
            x0, x1 = x_of(100 * ci[0]), x_of(100 * ci[1])
            for shape in (Line(x0, y, x1, y), Line(x0, y - 4, x0, y + 4), Line(x1, y - 4, x1, y + 4)):
                shape.strokeColor, shape.strokeWidth = BLACK, 1
                d.add(shape)
        _label(d, x_of(100) + 4, y, texts[i], "start", BLACK)
    return d


def _scale(x: float, width: float) -> Any:
    return lambda pct: x + width * pct / 100


def _wrap(text: str, width: int = 32, lines: int = 2) -> str:
    """A category name on up to two lines of the label column (the last clipped only if it is still too long)."""
    parts = textwrap.wrap(text, width) or [""]
    if len(parts) > lines:
        rest = " ".join(parts[lines - 1 :])
        parts = [*parts[: lines - 1], rest if len(rest) <= width else rest[: width - 1].rstrip() + "…"]
    return "\n".join(parts)


def _short(p: Proportion) -> str:
    """k/n with the percentage and interval, as every chart label shows it (one rounding: ``Proportion.short``)."""
    return p.short() + (f" {SMALL_MARK}" if p.small else "")


# -- tables -----------------------------------------------------------------------------------------------------


_HEAD = ParagraphStyle("head", fontName=BOLD, fontSize=7.5, leading=9, textColor=INK)
_HEAD_R = ParagraphStyle("head_r", parent=_HEAD, alignment=2)


def _fit(head: Sequence[Any], widths: Sequence[float]) -> list[float]:
    """Column widths wide enough for the longest word of each header (a header wraps between words, never inside
    one: "Cancelle/d"), the room taken from the first column, whose text wraps."""
    out = list(widths)
    for i, h in enumerate(head):
        if i == 0 or not isinstance(h, str):
            continue
        need = max(stringWidth(w, BOLD, _HEAD.fontSize) for w in h.split()) + 7
        if out[i] < need:
            out[0] -= need - out[i]
            out[i] = need
    return out


def _table(rows: list[list[Any]], widths: Sequence[float], numeric_from: int = 1) -> Table:
    """A table whose header cells wrap (right-aligned over the numbers)."""
    head = [
        Paragraph(esc(h), _HEAD if i < numeric_from else _HEAD_R) if isinstance(h, str) else h
        for i, h in enumerate(rows[0])
    ]
    t = Table([head, *rows[1:]], colWidths=_fit(rows[0], widths), repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 7.5),
                ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, BLACK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
                ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return t


def _class_label(row: OutcomeRow, c: OutcomeClass) -> str:
    """An outcome bar's label: k/n with the percentage (ended classes of the assessable pregnancies with an outcome,
    ongoing and unknown of all); the bar itself counts every pregnancy in the class."""
    share = row.share(c)
    shown = share.short()
    extra = row.count(c) - share.k
    return shown + (f" (+{extra} not yet assessable)" if extra else "")


def _cell(p: Proportion) -> str:
    return p.describe() + (f" {SMALL_MARK}" if p.small else "")


def _outcome_table(title: str, rows: Sequence[OutcomeRow], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    head = [
        "Group",
        "n",
        "Live birth ≥ 24+0",
        "Loss < 12+0",
        "Loss 12+0–23+6",
        "Stillbirth",
        "Other*",
        "Ongoing",
        "Unknown",
        "Not yet assess-able",
    ]
    body: list[list[Any]] = [head]
    for r in rows:
        other = r.count(OutcomeClass.ECTOPIC_MOLAR) + r.count(OutcomeClass.OTHER)
        body.append(
            [
                Paragraph(esc(r.group), styles["cell"]),
                str(r.total),
                Paragraph(_cell(r.live_birth), styles["cell_r"]),
                *(str(r.count(c)) for c in LOSS_CLASSES),
                str(other),
                str(r.count(OutcomeClass.ONGOING)),
                str(r.count(OutcomeClass.UNKNOWN)),
                str(r.not_assessable),
            ]
        )
    widths = [24 * mm, 10 * mm, 42 * mm, 13 * mm, 15 * mm, 17 * mm, 12 * mm, 16 * mm, 17 * mm, 14 * mm]
    return [Paragraph(esc(title), styles["h3"]), _table(body, widths)]


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9, leading=12, textColor=INK)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=16, leading=20, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=2),
        "body": base,
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=9.5, textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "cell_r": ParagraphStyle("cell_r", parent=base, fontSize=7.5, leading=9, alignment=2),
    }


# -- the document -----------------------------------------------------------------------------------------------


def _story(r: OutcomesReport, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = []
    o = r.outcomes
    out.append(Paragraph("Clinic outcomes audit", st["title"]))
    out.append(
        Paragraph(
            f"{esc(r.clinic_name)} — pregnancies conceived {fmt_date(r.start)} to {fmt_date(r.end)}; made "
            f"{fmt_datetime(r.made_at.astimezone())} by {esc(r.made_by)}." + (" <b>DEMO DATA</b>." if r.demo else ""),
            st["body"],
        )
    )
    if r.too_recent:
        out.append(Paragraph("<b>" + esc(r.assessable_warning()) + "</b>", st["body"]))
    out.append(
        Paragraph(
            "Conceived in the period: the estimated conception date (EDD in force − 266 days) falls in it. "
            + esc(r.assessable_note())
            + f" 95 % Wilson score intervals. {SMALL_MARK} fewer than {SMALL_GROUP} in the group: too few to read "
            "as a rate. Live birth means a live birth at 24+0 or later. Definitions: docs/outcomes-audit.md.",
            st["note"],
        )
    )

    # 1. outcomes
    out.append(Paragraph("1. Outcomes of pregnancies conceived in the period", st["h2"]))
    total = o.overall
    classes = list(OutcomeClass)
    counts = [total.count(c) for c in classes]
    texts = [_class_label(total, c) for c in classes]
    fills = [GREY] * len(classes)
    out.append(
        KeepTogether(
            [
                Paragraph(
                    f"All pregnancies (n = {total.total}; {total.ended} assessable with a recorded outcome; "
                    f"not yet assessable: {total.not_assessable})",
                    st["h3"],
                ),
                _bar_chart([OUTCOME_CLASS_SHORT[c] for c in classes], [counts], fills[:1], [texts]),
                Paragraph(
                    f"Live birth {_cell(total.live_birth)}; any loss {_cell(total.losses)}. Bars count every "
                    "pregnancy; the k/n of ended classes are among assessable pregnancies with an outcome, ongoing "
                    "and unknown of all.",
                    st["note"],
                ),
            ]
        )
    )
    out.append(
        KeepTogether(
            [
                Paragraph("Live birth by treatment received (bar: rate; whisker: 95 % CI)", st["h3"]),
                _rate_chart([(row.group, row.live_birth) for row in o.by_treatment]),
            ]
        )
    )
    for title, rows in (
        ("By number of previous losses", o.by_previous_losses),
        ("By treatment received", o.by_treatment),
        ("By age at the start of the pregnancy", o.by_age),
    ):
        out.append(KeepTogether(_outcome_table(title, rows, st)))
    out.append(
        Paragraph(
            "* Other: ectopic or molar pregnancy, termination, or a live birth before 24+0. Treatment: aspirin and a "
            "heparin with either for APS; else a progestogen, with bleeding when an episode was recorded on or "
            "before the day it started; else any other medication; else none.",
            st["note"],
        )
    )

    # 2. workup
    w = r.workup
    out.append(CondPageBreak(60 * mm))
    out.append(Paragraph("2. Workup completeness", st["h2"]))
    out.append(
        Paragraph(
            f"Patients first seen (earliest attended visit) in the period, not archived: <b>{w.patients}</b>. "
            f"Every protocol item done: {_cell(w.complete)}. Complete within 90 days of the first visit, among those "
            f"first seen at least 90 days before the report: {_cell(w.complete_within_90)}. Days from the first "
            "visit to the last protocol item done, among those complete only: "
            + (w.days_to_complete.describe() if w.days_to_complete else "none complete")
            + ".",
            st["body"],
        )
    )
    if w.items:
        out.append(
            _rate_chart([(i.name, i.done) for i in w.items]),
        )
        wrows: list[list[Any]] = [["Protocol item", "Done"]]
        wrows += [[Paragraph(esc(i.name), st["cell"]), _cell(i.done)] for i in w.items]
        out.append(_table(wrows, [70 * mm, 70 * mm]))

    # 3. follow-up adherence
    out.append(CondPageBreak(60 * mm))
    out.append(Paragraph("3. Scans and swabs: done on time, late, missed", st["h2"]))
    out.append(
        Paragraph(
            "Cervical-length scans and swabs due in the period. On time: done within the window either side of the "
            "due date; early: before it; late: after it; missed: marked missed, or still not done after the window. "
            "The rate is over those judged (on time, early, late or missed); n beside a bar is that number.",
            st["note"],
        )
    )
    order = [Timing.ON_TIME, Timing.EARLY, Timing.LATE, Timing.MISSED]
    fu_fills = [BLACK, GREY, LIGHT, HATCHED]
    kinds = [KIND_LABELS[t.kind] for t in r.follow_ups]
    series = [[float(t.count(x)) for t in r.follow_ups] for x in order]
    out.append(
        _bar_chart(
            kinds,
            series,
            fu_fills,
            [[f"{int(v)}" if v else "" for v in s] for s in series],
            stacked=True,
            legend=[TIMING_LABELS[x] for x in order],
            bar_h=18,
        )
    )
    fu_rows: list[list[Any]] = [["Kind", "Due", *(TIMING_LABELS[x] for x in Timing), "On time, of those judged"]]
    fu_rows[0][2 + list(Timing).index(Timing.PENDING)] = "Not yet due / window open"
    for t in r.follow_ups:
        fu_rows.append(
            [
                Paragraph(esc(KIND_LABELS[t.kind]), st["cell"]),
                str(t.total),
                *(str(t.count(x)) for x in Timing),
                Paragraph(_cell(t.on_time), st["cell_r"]),
            ]
        )
    out.append(
        _table(fu_rows, [26 * mm, 10 * mm, 11 * mm, 10 * mm, 9 * mm, 13 * mm, 17 * mm, 16 * mm, 15 * mm, 53 * mm])
    )

    # 4. lost to follow-up
    out.append(CondPageBreak(50 * mm))
    out.append(Paragraph("4. Lost to follow-up", st["h2"]))
    out.append(
        Paragraph(
            "Every open pregnancy past EDD + 6 weeks, <b>whatever the period</b>, with no outcome recorded and no "
            "contact since the EDD (attended visit, result, follow-up done, medication or pregnancy entry). "
            f"Archived patients are left out. <b>{len(r.lost)}</b> to act on.",
            st["body"],
        )
    )
    if r.lost:
        lrows: list[list[Any]] = [["Hospital number", "Name", "EDD", "Last contact"]]
        for p in r.lost:
            lrows.append(
                [
                    Paragraph(esc(p.hospital_number), st["cell"]),
                    Paragraph(esc(f"{p.family_name}, {p.given_name}"), st["cell"]),
                    fmt_date(p.edd),
                    fmt_date(p.last_contact) or "none recorded",
                ]
            )
        out.append(_table(lrows, [35 * mm, 75 * mm, 30 * mm, 40 * mm], numeric_from=2))

    # 5. alerts
    a = r.alerts
    out.append(CondPageBreak(70 * mm))
    out.append(Paragraph("5. Alerts: firings and responses", st["h2"]))
    out.append(
        Paragraph(
            "Each alert (patient, rule, rule version, episode) that fired in the period (local days), classified by "
            "its first response: acknowledged, overridden, snoozed, ended without a response, or still open. "
            "Acceptance and override rates are over the alerts answered or ended (still-open ones are left out and "
            "counted). Roles are those of the first responder.",
            st["note"],
        )
    )
    if a.rules:
        top = sorted(a.rules, key=lambda x: (-x.fired, x.rule))[:MAX_ALERT_BARS]
        al_series = [
            [float(x.fired) for x in top],
            [float(x.acknowledged) for x in top],
            [float(x.overridden) for x in top],
        ]
        al_labels = [
            [f"{x.fired}" for x in top],
            [_short(x.acceptance) for x in top],
            [_short(x.override) for x in top],
        ]
        out.append(
            KeepTogether(
                [
                    Paragraph(f"The {len(top)} rules that fired most", st["h3"]),
                    _bar_chart(
                        [_wrap(f"{x.rule} {a.titles.get(x.rule, '')}") for x in top],
                        al_series,
                        [BLACK, LIGHT, HATCHED],
                        al_labels,
                        legend=["Fired", "Acknowledged", "Overridden"],
                        bar_h=9,
                    ),
                ]
            )
        )
        arows: list[list[Any]] = [["Rule", "Fired", "Acknowledged", "Overridden", "Snoozed", "Ended", "Still open"]]
        rate_rows: list[list[Any]] = [["Rule", "Acceptance (of answered or ended)", "Override (of the same)"]]
        for x in a.rules:
            name = f"{x.rule} {a.titles.get(x.rule, '')}"
            arows.append(
                [
                    Paragraph(esc(name), st["cell"]),
                    str(x.fired),
                    str(x.acknowledged),
                    str(x.overridden),
                    str(x.snoozed),
                    str(x.ended),
                    str(x.open),
                ]
            )
            rate_rows.append([Paragraph(esc(name), st["cell"]), _cell(x.acceptance), _cell(x.override)])
        out.append(_table(arows, [74 * mm, 15 * mm, 22 * mm, 19 * mm, 16 * mm, 14 * mm, 20 * mm]))
        out.append(Paragraph("Rates per rule", st["h3"]))
        out.append(_table(rate_rows, [62 * mm, 59 * mm, 59 * mm]))
    else:
        out.append(Paragraph("No alert fired in the period.", st["body"]))
    if a.roles:
        rrows: list[list[Any]] = [["Role", "Acknowledged", "Overridden", "Snoozed", "Overrides of first responses"]]
        for role in a.roles:
            rrows.append(
                [
                    role.role,
                    str(role.acknowledged),
                    str(role.overridden),
                    str(role.snoozed),
                    Paragraph(_cell(role.override), st["cell_r"]),
                ]
            )
        out.append(
            KeepTogether(
                [
                    Paragraph("By role of the first responder", st["h3"]),
                    _table(rrows, [35 * mm, 25 * mm, 25 * mm, 20 * mm, 70 * mm]),
                ]
            )
        )
    if a.reasons:
        srows: list[list[Any]] = [["Override reason", "Overrides"]]
        srows += [[Paragraph(esc(a.reason_label(code)), st["cell"]), str(n)] for code, n in a.reasons]
        out.append(KeepTogether([Paragraph("Override reasons", st["h3"]), _table(srows, [90 * mm, 25 * mm])]))
    return out


class _Decor:
    def __init__(self, r: OutcomesReport) -> None:
        self.r = r
        self.pages = 0

    def __call__(self, c: Any, _doc: Any) -> None:
        self.pages += 1
        c.page_label = (0, self.pages)
        c.saveState()
        c.setFillColor(MUTED)
        title = f"{self.r.clinic_name} — outcomes audit {fmt_date(self.r.start)} to {fmt_date(self.r.end)}"
        draw_fitted(
            c,
            title + (" — DEMO DATA" if self.r.demo else ""),
            REGULAR,
            8,
            MARGIN_X,
            HEADER_BASELINE,
            150 * mm,
            truncate=True,
        )
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(MARGIN_X, HEADER_BASELINE - 3, PAGE_W - MARGIN_X, HEADER_BASELINE - 3)
        c.line(MARGIN_X, FRAME_BOTTOM - 4 * mm, PAGE_W - MARGIN_X, FRAME_BOTTOM - 4 * mm)
        c.setFont(REGULAR, 7.5)
        note = "Made by rmclinic " + fmt_datetime(self.r.made_at.astimezone())
        if self.r.lost:
            note = "Confidential: names patients (loss-to-follow-up list). " + note
        c.drawString(MARGIN_X, 12.5 * mm, note)
        c.restoreState()


def render_outcomes(r: OutcomesReport) -> bytes:
    """The report as a PDF: A4, "Page X of Y", fonts embedded."""
    register_fonts()
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=PAGE_H - FRAME_TOP,
        bottomMargin=FRAME_BOTTOM,
        title="Clinic outcomes audit",
        author=r.clinic_name,
        creator="rmclinic",
        invariant=1,
        initialFontName=REGULAR,
    )
    frame = Frame(
        MARGIN_X,
        FRAME_BOTTOM,
        FRAME_W,
        FRAME_TOP - FRAME_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=_Decor(r))])
    doc.build(_story(r, _styles()), canvasmaker=NumberedCanvas)
    return buf.getvalue()
