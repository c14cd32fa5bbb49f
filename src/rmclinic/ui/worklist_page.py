"""The nurses' start page: what is due across all patients for a day or a range, loaded off the UI thread.
Enter (or a double click) opens the patient at the right tab; follow-ups can be marked done here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.errors import DomainError
from ..domain.worklist import FOLLOW_UP_TYPES, TYPE_LABELS, TYPES
from ..fileio import write_private_atomically
from ..services.container import Services
from ..services.worklist import WorklistItem
from . import printing
from .careplan_tab import VARIANT_LABELS
from .common import DateField, ErrorLabel, format_date, tr
from .followup_dialogs import ResultDialog
from .tasks import run_in_background

COLUMNS = ("Due", "Gestation", "Hospital no.", "Patient", "Type", "What")
ALL, ALL_BUT_REVIEWS = "__all__", "__no_reviews__"
Index = QModelIndex | QPersistentModelIndex


class WorklistModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.items: list[WorklistItem] = []

    def set_items(self, items: list[WorklistItem]) -> None:
        self.beginResetModel()
        self.items = items
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return tr(COLUMNS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return ("⚠ " if item.overdue else "") + format_date(item.due_date)
            if col == 1:
                return item.gestation or ""
            if col == 2:
                return item.hospital_number
            if col == 3:
                return item.patient_name
            if col == 4:
                return tr(TYPE_LABELS[item.type])
            return item.description
        if role == Qt.ItemDataRole.ForegroundRole and item.overdue:
            return QBrush(QColor("#b00020"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.description
        return None


class WorklistPage(QWidget):
    open_requested = Signal(object)  # WorklistItem

    def __init__(self, services: Services, parent: Any = None) -> None:
        super().__init__(parent)
        self._services = services
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h2>" + tr("Worklist") + "</h2>"))
        row = QHBoxLayout()
        self.start = DateField()
        self.start.setAccessibleName(tr("First day"))
        self.start.setMaximumWidth(120)
        label = QLabel(tr("&From"))
        label.setBuddy(self.start)
        row.addWidget(label)
        row.addWidget(self.start)
        self.days = QSpinBox()
        self.days.setRange(1, 92)
        self.days.setSuffix(tr(" day(s)"))
        self.days.setAccessibleName(tr("Number of days"))
        row.addWidget(self.days)
        self.today_button = QPushButton(tr("&Today"))
        self.today_button.clicked.connect(self.on_today_clicked)
        row.addWidget(self.today_button)
        self.week_button = QPushButton(tr("Next &7 days"))
        self.week_button.clicked.connect(self.on_week_clicked)
        row.addWidget(self.week_button)
        self.type_filter = QComboBox()
        self.type_filter.setAccessibleName(tr("Show"))
        self.type_filter.addItem(tr("Everything"), ALL)
        self.type_filter.addItem(tr("Everything but results to review"), ALL_BUT_REVIEWS)
        self.type_filter.addItem(tr("Scans, swabs, tests and appointments"), ",".join(FOLLOW_UP_TYPES))
        for t in TYPES:
            self.type_filter.addItem(tr(TYPE_LABELS[t]), t)
        row.addWidget(self.type_filter, 1)
        self.refresh_button = QPushButton(tr("&Refresh"))
        self.refresh_button.clicked.connect(self.load)
        row.addWidget(self.refresh_button)
        lay.addLayout(row)
        self.error = ErrorLabel(self)
        lay.addWidget(self.error)
        self.status = QLabel()
        self.status.setAccessibleName(tr("Worklist status"))
        lay.addWidget(self.status)
        self.model = WorklistModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName(tr("Worklist"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.setTabKeyNavigation(False)
        self.table.activated.connect(self.on_activated)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton(tr("&Open patient"))
        self.open_button.clicked.connect(lambda: self.on_activated(self.table.currentIndex()))
        self.done_button = QPushButton(tr("Mark &done…"))
        self.done_button.setToolTip(tr("Enter the result of the selected scan, swab, test or appointment"))
        self.done_button.clicked.connect(self.on_done_clicked)
        self.print_button = QPushButton(tr("Print &care plans…"))
        self.print_button.setToolTip(tr("The care plans of every patient on the first day's worklist, in one PDF"))
        self.print_button.clicked.connect(self.on_print_careplans_clicked)
        self.export_button = QPushButton(tr("Export C&SV…"))
        self.export_button.setToolTip(tr("The items shown, for Excel or LibreOffice"))
        self.export_button.clicked.connect(self.on_export_csv_clicked)
        row.addWidget(self.open_button)
        row.addWidget(self.done_button)
        row.addStretch(1)
        row.addWidget(self.export_button)
        row.addWidget(self.print_button)
        lay.addLayout(row)
        self.loading = False
        self._request = 0
        self.days.valueChanged.connect(self.load)
        self.type_filter.currentIndexChanged.connect(self.load)
        self.start.returnPressed.connect(self.load)

    def set_defaults(self, today: dt.date) -> None:
        """Today, one day; results to review only for those who review them."""
        self.start.set_date(today)
        actor = self._services.session.actor
        reviews = actor is not None and actor.can(Permission.REVIEW_RESULTS)
        self.type_filter.blockSignals(True)
        self.type_filter.setCurrentIndex(self.type_filter.findData(ALL if reviews else ALL_BUT_REVIEWS))
        self.type_filter.blockSignals(False)
        self.done_button.setVisible(actor is not None and actor.can(Permission.EDIT_PATIENTS))
        self.print_button.setVisible(actor is not None and actor.can(Permission.PRINT))
        self.export_button.setVisible(
            actor is not None and (actor.can(Permission.PRINT) or actor.can(Permission.EXPORT))
        )

    def _types(self) -> list[str] | None:
        value = self.type_filter.currentData()
        if value == ALL:
            return None
        if value == ALL_BUT_REVIEWS:
            return [t for t in TYPES if t != "result_review"]
        return str(value).split(",")

    def on_today_clicked(self) -> None:
        self._show_range(1)

    def on_week_clicked(self) -> None:
        self._show_range(7)

    def _show_range(self, days: int) -> None:
        self.start.set_date(self._services.worklist.today())
        self.days.blockSignals(True)  # one load, not two
        self.days.setValue(days)
        self.days.blockSignals(False)
        self.load()

    def load(self) -> None:
        self.error.show_problem(None)
        start, problem = self.start.date_or_problem()
        if problem:
            self.error.show_problem(problem)
            self.start.setFocus()
            return
        days, types = self.days.value(), self._types()
        self.loading = True
        self.status.setText(tr("Loading…"))
        self.refresh_button.setEnabled(False)
        self._request += 1
        token = self._request
        # Only the newest request's answer is shown: an older one arriving late must not overwrite it.
        run_in_background(
            lambda: self._services.worklist.items(start, days, types),
            lambda items: self._loaded(items) if token == self._request else None,
            lambda exc: self._failed(exc) if token == self._request else None,
        )

    def _loaded(self, items: list[WorklistItem]) -> None:
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.model.set_items(items)
        overdue = sum(1 for i in items if i.overdue)
        self.status.setText(
            tr("{n} items").format(n=len(items))
            + (f"   ·   ⚠ {tr('{n} overdue').format(n=overdue)}" if overdue else "")
        )
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        if items:
            self.table.selectRow(0)

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.status.setText("")
        self.error.show_problem(str(exc) if isinstance(exc, DomainError) else tr("The worklist could not be loaded."))

    def selected(self) -> WorklistItem | None:
        idx = self.table.currentIndex()
        return self.model.items[idx.row()] if idx.isValid() and idx.row() < len(self.model.items) else None

    def on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.model.items[index.row()])

    def on_done_clicked(self) -> None:
        item = self.selected()
        if item is None:
            self.error.show_problem(tr("Select a row first."))
            return
        if item.type not in FOLLOW_UP_TYPES:
            self.open_requested.emit(item)  # reviews, stops and steps are acted on in the patient's record
            return
        try:
            view = self._services.pregnancy.view(item.patient_id)
        except DomainError as e:
            self.error.show_problem(str(e))
            return
        f = next((f for f in view.follow_ups if f.id == item.ref_id), None)
        if f is None:
            self.error.show_problem(tr("This follow-up no longer exists; refresh the list."))
            return
        dlg = ResultDialog(self._services.pregnancy, item.patient_id, f, view.edd_for(f.pregnancy_id), view.today, self)
        if dlg.exec() and dlg.result_value is not None:
            try:  # a result can raise an alert (e.g. a short cervix): keep the list's alerts current
                self._services.alerts.for_patient(item.patient_id)
            except DomainError:
                pass  # the result is saved; the alert appears when the record is next opened
            self.load()

    # -- batch printing ---------------------------------------------------------------------------------------

    def ask_batch(self, day: dt.date) -> tuple[str, str] | None:
        """Which copy, and where to: (variant, "printer" | "file" | "viewer"); None when cancelled.
        Replaced in tests."""
        dlg = BatchPrintDialog(day, self)
        return dlg.values() if dlg.exec() else None

    def on_export_csv_clicked(self) -> None:
        """The worklist as shown (days and filter), to a CSV file; made off the UI thread."""
        from .csv_files import choose_csv_file, export_in_background

        self.error.show_problem(None)
        start, problem = self.start.date_or_problem()
        if problem or start is None:
            self.error.show_problem(problem or tr("Type the first day."))
            return
        days, types = self.days.value(), self._types()
        path = choose_csv_file(self, f"worklist-{start.isoformat()}-{days}d.csv")
        if path is None:
            return

        def make(_progress: Callable[[int, int], None]) -> tuple[bytes, str]:
            data, n = self._services.worklist.export_csv(start, days, types)
            return data, tr("{n} items").format(n=n)

        export_in_background(
            self,
            path,
            make,
            self.status.setText,
            self.error.show_problem,
            tr("Export the worklist"),
            self.export_button,
        )

    def on_print_careplans_clicked(self) -> None:
        """Every patient on the chosen day's worklist, one PDF, made off the UI thread with progress."""
        self.error.show_problem(None)
        day, problem = self.start.date_or_problem()
        if problem or day is None:
            self.error.show_problem(problem or tr("Type the day first."))
            return
        chosen = self.ask_batch(day)
        if chosen is None:
            return
        variant, destination = chosen
        title = tr("care plans {d}").format(d=format_date(day))
        printer = path = None
        if destination == "printer":
            printer = printing.choose_printer(self, title, type(self).exec_print_dialog)
            if printer is None:
                return
        elif destination == "file":
            path = printing.choose_pdf_file(self, f"careplans-{day.isoformat()}-{variant}.pdf")
            if path is None:
                return
        progress = QProgressDialog(tr("Making the care plans…"), "", 0, 100, self)
        progress.setWindowTitle(tr("Print care plans"))
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        relay = _Progress()

        def advance(done: int, total: int) -> None:
            progress.setMaximum(total)
            progress.setValue(done)

        relay.changed.connect(advance)

        def finished(result: tuple[bytes, int]) -> None:
            progress.close()
            pdf, n = result
            try:
                if printer is not None:
                    printing.deliver(printer, pdf, title, one_sided=n > 1)
                elif path is not None:
                    write_private_atomically(path, pdf)
                else:
                    printing.open_in_viewer(pdf, f"careplans-{day.isoformat()}")
            except (printing.PrintFailed, OSError) as e:
                self.error.show_problem(str(e))
                return
            self.status.setText(tr("{n} care plan(s) made for {d}.").format(n=n, d=format_date(day)))

        def failed(exc: BaseException) -> None:
            progress.close()
            self.error.show_problem(
                str(exc) if isinstance(exc, DomainError) else tr("The care plans could not be made; see the log.")
            )

        self._print_relay = relay  # alive until the job ends
        run_in_background(
            lambda: self._services.careplans.render_batch(day, variant, relay.changed.emit, destination),
            finished,
            failed,
        )
        progress.show()

    exec_print_dialog: Callable[[QPrintDialog], int] = staticmethod(lambda d: d.exec())


class _Progress(QObject):
    changed = Signal(int, int)


class BatchPrintDialog(QDialog):
    def __init__(self, day: dt.date, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Print care plans"))
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(tr("Care plans of every patient on the worklist of {d}, in one PDF.").format(d=format_date(day)))
        )
        form = QFormLayout()
        self.variant = QComboBox()
        for key, label in VARIANT_LABELS.items():
            self.variant.addItem(tr(label), key)
        form.addRow(tr("&Copy"), self.variant)
        self.destination = QComboBox()
        self.destination.addItem(tr("Print…"), "printer")
        self.destination.addItem(tr("Save as PDF…"), "file")
        self.destination.addItem(tr("Open in the PDF viewer"), "viewer")
        form.addRow(tr("&To"), self.destination)
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def values(self) -> tuple[str, str]:
        return str(self.variant.currentData()), str(self.destination.currentData())
