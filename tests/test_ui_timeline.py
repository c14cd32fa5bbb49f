"""The timeline widget, offscreen with pytest-qt: checked through the scene's items (not pixels) against the
primitives ``place`` lays out."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsLineItem, QGraphicsPathItem, QGraphicsRectItem
from pytestqt.qtbot import QtBot
from test_timeline_layout import GA_TODAY, PLAN_ID, SCAN_24, SCAN_30, SWAB_DUE, mark_index, sample_layout

from rmclinic.domain.timeline import PALETTE, ItemRef, Shape, TimelineLayout, place
from rmclinic.ui.main import make_application
from rmclinic.ui.timeline_view import EXPORT_MARGIN, FIT_SLACK_PX, MIN_WIDTH_PX, PX_PER_PT, TimelineView


@pytest.fixture(scope="module")
def layout() -> TimelineLayout:
    return sample_layout()


@pytest.fixture
def view(qtbot: QtBot, qapp: QApplication, layout: TimelineLayout) -> TimelineView:
    make_application()
    w = TimelineView()
    qtbot.addWidget(w)
    w.resize(1200, 700)
    w.show()
    qtbot.waitExposed(w)
    w.set_layout(layout)
    return w


def gestation(layout: TimelineLayout) -> int:
    return next(i for i, p in enumerate(layout.panels) if p.axis == "gestation")


def items_with(view: TimelineView, index: int, kind: type[QGraphicsItem]) -> list[QGraphicsItem]:
    return [i for i in view.items_of_mark(index) if isinstance(i, kind)]


def marker(view: TimelineView, index: int) -> QGraphicsPathItem:
    (item,) = items_with(view, index, QGraphicsPathItem)
    assert isinstance(item, QGraphicsPathItem)
    return item


def on_screen(view: TimelineView, item: QGraphicsItem) -> QPoint:
    """Scroll the item into view; its centre in viewport coordinates."""
    centre = item.sceneBoundingRect().center()
    view.view.ensureVisible(item.sceneBoundingRect(), 20, 20)
    return view.view.mapFromScene(centre)


def test_every_mark_has_items_carrying_its_index_ref_and_detail(view: TimelineView, layout: TimelineLayout) -> None:
    drawing = view.drawing
    assert drawing is not None and len(drawing.marks) == len(layout.marks())
    by_mark: dict[int, list[QGraphicsItem]] = {}
    for item in view.scene.items():
        if item.data(0) is not None:
            by_mark.setdefault(item.data(0), []).append(item)
    assert sorted(by_mark) == list(range(len(drawing.marks)))
    for index, items in by_mark.items():
        mark = drawing.marks[index]
        for item in items:
            assert item.data(1) == mark.ref
            assert item.toolTip() == mark.detail
            assert item.cursor().shape() == Qt.CursorShape.PointingHandCursor
    # one item per drawn primitive ("scale" prims are bookkeeping)
    drawn = [p for p in drawing.prims if p.op != "scale"]
    assert len([i for i in view.scene.items() if i.isVisible()]) == len(drawn)


def test_markers_sit_where_place_put_them(view: TimelineView, layout: TimelineLayout) -> None:
    drawing = view.drawing
    assert drawing is not None
    fresh = place(layout, drawing.width)  # the widget adds nothing of its own to the layout
    assert fresh.prims == drawing.prims
    gi = gestation(layout)
    panel_of = [pi for pi, panel in enumerate(layout.panels) for _ in panel.marks]
    for p in drawing.prims:
        if p.op == "marker" and p.mark is not None:
            item = marker(view, p.mark)
            assert (item.pos().x(), item.pos().y()) == (p.x, p.y)
            assert item.pos().x() == pytest.approx(drawing.x_of(panel_of[p.mark], drawing.marks[p.mark].x))
    due = marker(view, mark_index(drawing, "follow_up", str(SWAB_DUE)))
    assert due.pos().x() == pytest.approx(drawing.x_of(gi, 24 * 7))
    assert due.brush().color() == Qt.GlobalColor.white  # due: an open square
    # cervical length: 24 mm under the dashed 25 mm line, 30 mm above it
    (ref_line,) = [
        i
        for i in view.scene.items()
        if isinstance(i, QGraphicsLineItem) and i.pen().style() == Qt.PenStyle.CustomDashLine
        if i.pen().color().name() == PALETTE["abnormal"]
    ]
    y25 = ref_line.line().y1()
    short = marker(view, mark_index(drawing, "follow_up", str(SCAN_24)))
    normal = marker(view, mark_index(drawing, "follow_up", str(SCAN_30)))
    assert short.pos().y() > y25 > normal.pos().y()
    assert short.brush().color().name() == PALETTE["abnormal"]  # filled, and labelled "short"
    # today's line at today's gestation
    today = [
        i for i in view.scene.items() if isinstance(i, QGraphicsLineItem) and i.pen().color().name() == PALETTE["today"]
    ]
    assert any(i.line().x1() == pytest.approx(drawing.x_of(gi, GA_TODAY)) for i in today)


def test_plan_bars_span_start_to_stop_and_the_taper_is_hatched(view: TimelineView, layout: TimelineLayout) -> None:
    drawing = view.drawing
    assert drawing is not None
    gi = gestation(layout)
    plan = [i for i, m in enumerate(drawing.marks) if m.ref == ItemRef("plan", str(PLAN_ID))]
    bars = sorted((r for i in plan for r in items_with(view, i, QGraphicsRectItem)), key=lambda r: r.pos().x())
    assert all(isinstance(b, QGraphicsRectItem) for b in bars)
    spans = [(b.pos().x(), b.pos().x() + b.rect().width()) for b in bars]  # type: ignore[attr-defined]
    assert spans[0][0] == pytest.approx(drawing.x_of(gi, 6 * 7))  # from 6+0
    assert spans[-1][1] == pytest.approx(drawing.x_of(gi, 16 * 7))  # to the stop at 16+0
    for (_a0, a1), (b0, _b1) in itertools.pairwise(spans):
        assert a1 == pytest.approx(b0)  # one dose period follows the other
    styles = [b.brush().style() for b in bars]  # type: ignore[attr-defined]
    assert styles == [Qt.BrushStyle.SolidPattern, Qt.BrushStyle.BDiagPattern, Qt.BrushStyle.BDiagPattern]
    cross = [m for i in plan for m in items_with(view, i, QGraphicsPathItem)]
    assert len(cross) == 1 and cross[0].pos().x() == pytest.approx(drawing.x_of(gi, 16 * 7))
    assert drawing.marks[cross[0].data(0)].shape is Shape.CROSS


def test_zoom_re_places_wider_and_keeps_the_text_size(view: TimelineView, layout: TimelineLayout) -> None:
    drawing = view.drawing
    assert drawing is not None
    a, b = mark_index(drawing, "follow_up", "31"), mark_index(drawing, "follow_up", str(SWAB_DUE))
    before = marker(view, b).pos().x() - marker(view, a).pos().x()
    font = next(i for i in view.items_of_mark(a) if not isinstance(i, QGraphicsPathItem)).font()
    transform = view.view.transform()
    width = drawing.width
    view.zoom_in()
    assert view.zoom == pytest.approx(1.5) and view.zoom_label.text() == "150%"
    assert view.drawing is not None and view.drawing.width == pytest.approx(width * 1.5)
    after = marker(view, b).pos().x() - marker(view, a).pos().x()
    plot = (view.drawing.x_of(0, 1) - view.drawing.x_of(0, 0)) / (drawing.x_of(0, 1) - drawing.x_of(0, 0))
    assert after == pytest.approx(before * plot) and after > 1.5 * before
    label = next(i for i in view.items_of_mark(a) if not isinstance(i, QGraphicsPathItem))
    assert label.font().pointSizeF() == pytest.approx(font.pointSizeF())
    assert view.view.transform() == transform  # zoom re-places; it never scales the view
    view.zoom_out()
    assert view.zoom == 1.0
    view.zoom_out()
    assert view.zoom == 1.0  # fit is the smallest: narrower would only crowd the labels
    assert not view.zoom_out_button.isEnabled() and view.zoom_in_button.isEnabled()
    view.zoom_in()
    view.zoom_in()
    view.fit()
    assert view.zoom == 1.0 and view.drawing.width == pytest.approx(width)


def test_zoom_by_keys_buttons_and_ctrl_wheel_keeps_the_point_under_the_cursor(qtbot: QtBot, view: TimelineView) -> None:
    qtbot.keyClick(view.view, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(1.5)
    qtbot.keyClick(view.view, Qt.Key.Key_0)
    assert view.zoom == 1.0
    qtbot.mouseClick(view.zoom_in_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(view.view, Qt.Key.Key_Minus)
    assert view.zoom == 1.0
    drawing = view.drawing
    assert drawing is not None
    index = mark_index(drawing, "follow_up", str(SCAN_24))
    pos = on_screen(view, marker(view, index))
    wheel = QWheelEvent(
        QPointF(pos),
        QPointF(view.view.viewport().mapToGlobal(pos)),
        QPoint(),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.view.viewport(), wheel)
    assert view.zoom == pytest.approx(1.5**2)
    moved = view.view.mapFromScene(marker(view, index).pos()) - pos
    assert moved.manhattanLength() <= 3  # the mark under the cursor stayed under it


def test_clicking_a_mark_opens_its_item(qtbot: QtBot, view: TimelineView) -> None:
    drawing = view.drawing
    assert drawing is not None
    for key in (str(SCAN_24), str(SWAB_DUE)):
        index = mark_index(drawing, "follow_up", key)
        pos = on_screen(view, marker(view, index))
        with qtbot.waitSignal(view.item_activated, timeout=1000) as blocker:
            qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        assert blocker.args == [ItemRef("follow_up", key)]
    # the label is part of the mark too
    index = mark_index(drawing, "history", "2")
    label = next(i for i in view.items_of_mark(index) if not isinstance(i, QGraphicsPathItem))
    with qtbot.waitSignal(view.item_activated, timeout=1000) as blocker:
        qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=on_screen(view, label))
    assert blocker.args == [ItemRef("history", "2")]
    assert "tissue aneuploid" in view.status.text()  # clicked marks keep the focus, and their details show


def test_clicking_empty_space_or_dragging_opens_nothing(qtbot: QtBot, view: TimelineView) -> None:
    drawing = view.drawing
    assert drawing is not None
    with qtbot.assertNotEmitted(view.item_activated):
        qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
        pos = on_screen(view, marker(view, mark_index(drawing, "follow_up", str(SWAB_DUE))))
        qtbot.mousePress(view.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        qtbot.mouseRelease(view.view.viewport(), Qt.MouseButton.LeftButton, pos=pos + QPoint(40, 0))


def test_hovering_a_mark_shows_its_details_under_the_view(qtbot: QtBot, view: TimelineView) -> None:
    drawing = view.drawing
    assert drawing is not None
    index = mark_index(drawing, "follow_up", str(SCAN_24))
    assert "Tab" in view.status.text()  # a hint while nothing is pointed at
    qtbot.mouseMove(view.view.viewport(), on_screen(view, marker(view, index)))
    qtbot.waitUntil(lambda: view.status.text() == drawing.marks[index].detail, timeout=1000)
    assert "24 mm" in view.status.text() and "NICE NG25" in view.status.text()


def test_every_mark_is_reachable_by_keyboard_and_enter_opens_it(qtbot: QtBot, view: TimelineView) -> None:
    drawing = view.drawing
    assert drawing is not None
    view.view.setFocus()
    seen: list[int] = []
    for _ in drawing.marks:
        qtbot.keyClick(view.view, Qt.Key.Key_Tab)
        assert view.focused_mark is not None
        seen.append(view.focused_mark)
        assert view.status.text() == drawing.marks[view.focused_mark].detail
    assert sorted(seen) == list(range(len(drawing.marks)))
    # in order of x within each panel
    panel_of = [pi for pi, panel in enumerate(view.layout_shown.panels) for _ in panel.marks]
    lefts = [(panel_of[i], min(it.sceneBoundingRect().left() for it in view.items_of_mark(i))) for i in seen]
    assert lefts == sorted(lefts)
    # the focus frame is drawn round the focused mark
    frame = [i for i in view.scene.items() if i.zValue() >= 100 and i.isVisible()]
    focused = view.items_of_mark(seen[-1])[0].sceneBoundingRect()
    assert len(frame) == 1 and frame[0].sceneBoundingRect().contains(focused)
    # Shift+Tab goes back; Enter opens
    qtbot.keyClick(view.view, Qt.Key.Key_Backtab)
    assert view.focused_mark == seen[-2]
    with qtbot.waitSignal(view.item_activated, timeout=1000) as blocker:
        qtbot.keyClick(view.view, Qt.Key.Key_Return)
    assert blocker.args == [drawing.marks[seen[-2]].ref]
    # Ctrl+Left/Right walk too
    qtbot.keyClick(view.view, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert view.focused_mark == seen[-3]
    qtbot.keyClick(view.view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert view.focused_mark == seen[-2]
    # past the last mark, Tab leaves the view: it is no keyboard trap
    qtbot.keyClick(view.view, Qt.Key.Key_Tab)
    assert view.focused_mark == seen[-1] and view.view.hasFocus()
    qtbot.keyClick(view.view, Qt.Key.Key_Tab)
    assert view.focused_mark is None and not view.view.hasFocus()


def test_focus_survives_zoom_and_tab_into_the_view_starts_at_the_first_mark(qtbot: QtBot, view: TimelineView) -> None:
    view.zoom_in_button.setFocus()
    qtbot.keyClick(view.zoom_in_button, Qt.Key.Key_Tab)  # zoom out, fit, export, then the view
    for _ in range(5):
        if view.view.hasFocus():
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert view.view.hasFocus()
    first = view.focused_mark
    assert first is not None
    view.zoom_in()
    assert view.focused_mark == first
    frame = [i for i in view.scene.items() if i.zValue() >= 100 and i.isVisible()]
    assert len(frame) == 1


def test_export_png_writes_the_whole_scene(view: TimelineView, tmp_path: Path) -> None:
    rect = view.scene.sceneRect()
    for scale in (1.0, 2.0):
        target = tmp_path / f"timeline-{scale:g}.png"
        view.export_png(target, scale)
        image = QImage(str(target))
        assert not image.isNull()
        assert image.width() == math.ceil((rect.width() + 2 * EXPORT_MARGIN) * scale)
        assert image.height() == math.ceil((rect.height() + 2 * EXPORT_MARGIN) * scale)
        assert image.pixelColor(1, 1).name() == "#ffffff"  # on white
    with pytest.raises(OSError, match="does not exist"):
        view.export_png(tmp_path / "missing" / "t.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OSError, match="Cannot save the timeline image"):
        view.export_png(tmp_path / "dir.png")


def test_export_button_asks_for_a_file_and_shows_problems_in_place(
    qtbot: QtBot, view: TimelineView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "chosen.png"
    monkeypatch.setattr(TimelineView, "choose_png_file", staticmethod(lambda parent, suggested: str(target)))
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert target.exists() and view.problem.isHidden()
    bad = tmp_path / "nowhere" / "x.png"
    monkeypatch.setattr(TimelineView, "choose_png_file", staticmethod(lambda parent, suggested: str(bad)))
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert "does not exist" in view.problem.text() and not view.problem.isHidden()


def test_no_layout_shows_the_placeholder(view: TimelineView, layout: TimelineLayout) -> None:
    view.set_layout(None)
    assert view.placeholder.isVisible() and not view.view.isVisible()
    assert "Nothing to show yet" in view.placeholder.text()
    assert view.drawing is None and view.layout_shown is None and not view.scene.items()
    assert not view.export_button.isEnabled() and not view.zoom_in_button.isEnabled()
    with pytest.raises(OSError, match="no timeline"):
        view.export_png("/tmp/never.png")
    view.set_layout(layout)
    assert view.view.isVisible() and not view.placeholder.isVisible() and view.export_button.isEnabled()


def test_the_base_width_follows_the_window(qtbot: QtBot, view: TimelineView) -> None:
    assert view.drawing is not None
    assert view.drawing.width == pytest.approx((view.view.viewport().width() - FIT_SLACK_PX) / PX_PER_PT)
    bar = view.view.horizontalScrollBar()
    assert bar.maximum() <= bar.minimum()  # at "fit" the timeline fits: nothing to scroll
    view.resize(1500, 700)
    qtbot.waitUntil(
        lambda: (
            view.drawing is not None
            and view.drawing.width == pytest.approx((view.view.viewport().width() - FIT_SLACK_PX) / PX_PER_PT)
        ),
        timeout=2000,
    )
    assert bar.maximum() <= bar.minimum()
    view.resize(500, 700)  # never narrower than ~800 pixels: the view scrolls instead
    qtbot.waitUntil(lambda: view.drawing is not None and view.drawing.width < 700, timeout=2000)
    assert view.drawing is not None and view.drawing.width * PX_PER_PT == pytest.approx(MIN_WIDTH_PX - FIT_SLACK_PX)


def test_details_that_look_like_html_stay_text(qtbot: QtBot) -> None:
    from rmclinic.ui.timeline_view import tooltip_text

    assert tooltip_text("TSH 2 mIU/L") == "TSH 2 mIU/L"
    assert tooltip_text("notes: <b>x</b> & y") == "<p>notes: &lt;b&gt;x&lt;/b&gt; &amp; y</p>"


def test_the_legend_names_every_shape(qtbot: QtBot, qapp: QApplication) -> None:
    w = TimelineView()
    qtbot.addWidget(w)
    words = w.legend.accessibleDescription()
    for text in ("▲ loss", "● live birth", "◆ abnormal result", "■ due", "✕ stop", "hatched bar = taper", "25 mm"):
        assert text in words
    assert w.legend.heightForWidth(200) > w.legend.heightForWidth(2000)  # wraps rather than clips


def test_lane_names_stay_in_sight_when_scrolled_sideways(qtbot: QtBot, view: TimelineView, tmp_path: Path) -> None:
    def caption(text: str) -> QGraphicsItem:
        return next(i for i in view.scene.items() if getattr(i, "text", lambda: "")() == text)

    at_rest = caption("Medication").x()
    view.set_zoom(4.0)
    bar = view.view.horizontalScrollBar()
    bar.setValue(bar.maximum())
    left = view.view.mapToScene(QPoint(0, 0)).x()
    assert left > 1000 and caption("Medication").x() == pytest.approx(at_rest + left)
    assert caption("History").x() == pytest.approx(left)
    view.export_png(tmp_path / "t.png")  # the picture has them in their place...
    assert caption("Medication").x() == pytest.approx(at_rest + left)  # ...and the screen keeps them pinned
    bar.setValue(bar.minimum())
    assert caption("Medication").x() == pytest.approx(at_rest)
