"""The main window: left navigation and one page at a time."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from .. import __version__
from ..services.container import Services
from .common import tr
from .patients_page import PatientsPage

NAV = ("worklist", "patients", "evidence", "settings")


def _placeholder(title: str, text: str) -> QWidget:
    label = QLabel(f"<h2>{title}</h2><p>{text}</p>")
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setWordWrap(True)
    label.setMargin(16)
    label.setAccessibleName(title)
    return label


class MainWindow(QMainWindow):
    def __init__(self, services: Services, parent: Any = None, remember_geometry: bool = True) -> None:
        super().__init__(parent)
        self.services = services
        self._remember_geometry = remember_geometry
        self.setWindowTitle(tr("rmclinic {v}").format(v=__version__))
        self.setMinimumSize(720, 480)

        self.nav = QListWidget()
        self.nav.setAccessibleName(tr("Navigation"))
        self.nav.setMaximumWidth(200)
        self.nav.setStyleSheet("QListWidget::item { padding: 6px 10px; }")
        self.pages = QStackedWidget()
        self.patients = PatientsPage(services.patients)
        labels = {
            "worklist": tr("Worklist"),
            "patients": tr("Patients"),
            "evidence": tr("Evidence library"),
            "settings": tr("Settings"),
        }
        widgets = {
            "worklist": _placeholder(
                labels["worklist"],
                tr(
                    "Today's scans, swabs, stop dates and results to review will appear here when "
                    "pregnancy plans and follow-ups are added. Not available in this version."
                ),
            ),
            "patients": self.patients,
            "evidence": _placeholder(
                labels["evidence"],
                tr(
                    "The guidelines and trials behind each alert will be listed here once the alert "
                    "rules are added. Not available in this version."
                ),
            ),
            "settings": _placeholder(
                labels["settings"],
                tr("Clinic settings are not available in this version.")
                + "<br><br>"
                + tr("Database: {db}").format(db=services.database_label.replace("<", "&lt;")),
            ),
        }
        for i, key in enumerate(NAV):
            item = QListWidgetItem(f"{labels[key]}")
            item.setToolTip(f"Ctrl+{i + 1}")
            self.nav.addItem(item)
            self.pages.addWidget(widgets[key])
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.nav.setCurrentRow(i))
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)

        split = QSplitter()
        split.addWidget(self.nav)
        split.addWidget(self.pages)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 920])
        self.setCentralWidget(split)
        self.statusBar().showMessage(tr("Database: {db}").format(db=services.backend))

        QShortcut(QKeySequence.StandardKey.Find, self, self.on_find)
        QShortcut(QKeySequence.StandardKey.New, self, self.on_new_patient)
        self.nav.setCurrentRow(NAV.index("patients"))
        self._restore_geometry()

    def on_find(self) -> None:
        self.nav.setCurrentRow(NAV.index("patients"))
        self.patients.focus_search()

    def on_new_patient(self) -> None:
        self.nav.setCurrentRow(NAV.index("patients"))
        self.patients.on_new_patient_clicked()

    def load(self) -> None:
        self.patients.load()
        self.patients.search.setFocus()

    def _restore_geometry(self) -> None:
        geo = QSettings().value("main_window/geometry") if self._remember_geometry else None
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
            return
        screen = self.screen().availableGeometry()
        self.resize(min(1100, screen.width()), min(720, screen.height()))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._remember_geometry:
            QSettings().setValue("main_window/geometry", self.saveGeometry())
        super().closeEvent(event)
