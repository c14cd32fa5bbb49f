"""The current-pregnancy tab, its dialogs and the worklist page, driven offscreen with pytest-qt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import fake_exec
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from rmclinic.domain import dating
from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.services.container import Services
from rmclinic.ui.current_pregnancy_tab import CurrentPregnancyTab
from rmclinic.ui.followup_dialogs import ResultDialog
from rmclinic.ui.main import make_application
from rmclinic.ui.main_window import MainWindow
from rmclinic.ui.plan_dialogs import CalendarDialog, PlanDialog
from rmclinic.ui.pregnancy_dialogs import DatingDialog, EndDialog
from rmclinic.ui.worklist_page import WorklistPage

TODAY = dt.date(2026, 11, 22)
AMIRA = PatientData("RM1", "Haddad", "Amira", dt.date(1992, 3, 14))


@pytest.fixture
def svc(sqlite_services: Services, qapp: object) -> Iterator[Services]:
    make_application()
    from conftest import act_as

    act_as(sqlite_services, Role.NURSE, "nina")
    return sqlite_services


def pregnant_patient(svc: Services, ga_today: int) -> int:
    """A pregnancy ``ga_today`` days along, intrauterine pregnancy seen on scan yesterday."""
    pid = svc.patients.register(AMIRA).id
    view = svc.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=ga_today)))
    p = view.pregnancy
    assert p is not None and p.id is not None
    seen = replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL)
    svc.pregnancy.update(pid, p.id, p.version, seen)
    return pid


def test_start_a_pregnancy_by_keyboard_with_errors_in_place(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = svc.patients.register(AMIRA).id
    tab = CurrentPregnancyTab(svc.pregnancy)
    qtbot.addWidget(tab)
    tab.load(pid)
    assert tab.status.text() == "No current pregnancy."
    assert tab.start_button.isVisibleTo(tab) and not tab.end_button.isVisibleTo(tab)

    dlg = DatingDialog(svc.pregnancy, pid, TODAY)
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.lmp, "31/02/2026")
    dlg.on_save_clicked()
    assert "Not a date" in dlg.errors["lmp"].text()
    assert dlg.lmp.text() == "31/02/2026"  # nothing typed is lost
    assert svc.pregnancy.view(pid).pregnancy is None
    dlg.lmp.clear()
    qtbot.keyClicks(dlg.lmp, "01/10/2026")
    dlg.cycle.setValue(30)
    assert "EDD 10/07/2027" in dlg.preview.text()  # 01/10/2026 + 280 + 2 days
    assert "today 7+1" in dlg.preview.text()  # 52 days since the LMP, less the 2 extra cycle days

    def fill(d: QDialog) -> None:
        assert isinstance(d, DatingDialog)
        qtbot.keyClicks(d.lmp, "01/10/2026")

    monkeypatch.setattr(DatingDialog, "exec", fake_exec(fill))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.status.text().startswith("Today 7+3")
    assert "EDD 08/07/2027" in tab.status.text()
    assert tab.redate_button.isVisibleTo(tab) and not tab.start_button.isVisibleTo(tab)


def test_redating_shows_acog_advice_and_needs_a_reason(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant_patient(svc, 10 * 7)
    view = svc.pregnancy.view(pid)
    assert view.pregnancy is not None
    dlg = DatingDialog(svc.pregnancy, pid, TODAY, view.pregnancy)
    qtbot.addWidget(dlg)
    dlg.scan_date.set_date(TODAY)
    qtbot.keyClicks(dlg.crl, "20")  # 8.052*sqrt(20)+23.73 = 59.7 -> 60 days: 10 days behind at 10+0
    assert "⚠" in dlg.preview.text() and "exceeds the 7-day threshold" in dlg.preview.text()
    dlg.on_save_clicked()
    assert "reason" in dlg.errors["reason"].text()
    qtbot.keyClicks(dlg.reason, "Dating scan")
    dlg.on_save_clicked()
    assert dlg.result() == QDialog.DialogCode.Accepted
    p = svc.pregnancy.view(pid).pregnancy
    assert p is not None and str(p.gestation_on(TODAY)) == "8+4" and len(p.dating) == 2


def test_plan_dialog_template_taper_validation_and_calendar(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant_patient(svc, 8 * 7)
    view = svc.pregnancy.view(pid)
    edd = view.pregnancy.edd  # type: ignore[union-attr]
    dlg = PlanDialog(svc.pregnancy, pid, edd, TODAY)
    qtbot.addWidget(dlg)
    # defaults come from the evidence base: PRISM/NICE dose, NICE NG126 stop for threatened miscarriage
    assert (dlg.dose.text(), dlg.frequency.currentData(), dlg.stop.text()) == ("400", "twice_daily", "16+0")
    assert "NICE NG126" in dlg.stop_note.text()
    qtbot.mouseClick(dlg.apply_template, Qt.MouseButton.LeftButton)
    assert dlg.steps.rowCount() == 1
    assert (dlg.steps.item(0, 0).text(), dlg.steps.item(0, 1).text()) == ("15+0", "200")  # type: ignore[union-attr]
    # a second step that raises the dose is refused, in place, naming the row
    dlg.add_step_row(None)
    dlg.steps.item(1, 0).setText("15+3")  # type: ignore[union-attr]
    dlg.steps.item(1, 1).setText("300")  # type: ignore[union-attr]
    dlg.on_save_clicked()
    assert "Row 2" in dlg.errors["taper"].text() and "increase" in dlg.errors["taper"].text()
    assert svc.pregnancy.view(pid).plans == ()
    dlg.steps.removeRow(1)
    stop = dating.date_at(edd, 112)
    assert f"no dose from {stop:%d/%m/%Y} (16+0)" in dlg.preview.text()
    dlg.on_save_clicked()
    assert dlg.result() == QDialog.DialogCode.Accepted
    plan = svc.pregnancy.view(pid).plans[0]
    assert plan.taper[0].dose == 200 and plan.stop == Anchor(gestation_days=112)

    cal = CalendarDialog(plan, edd, TODAY)
    qtbot.addWidget(cal)
    assert cal.table.rowCount() == (stop - TODAY).days
    last = cal.table.rowCount() - 1
    assert cal.table.item(last, 1).text() == "15+6"  # type: ignore[union-attr]
    assert "200 mg twice a day" in cal.table.item(last, 2).text() and "taper" in cal.table.item(last, 2).text()  # type: ignore[union-attr]
    assert cal.today_row == 0 and cal.table.item(0, 0).text().startswith("▶")  # type: ignore[union-attr]


def test_short_cervix_is_highlighted_in_the_result_dialog_and_table(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant_patient(svc, 16 * 7 + 2)
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, TODAY))
    view = svc.pregnancy.view(pid)
    f = view.follow_ups[0]
    dlg = ResultDialog(svc.pregnancy, pid, f, view.pregnancy.edd, TODAY)  # type: ignore[union-attr]
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.length, "30")
    assert dlg.warning.text() == ""
    dlg.length.clear()
    qtbot.keyClicks(dlg.length, "24")
    assert "Short cervix" in dlg.warning.text() and "NICE NG25" in dlg.warning.text()
    dlg.on_save_clicked()
    tab = CurrentPregnancyTab(svc.pregnancy)
    qtbot.addWidget(tab)
    tab.load(pid)
    assert "24 mm" in tab.follow_ups.item(0, 4).text() and "Short cervix" in tab.follow_ups.item(0, 4).text()  # type: ignore[union-attr]
    assert tab.follow_ups.item(0, 3).text() == "✓ done"  # type: ignore[union-attr]


def test_recording_a_loss_cancels_scans_and_uses_sensitive_wording(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant_patient(svc, 17 * 7)
    svc.pregnancy.schedule_series(pid, "cl_2weekly")
    svc.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "progesterone_vaginal",
            200,
            Frequency.ONCE_DAILY,
            TODAY - dt.timedelta(days=5),
            Indication.PRETERM_PREVIOUS_BIRTH,
            Anchor(gestation_days=34 * 7),
        ),
    )
    view = svc.pregnancy.view(pid)
    p = view.pregnancy
    assert p is not None and p.id is not None
    dlg = EndDialog(svc.pregnancy, pid, p, TODAY, svc.pregnancy.pending_on_end(pid, p.id))
    qtbot.addWidget(dlg)
    assert "Cancel 4 pending scans" in dlg.cancel_follow_ups.text() and dlg.cancel_follow_ups.isChecked()
    assert "Micronised progesterone" in dlg.stop_plans.text()
    dlg.on_save_clicked()  # early miscarriage at 17+0: refused, in place
    assert "17+0" in dlg.errors["outcome"].text()
    dlg.outcome.setCurrentIndex(dlg.outcome.findData(Outcome.LATE_MISCARRIAGE.value))
    dlg.on_save_clicked()
    assert dlg.result() == QDialog.DialogCode.Accepted
    tab = CurrentPregnancyTab(svc.pregnancy)
    qtbot.addWidget(tab)
    tab.load(pid)
    text = tab.status.text()
    assert "ended on 22/11/2026 (late miscarriage" in text and "care with wording" in text
    assert "EDD" not in text and "Today" not in text  # no antenatal wording
    stop_cell = tab.plans.item(0, 4).text()  # type: ignore[union-attr]
    assert stop_cell == "22/11/2026" and "+" not in stop_cell  # the stop date, with no gestation beside it
    assert all(tab.follow_ups.item(r, 1).text() == "" for r in range(tab.follow_ups.rowCount()))  # type: ignore[union-attr]
    assert all(f.status is FollowUpStatus.CANCELLED for f in svc.pregnancy.view(pid).follow_ups)
    assert svc.patients.get(pid).summary.second_trimester_losses == 1


def test_worklist_page_loads_off_thread_and_opens_the_patient_at_the_item(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant_patient(svc, 13 * 7)
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, TODAY - dt.timedelta(days=10), window_days=3))
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.BLOOD_TEST, TODAY + dt.timedelta(days=2), title="HbA1c"))
    win = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win)
    page = win.worklist_page
    assert win.pages.currentWidget() is page  # nurses start at the worklist
    qtbot.waitUntil(lambda: not page.loading, timeout=5000)
    rows = page.model.items
    assert [(i.type, i.overdue) for i in rows] == [("swab", True)]
    assert page.model.data(page.model.index(0, 0)).startswith("⚠")
    page.days.setValue(7)
    qtbot.waitUntil(lambda: not page.loading and len(page.model.items) == 2, timeout=5000)
    page.type_filter.setCurrentIndex(page.type_filter.findData("blood_test"))
    qtbot.waitUntil(lambda: not page.loading and len(page.model.items) == 1, timeout=5000)
    assert page.model.items[0].description == "Blood test: HbA1c due"
    page.type_filter.setCurrentIndex(page.type_filter.findData("swab"))
    qtbot.waitUntil(lambda: not page.loading and len(page.model.items) == 1, timeout=5000)
    page.table.selectRow(0)
    page.on_activated(page.table.currentIndex())
    view = win.patients.view
    assert win.patients.currentWidget() is view and view.tabs.currentWidget() is view.pregnancy
    selected = view.pregnancy.selected_follow_up()
    assert selected is not None and selected.kind is FollowUpKind.SWAB
    assert "Current pregnancy: 13+0" in view.pregnancy_line.text()


def test_worklist_mark_done_enters_the_result(qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = pregnant_patient(svc, 13 * 7)
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, TODAY))
    page = WorklistPage(svc)
    qtbot.addWidget(page)
    page.set_defaults(TODAY)
    page.load()
    qtbot.waitUntil(lambda: not page.loading and len(page.model.items) == 1, timeout=5000)
    page.table.selectRow(0)

    def fill(d: QDialog) -> None:
        assert isinstance(d, ResultDialog)
        d.swab.setCurrentIndex(d.swab.findData("bacterial_vaginosis"))

    monkeypatch.setattr(ResultDialog, "exec", fake_exec(fill))
    page.on_done_clicked()
    qtbot.waitUntil(lambda: not page.loading, timeout=5000)
    assert page.model.items == []
    (f,) = svc.pregnancy.view(pid).follow_ups
    assert f.status is FollowUpStatus.DONE and f.swab_result is not None and f.history[-1].by == "nina"


def test_no_acog_advice_against_art_dating_and_stop_defaults_follow_medicine_and_indication(
    qtbot: QtBot, svc: Services
) -> None:
    pid = svc.patients.register(AMIRA).id
    transfer = TODAY - dt.timedelta(days=40)
    view = svc.pregnancy.start(
        pid, date_entry(DatingMethod.EMBRYO_TRANSFER, TODAY, transfer_date=transfer, embryo_age_days=5)
    )
    assert view.pregnancy is not None
    dlg = DatingDialog(svc.pregnancy, pid, TODAY, view.pregnancy)
    qtbot.addWidget(dlg)
    dlg.scan_date.set_date(TODAY)
    qtbot.keyClicks(dlg.crl, "12")
    assert "not dated by LMP" in dlg.preview.text() and "advised" not in dlg.preview.text()

    plan = PlanDialog(svc.pregnancy, pid, view.pregnancy.edd, TODAY)
    qtbot.addWidget(plan)
    assert plan.stop.text() == "16+0"  # progesterone for threatened miscarriage: NICE NG126
    plan.drug.setCurrentIndex(plan.drug.findData("levothyroxine"))
    assert plan.stop.text() == "" and plan.stop_kind.currentData() == "none" and plan.stop_note.text() == ""
    plan.drug.setCurrentIndex(plan.drug.findData("aspirin"))
    plan.indication.setCurrentIndex(plan.indication.findData(Indication.APS.value))
    assert plan.stop.text() == "34+0" and "RCOG 2023" in plan.stop_note.text()
    plan.stop_kind.setCurrentIndex(plan.stop_kind.findData("none"))
    plan.stop_kind.activated.emit(plan.stop_kind.currentIndex())  # the user's own choice
    plan.indication.setCurrentIndex(plan.indication.findData(Indication.OTHER.value))
    plan.indication.setCurrentIndex(plan.indication.findData(Indication.APS.value))
    assert plan.stop_kind.currentData() == "none"  # not silently put back
    plan.drug.setCurrentIndex(plan.drug.findData("progesterone_vaginal"))
    plan.indication.setCurrentIndex(plan.indication.findData(Indication.RM_NO_BLEEDING.value))
    assert "no benefit" in plan.source.text()


def test_bleeding_notes_survive_an_edit_and_no_gestation_after_a_loss(qtbot: QtBot, svc: Services) -> None:
    from rmclinic.domain.pregnancy import Bleeding, Severity
    from rmclinic.ui.pregnancy_dialogs import DetailsDialog

    pid = pregnant_patient(svc, 9 * 7)
    p = svc.pregnancy.view(pid).pregnancy
    assert p is not None and p.id is not None
    bled = replace(p, bleeding=(Bleeding(TODAY - dt.timedelta(days=2), Severity.LIGHT, "after intercourse"),))
    p = svc.pregnancy.update(pid, p.id, p.version, bled).pregnancy
    assert p is not None
    dlg = DetailsDialog(svc.pregnancy, pid, p)
    qtbot.addWidget(dlg)
    dlg.fetuses.setValue(2)
    dlg.care.setCurrentIndex(dlg.care.findData(True))
    dlg.cerclage.setText("31/02/2026")
    dlg.on_save_clicked()
    assert "Not a date" in dlg.errors["cerclage_on"].text() and dlg.fetuses.value() == 2  # typed input kept
    dlg.cerclage.set_date(TODAY - dt.timedelta(days=1))
    dlg.on_save_clicked()
    saved = svc.pregnancy.view(pid).pregnancy
    assert saved is not None and saved.fetuses == 2 and saved.bleeding[0].notes == "after intercourse"
    assert saved.high_risk_care is True and saved.cerclage_on == TODAY - dt.timedelta(days=1)

    svc.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "progesterone_vaginal",
            400,
            Frequency.TWICE_DAILY,
            TODAY - dt.timedelta(days=2),
            Indication.THREATENED_MISCARRIAGE,
            Anchor(gestation_days=112),
        ),
    )
    svc.pregnancy.end(pid, saved.id, saved.version, Outcome.EARLY_MISCARRIAGE, TODAY)  # type: ignore[arg-type]
    tab = CurrentPregnancyTab(svc.pregnancy)
    qtbot.addWidget(tab)
    tab.load(pid)
    tab.plans.selectRow(0)
    shown: list[CalendarDialog] = []
    CalendarDialog.exec = lambda self: shown.append(self) or 0  # type: ignore[method-assign, assignment, func-returns-value]
    try:
        tab.on_calendar_clicked()
    finally:
        del CalendarDialog.exec  # type: ignore[method-assign]
    (cal,) = shown
    assert all(cal.table.item(r, 1).text() == "" for r in range(cal.table.rowCount()))  # type: ignore[union-attr]


def test_worklist_shows_only_the_newest_requests_answer(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    before = pool.maxThreadCount()
    pool.setMaxThreadCount(max(4, before))  # both requests must run at once, whatever the machine
    request_undo = before
    page = WorklistPage(svc)
    qtbot.addWidget(page)
    page.set_defaults(TODAY)
    release = threading.Event()
    real = svc.worklist.items
    calls: list[int] = []

    def items(start: dt.date, days: int, types: object = None) -> list[object]:
        calls.append(days)
        if days == 1:  # the first request is slow: its answer arrives after the second one's
            release.wait(30)
            return ["stale"]  # type: ignore[list-item]
        return real(start, days, types)  # type: ignore[arg-type]

    monkeypatch.setattr(svc.worklist, "items", items)
    page.load()  # 1 day: held back
    page.days.setValue(7)  # loads again at once
    # (either request may reach the service first: the pool's threads start in any order on a busy machine)
    qtbot.waitUntil(lambda: sorted(calls) == [1, 7] and not page.loading, timeout=20000)
    newest = list(page.model.items)
    release.set()
    qtbot.wait(300)  # the late answer arrives and is ignored
    assert page.model.items == newest and "stale" not in page.model.items
    pool.setMaxThreadCount(request_undo)
