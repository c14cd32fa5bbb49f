"""Idle lock: after the clinic's idle time every window is covered until the user unlocks."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QMouseEvent, QTabletEvent, QTouchEvent, QWheelEvent, QWindow
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from .common import tr

_INPUT = (QKeyEvent, QMouseEvent, QWheelEvent, QTouchEvent, QTabletEvent)


class IdleWatcher(QObject):
    """Emits ``idle`` after ``timeout_ms`` without keyboard or mouse input anywhere in the app.

    Input reaches the app through its top-level windows (QWindow) before Qt hands it to a widget, so the
    watcher filters only those: each window that takes the focus (the main window, a dialog). An app-wide
    filter would see every event of every widget, each carried into Python: ~45 ms of the first paint
    alone, and a toll on every keystroke after."""

    idle = Signal()

    def __init__(self, timeout_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse one may lock up to 5 % late
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.idle)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.focusWindowChanged.connect(self.watch)
            self.watch(QGuiApplication.focusWindow())
        self.timer.start()

    def watch(self, window: QWindow | None) -> None:
        """Count input in ``window`` as activity. Qt keeps one copy of a filter per object, so watching a
        window again is harmless, and a closed window takes its filter with it."""
        if window is not None:
            window.installEventFilter(self)

    def set_timeout(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # By class: it spares building QEvent.Type in Python (180 members, ~15 ms) at start-up. Not every
        # QInputEvent: the cursor "entering" a window that opened or closed under it is not the user.
        if isinstance(event, _INPUT) and self.timer.isActive():
            self.timer.start()
        return False

    def stop(self) -> None:
        self.timer.stop()

    def restart(self) -> None:
        self.timer.start()


class LockCover(QWidget):
    """An opaque cover over a window's contents: the data underneath stays in memory, unseen."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setAutoFillBackground(True)
        self.setObjectName("lock_cover")
        lay = QVBoxLayout(self)
        label = QLabel(
            "<h2>"
            + tr("rmclinic is locked")
            + "</h2><p>"
            + tr("Patient data is hidden until you log in again.")
            + "</p>"
        )
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setAccessibleName(tr("Locked"))
        lay.addWidget(label)
        self.setGeometry(window.rect())
        window.installEventFilter(self)
        self.raise_()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            self.setGeometry(watched.rect())
            self.raise_()
        return False


def cover_all(except_widget: QWidget | None = None) -> list[LockCover]:
    covers = []
    for w in QApplication.topLevelWidgets():
        if w is except_widget or not w.isVisible() or isinstance(w, LockCover):
            continue
        covers.append(LockCover(w))
    return covers
