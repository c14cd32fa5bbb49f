"""Floor of first_window_ratio: the least a PySide6 program can do to put a window on screen.

Imports PySide6.QtWidgets, creates the QApplication, shows an empty QWidget and reports the time it was
shown exactly as rmclinic does (``report_first_window_for_benchmark`` in rmclinic/ui/main.py, copied so that
this program imports nothing of rmclinic).
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget


def report_first_window_for_benchmark() -> None:
    """Once the event loop has run with the window shown, write the wall-clock time and end at once."""
    path = os.environ.get("RMCLINIC_BENCH_SHOWN")
    if not path:
        return

    def report() -> None:
        with open(path, "w", encoding="ascii") as f:
            f.write(repr(time.time()))
        os._exit(0)

    QTimer.singleShot(0, report)


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = QWidget()
    window.setWindowTitle("bare window")
    window.show()
    report_first_window_for_benchmark()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
