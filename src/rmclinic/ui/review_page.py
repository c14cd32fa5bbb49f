"""Results to review: the consultants' queue across all patients, flagged results first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import DomainError
from ..services.dto import ReviewRow
from ..services.workup import WorkupService
from .common import ErrorLabel, format_date, tr


class ReviewPage(QWidget):
    open_patient_requested = Signal(int)

    def __init__(self, service: WorkupService, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self.rows: list[ReviewRow] = []
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("Results to review") + "</h2>"))
        self.status = QLabel()
        lay.addWidget(self.status)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            [
                tr("Patient"),
                tr("Hospital no."),
                tr("Investigation"),
                tr("Result"),
                tr("Interpretation"),
                tr("Sample date"),
            ]
        )
        self.table.setAccessibleName(tr("Results to review"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemActivated.connect(self._on_activated)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.comment = QLineEdit()
        self.comment.setPlaceholderText(tr("optional comment for the selected results"))
        self.comment.setAccessibleName(tr("Review comment"))
        self.sign = QPushButton(tr("&Sign off selected"))
        self.sign.clicked.connect(self.on_sign_clicked)
        row.addWidget(self.comment, 1)
        row.addWidget(self.sign)
        lay.addLayout(row)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)

    def load(self) -> None:
        self.error.show_problem(None)
        try:
            self.rows, total = self._service.review_queue(0, 500)
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        cat = self._service.catalogue()
        self.status.setText(tr("{n} results wait for review").format(n=total))
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            it = row.item
            interp = it.interpretation.value if it.interpretation else ""
            flagged = bool(it.interpretation and it.interpretation.flagged)
            name = (
                cat.investigations[it.investigation_id].name
                if it.investigation_id in cat.investigations
                else it.investigation_id
            )
            values = [
                f"{row.family_name.upper()}, {row.given_name}",
                row.hospital_number,
                name,
                it.value.describe() if it.value else "",
                ("⚠ " if flagged else "") + tr(interp),
                format_date(it.sample_date),
            ]
            for c, v in enumerate(values):
                cell = QTableWidgetItem(v)
                cell.setData(Qt.ItemDataRole.UserRole, r)
                self.table.setItem(r, c, cell)
        self.table.resizeColumnsToContents()

    def _on_activated(self, cell: QTableWidgetItem) -> None:
        self.open_patient_requested.emit(self.rows[cell.data(Qt.ItemDataRole.UserRole)].patient_id)

    def on_sign_clicked(self) -> None:
        chosen = sorted({i.row() for i in self.table.selectedIndexes()})
        failures = []
        for r in chosen:
            row = self.rows[r]
            try:
                self._service.review(row.patient_id, row.item.id, row.item.version, self.comment.text())
            except DomainError as e:
                failures.append(f"{row.hospital_number}: {e}")
        self.comment.clear()
        self.load()
        if failures:
            self.error.show_problem("; ".join(failures))
