"""Exporting to CSV from a page: choose the file, make it off the UI thread (with progress when it is long),
write it private to the user, and say what was written. What the file holds is made by the services."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import DomainError
from ..fileio import write_private_atomically
from .common import tr
from .tasks import run_in_background


def choose_csv_file(parent: QWidget | None, suggested: str) -> Path | None:
    name, _ = QFileDialog.getSaveFileName(
        parent, tr("Export as CSV"), suggested, tr("CSV for Excel or LibreOffice (*.csv)")
    )
    if not name:
        return None
    return Path(name if name.lower().endswith(".csv") else name + ".csv")


class _Progress(QObject):
    changed = Signal(int, int)  # queued to the UI thread by Qt


def export_in_background(
    parent: QWidget,
    path: Path,
    make: Callable[[Callable[[int, int], None]], tuple[bytes, str]],
    done: Callable[[str], None],
    failed: Callable[[str], None],
    title: str,
    button: QWidget | None = None,
) -> None:
    """``make(progress)`` returns the file's bytes and a line saying what they hold; it runs off the UI thread.
    The file is written only once it is complete: a failure leaves nothing behind. ``button`` (the one that
    started it) is disabled meanwhile: one export at a time, as each is audited."""
    if button is not None:
        button.setEnabled(False)
    progress = QProgressDialog(tr("Exporting…"), "", 0, 0, parent)
    progress.setWindowTitle(title)
    progress.setCancelButton(None)  # the audit entries are written before the file: no half-way stop
    progress.setMinimumDuration(400)
    relay = _Progress(parent)

    def advance(n: int, total: int) -> None:
        progress.setMaximum(total)
        progress.setValue(n)

    relay.changed.connect(advance)

    def tidy() -> None:
        if button is not None:
            button.setEnabled(True)
        progress.close()
        progress.deleteLater()
        relay.deleteLater()

    def finished(result: tuple[bytes, str]) -> None:
        tidy()
        data, what = result
        try:
            write_private_atomically(path, data)
        except OSError as e:
            failed(tr("Could not write {p}: {e}").format(p=path, e=e.strerror or e))
            return
        done(tr("Exported {what} to {p}.").format(what=what, p=path))

    def error(exc: BaseException) -> None:
        tidy()
        failed(str(exc) if isinstance(exc, DomainError) else tr("The export failed; nothing was written."))

    run_in_background(lambda: make(relay.changed.emit), finished, error)


class ColumnsDialog(QDialog):
    """Which columns of the patient list go into the file (ticked ones, in the order shown)."""

    def __init__(self, columns: Sequence[tuple[str, str]], ticked: Sequence[str], parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Export the patient list"))
        self.setMinimumWidth(380)
        lay = QVBoxLayout(self)
        note = QLabel(
            tr(
                "The patients the list shows now (search and archived as set), in its order. "
                "Each exported patient is recorded in the audit trail."
            )
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        self.list = QListWidget()
        self.list.setAccessibleName(tr("Columns"))
        for key, label in columns:
            item = QListWidgetItem(tr(label))
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in ticked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        lay.addWidget(self.list)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #a00;")
        self.problem.hide()
        lay.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def chosen(self) -> list[str]:
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def _accept(self) -> None:
        if not self.chosen():
            self.problem.setText(tr("Tick at least one column."))
            self.problem.show()
            return
        self.accept()
