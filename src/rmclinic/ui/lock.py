"""Idle lock: after the clinic's idle time every window is covered until the user unlocks."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from .common import tr

_ACTIVITY = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class IdleWatcher(QObject):
    """Emits ``idle`` after ``timeout_ms`` without keyboard or mouse input anywhere in the app."""

    idle = Signal()

    def __init__(self, timeout_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.idle)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer.start()

    def set_timeout(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY and self.timer.isActive():
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
