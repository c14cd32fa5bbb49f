"""The patient list model: holds only the rows fetched so far; search, sort and paging run in SQL."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ..domain.identifiers import format_nhs_number
from ..services.dto import PatientQuery, PatientRow
from ..services.patients import PatientService
from .common import format_date, tr

COLUMNS = (
    ("hospital_number", "Hospital no."),
    ("nhs_number", "NHS no."),
    ("name", "Name"),
    ("date_of_birth", "Date of birth"),
)
PAGE_SIZE = 50  # about a screenful; more are fetched as the list scrolls
ROW_ID_ROLE = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex

_DISPLAY_ROLES = (Qt.ItemDataRole.DisplayRole.value, Qt.ItemDataRole.AccessibleTextRole.value)
_ROW_ID = int(ROW_ID_ROLE)
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_ROLES = frozenset((*_DISPLAY_ROLES, _ROW_ID, _TOOLTIP))


def _display(r: PatientRow) -> tuple[str, str, str, str]:
    """The row's cells as shown, in COLUMNS order."""
    return (
        r.hospital_number + (" " + tr("(archived)") if r.archived else ""),
        format_nhs_number(r.nhs_number),
        f"{r.family_name.upper()}, {r.given_name}",
        format_date(r.date_of_birth),
    )


class PatientListModel(QAbstractTableModel):
    total_changed = Signal(int)

    def __init__(self, service: PatientService, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self._rows: list[PatientRow] = []
        self._shown: dict[int, tuple[str, str, str, str]] = {}  # formatted cells, made once per row
        self._total = 0
        self._query = PatientQuery()
        self._resetting = False  # views ask for more rows while a reset is still being announced
        self._at_least = False  # more match than were counted
        self._exhausted = False  # the last page fetched was short: nothing more to fetch
        self._loaded = False  # the view sets its sort order while being built: no query until the page loads

    # -- loading ------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return self._total

    @property
    def total_at_least(self) -> bool:
        """``total`` is a lower bound: more patients match than the search counted."""
        return self._at_least

    @property
    def query(self) -> PatientQuery:
        return self._query

    def set_query(self, query: PatientQuery) -> None:
        self._query = query
        self.reload()

    def reload(self) -> None:
        self._loaded = True
        page = self._service.search(self._query, 0, PAGE_SIZE)
        self._resetting = True
        self.beginResetModel()
        self._rows = list(page.rows)
        self._shown = {}
        self._total = page.total
        self._at_least = page.total_at_least
        self._exhausted = len(page.rows) < PAGE_SIZE
        self.endResetModel()
        self._resetting = False
        self.total_changed.emit(self._total)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self._resetting or self._exhausted:
            return False
        return self._at_least or len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._resetting:
            return
        page = self._service.search(self._query, len(self._rows), PAGE_SIZE)
        self._exhausted = len(page.rows) < PAGE_SIZE
        if not page.rows:
            self._total = len(self._rows)
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
        self._rows.extend(page.rows)
        self.endInsertRows()

    def row_at(self, row: int) -> PatientRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    # -- Qt model API -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Qt asks for a dozen roles per cell at every paint: answer the others at once (typing speed).
        if role not in _ROLES or not index.isValid():
            return None
        row = index.row()
        if role == _ROW_ID:
            return self._rows[row].id
        if role == _TOOLTIP:
            return tr("This patient is archived.") if self._rows[row].archived else None
        shown = self._shown.get(row)
        if shown is None:
            shown = self._shown[row] = _display(self._rows[row])
        return shown[index.column()]

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return tr(COLUMNS[section][1])
        return super().headerData(section, orientation, role)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        from dataclasses import replace

        query = replace(self._query, sort=COLUMNS[column][0], descending=order == Qt.SortOrder.DescendingOrder)
        if self._loaded:
            self.set_query(query)
        else:
            self._query = query
