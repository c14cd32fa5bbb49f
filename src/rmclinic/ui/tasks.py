"""Background work off the UI thread: the result or the error always comes back on the main thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRunnable, QThreadPool, QTimer, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QWidget


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # SystemExit or KeyboardInterrupt in a worker too: the caller must hear
            self._tell(self.relay.failed, exc)
        else:
            self._tell(self.relay.done, result)

    @staticmethod
    def _tell(signal: Any, value: object) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the app closed while the job ran: nobody is left to tell
            pass


_live: set[_Relay] = set()  # keep relays alive until their signal has been delivered


def run_in_background(
    fn: Callable[[], Any], on_result: Callable[[Any], None], on_error: Callable[[BaseException], None]
) -> None:
    relay = _Relay()
    _live.add(relay)

    def finish(cb: Callable[[Any], None]) -> Callable[[Any], None]:
        def handler(value: Any) -> None:
            _live.discard(relay)
            cb(value)

        return handler

    relay.done.connect(finish(on_result))
    relay.failed.connect(finish(on_error))
    QThreadPool.globalInstance().start(_Job(fn, relay))


class _AfterFirstPaint(QObject):
    def __init__(self, widget: QWidget, start: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(widget)
        self._start: Callable[[], None] | None = start
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._go)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent):  # by class: no QEvent.Type built at start-up
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._go)  # once this paint is done
        return False

    def _go(self) -> None:
        start, self._start = self._start, None
        if start is not None:
            start()


def after_first_paint(widget: QWidget, start: Callable[[], None], fallback_ms: int) -> None:
    """Call ``start`` once ``widget`` has painted for the first time (work that would hold the GIL waits until
    the window is on screen), or after ``fallback_ms`` should no paint come; once either way."""
    _AfterFirstPaint(widget, start, fallback_ms)
