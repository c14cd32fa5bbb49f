"""The real widgets, driven offscreen with pytest-qt, as a nurse would use them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import act_as
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from rmclinic.domain.accounts import Role
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.services.container import Services
from rmclinic.services.dto import PatientQuery
from rmclinic.ui.main import make_application
from rmclinic.ui.main_window import MainWindow
from rmclinic.ui.patient_dialog import PatientDialog
from rmclinic.ui.patient_model import PAGE_SIZE, PatientListModel
from rmclinic.ui.patients_page import PatientsPage
from rmclinic.ui.pregnancy_dialog import PregnancyDialog

AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14), nhs_number="9434765919")


@pytest.fixture
def svc(sqlite_services: Services, qapp: object) -> Iterator[Services]:
    make_application()
    return sqlite_services


def show_active(qtbot: QtBot, widget: QWidget) -> None:
    """Show and activate: focus and window shortcuts only work in the active window."""
    with qtbot.waitActive(widget):
        widget.show()
        widget.activateWindow()


def type_into(qtbot: QtBot, widget: QWidget, text: str) -> None:
    widget.setFocus()
    if text.isascii():
        qtbot.keyClicks(widget, text)
    else:  # QTest can only synthesise ASCII key events; insert() is what an input method does
        assert isinstance(widget, QLineEdit)
        widget.insert(text)


def test_register_a_patient_through_the_dialog(qtbot: QtBot, svc: Services) -> None:
    dlg = PatientDialog(svc.patients)
    qtbot.addWidget(dlg)
    for key, text in (
        ("hospital_number", "rm 42"),
        ("nhs_number", "943 476 5919"),
        ("family_name", "Wiśniewska"),
        ("given_name", "Łucja"),
        ("date_of_birth", "02/05/1995"),
        ("partner.family_name", "Wiśniewski"),
        ("partner.given_name", "Piotr"),
    ):
        type_into(qtbot, dlg.fields[key], text)
    qtbot.mouseClick(dlg.buttons.button(dlg.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    assert dlg.result() == dlg.DialogCode.Accepted
    assert dlg.saved is not None
    stored = svc.patients.get(dlg.saved.id).data
    assert (stored.hospital_number, stored.given_name, stored.date_of_birth) == ("RM42", "Łucja", dt.date(1995, 5, 2))
    assert stored.partner is not None
    assert stored.partner.given_name == "Piotr"


def test_bad_input_is_shown_at_the_field_and_kept(qtbot: QtBot, svc: Services) -> None:
    dlg = PatientDialog(svc.patients)
    qtbot.addWidget(dlg)
    show_active(qtbot, dlg)
    type_into(qtbot, dlg.fields["hospital_number"], "RM7")
    type_into(qtbot, dlg.fields["nhs_number"], "9434765918")
    type_into(qtbot, dlg.fields["family_name"], "Haddad")
    type_into(qtbot, dlg.fields["given_name"], "Amira")
    type_into(qtbot, dlg.fields["date_of_birth"], "14/03/2092")
    qtbot.keyClick(dlg, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Ctrl+S saves
    assert dlg.result() != dlg.DialogCode.Accepted
    assert dlg.errors["nhs_number"].isVisible()
    assert "check digit" in dlg.errors["nhs_number"].text()
    assert "future" in dlg.errors["date_of_birth"].text()
    assert dlg.text("nhs_number") == "9434765918"
    assert dlg.text("date_of_birth") == "14/03/2092"
    assert svc.patients.count() == 0
    # A date that is not a date is caught before the service is asked.
    dlg.set_text("date_of_birth", "31/02/1992")
    dlg.set_text("nhs_number", "")
    dlg.on_save_clicked()
    assert "dd/mm/yyyy" in dlg.errors["date_of_birth"].text()
    dlg.set_text("date_of_birth", "14/03/1992")
    dlg.on_save_clicked()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert svc.patients.count() == 1


def test_possible_duplicate_needs_confirmation(qtbot: QtBot, svc: Services) -> None:
    svc.patients.register(AMIRA)
    dlg = PatientDialog(svc.patients)
    qtbot.addWidget(dlg)
    for key, text in (
        ("hospital_number", "RM2"),
        ("family_name", "haddad"),
        ("given_name", "AMIRA"),
        ("date_of_birth", "14/03/1992"),
    ):
        dlg.set_text(key, text)
    asked: list[int] = []
    dlg.confirm_possible_duplicate = lambda e: asked.append(len(e.matches)) or False  # type: ignore[method-assign]
    dlg.on_save_clicked()
    assert asked == [1]
    assert svc.patients.count() == 1
    assert dlg.result() != dlg.DialogCode.Accepted
    dlg.confirm_possible_duplicate = lambda e: True  # type: ignore[method-assign]
    dlg.on_save_clicked()
    assert svc.patients.count() == 2


def test_stale_edit_is_refused_and_input_kept(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(AMIRA)
    dlg = PatientDialog(svc.patients, rec)
    qtbot.addWidget(dlg)
    svc.patients.update_demographics(rec.id, rec.version, replace(AMIRA, phone="01234 111111"))  # another nurse
    dlg.set_text("phone", "07700 900999")
    dlg.on_save_clicked()
    assert "consultant saved this patient after you opened it (changed: phone)" in dlg.banner.text()
    assert dlg.text("phone") == "07700 900999"
    assert svc.patients.get(rec.id).data.phone == "01234 111111"


def test_search_as_you_type_then_open_by_keyboard(qtbot: QtBot, svc: Services) -> None:
    svc.demo.create(40, seed=3)
    page = PatientsPage(svc.patients, svc.workup, svc.pregnancy)
    qtbot.addWidget(page)
    show_active(qtbot, page)
    page.load()
    assert page.model.total >= 39
    type_into(qtbot, page.search, "lucj")
    qtbot.waitUntil(lambda: page.model.total == 1, timeout=2000)
    assert "Łucja" in page.model.data(page.model.index(0, 2))
    assert page.count_label.text() == "1 patients found"
    qtbot.keyClick(page.search, Qt.Key.Key_Return)
    assert page.currentWidget() is page.view
    assert page.view.title.text().startswith("WIŚNIEWSKA, Łucja")
    assert "Pregnancy losses before 24 weeks: 2" in page.view.summary.text()
    qtbot.keyClick(page.view, Qt.Key.Key_Escape)
    assert page.currentWidget() is page.list_page


def test_down_arrow_moves_from_search_into_the_list(qtbot: QtBot, svc: Services) -> None:
    svc.demo.create(10, seed=3)
    page = PatientsPage(svc.patients, svc.workup, svc.pregnancy)
    qtbot.addWidget(page)
    show_active(qtbot, page)
    page.load()
    page.search.setFocus()
    qtbot.keyClick(page.search, Qt.Key.Key_Down)
    assert page.table.hasFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Down)
    assert page.table.currentIndex().row() == 1


def test_list_model_passes_qt_model_checks(qtmodeltester: object, svc: Services) -> None:
    svc.demo.create(250, seed=4)
    model = PatientListModel(svc.patients)
    model.reload()
    assert model.rowCount() == PAGE_SIZE
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 2 * PAGE_SIZE
    while model.canFetchMore():  # scrolled to the end: every patient, then no more
        model.fetchMore()
    assert model.rowCount() == model.total == svc.patients.search(PatientQuery()).total
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.sort(3, Qt.SortOrder.DescendingOrder)
    dobs = [model.row_at(i).date_of_birth for i in range(model.rowCount())]  # type: ignore[union-attr]
    assert dobs == sorted(dobs, reverse=True)


def test_qt_calls_returning_none_many_times(svc: Services, qtbot: QtBot) -> None:
    # PySide6 6.12.0 dropped a reference to None on such calls until Python 3.11 aborted; stay safe.
    model = PatientListModel(svc.patients)
    model.reload()
    for _ in range(30_000):
        model.headerData(0, Qt.Orientation.Vertical, Qt.ItemDataRole.DecorationRole)
        model.headerData(9, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole)
    import sys

    assert sys.getrefcount(None) > 1000


def test_adding_a_loss_updates_the_counts(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(replace(AMIRA, pregnancies=(PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE),)))
    page = PatientsPage(svc.patients, svc.workup, svc.pregnancy)
    qtbot.addWidget(page)
    page.open_patient(rec.id)
    assert "Does not meet" in page.view.summary.text()
    dlg = PregnancyDialog(svc.patients, page.view.record)  # type: ignore[arg-type]
    qtbot.addWidget(dlg)
    dlg.outcome.setCurrentIndex(dlg.outcome.findData("late_miscarriage"))
    dlg.date.setText("01/06/2025")
    dlg.gestation.setText("9+0")
    dlg.on_save_clicked()
    assert "between 12+0 and 23+6" in dlg.errors["gestation_days"].text()
    dlg.gestation.setText("17+0")
    dlg.on_save_clicked()
    assert dlg.result() == dlg.DialogCode.Accepted
    page.view.set_record(dlg.saved)  # type: ignore[arg-type]
    assert "Meets: ESHRE 2022" in page.view.summary.text()
    assert "RCOG 2023" in page.view.summary.text()
    assert page.view.history.rowCount() == 2


def test_risk_history_form_validates_and_saves(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(AMIRA)
    page = PatientsPage(svc.patients, svc.workup, svc.pregnancy)
    qtbot.addWidget(page)
    page.open_patient(rec.id)
    v = page.view
    v.height_edit.setText("16.3")
    v.weight_edit.setText("seventy")
    v.excisions.setText("2015 lletz 9; 2018 cone")
    v.on_save_risk_clicked()
    assert "number" in v.risk_errors["risk.weight_kg"].text()
    assert v.height_edit.text() == "16.3"
    v.weight_edit.setText("71")
    v.on_save_risk_clicked()
    assert "120 to 220" in v.risk_errors["risk.height_cm"].text()
    v.height_edit.setText("163")
    v.periods.setCurrentIndex(v.periods.findData(True))
    v.aps.setChecked(True)
    v.on_save_risk_clicked()
    saved = svc.patients.get(rec.id).data.risk
    assert saved.bmi == 26.7 and saved.oligo_amenorrhoea is True and saved.aps_diagnosed
    assert [e.kind for e in saved.cervical_excisions] == ["lletz", "cone"]
    assert v.bmi.text() == "26.7"


def _focusable_inputs(root: QWidget) -> list[QWidget]:
    kinds = (QLineEdit, QPlainTextEdit, QComboBox, QSpinBox, QAbstractButton, QAbstractItemView)

    def inside_combo(w: QWidget) -> bool:  # a combo box's own popup list is named by the combo
        p = w.parentWidget()
        while p is not None:
            if isinstance(p, QComboBox):
                return True
            p = p.parentWidget()
        return False

    return [
        w
        for w in root.findChildren(QWidget)
        if isinstance(w, kinds) and w.focusPolicy() != Qt.FocusPolicy.NoFocus and not inside_combo(w)
    ]


def test_every_control_has_an_accessible_name(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(AMIRA)
    window = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(window)
    window.load()
    window.patients.open_patient(rec.id)
    dialogs = [PatientDialog(svc.patients, rec), PregnancyDialog(svc.patients, rec)]
    for root in [window, *dialogs]:
        unnamed = []
        for w in _focusable_inputs(root):
            name = w.accessibleName() or (w.text() if isinstance(w, QAbstractButton) else "")
            if not name.strip() and not w.objectName().startswith("qt_"):
                unnamed.append(type(w).__name__)
        assert unnamed == [], f"{type(root).__name__}: {unnamed}"


def test_window_opens_on_the_worklist_for_clinicians_and_the_patient_list_for_others(
    qtbot: QtBot, svc: Services
) -> None:
    window = MainWindow(svc, remember_geometry=False)  # a consultant
    qtbot.addWidget(window)
    assert window.nav.currentItem().text() == "Worklist"
    assert window.pages.currentWidget() is window.worklist_page
    qtbot.waitUntil(lambda: not window.worklist_page.loading, timeout=5000)
    act_as(svc, Role.READ_ONLY, "viewer")
    other = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(other)
    assert other.nav.currentItem().text() == "Patients"
    assert other.pages.currentWidget() is other.patients


def test_shortcuts_and_remembered_geometry(qtbot: QtBot, svc: Services) -> None:
    QSettings().remove("main_window/geometry")
    window = MainWindow(svc)
    qtbot.addWidget(window)
    show_active(qtbot, window)
    window.load()
    window.nav.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.patients.search.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentIndex() == 0
    window.resize(760, 520)  # the offscreen screen is 800x600
    window.close()
    again = MainWindow(svc)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (760, 520)


def test_unsaved_risk_history_is_not_lost_by_leaving(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(AMIRA)
    page = PatientsPage(svc.patients, svc.workup, svc.pregnancy)
    qtbot.addWidget(page)
    page.open_patient(rec.id)
    page.view.weight_edit.setText("71")
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save]
    page.view.ask_unsaved = lambda: answers.pop(0)  # type: ignore[method-assign]
    page.show_list()
    assert page.currentWidget() is page.view
    assert page.view.weight_edit.text() == "71"
    page.show_list()
    assert page.currentWidget() is page.list_page
    assert svc.patients.get(rec.id).data.risk.weight_kg == 71


# -- accounts, lock and administration in the window ------------------------------------------------

STRONG = "Correct-Horse-9"


def test_first_admin_dialog_then_login_dialog(qtbot: QtBot, sqlite_services: Services) -> None:
    from rmclinic.ui.login import FirstAdminDialog, LoginDialog

    svc = sqlite_services
    svc.session.actor = None
    first = FirstAdminDialog(svc.auth)
    qtbot.addWidget(first)
    first.username.setText("boss")
    first.password.setText("short")
    first.again.setText("short")
    first.on_ok_clicked()
    assert "at least 10 characters" in first.error.text() and not svc.auth.has_users()
    first.password.setText(STRONG)
    first.again.setText(STRONG)
    first.on_ok_clicked()
    assert first.result() == first.DialogCode.Accepted and svc.session.actor.username == "boss"  # type: ignore[union-attr]
    svc.auth.logout()
    login = LoginDialog(svc.auth)
    qtbot.addWidget(login)
    login.username.setText("boss")
    login.password.setText("wrong-password-1")
    login.on_ok_clicked()
    assert "not right" in login.error.text() and login.password.text() == ""
    login.password.setText(STRONG)
    login.on_ok_clicked()
    assert login.result() == login.DialogCode.Accepted


def test_idle_lock_covers_data_and_same_user_unlocks(qtbot: QtBot, svc: Services) -> None:
    svc.auth.create_first_admin("boss", STRONG)
    svc.auth.login("boss", STRONG)
    svc.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    svc.auth.login("nina", "Nurse-Pass-42")
    rec = svc.patients.register(AMIRA)
    # idle only once the scene is set: a lock during start-up would open the real (modal) unlock dialog
    window = MainWindow(svc, remember_geometry=False, idle_ms=3_600_000)
    qtbot.addWidget(window)
    unlock_dialogs: list[object] = []

    def fake_ask() -> None:  # the real dialog runs its own loop; drive it by hand
        dlg = window.make_unlock_dialog()
        unlock_dialogs.append(dlg)
        assert window._covers and all(c.isVisible() for c in window._covers)
        with pytest.raises(Exception, match="locked"):
            svc.patients.count()
        dlg.password.setText("Nurse-Pass-42")
        dlg.on_ok_clicked()
        assert dlg.result() == dlg.DialogCode.Accepted
        window.finish_unlock(dlg.switched_user)

    window.ask_unlock = fake_ask  # type: ignore[method-assign]
    show_active(qtbot, window)
    window.load()
    window.patients.open_patient(rec.id)
    window.patients.view.weight_edit.setText("71")  # unsaved input
    window.idle.set_timeout(50)
    qtbot.waitUntil(lambda: bool(unlock_dialogs), timeout=3000)
    assert not window.is_locked and window._covers == []
    assert window.patients.view.weight_edit.text() == "71"  # kept for the same user
    assert svc.patients.count() == 1


def test_input_in_the_main_window_or_a_dialog_postpones_the_idle_lock(qtbot: QtBot, svc: Services) -> None:
    """The idle timer restarts on keyboard or mouse input reaching any of the app's windows (the watcher
    filters top-level windows, not every widget); other events do not restart it."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QEnterEvent
    from PySide6.QtTest import QTest

    svc.auth.create_first_admin("boss", STRONG)
    svc.auth.login("boss", STRONG)
    window = MainWindow(svc, remember_geometry=False, idle_ms=60_000)
    qtbot.addWidget(window)
    show_active(qtbot, window)
    timer = window.idle.timer

    def restarted_by(act: object) -> bool:
        qtbot.wait(30)
        before = timer.remainingTime()
        act()  # type: ignore[operator]
        return timer.remainingTime() > before

    assert restarted_by(lambda: QTest.keyClick(window.windowHandle(), Qt.Key.Key_A))
    assert restarted_by(lambda: QTest.mouseClick(window.windowHandle(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5)))
    assert not restarted_by(lambda: window.patients.search.update())  # a repaint is not the user
    # nor the cursor "entering" a window that opened or closed under it
    at = QPointF(5, 5)
    assert not restarted_by(lambda: QApplication.sendEvent(window.windowHandle(), QEnterEvent(at, at, at)))
    dialog = QDialog(window)
    show_active(qtbot, dialog)
    assert restarted_by(lambda: QTest.keyClick(dialog.windowHandle(), Qt.Key.Key_B))
    dialog.close()


def test_another_user_at_the_lock_discards_the_first_users_input(qtbot: QtBot, svc: Services) -> None:
    svc.auth.create_first_admin("boss", STRONG)
    svc.auth.login("boss", STRONG)
    svc.auth.add_user("nina", Role.NURSE, "Nurse-Pass-42")
    svc.auth.add_user("drlee", Role.CONSULTANT, "Consultant-Pass-7")
    svc.auth.login("nina", "Nurse-Pass-42")
    rec = svc.patients.register(AMIRA)
    window = MainWindow(svc, remember_geometry=False, idle_ms=3_600_000)
    qtbot.addWidget(window)
    window.load()
    window.patients.open_patient(rec.id)
    window.patients.view.weight_edit.setText("71")
    window.ask_unlock = lambda: None  # type: ignore[method-assign]
    window.lock()
    assert window.is_locked
    dlg = window.make_unlock_dialog()
    qtbot.addWidget(dlg)
    dlg.on_other_user_clicked()
    dlg.username.setText("drlee")
    dlg.password.setText("Consultant-Pass-7")
    dlg.on_ok_clicked()
    assert dlg.switched_user
    window.finish_unlock(dlg.switched_user)
    assert svc.session.actor.username == "drlee"  # type: ignore[union-attr]
    assert window.patients.view.weight_edit.text() == ""
    assert "drlee" in window.windowTitle()
    assert svc.patients.get(rec.id).data.risk.weight_kg is None


def test_demo_database_says_demo_and_roles_shape_the_window(qtbot: QtBot, svc: Services) -> None:
    svc.demo.create(5)
    svc.session.actor = None
    svc.auth.login("nurse", "demo")
    window = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(window)
    assert window.windowTitle().startswith("DEMO") and window.windowTitle().endswith("DEMO")
    assert "Users" not in [window.nav.item(i).text() for i in range(window.nav.count())]
    assert not window.act_export.isEnabled() and window.patients.new_button.isEnabled()
    svc.auth.login("admin", "demo")
    admin = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(admin)
    labels = [admin.nav.item(i).text() for i in range(admin.nav.count())]
    assert {"Users", "Audit trail", "Settings"} <= set(labels)
    assert not admin.patients.new_button.isEnabled()
    admin.nav.setCurrentRow(labels.index("Users"))
    assert admin.users_page.table.rowCount() == 3
    admin.nav.setCurrentRow(labels.index("Audit trail"))
    assert admin.audit_page.table.rowCount() > 0
    admin.nav.setCurrentRow(labels.index("Settings"))
    admin.settings_page.fields["idle_lock_minutes"].setText("0")
    admin.settings_page.on_save_clicked()
    assert "1 to 120" in admin.settings_page.errors["idle_lock_minutes"].text()


def test_read_only_user_sees_no_edit_controls(qtbot: QtBot, svc: Services) -> None:
    rec = svc.patients.register(AMIRA)
    from conftest import act_as

    act_as(svc, Role.READ_ONLY)
    window = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(window)
    window.show()
    window.patients.open_patient(rec.id)
    assert not window.patients.new_button.isEnabled()
    assert not window.patients.view.save_risk.isVisible() and not window.patients.view.add_preg.isVisible()
    assert window.patients.view.confirm_leave()


# -- workup -----------------------------------------------------------------------------------------


def test_workup_panel_request_and_keyboard_result_entry(qtbot: QtBot, svc: Services) -> None:
    from rmclinic.ui.workup_tab import WorkupTab

    rec = svc.patients.register(AMIRA)
    tab = WorkupTab(svc.workup)
    qtbot.addWidget(tab)
    show_active(qtbot, tab)
    tab.load(rec.id)
    assert tab.completeness.text().startswith("Workup 0 of 6 complete — missing: Lupus anticoagulant")
    tab.on_request_clicked()  # nothing selected: request every missing protocol item
    texts = [tab.lists["thrombophilia"].item(i).text() for i in range(tab.lists["thrombophilia"].count())]
    assert any(t.startswith("◔ Lupus anticoagulant") and "requested" in t for t in texts)
    entry = tab.entry
    # by keyboard: type part of the name, Enter, the value, Enter
    type_into(qtbot, entry.investigation, "TSH")
    qtbot.keyClick(entry.investigation, Qt.Key.Key_Return)
    assert entry.value.isVisible() and entry.unit.currentText() == "mIU/L"
    assert entry.value.hasFocus()
    type_into(qtbot, entry.value, "52")
    qtbot.keyClick(entry.value, Qt.Key.Key_Return)
    assert "plausible range" in entry.errors["value"].text() and "0.01-50" in entry.errors["value"].text()
    assert entry.value.text() == "52"  # kept for correction
    entry.value.setText("5.2")
    entry.lab_range.setText("0.4-4.0")
    qtbot.keyClick(entry.value, Qt.Key.Key_Return)
    assert entry.investigation.text() == "" and entry.investigation.hasFocus()  # ready for the next result
    endocrine = [tab.lists["endocrine"].item(i).text() for i in range(tab.lists["endocrine"].count())]
    assert any(t.startswith("⚠ TSH: 5.2 mIU/L (lab range 0.4-4) — abnormal") for t in endocrine), endocrine
    assert tab.completeness.text().startswith("Workup 1 of 6 complete")
    # a categorical result: the choice list replaces the value field
    entry.choose(svc.workup.catalogue().get("uterine"))
    assert entry.choice.isVisible() and not entry.value.isVisible()
    entry.choice.setCurrentText("septate")
    entry.on_save_clicked()
    anatomical = tab.lists["anatomical"].item(0).text()
    assert anatomical.startswith("⚠ Uterine assessment: septate (3D transvaginal ultrasound) — abnormal")


def test_consultant_reviews_from_the_queue(qtbot: QtBot, svc: Services) -> None:
    import datetime as _dt

    from rmclinic.domain.workup import ResultValue
    from rmclinic.ui.review_page import ReviewPage

    rec = svc.patients.register(AMIRA)
    svc.workup.record_result(rec.id, "acl_igg", ResultValue(numeric=55, unit="GPL U/mL"), _dt.date(2026, 11, 1))
    svc.workup.record_result(rec.id, "la", ResultValue(text="negative"), _dt.date(2026, 11, 1))
    window = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(window)
    labels = [window.nav.item(i).text() for i in range(window.nav.count())]
    window.nav.setCurrentRow(labels.index("Results to review"))
    page: ReviewPage = window.review_page
    assert page.table.rowCount() == 2
    assert page.table.item(0, 2).text() == "Anticardiolipin IgG" and page.table.item(0, 4).text().startswith("⚠")
    page.table.selectRow(1)
    page.comment.setText("normal, no action")
    page.on_sign_clicked()
    assert page.table.rowCount() == 1 and page.status.text() == "1 results wait for review"
    from conftest import act_as

    act_as(svc, Role.NURSE)
    nurse_window = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(nurse_window)
    assert "Results to review" not in [nurse_window.nav.item(i).text() for i in range(nurse_window.nav.count())]


def test_sample_taken_and_correction_from_the_workup_tab(qtbot: QtBot, svc: Services) -> None:
    from rmclinic.domain.workup import Status
    from rmclinic.ui.workup_tab import WorkupTab

    rec = svc.patients.register(AMIRA)
    tab = WorkupTab(svc.workup)
    qtbot.addWidget(tab)
    tab.load(rec.id)
    tab.on_request_clicked()
    lst = tab.lists["endocrine"]
    lst.item(0).setSelected(True)  # TSH, requested
    tab.on_sample_clicked()
    assert lst.item(0).text().startswith("◑ TSH: sample taken")
    entry = tab.entry
    entry.choose(svc.workup.catalogue().get("tsh"))
    entry.value.setText("2.1")
    entry.on_save_clicked()
    entry.choose(svc.workup.catalogue().get("tsh"))
    entry.value.setText("2.4")
    entry.correction.setChecked(True)
    entry.on_save_clicked()
    tsh = [i for i in svc.workup.view(rec.id).items if i.investigation_id == "tsh"]
    assert len(tsh) == 1 and tsh[0].status is Status.RESULTED
    assert tsh[0].value.numeric == 2.4 and [h.value.numeric for h in tsh[0].history] == [2.1]  # type: ignore[union-attr]
