"""The patient timeline on paper: ReportLab draws the primitives ``domain.timeline.place`` lays out, so the
printout and the screen cannot disagree.

``place`` measures from the top left with y downwards; ReportLab measures from the bottom left, so every y is
flipped. Meaning survives a black-and-white printer: markers keep their shape, filled marks are solid and open
ones white inside, taper steps are hatched, open-ended plans have a dashed outline, and every mark keeps its
text label.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from ..domain.timeline import PALETTE, Prim, Shape, TimelineLayout, place
from .fonts import BOLD, REGULAR, register_fonts

HATCH_SPACING = 3.0  # points between hatch lines
DASH = (3, 2)
WHITE = colors.white


@cache
def _colour(style: str) -> colors.Color:
    return colors.HexColor(PALETTE.get(style, PALETTE["ink"]))


def hatch_lines(x: float, y: float, w: float, h: float, spacing: float = HATCH_SPACING) -> list[tuple[float, ...]]:
    """Diagonal (45°) hatch lines clipped to the rectangle (x, y, w, h), as (x1, y1, x2, y2) in the
    rectangle's own coordinates (y up). Clipped by arithmetic, so no PDF clipping path is needed."""
    out: list[tuple[float, ...]] = []
    # Line k: the points (k + t, y + t) for t >= 0; it crosses the rectangle where x <= k + t <= x + w
    # and 0 <= t <= h.
    k = x - h + spacing / 2
    while k < x + w:
        lo, hi = max(0.0, x - k), min(h, x + w - k)
        if hi > lo:
            out.append((k + lo, y + lo, k + hi, y + hi))
        k += spacing
    return out


def _rect(p: Prim, top: float) -> list[object]:
    x, y, w, h = p.x, top - p.y - p.h, p.w, p.h
    colour = _colour(p.style)
    dash = DASH if p.dashed else None
    if p.style in ("band", "grid"):  # background shading: no outline, so the marks stay in front
        return [Rect(x, y, w, h, fillColor=colour, strokeColor=None)]
    if p.hatched:
        shapes: list[object] = [Rect(x, y, w, h, fillColor=WHITE, strokeColor=None)]
        shapes += [
            Line(*seg, strokeColor=_colour("dose"), strokeWidth=0.6) for seg in hatch_lines(x, y, w, h, HATCH_SPACING)
        ]
        shapes.append(
            Rect(x, y, w, h, fillColor=None, strokeColor=_colour("ink"), strokeWidth=0.6, strokeDashArray=dash)
        )
        return shapes
    shapes = [
        Rect(
            x,
            y,
            w,
            h,
            fillColor=colour if p.filled else WHITE,
            strokeColor=_colour("ink") if p.filled else colour,
            strokeWidth=1.0 if p.dashed else (0.6 if p.filled else 1.0),
            strokeDashArray=dash,
        )
    ]
    if p.dashed:  # no planned stop: a dashed edge is faint on paper, so a chevron says "continues" as well
        tip, mid = x + w + 4, y + h / 2
        shapes.append(
            PolyLine([x + w + 1, y + 1, tip, mid, x + w + 1, y + h - 1], strokeColor=_colour("ink"), strokeWidth=1.0)
        )
    return shapes


def _marker(p: Prim, top: float) -> list[object]:
    cx, cy, s = p.x, top - p.y, p.w
    r = s / 2
    colour = _colour(p.style)
    fill = colour if p.filled else WHITE
    kw = {"fillColor": fill, "strokeColor": colour, "strokeWidth": 1.0}
    if p.shape is Shape.CROSS:
        return [
            Line(cx - r, cy - r, cx + r, cy + r, strokeColor=colour, strokeWidth=1.6),
            Line(cx - r, cy + r, cx + r, cy - r, strokeColor=colour, strokeWidth=1.6),
        ]
    if p.shape is Shape.SQUARE:
        return [Rect(cx - r, cy - r, s, s, **kw)]
    if p.shape is Shape.TRIANGLE:
        return [Polygon([cx, cy + r, cx + r, cy - r, cx - r, cy - r], **kw)]
    if p.shape is Shape.DIAMOND:
        return [Polygon([cx, cy + r, cx + r, cy, cx, cy - r, cx - r, cy], **kw)]
    return [Circle(cx, cy, r, **kw)]


def _shapes(p: Prim, top: float) -> list[object]:
    if p.op == "rect":
        return _rect(p, top)
    if p.op == "line":
        return [
            Line(
                p.x,
                top - p.y,
                p.w,
                top - p.h,
                strokeColor=_colour(p.style),
                strokeWidth=p.size,
                strokeDashArray=DASH if p.dashed else None,
            )
        ]
    if p.op == "polyline":
        flat = [c for x, y in p.points for c in (x, top - y)]
        return [PolyLine(flat, strokeColor=_colour(p.style), strokeWidth=p.size)]
    if p.op == "marker":
        return _marker(p, top)
    if p.op == "text":
        return [
            String(
                p.x,
                top - p.y,
                p.text,
                fontName=BOLD if p.bold else REGULAR,
                fontSize=p.size,
                fillColor=_colour(p.style),
                textAnchor=p.anchor,
            )
        ]
    return []  # "scale" prims carry the axis scale for click handling; nothing to draw


def _box(p: Prim, x0: float, w: float) -> tuple[float, float, float, float]:
    return (x0, p.y - p.size * 0.8, x0 + w, p.y + p.size * 0.25)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def fit_labels(prims: tuple[Prim, ...], width: float) -> list[Prim]:
    """Paper cannot scroll or show a tooltip: a label that would run off the right edge moves to the left of
    its mark, and a mark's label that would overprint an earlier one is left out (the mark keeps its shape and
    fill, and the care plan's tables list every item). Captions that collide with a mark's label give way."""
    markers = {p.mark: p for p in prims if p.op == "marker" and p.mark is not None}
    moved: dict[int, tuple[Prim, tuple[float, float, float, float]]] = {}
    for i, p in enumerate(prims):
        if p.op != "text":
            continue
        tw = stringWidth(p.text, BOLD if p.bold else REGULAR, p.size)
        x0 = {"middle": p.x - tw / 2, "end": p.x - tw}.get(p.anchor, p.x)
        if x0 + tw > width:
            marker = markers.get(p.mark) if p.mark is not None else None
            x0 = (marker.x - marker.w / 2 - 2 if marker is not None else p.x - 4) - tw
            if x0 < 0:
                x0 = max(0.0, width - tw)
            p = replace(p, x=x0, anchor="start")
        moved[i] = (p, _box(p, x0, tw))
    taken: list[tuple[float, float, float, float]] = []
    dropped: set[int] = set()
    for i, (p, box) in moved.items():  # marks' labels first, in drawing order
        if p.mark is not None:
            if any(_overlaps(box, t) for t in taken):
                dropped.add(i)
            else:
                taken.append(box)
    for i, (p, box) in moved.items():
        if p.mark is None and any(_overlaps(box, t) for t in taken):
            dropped.add(i)
    return [moved[i][0] if i in moved else p for i, p in enumerate(prims) if i not in dropped]


def timeline_flowable(layout: TimelineLayout, width: float) -> Drawing:
    """The timeline as a ReportLab Drawing (a Platypus flowable) ``width`` points wide."""
    register_fonts()
    placed = place(layout, width)
    drawing = Drawing(placed.width, placed.height)
    group = Group()
    for p in fit_labels(placed.prims, placed.width):
        for shape in _shapes(p, placed.height):
            group.add(shape)
    drawing.add(group)
    return drawing
