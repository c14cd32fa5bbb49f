"""The main window: left navigation, one page at a time, menus, idle lock and role-aware pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..domain.accounts import BREAK_GLASS_ROLES, ROLE_LABELS, Permission
from ..domain.errors import DomainError
from ..fileio import write_private_atomically
from ..services.container import Services
from ..services.session import PermissionDenied
from ..services.transfer import ImportRejected
from ..services.worklist import WorklistItem
from .common import tr
from .lock import IdleWatcher, LockCover, cover_all
from .login import LoginDialog
from .patients_page import PatientsPage
from .tasks import run_in_background

if TYPE_CHECKING:
    from .admin_pages import AuditPage, SettingsPage, UsersPage
    from .evidence_page import EvidencePage
    from .review_page import ReviewPage
    from .worklist_page import WorklistPage

# Pages other than the patient list are built (and their modules imported) when first shown: the first
# window then costs only what it shows.
_LAZY_PAGES = ("worklist", "review", "evidence", "users", "audit", "settings")


class _Progress(QObject):
    """Carries progress from a worker thread to the dialog (queued to the UI thread by Qt)."""

    changed = Signal(int, int)


def _placeholder(title: str, text: str) -> QWidget:
    label = QLabel(f"<h2>{title}</h2><p>{text}</p>")
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setWordWrap(True)
    label.setMargin(16)
    label.setAccessibleName(title)
    return label


class MainWindow(QMainWindow):
    locked = Signal()
    unlocked = Signal()

    def __init__(
        self, services: Services, parent: Any = None, remember_geometry: bool = True, idle_ms: int | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self._remember_geometry = remember_geometry
        self._covers: list[LockCover] = []
        self.is_locked = False
        self.setMinimumSize(720, 480)

        self.nav = QListWidget()
        self.nav.setAccessibleName(tr("Navigation"))
        self.nav.setMaximumWidth(200)
        self.nav.setStyleSheet("QListWidget::item { padding: 6px 10px; }")
        self.pages = QStackedWidget()
        self.patients = PatientsPage(
            services.patients,
            services.workup,
            services.pregnancy,
            services.alerts,
            services.session,
            services.careplans,
            visits=services.visits,
        )
        self._built: dict[str, QWidget] = {}  # lazily built pages, by key
        self._slots: dict[str, QWidget] = {}  # what stands in the page stack until a page is built
        # The outcomes audit is built when first opened: it loads QtCharts, which start-up never needs.
        self.outcomes_host = QWidget()
        self._outcomes_layout = QVBoxLayout(self.outcomes_host)
        self._outcomes_layout.setContentsMargins(0, 0, 0, 0)
        self.outcomes_page: Any = None
        self._page_keys: list[str] = []
        self._build_pages()
        self.nav.currentRowChanged.connect(self.on_nav_row_changed)

        split = QSplitter()
        split.addWidget(self.nav)
        split.addWidget(self.pages)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 920])
        self.setCentralWidget(split)
        self._build_menus()
        self._apply_user()

        for i in range(6):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self._go(i))
        QShortcut(QKeySequence.StandardKey.Find, self, self.on_find)
        QShortcut(QKeySequence.StandardKey.New, self, self.on_new_patient)
        self._restore_geometry()
        minutes = services.settings.get_int("idle_lock_minutes")
        self.idle = IdleWatcher(idle_ms if idle_ms is not None else minutes * 60_000, self)
        self.idle.idle.connect(self.lock)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.idle.watch(self.windowHandle())  # also when the window manager has not given it the focus

    # -- pages and menus ------------------------------------------------------------------------

    def _make_page(self, key: str) -> QWidget:
        s = self.services
        page: QWidget
        if key == "worklist":
            from .worklist_page import WorklistPage

            page = WorklistPage(s)
            page.open_requested.connect(self.open_worklist_item)
            page.set_defaults(s.worklist.today())
        elif key == "review":
            from .review_page import ReviewPage

            page = ReviewPage(s.workup)
            page.open_patient_requested.connect(self.open_patient)
        elif key == "evidence":
            from .evidence_page import EvidencePage

            page = EvidencePage(s)
        else:
            from .admin_pages import AuditPage, SettingsPage, UsersPage

            page = {"users": UsersPage, "audit": AuditPage, "settings": SettingsPage}[key](s)
        return page

    def _page(self, key: str) -> QWidget:
        """The page, built on first use; it takes its stand-in's place in the page stack."""
        page = self._built.get(key)
        if page is None:
            page = self._built[key] = self._make_page(key)
            slot = self._slots.pop(key, None)
            if slot is not None and (i := self.pages.indexOf(slot)) >= 0:
                current = self.pages.currentIndex() == i
                self.pages.insertWidget(i, page)
                self.pages.removeWidget(slot)
                if current:
                    self.pages.setCurrentIndex(i)
            if slot is not None:
                slot.deleteLater()
        return page

    def _in_stack(self, key: str) -> QWidget:
        if key in self._built:
            return self._built[key]
        return self._slots.setdefault(key, QWidget())

    @property
    def worklist_page(self) -> WorklistPage:
        return cast("WorklistPage", self._page("worklist"))

    @property
    def review_page(self) -> ReviewPage:
        return cast("ReviewPage", self._page("review"))

    @property
    def evidence_page(self) -> EvidencePage:
        return cast("EvidencePage", self._page("evidence"))

    @property
    def users_page(self) -> UsersPage:
        return cast("UsersPage", self._page("users"))

    @property
    def audit_page(self) -> AuditPage:
        return cast("AuditPage", self._page("audit"))

    @property
    def settings_page(self) -> SettingsPage:
        return cast("SettingsPage", self._page("settings"))

    def _build_pages(self) -> None:
        actor = self.services.session.actor
        is_admin = actor is not None and actor.can(Permission.VIEW_AUDIT)
        entries: list[tuple[str, str, QWidget]] = [
            ("worklist", tr("Worklist"), self._in_stack("worklist")),
            ("patients", tr("Patients"), self.patients),
        ]
        if actor is not None and actor.can(Permission.REVIEW_RESULTS):
            entries.append(("review", tr("Results to review"), self._in_stack("review")))
        entries += [
            ("evidence", tr("Evidence library"), self._in_stack("evidence")),
        ]
        self._drop_outcomes_page()  # a new user starts from an empty report (each report made is audited)
        if actor is not None and actor.can(Permission.EXPORT):
            entries.append(("outcomes", tr("Outcomes audit"), self.outcomes_host))
        if is_admin:
            entries += [
                ("users", tr("Users"), self._in_stack("users")),
                ("audit", tr("Audit trail"), self._in_stack("audit")),
                ("settings", tr("Settings"), self._in_stack("settings")),
            ]
        else:
            entries.append(
                (
                    "settings-info",
                    tr("Settings"),
                    _placeholder(tr("Settings"), tr("Clinic settings are changed by an administrator.")),
                )
            )
        self.nav.clear()
        while (old := self.pages.widget(0)) is not None:
            self.pages.removeWidget(old)
        self._page_keys = []
        for i, (key, label, widget) in enumerate(entries):
            item = QListWidgetItem(label)
            item.setToolTip(f"Ctrl+{i + 1}")
            self.nav.addItem(item)
            self.pages.addWidget(widget)
            self._page_keys.append(key)
        # Nurses and consultants start at the worklist (what is due today); others at the patient list.
        start = "worklist" if actor is not None and actor.can(Permission.EDIT_PATIENTS) else "patients"
        if "worklist" in self._built:
            self.worklist_page.set_defaults(self.services.worklist.today())
        if start in _LAZY_PAGES:
            self._page(start)
        self.nav.setCurrentRow(self._page_keys.index(start))
        # setCurrentRow emits nothing when the row does not change (or before the signal is connected):
        # keep the page in step explicitly.
        self.pages.setCurrentIndex(self.nav.currentRow())
        if start == "worklist" and actor is not None:
            self.worklist_page.load()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        bar.clear()
        file = bar.addMenu(tr("&File"))
        self.act_export = file.addAction(tr("&Export records…"), self.on_export)
        self.act_import = file.addAction(tr("&Import records…"), self.on_import)
        self.act_backup = file.addAction(tr("&Back up the database…"), self.on_backup)
        file.addSeparator()
        self.act_lock = file.addAction(tr("&Lock screen"), self.lock)
        self.act_lock.setShortcut(QKeySequence("Ctrl+L"))
        self.act_logout = file.addAction(tr("Log &out"), self.on_logout)
        file.addAction(tr("&Quit"), self.close).setShortcut(QKeySequence.StandardKey.Quit)
        tools = bar.addMenu(tr("&Tools"))
        self.act_emergency = QAction(tr("&Emergency access…"), self)
        self.act_emergency.triggered.connect(self.on_emergency)
        tools.addAction(self.act_emergency)
        self.act_refresh_alerts = tools.addAction(tr("&Re-evaluate all alerts…"), self.on_refresh_alerts)

    def _apply_user(self) -> None:
        actor = self.services.session.actor
        demo = self.services.settings.is_demo()
        who = f"{actor.username} ({tr(ROLE_LABELS[actor.role])})" if actor else tr("not logged in")
        title = f"rmclinic {__version__} — {who}"
        if actor is not None and actor.emergency_reason:
            title += " — " + tr("EMERGENCY ACCESS")
        if demo:
            title = "DEMO — " + title + " — DEMO"
        self.setWindowTitle(title)
        self.statusBar().showMessage(
            (tr("DEMO DATABASE: synthetic patients only.") + "   " if demo else "")
            + tr("Database: {db}").format(db=self.services.backend)
        )
        can = actor.can if actor else (lambda _p: False)
        self.act_export.setEnabled(can(Permission.EXPORT))
        self.act_import.setEnabled(can(Permission.IMPORT) or (actor is not None and actor.role in BREAK_GLASS_ROLES))
        self.act_backup.setEnabled(can(Permission.BACKUP_RESTORE) and self.services.backend == "sqlite")
        self.act_emergency.setEnabled(actor is not None and actor.role in BREAK_GLASS_ROLES)
        self.act_refresh_alerts.setEnabled(can(Permission.VIEW_PATIENTS))
        self.patients.set_permissions(
            can(Permission.EDIT_PATIENTS), can(Permission.OVERRIDE_CRITICAL_ALERTS), can(Permission.EXPORT)
        )

    def _go(self, row: int) -> None:
        if row < self.nav.count():
            self.nav.setCurrentRow(row)

    def on_nav_row_changed(self, row: int) -> None:
        if row < 0:
            return
        key = self._page_keys[row]
        if key in _LAZY_PAGES:
            self._page(key)  # before it is shown: a stand-in is never seen
        self.pages.setCurrentIndex(row)
        if key == "worklist" and self.services.session.actor is not None:
            self.worklist_page.load()
        elif key == "review":
            self.review_page.load()
        elif key == "evidence":
            self.evidence_page.load()
        elif key == "outcomes":
            self.show_outcomes_page()
        elif key == "users":
            self.users_page.load()
        elif key == "audit":
            self.audit_page.load()
        elif key == "settings":
            self.settings_page.load()

    def show_outcomes_page(self) -> Any:
        """The outcomes audit page, built on first use."""
        if self.outcomes_page is None:
            from .outcomes_page import OutcomesPage

            self.outcomes_page = OutcomesPage(self.services)
            self.outcomes_page.open_patient_requested.connect(self.open_patient)
            self._outcomes_layout.addWidget(self.outcomes_page)
        self.outcomes_page.load()
        return self.outcomes_page

    def _drop_outcomes_page(self) -> None:
        if self.outcomes_page is not None:
            self.outcomes_page.setParent(None)
            self.outcomes_page.deleteLater()
            self.outcomes_page = None

    def open_patient(self, patient_id: int) -> None:
        self.nav.setCurrentRow(self._page_keys.index("patients"))
        # setCurrentRow emits nothing when the row does not change (or before the signal is connected):
        # keep the page in step explicitly.
        self.pages.setCurrentIndex(self.nav.currentRow())
        self.patients.open_patient(patient_id)

    def open_worklist_item(self, item: WorklistItem) -> None:
        """Open the patient at the tab that shows the item, with the item selected."""
        self.open_patient(item.patient_id)
        view = self.patients.view
        if self.patients.currentWidget() is view and view.record is not None and view.record.id == item.patient_id:
            view.show_tab(item.tab)
            if item.tab == "pregnancy":
                view.pregnancy.select(item.ref_kind, item.ref_id)
            elif item.tab == "visits" and view.visits is not None:
                view.visits.select(item.ref_id)

    def on_find(self) -> None:
        self.nav.setCurrentRow(self._page_keys.index("patients"))
        # setCurrentRow emits nothing when the row does not change (or before the signal is connected):
        # keep the page in step explicitly.
        self.pages.setCurrentIndex(self.nav.currentRow())
        self.patients.focus_search()

    def on_new_patient(self) -> None:
        self.nav.setCurrentRow(self._page_keys.index("patients"))
        # setCurrentRow emits nothing when the row does not change (or before the signal is connected):
        # keep the page in step explicitly.
        self.pages.setCurrentIndex(self.nav.currentRow())
        if self.patients.new_button.isEnabled():
            self.patients.on_new_patient_clicked()

    def load(self) -> None:
        self.patients.load()
        self.patients.search.setFocus()
        self.patients.prepare_view_when_idle()

    # -- file actions -----------------------------------------------------------------------------

    def _error(self, title: str, exc: BaseException) -> None:
        QMessageBox.warning(self, title, str(exc))

    def on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Export records"), "rmclinic-export.json", "JSON (*.json)")
        if not path:
            return
        try:
            doc = self.services.transfer.export()
            write_private_atomically(Path(path), json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"))
        except (DomainError, OSError) as e:
            self._error(tr("Export"), e)
            return
        self.statusBar().showMessage(tr("Exported {n} patients.").format(n=len(doc["patients"])), 8000)

    def on_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("Import records"), "", "JSON (*.json)")
        if not path:
            return
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            n = self.services.transfer.import_document(doc)
        except PermissionDenied as e:
            self._error(tr("Import"), DomainError(str(e) + " " + tr("A consultant may use Tools → Emergency access.")))
            return
        except ImportRejected as e:
            lines = "\n".join(f"{p.path}: {p.message}" for p in e.problems[:20])
            QMessageBox.warning(self, tr("Import refused"), tr("Nothing was imported.") + "\n\n" + lines)
            return
        except (DomainError, OSError, ValueError) as e:
            self._error(tr("Import"), e)
            return
        self.patients.model.reload()
        self.statusBar().showMessage(tr("Imported {n} patients.").format(n=n), 8000)

    def on_backup(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Back up the database"), "rmclinic-backup.sqlite3")
        if not path:
            return
        try:
            made = self.services.backup.backup(Path(path))
        except (DomainError, OSError) as e:
            self._error(tr("Backup"), e)
            return
        self.statusBar().showMessage(tr("Backup written to {p}").format(p=made), 8000)

    def on_refresh_alerts(self) -> None:
        """Evaluate every patient's alerts off the UI thread, with progress, so the worklist is current."""
        progress = QProgressDialog(tr("Evaluating the alert rules for every patient…"), "", 0, 100, self)
        progress.setWindowTitle(tr("Re-evaluate all alerts"))
        progress.setCancelButton(None)  # each batch commits on its own; stopping half-way would mislead
        progress.setMinimumDuration(0)
        relay = _Progress()

        def advance(done: int, total: int) -> None:
            progress.setMaximum(total)
            progress.setValue(done)

        relay.changed.connect(advance)

        def finished(count: int) -> None:
            progress.close()
            self.statusBar().showMessage(tr("Alerts re-evaluated for {n} patients.").format(n=count), 10_000)
            if "worklist" in self._built:
                self.worklist_page.load()

        def failed(exc: BaseException) -> None:
            progress.close()
            QMessageBox.warning(
                self,
                tr("Re-evaluate all alerts"),
                str(exc) if isinstance(exc, DomainError) else tr("The alerts could not be re-evaluated; see the log."),
            )

        self._refresh_relay = relay  # kept alive until the job ends
        run_in_background(lambda: self.services.alerts.refresh_all(relay.changed.emit), finished, failed)
        progress.show()

    def on_emergency(self) -> None:
        reason, ok = QInputDialog.getMultiLineText(
            self,
            tr("Emergency access"),
            tr(
                "Emergency access gives you, for one hour, permissions your role does not have. "
                "It is recorded prominently in the audit trail. State the reason:"
            ),
        )
        if not ok:
            return
        try:
            self.services.auth.break_glass(reason)
        except DomainError as e:
            self._error(tr("Emergency access"), e)
            return
        self._apply_user()

    def on_logout(self) -> None:
        if not self.patients.view.confirm_leave():
            return
        self.services.auth.logout()
        self.close()

    # -- locking --------------------------------------------------------------------------------

    def lock(self) -> None:
        """Cover every window, then ask the same user (or another) to log in."""
        if self.is_locked or self.services.session.actor is None:
            return
        self.is_locked = True
        self.idle.stop()
        self.services.auth.lock()
        self._covers = cover_all()
        self.locked.emit()
        self.ask_unlock()

    def make_unlock_dialog(self) -> LoginDialog:
        actor = self.services.session.actor
        return LoginDialog(self.services.auth, None, locked_user=actor.username if actor else None)

    def ask_unlock(self) -> None:
        dlg = self.make_unlock_dialog()
        if dlg.exec() != QDialog.DialogCode.Accepted:
            self.services.auth.logout()
            QApplication.quit()
            return
        self.finish_unlock(dlg.switched_user)

    def finish_unlock(self, switched_user: bool) -> None:
        if switched_user:
            # The first user's unsaved input is discarded: close her dialogs and reload her view.
            for w in QApplication.topLevelWidgets():
                if isinstance(w, QDialog) and w.isVisible():
                    w.reject()
            self.patients.view.discard_unsaved()
            self.patients.show_list()
            self._build_pages()
            self._apply_user()
            self.patients.model.reload()
        for c in self._covers:
            c.deleteLater()
        self._covers = []
        self.is_locked = False
        self.idle.restart()
        self.unlocked.emit()

    # -- geometry -------------------------------------------------------------------------------

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
        self.idle.stop()
        super().closeEvent(event)
