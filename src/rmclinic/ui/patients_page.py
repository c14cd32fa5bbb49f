"""The Patients page: search-as-you-type list and the patient view, one at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..services.alerts import AlertService
from ..services.careplan import CarePlanService
from ..services.dto import PatientQuery
from ..services.letters import VisitService
from ..services.patients import PatientService
from ..services.pregnancy import PregnancyService
from ..services.session import SessionContext
from ..services.workup import WorkupService
from .common import ErrorLabel, tr
from .patient_dialog import PatientDialog
from .patient_model import ROW_ID_ROLE, PatientListModel

if TYPE_CHECKING:
    from .csv_files import ColumnsDialog
    from .patient_view import PatientView

SEARCH_DEBOUNCE_MS = 80  # coalesce fast typing; short enough to feel instant
VIEW_BUILD_DELAY_MS = 50  # after the window's first paint


class PatientsPage(QStackedWidget):
    def __init__(
        self,
        service: PatientService,
        workup: WorkupService,
        pregnancy: PregnancyService,
        alerts: AlertService | None = None,
        session: SessionContext | None = None,
        careplans: CarePlanService | None = None,
        parent: Any = None,
        visits: VisitService | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self.list_page = QWidget()
        lay = QVBoxLayout(self.list_page)
        row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText(
            tr("Search: name, hospital number, NHS number or date of birth (dd/mm/yyyy)  —  Ctrl+F")
        )
        self.search.setAccessibleName(tr("Search patients"))
        self.search.setClearButtonEnabled(True)
        row.addWidget(self.search, 1)
        self.archived = QCheckBox(tr("Include &archived"))
        row.addWidget(self.archived)
        self.new_button = QPushButton(tr("&New patient…"))
        self.new_button.setToolTip(tr("Ctrl+N"))
        row.addWidget(self.new_button)
        self.export_button = QPushButton(tr("E&xport CSV…"))
        self.export_button.setToolTip(tr("The patients listed, with the columns you choose, for Excel or LibreOffice"))
        self.export_button.hide()  # shown to those who may export (set_permissions)
        row.addWidget(self.export_button)
        lay.addLayout(row)
        self.count_label = QLabel()
        self.count_label.setAccessibleName(tr("Number of patients found"))
        lay.addWidget(self.count_label)
        self.error = ErrorLabel(self.list_page)
        lay.addWidget(self.error)
        self.notice = QLabel()
        self.notice.setAccessibleName(tr("Export status"))
        self.notice.hide()
        lay.addWidget(self.notice)

        self.model = PatientListModel(service, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName(tr("Patient list"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setTabKeyNavigation(False)
        lay.addWidget(self.table, 1)
        self.addWidget(self.list_page)

        # The patient view (a dozen tabs) is built when first needed, or when the app is idle after the list
        # shows: the list must appear as fast as the libraries allow.
        self._view_args = (service, workup, pregnancy, alerts, session, careplans, visits)
        self._view: PatientView | None = None
        self._can_edit = True  # MainWindow applies the user's permissions before the view is built
        self._can_override = False

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_search)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self.on_search_return_pressed)
        self.search.installEventFilter(self)
        self.archived.toggled.connect(self.run_search)
        self.model.total_changed.connect(self._show_count)
        self.table.activated.connect(self.on_table_activated)
        self.new_button.clicked.connect(self.on_new_patient_clicked)
        self.export_button.clicked.connect(self.on_export_csv_clicked)

    @property
    def view(self) -> PatientView:
        if self._view is None:
            from .patient_view import PatientView

            service, workup, pregnancy, alerts, session, careplans, visits = self._view_args
            view = PatientView(service, workup, pregnancy, alerts, session, careplans, visits=visits)
            view.set_can_edit(self._can_edit)
            view.pregnancy.can_override = self._can_override
            view.close_requested.connect(self.show_list)
            view.patient_saved.connect(lambda _id: self.model.reload())
            self.addWidget(view)
            self._view = view
        return self._view

    def prepare_view_when_idle(self) -> None:
        """Build the patient view once the list is on screen (after its first paint), so the first patient
        opens at full speed and the list does not wait for it."""
        QTimer.singleShot(VIEW_BUILD_DELAY_MS, self, lambda: self.view)  # cancelled if the page goes first

    def set_permissions(self, can_edit: bool, can_override: bool, can_export: bool = False) -> None:
        self._can_edit, self._can_override = can_edit, can_override
        self.new_button.setEnabled(can_edit)
        self.export_button.setVisible(can_export)
        if self._view is not None:
            self._view.set_can_edit(can_edit)
            self._view.pregnancy.can_override = can_override

    def _showing_view(self) -> bool:
        return self._view is not None and self.currentWidget() is self._view

    # -- exporting ----------------------------------------------------------------------------

    def exec_columns_dialog(self, dialog: ColumnsDialog) -> int:  # replaced in tests
        return dialog.exec()

    def on_export_csv_clicked(self) -> None:
        from ..services.csv_export import DEFAULT_PATIENT_COLUMNS, PATIENT_COLUMNS
        from .csv_files import ColumnsDialog, choose_csv_file, export_in_background

        self.error.show_problem(None)
        self.notice.hide()
        dialog = ColumnsDialog([(c.key, c.label) for c in PATIENT_COLUMNS], DEFAULT_PATIENT_COLUMNS, self)
        if self.exec_columns_dialog(dialog) != 1:
            return
        columns = dialog.chosen()
        path = choose_csv_file(self, "patients.csv")
        if path is None:
            return
        query = self.model.query  # what the list shows now

        def make(progress: Callable[[int, int], None]) -> tuple[bytes, str]:
            data, n = self._service.export_csv(query, columns, progress)
            return data, tr("{n} patients").format(n=f"{n:,}")

        def done(message: str) -> None:
            self.notice.setText(message)
            self.notice.show()

        export_in_background(
            self, path, make, done, self.error.show_problem, tr("Export the patient list"), self.export_button
        )

    # -- searching ----------------------------------------------------------------------------

    def load(self) -> None:
        self.run_search()

    def run_search(self) -> None:
        self._debounce.stop()
        q = self.model.query
        self.model.set_query(
            PatientQuery(
                text=self.search.text(),
                sort=q.sort,
                descending=q.descending,
                include_archived=self.archived.isChecked(),
            )
        )
        if self.model.rowCount():
            self.table.selectRow(0)

    def _show_count(self, total: int) -> None:
        if self.model.total_at_least:
            self.count_label.setText(
                tr("More than {n} patients found: keep typing to narrow the list").format(n=f"{total:,}")
            )
        elif self.search.text().strip():
            self.count_label.setText(tr("{n} patients found").format(n=f"{total:,}"))
        else:
            self.count_label.setText(tr("{n} patients").format(n=f"{total:,}"))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Down arrow from the search field moves into the list: keyboard only, no mouse.
        # isinstance first: the first event.type() builds Qt's 180-member enum in Python (~15 ms), which the
        # search field's paint and focus events at start-up need not pay.
        if (
            watched is self.search
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Down
            and self.model.rowCount()
        ):
            self.table.setFocus()
            if not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            return True
        return super().eventFilter(watched, event)

    def focus_search(self) -> None:
        self.show_list()
        self.search.setFocus()
        self.search.selectAll()

    def on_search_return_pressed(self) -> None:
        if self._debounce.isActive():
            self.run_search()
        if self.model.rowCount() == 1:
            self.open_patient(self.model.row_at(0).id)  # type: ignore[union-attr]
        elif self.model.rowCount():
            self.table.setFocus()

    # -- opening ------------------------------------------------------------------------------

    def on_table_activated(self, index: Any) -> None:
        pid = self.model.data(index, ROW_ID_ROLE)
        if pid is not None:
            self.open_patient(int(pid))

    def open_patient(self, patient_id: int) -> None:
        if self._showing_view() and not self.view.confirm_leave():
            return
        self.view.show_patient(patient_id)
        self.setCurrentWidget(self.view)
        self.view.tabs.setFocus()

    def show_list(self) -> None:
        if self._showing_view() and not self.view.confirm_leave():
            return
        self.setCurrentWidget(self.list_page)
        self.table.setFocus()

    def on_new_patient_clicked(self) -> None:
        dlg = PatientDialog(self._service, parent=self)
        if dlg.exec() and dlg.saved:
            self.model.reload()
            self.open_patient(dlg.saved.id)
