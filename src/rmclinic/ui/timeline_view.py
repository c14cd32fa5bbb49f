"""The patient timeline on screen: Qt draws the primitives ``domain.timeline.place`` lays out (ReportLab draws
the same ones on paper, see ``reports/timeline.py``), so no layout decision is taken here.

The scene unit is the Drawing's point; the view shows it at a fixed points-to-pixels scale, so 7.5 pt text
looks like 7.5 pt text. Zooming never scales the view: it re-places the layout at a wider width, so text
keeps its size while the marks move apart.

Every mark can be reached without a mouse: Tab/Shift+Tab (or Ctrl+Left/Right) walks the marks from left to
right with a visible focus frame, Enter opens the focused mark, and its details are written under the view.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QImageWriter,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyleOptionGraphicsItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import DomainError
from ..domain.timeline import PALETTE, Drawing, Prim, Shape, TimelineLayout, place
from ..fileio import write_private_atomically
from .common import ErrorLabel, tr

PX_PER_PT = 96 / 72  # the view shows one scene unit (a point) as 4/3 logical pixel, as CSS does
MIN_WIDTH_PX = 800  # narrower than this the labels of the layout start to crowd
FIT_SLACK_PX = 4  # see base_width
ZOOM_STEP = 1.5
ZOOM_MIN = 1.0  # "fit": narrower than the window would only crowd the labels
ZOOM_MAX = 16.0
DASH = (3.0, 2.0)  # points, as on paper
RESIZE_DELAY_MS = 120
HIT_SLOP_PX = 3  # small markers are easier to hit with a little tolerance
FOCUS_Z = 100.0
PINNED_Z = 50.0  # lane names kept in sight over the marks when scrolled sideways
EXPORT_MARGIN = 6.0  # points of white around an exported picture

DATA_MARK = 0  # item.data(0): the index into Drawing.marks
DATA_REF = 1  # item.data(1): the ItemRef a click opens


def colour(style: str) -> QColor:
    return QColor(PALETTE.get(style, PALETTE["ink"]))


def _font_dpi() -> float:
    """The DPI Qt converts font point sizes with (what QFontMetricsF and the text items use)."""
    screen = QGuiApplication.primaryScreen()
    return screen.logicalDotsPerInchY() if screen is not None else 96.0


def scene_font(size: float, bold: bool = False, dpi: float | None = None) -> QFont:
    """The app's font family, ``size`` scene units (Drawing points) tall whatever the screen's DPI."""
    font = QFont(QGuiApplication.font().family())
    font.setPointSizeF(size * 72.0 / (dpi or _font_dpi()))
    font.setBold(bold)
    return font


def _pen(style: str, width: float, dashed: bool = False) -> QPen:
    pen = QPen(colour(style), width)
    if dashed:
        # Qt measures dashes in pen widths; the layout (and ReportLab) in points.
        pen.setDashPattern([d / max(width, 0.1) for d in DASH])
    return pen


def marker_path(shape: Shape | None, size: float) -> QPainterPath:
    """A marker centred on (0, 0), as ``reports/timeline.py`` draws it (the triangle points up)."""
    r = size / 2
    path = QPainterPath()
    if shape is Shape.CROSS:
        path.moveTo(-r, -r)
        path.lineTo(r, r)
        path.moveTo(-r, r)
        path.lineTo(r, -r)
    elif shape is Shape.SQUARE:
        path.addRect(QRectF(-r, -r, size, size))
    elif shape is Shape.TRIANGLE:
        path.addPolygon(QPolygonF([QPointF(0, -r), QPointF(r, r), QPointF(-r, r), QPointF(0, -r)]))
    elif shape is Shape.DIAMOND:
        path.addPolygon(QPolygonF([QPointF(0, -r), QPointF(r, 0), QPointF(0, r), QPointF(-r, 0), QPointF(0, -r)]))
    else:
        path.addEllipse(QPointF(0, 0), r, r)
    return path


def marker_pen_brush(shape: Shape | None, style: str, filled: bool) -> tuple[QPen, QBrush]:
    """Filled marks are solid, open ones white inside; a cross is two strokes."""
    if shape is Shape.CROSS:
        return _pen(style, 1.6), QBrush(Qt.BrushStyle.NoBrush)
    return _pen(style, 1.0), QBrush(colour(style) if filled else QColor("white"))


class HatchedRectItem(QGraphicsRectItem):
    """A taper step: white underneath the diagonal hatch, so the band behind does not show through."""

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.fillRect(self.rect(), QColor("white"))
        super().paint(painter, option, widget)


def _rect_item(p: Prim) -> QGraphicsRectItem:
    item: QGraphicsRectItem
    if p.style in ("band", "grid"):  # background shading: no outline, so the marks stay in front
        item = QGraphicsRectItem(0, 0, p.w, p.h)
        item.setPen(Qt.PenStyle.NoPen)
        item.setBrush(colour(p.style))
    elif p.hatched:
        item = HatchedRectItem(0, 0, p.w, p.h)
        item.setBrush(QBrush(colour("dose"), Qt.BrushStyle.BDiagPattern))
        item.setPen(_pen("ink", 0.6, p.dashed))
    elif p.filled:
        item = QGraphicsRectItem(0, 0, p.w, p.h)
        item.setBrush(colour(p.style))
        item.setPen(_pen("ink", 0.6, p.dashed))
    else:
        item = QGraphicsRectItem(0, 0, p.w, p.h)
        item.setBrush(QColor("white"))
        item.setPen(_pen(p.style, 1.0, p.dashed))
    item.setPos(p.x, p.y)
    return item


def _text_item(p: Prim, dpi: float) -> QGraphicsSimpleTextItem:
    """Text whose baseline sits at the prim's y, anchored at its x like ReportLab's textAnchor."""
    font = scene_font(p.size, p.bold, dpi)
    item = QGraphicsSimpleTextItem(p.text)
    item.setFont(font)
    item.setBrush(colour(p.style))
    width = item.boundingRect().width()
    dx = {"middle": -width / 2, "end": -width}.get(p.anchor, 0.0)
    item.setPos(p.x + dx, p.y - QFontMetricsF(font).ascent())
    return item


def prim_item(p: Prim, dpi: float) -> QGraphicsItem | None:
    """One scene item for one primitive (None for the bookkeeping ``scale`` prims)."""
    item: QGraphicsItem
    if p.op == "rect":
        item = _rect_item(p)
    elif p.op == "line":
        line = QGraphicsLineItem(p.x, p.y, p.w, p.h)
        line.setPen(_pen(p.style, p.size, p.dashed))
        item = line
    elif p.op == "text":
        item = _text_item(p, dpi)
    elif p.op == "marker":
        marker = QGraphicsPathItem(marker_path(p.shape, p.w))
        pen, brush = marker_pen_brush(p.shape, p.style, p.filled)
        marker.setPen(pen)
        marker.setBrush(brush)
        marker.setPos(p.x, p.y)
        item = marker
    elif p.op == "polyline" and p.points:
        path = QPainterPath(QPointF(*p.points[0]))
        for x, y in p.points[1:]:
            path.lineTo(x, y)
        poly = QGraphicsPathItem(path)
        poly.setPen(_pen(p.style, p.size, p.dashed))
        poly.setBrush(Qt.BrushStyle.NoBrush)
        item = poly
    else:
        return None
    return item


def tooltip_text(detail: str) -> str:
    """Details are plain text; a tooltip would render anything that looks like HTML."""
    return f"<p>{html.escape(detail)}</p>" if "<" in detail or "&" in detail else detail


class TimelineGraphicsView(QGraphicsView):
    """The canvas: hands pointer and key events to its TimelineView, pans by dragging."""

    def __init__(self, owner: TimelineView) -> None:
        super().__init__(owner)
        self._owner = owner
        self._press: tuple[QPoint, int | None] | None = None
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTransform(QTransform.fromScale(PX_PER_PT, PX_PER_PT))
        self.setBackgroundBrush(QColor("white"))
        self.viewport().setMouseTracking(True)
        self.setAccessibleName(tr("Timeline"))

    def mark_at(self, pos: QPoint) -> int | None:
        """The mark under a viewport position, with a few pixels of slop for the small markers."""
        for rect in (QRect(pos, QSize(1, 1)), QRect(pos - QPoint(HIT_SLOP_PX, HIT_SLOP_PX), QSize(7, 7))):
            for item in self.items(rect):
                index = item.data(DATA_MARK)
                if isinstance(index, int):
                    return index
        return None

    # Clicks: a press and release on the same mark without dragging opens it; any drag pans.
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = (event.position().toPoint(), self.mark_at(event.position().toPoint()))
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position().toPoint()
        moved = (pos - press[0]).manhattanLength() > QApplication.startDragDistance()
        index = self.mark_at(pos)
        if not moved and index is not None and index == press[1]:
            self._owner.focus_mark(index)
            self._owner.activate_focused()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        self._owner.show_hovered(self.mark_at(event.position().toPoint()))

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self._owner.show_hovered(None)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self._owner.set_zoom(self._owner.zoom * ZOOM_STEP**steps, event.position().toPoint())
            event.accept()
            return
        super().wheelEvent(event)

    # Keys: Tab walks the marks and leaves the view after the last one, so the view is no keyboard trap.
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            mods = event.modifiers()
            if not mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
                back = event.key() == Qt.Key.Key_Backtab or (
                    event.key() == Qt.Key.Key_Tab and bool(mods & Qt.KeyboardModifier.ShiftModifier)
                )
                if (event.key() == Qt.Key.Key_Tab or back) and self._owner.step_focus(-1 if back else 1):
                    return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, ctrl = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self._owner.focused_mark is not None:
            self._owner.activate_focused()
        elif ctrl and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._owner.step_focus(-1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self._owner.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self._owner.zoom_out()
        elif key == Qt.Key.Key_0:
            self._owner.fit()
        else:
            super().keyPressEvent(event)  # arrows and Page Up/Down pan
            return
        event.accept()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        if self._owner.focused_mark is None:
            if event.reason() == Qt.FocusReason.TabFocusReason:
                self._owner.step_focus(1)
            elif event.reason() == Qt.FocusReason.BacktabFocusReason:
                self._owner.step_focus(-1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._owner.on_view_resized()


class Legend(QWidget):
    """What the shapes mean, drawn with the same shapes (wraps onto more lines when narrow)."""

    ENTRIES: tuple[tuple[str, str], ...] = (
        ("triangle", "loss"),
        ("circle", "live birth / normal"),
        ("diamond", "abnormal result"),
        ("square", "due"),
        ("cross", "stop / missed"),
        ("filled", "filled = abnormal"),
        ("hatch", "taper"),
        ("dash", "25 mm"),
    )
    STYLES: ClassVar[dict[str, str]] = {
        "triangle": "loss",
        "circle": "birth",
        "diamond": "abnormal",
        "square": "due",
        "cross": "stop",
    }
    ICON = 14
    GAP = 14

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries = [(kind, tr(text)) for kind, text in self.ENTRIES]
        words = "; ".join(f"{self._word(k)} {t}" for k, t in self.entries)
        self.setAccessibleName(tr("Legend"))
        self.setAccessibleDescription(words)
        self.setToolTip(words)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    @staticmethod
    def _word(kind: str) -> str:
        return {
            "triangle": "▲",
            "circle": "●",
            "diamond": "◆",
            "square": "■",
            "cross": "✕",
            "filled": "",
            "hatch": tr("hatched bar ="),
            "dash": tr("dashed line ="),
        }[kind]

    def _boxes(self, width: int) -> list[tuple[QRectF, str, str]]:
        fm = self.fontMetrics()
        x, y, line_h = 0.0, 0.0, max(fm.height(), self.ICON) + 4
        out = []
        for kind, text in self.entries:
            icon_w = 2.2 * self.ICON if kind in ("hatch", "dash") else (0 if kind == "filled" else self.ICON)
            w = icon_w + 4 + fm.horizontalAdvance(text)
            if x > 0 and x + w > width:
                x, y = 0.0, y + line_h
            out.append((QRectF(x, y, w, line_h), kind, text))
            x += w + self.GAP
        return out

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        boxes = self._boxes(width)
        return int(boxes[-1][0].bottom()) + 1 if boxes else 0

    def sizeHint(self) -> QSize:
        return QSize(600, self.heightForWidth(600))

    def minimumSizeHint(self) -> QSize:
        return QSize(100, self.heightForWidth(self.width() or 600))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = self.ICON
        for box, kind, text in self._boxes(self.width()):
            cy = box.center().y()
            x = box.left()
            if kind in ("hatch", "dash"):
                w = 2.2 * s
                if kind == "hatch":
                    rect = QRectF(x, cy - s / 3, w, 2 * s / 3)
                    painter.fillRect(rect, QColor("white"))
                    painter.setBrush(QBrush(colour("dose"), Qt.BrushStyle.BDiagPattern))
                    painter.setPen(QPen(colour("ink"), 0.8))
                    painter.drawRect(rect)
                else:
                    pen = QPen(colour("abnormal"), 1.2)
                    pen.setDashPattern([3 / 1.2 * PX_PER_PT, 2 / 1.2 * PX_PER_PT])
                    painter.setPen(pen)
                    painter.drawLine(QPointF(x, cy), QPointF(x + w, cy))
                x += w
            elif kind != "filled":
                shape = Shape(kind)
                pen, brush = marker_pen_brush(shape, self.STYLES[kind], shape in (Shape.TRIANGLE, Shape.DIAMOND))
                painter.save()
                painter.translate(x + s / 2, cy)
                painter.setPen(pen)
                painter.setBrush(brush)
                painter.drawPath(marker_path(shape, s * 0.75))
                painter.restore()
                x += s
            painter.setPen(self.palette().windowText().color())
            painter.drawText(
                QRectF(x + 4, box.top(), box.right() - x, box.height()), Qt.AlignmentFlag.AlignVCenter, text
            )
        painter.end()


class TimelineView(QWidget):
    """The timeline tab: a toolbar, the canvas, a details line and a legend.

    ``item_activated(ItemRef)`` is emitted when a mark is clicked or Enter is pressed on the focused mark.
    """

    item_activated = Signal(object)

    # Replaced in tests: a modal file dialog must not block an offscreen run.
    choose_png_file: Callable[[QWidget, str], str] = staticmethod(
        lambda parent, suggested: QFileDialog.getSaveFileName(
            parent, tr("Export the timeline as an image"), suggested, tr("PNG images (*.png)")
        )[0]
    )

    HINT = "Point at a mark, or press Tab to walk through them, to see its details; click it or press Enter to open it."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timeline: TimelineLayout | None = None
        self._drawing: Drawing | None = None
        self._zoom = 1.0
        self._mark_items: dict[int, list[QGraphicsItem]] = {}
        self._order: list[int] = []  # mark indices in Tab order: by panel, then x, then y
        self._focused: int | None = None
        self._hovered: int | None = None
        self._focus_frame: QGraphicsRectItem | None = None
        self._placed_width = 0.0
        self._pinned: list[tuple[QGraphicsItem, QGraphicsRectItem, float]] = []  # caption, backdrop, x at rest

        self._lay = lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        # Mnemonics clear of the patient view's tabs (O, P, W, R, D, L, I, N) and the menus (F, T).
        self.zoom_in_button = QPushButton(tr("&Zoom in"))
        self.zoom_out_button = QPushButton(tr("Zoo&m out"))
        self.fit_button = QPushButton(tr("Fit to widt&h"))
        self._export_allowed = True
        self._export_audit: Callable[[str], None] | None = None
        self.export_button = QPushButton(tr("Export PN&G…"))
        self.zoom_in_button.setToolTip(tr("Spread the marks out (+ or Ctrl+wheel)"))
        self.zoom_out_button.setToolTip(tr("Bring the marks closer (- or Ctrl+wheel)"))
        self.fit_button.setToolTip(tr("Fit the timeline to the window (0)"))
        self.export_button.setToolTip(tr("Save the whole timeline as a PNG image"))
        self.zoom_in_button.clicked.connect(self.on_zoom_in_button_clicked)
        self.zoom_out_button.clicked.connect(self.on_zoom_out_button_clicked)
        self.fit_button.clicked.connect(self.on_fit_button_clicked)
        self.export_button.clicked.connect(self.on_export_button_clicked)
        self.zoom_label = QLabel()
        self.zoom_label.setAccessibleName(tr("Zoom level"))
        for w in (self.zoom_in_button, self.zoom_out_button, self.fit_button, self.zoom_label, self.export_button):
            bar.addWidget(w)
        bar.insertStretch(4)
        lay.addLayout(bar)
        self.problem = ErrorLabel()
        lay.addWidget(self.problem)

        self.scene = QGraphicsScene(self)
        self.view = TimelineGraphicsView(self)
        self.view.setScene(self.scene)
        self.placeholder = QLabel(
            tr("Nothing to show yet: the timeline fills as pregnancies, results and plans are recorded.")
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.placeholder, 1)

        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(tr("Timeline details"))
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)
        self.legend = Legend()
        lay.addWidget(self.legend)
        lay.addStretch(0)  # spare height goes below the legend: the details line stays right under the drawing

        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(RESIZE_DELAY_MS)
        self._resize_timer.timeout.connect(self.on_resize_timer_timeout)
        self.view.horizontalScrollBar().valueChanged.connect(self.on_view_scrolled)
        self.set_layout(None)

    # -- public API -------------------------------------------------------------------------------------------

    @property
    def layout_shown(self) -> TimelineLayout | None:
        """The layout on screen (``layout()`` is QWidget's)."""
        return self._timeline

    @property
    def drawing(self) -> Drawing | None:
        """What is drawn now (its marks are indexed by the items' data(0))."""
        return self._drawing

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def focused_mark(self) -> int | None:
        return self._focused

    def base_width(self) -> float:
        """The placed width at zoom 1, in points: the viewport's width (not narrower than MIN_WIDTH_PX)."""
        # A few pixels spare: QGraphicsView keeps a pixel round the scene, and strokes overhang by half their width.
        return (max(self.view.viewport().width(), MIN_WIDTH_PX) - FIT_SLACK_PX) / PX_PER_PT

    def set_layout(self, layout: TimelineLayout | None) -> None:
        """Show a layout (None: the placeholder); keeps the zoom, forgets the focused mark."""
        self._timeline = layout
        self._focused = self._hovered = None
        has = layout is not None and bool(layout.panels)
        self.view.setVisible(has)
        self.placeholder.setVisible(not has)
        self._lay.activate()  # the view's real width now, rather than a re-place when the resize comes in
        for b in (self.fit_button, self.export_button):
            b.setEnabled(has)
        self._rebuild(None)
        self._show_details()

    def items_of_mark(self, index: int) -> list[QGraphicsItem]:
        return list(self._mark_items.get(index, []))

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def fit(self) -> None:
        self.set_zoom(ZOOM_MIN)

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Re-place at ``zoom`` times the base width; the point under ``anchor`` (a viewport position, the
        centre by default) stays where it is."""
        zoom = min(max(zoom, ZOOM_MIN), ZOOM_MAX)
        if math.isclose(zoom, self._zoom):
            return
        self._zoom = zoom
        self._rebuild(anchor if anchor is not None else self.view.viewport().rect().center())

    def focus_mark(self, index: int | None) -> None:
        """Put the focus frame on a mark, scroll it into view and show its details."""
        self._focused = index if index is not None and index in self._mark_items else None
        self._update_focus_frame()
        if self._focus_frame is not None and self._focused is not None:
            self.view.ensureVisible(self._focus_frame.sceneBoundingRect(), 40, 20)
        self._show_details()

    def step_focus(self, direction: int) -> bool:
        """Move the focus frame to the next (1) or previous (-1) mark; False past the ends (and the frame is
        removed, so Tab can leave the view)."""
        if not self._order:
            return False
        if self._focused is None or self._focused not in self._order:
            pos = 0 if direction > 0 else len(self._order) - 1
        else:
            pos = self._order.index(self._focused) + direction
        if not 0 <= pos < len(self._order):
            self.focus_mark(None)
            return False
        self.focus_mark(self._order[pos])
        return True

    def activate_focused(self) -> None:
        if self._drawing is None or self._focused is None:
            return
        ref = self._drawing.marks[self._focused].ref
        if ref is not None:
            self.item_activated.emit(ref)

    def show_hovered(self, index: int | None) -> None:
        if index != self._hovered:
            self._hovered = index
            self._show_details()

    def export_png(self, path: str | Path, scale: float = 2.0) -> None:
        """The whole timeline as a PNG on white, ``scale`` pixels per point; OSError when it cannot be written."""
        path = Path(path)
        if self._drawing is None:
            raise OSError(f"There is no timeline to export to {path}.")
        if not path.parent.is_dir():
            raise OSError(f"Cannot save the timeline image: the folder {path.parent} does not exist.")
        m = EXPORT_MARGIN
        source = self.scene.sceneRect().adjusted(-m, -m, m, m)
        size = QSize(math.ceil(source.width() * scale), math.ceil(source.height() * scale))
        image = QImage(size, QImage.Format.Format_ARGB32)
        if image.isNull():
            raise OSError(f"The timeline image would be too large ({size.width()} × {size.height()} pixels).")
        # The same DPI as the screen's fonts, so the text keeps the size the scene measured it at.
        dpm = round(_font_dpi() / 0.0254)
        image.setDotsPerMeterX(dpm)
        image.setDotsPerMeterY(dpm)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        # The focus frame and the pinned lane names are the screen's, not the picture's.
        frame_shown = self._focus_frame is not None and self._focus_frame.isVisible()
        if self._focus_frame is not None:
            self._focus_frame.hide()
        self._pin_captions(0.0)
        try:
            self.scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
        finally:
            painter.end()
            if self._focus_frame is not None and frame_shown:
                self._focus_frame.show()
            self._pin_captions()
        # Encoded in memory, then written atomically and readable by the owner only: it shows patient data.
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        writer = QImageWriter(buffer, QByteArray(b"PNG"))
        if not writer.write(image):
            raise OSError(f"Cannot save the timeline image to {path}: {writer.errorString()}.")
        if path.is_dir():
            raise OSError(f"Cannot save the timeline image to {path}: it is a folder.")
        try:
            write_private_atomically(path, bytes(buffer.data().data()))
        except OSError as e:
            raise OSError(f"Cannot save the timeline image to {path}: {e.strerror or e}.") from None

    # -- slots ------------------------------------------------------------------------------------------------

    def on_zoom_in_button_clicked(self) -> None:
        self.zoom_in()

    def on_zoom_out_button_clicked(self) -> None:
        self.zoom_out()

    def on_fit_button_clicked(self) -> None:
        self.fit()

    def set_export(self, allowed: bool, audit: Callable[[str], None] | None = None) -> None:
        """Who may export (the same people who may print) and how an export is recorded in the audit trail."""
        self._export_allowed = allowed
        self._export_audit = audit
        self.export_button.setVisible(allowed)

    def on_export_button_clicked(self) -> None:
        self.problem.show_problem(None)
        if not self._export_allowed:
            return
        name = type(self).choose_png_file(self, "timeline.png")
        if not name:
            return
        try:
            if self._export_audit is not None:
                self._export_audit(str(name))  # refused (and the refusal audited) before anything is written
            self.export_png(name)
        except OSError as e:
            self.problem.show_problem(str(e))
        except DomainError as e:
            self.problem.show_problem(str(e))

    def on_view_scrolled(self, _value: int) -> None:
        self._pin_captions()

    def on_view_resized(self) -> None:
        self._resize_timer.start()  # re-placing on every pixel of a window drag would be wasted work

    def on_resize_timer_timeout(self) -> None:
        if self._timeline is not None and not math.isclose(self.base_width() * self._zoom, self._placed_width):
            self._rebuild(self.view.viewport().rect().center())

    # -- drawing ----------------------------------------------------------------------------------------------

    def _rebuild(self, anchor: QPoint | None) -> None:
        """Place the layout at the current width and replace the scene's items, keeping ``anchor`` still."""
        old = self._drawing
        keep: tuple[float, float] | None = None
        if anchor is not None and old is not None:
            p = self.view.mapToScene(anchor)
            left, plot = self._plot_span(old)
            keep = ((p.x() - left) / plot if plot else 0.0, p.y())
        self.scene.clear()
        self._focus_frame = None
        self._pinned = []
        self._mark_items = {}
        self._order = []
        self._drawing = None
        self.zoom_label.setText(f"{self._zoom:.0%}")
        shown = self._timeline is not None and bool(self._timeline.panels)
        self.zoom_in_button.setEnabled(shown and self._zoom < ZOOM_MAX)
        self.zoom_out_button.setEnabled(shown and self._zoom > ZOOM_MIN)
        if self._timeline is None or not self._timeline.panels:
            self.scene.setSceneRect(QRectF(0, 0, 1, 1))
            return
        width = self.base_width() * self._zoom
        drawing = place(self._timeline, width)
        self._drawing, self._placed_width = drawing, width
        dpi = _font_dpi()
        captions: list[QGraphicsItem] = []
        for prim in drawing.prims:
            item = prim_item(prim, dpi)
            if item is None:
                continue
            if prim.mark is not None:
                mark = drawing.marks[prim.mark]
                item.setData(DATA_MARK, prim.mark)
                item.setData(DATA_REF, mark.ref)
                item.setToolTip(tooltip_text(mark.detail))
                item.setCursor(Qt.CursorShape.PointingHandCursor)
                self._mark_items.setdefault(prim.mark, []).append(item)
            elif prim.op == "text" and prim.x <= 2:  # a panel title or lane name, at the left edge
                captions.append(item)
            self.scene.addItem(item)
        rect = QRectF(0, 0, drawing.width, drawing.height)
        self.scene.setSceneRect(rect.united(self.scene.itemsBoundingRect()))
        self._fit_height()
        for caption in captions:
            self._pin(caption)
        self._order = self._tab_order(drawing)
        self._update_focus_frame()
        if keep is not None:
            left, plot = self._plot_span(drawing)
            target = self.view.mapFromScene(QPointF(left + keep[0] * plot, keep[1]))
            assert anchor is not None
            delta = target - anchor
            h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
            h.setValue(h.value() + delta.x())
            v.setValue(v.value() + delta.y())
        self._pin_captions()

    def _fit_height(self) -> None:
        """No taller than the drawing (and a horizontal scroll bar), so nothing hangs below empty space."""
        bar = self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        frame = 2 * self.view.frameWidth()
        self.view.setMaximumHeight(math.ceil(self.scene.sceneRect().height() * PX_PER_PT) + bar + frame + 2)

    def _pin(self, caption: QGraphicsItem) -> None:
        backdrop = QGraphicsRectItem(caption.boundingRect().adjusted(-2, -1, 2, 1))
        backdrop.setBrush(QColor(255, 255, 255, 235))
        backdrop.setPen(Qt.PenStyle.NoPen)
        backdrop.setZValue(PINNED_Z)
        backdrop.hide()
        caption.setZValue(PINNED_Z + 1)
        self.scene.addItem(backdrop)
        self._pinned.append((caption, backdrop, caption.x()))

    def _pin_captions(self, offset: float | None = None) -> None:
        """Keep the lane names at the left edge of the window when it is scrolled sideways (``offset``: how
        far right of their place; by default, as far as the view is scrolled)."""
        if offset is None:
            offset = max(0.0, self.view.mapToScene(QPoint(0, 0)).x())
        for caption, backdrop, x in self._pinned:
            caption.setX(x + offset)
            backdrop.setPos(caption.pos())
            backdrop.setVisible(offset >= 1)

    def _plot_span(self, drawing: Drawing) -> tuple[float, float]:
        """Left edge and width of the plotting area (the same in every panel)."""
        assert self._timeline is not None
        left = drawing.x_of(0, 0)
        return left, drawing.x_of(0, self._timeline.panels[0].length) - left

    def _tab_order(self, drawing: Drawing) -> list[int]:
        assert self._timeline is not None
        panel_of: list[int] = []
        for pi, panel in enumerate(self._timeline.panels):
            panel_of += [pi] * len(panel.marks)

        def key(i: int) -> tuple[int, float, float]:
            box = self._bounds(self._mark_items[i])
            return (panel_of[i] if i < len(panel_of) else 0, box.left(), box.top())

        return sorted(self._mark_items, key=key)

    @staticmethod
    def _bounds(items: Sequence[QGraphicsItem]) -> QRectF:
        box = QRectF()
        for item in items:
            box = box.united(item.sceneBoundingRect())
        return box

    def _update_focus_frame(self) -> None:
        if self._focused is None or self._focused not in self._mark_items:
            if self._focus_frame is not None:
                self._focus_frame.hide()
            return
        box = self._bounds(self._mark_items[self._focused]).adjusted(-2, -2, 2, 2)
        if self._focus_frame is None:
            self._focus_frame = QGraphicsRectItem()
            pen = QPen(colour("today"), 1.5)
            pen.setCosmetic(True)
            self._focus_frame.setPen(pen)
            self._focus_frame.setBrush(Qt.BrushStyle.NoBrush)
            self._focus_frame.setZValue(FOCUS_Z)
            self.scene.addItem(self._focus_frame)
        self._focus_frame.setRect(box)
        self._focus_frame.show()

    def _show_details(self) -> None:
        """Hover wins over focus; with neither, a hint on how to get the details."""
        if self._drawing is None:
            self.status.setText("")
            return
        index = self._hovered if self._hovered is not None else self._focused
        if index is None:
            self.status.setText(tr(self.HINT))
        else:
            detail = self._drawing.marks[index].detail
            self.status.setText(detail)
            self.view.setAccessibleDescription(detail)

    def sizeHint(self) -> QSize:
        return QSize(MIN_WIDTH_PX + 40, 480)
