"""Alerts in the window: the evidence card, responses, a critical alert blocking a save until a consultant
overrides it, and the evidence library — real widgets, offscreen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from conftest import act_as, fake_exec
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QTextBrowser
from pytestqt.qtbot import QtBot

from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.medication import Anchor, Frequency, Indication
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.workup import ResultValue
from rmclinic.rules.lifecycle import Status
from rmclinic.services.container import Services
from rmclinic.services.dto import AuditFilter
from rmclinic.ui.alerts_tab import AlertsTab, ResponseDialog
from rmclinic.ui.evidence_page import EvidencePage
from rmclinic.ui.main import make_application
from rmclinic.ui.plan_dialogs import BlockedDialog, PlanDialog

TODAY = dt.date(2026, 11, 22)
AMIRA = PatientData(
    "RM1",
    "Haddad",
    "Amira",
    dt.date(1992, 3, 14),
    pregnancies=tuple(
        PreviousPregnancy(year, Outcome.EARLY_MISCARRIAGE, dt.date(year, 5, 1), 8 * 7) for year in (2023, 2024, 2025)
    ),
)


@pytest.fixture
def svc(sqlite_services: Services, qapp: object) -> Iterator[Services]:
    make_application()
    act_as(sqlite_services, Role.NURSE, "nina")
    return sqlite_services


def positive_acl(svc: Services) -> int:
    pid = svc.patients.register(AMIRA).id
    svc.workup.record_result(pid, "acl_igg", ResultValue(numeric=60, unit="GPL U/mL"), TODAY - dt.timedelta(days=20))
    return pid


def test_the_evidence_card_and_acknowledging(qtbot: QtBot, svc: Services) -> None:
    pid = positive_acl(svc)
    tab = AlertsTab(svc.alerts, svc.session)
    qtbot.addWidget(tab)
    tab.load(pid)
    row = next(i for i, v in enumerate(tab.shown) if v.alert.rule.id == "R4")
    tab.table.selectRow(row)
    card = tab.card.toHtml()
    assert "Anticardiolipin IgG positive on 2026-11-02" in card
    assert "Miyakis" in card and "doi.org/10.1111/j.1538-7836.2006.01753.x" in card
    assert "fired" in card  # its history
    qtbot.mouseClick(tab.ack_button, Qt.MouseButton.LeftButton)
    v = next(v for v in tab.views if v.alert.rule.id == "R4")
    assert v.status is Status.ACKNOWLEDGED and v.response is not None and v.response.username == "nina"
    tab.table.selectRow(next(i for i, x in enumerate(tab.shown) if x.alert.rule.id == "R4"))
    assert "acknowledged by nina (nurse)" in tab.card.toPlainText()


def test_override_needs_a_reason_in_place_and_snooze_runs_until_a_date(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = positive_acl(svc)
    tab = AlertsTab(svc.alerts, svc.session)
    qtbot.addWidget(tab)
    tab.load(pid)
    tab.table.selectRow(next(i for i, v in enumerate(tab.shown) if v.alert.rule.id == "R4"))
    seen: list[str] = []

    def judgement_without_comment(d: QDialog) -> None:
        assert isinstance(d, ResponseDialog)
        d.reason.setCurrentIndex(d.reason.findData("clinical_judgement"))
        d.on_save_clicked()
        seen.append(d.errors["comment"].text())
        d.comment.setText("Repeat booked at the local hospital")

    monkeypatch.setattr(ResponseDialog, "exec", fake_exec(judgement_without_comment))
    qtbot.mouseClick(tab.override_button, Qt.MouseButton.LeftButton)
    assert "Add a comment" in seen[0]
    v = next(v for v in tab.views if v.alert.rule.id == "R4")
    assert v.status is Status.OVERRIDDEN and v.response and v.response.comment == "Repeat booked at the local hospital"

    tab.table.selectRow(next(i for i, v in enumerate(tab.shown) if v.alert.rule.id == "R3"))

    def snooze(d: QDialog) -> None:
        assert isinstance(d, ResponseDialog)
        d.until.set_date(TODAY + dt.timedelta(days=14))
        d.comment.setText("Patient away")

    monkeypatch.setattr(ResponseDialog, "exec", fake_exec(snooze))
    qtbot.mouseClick(tab.snooze_button, Qt.MouseButton.LeftButton)
    r3 = next(v for v in tab.views if v.alert.rule.id == "R3")
    assert r3.status is Status.SNOOZED and "until 06/12/2026" in tab.table.item(tab.shown.index(r3), 2).text()  # type: ignore[union-attr]
    later = svc.alerts.for_patient(pid, as_of=TODAY + dt.timedelta(days=14))
    assert next(v for v in later if v.alert.rule.id == "R3").status is Status.ACTIVE  # the snooze ran out


def test_a_snooze_can_last_until_the_next_booked_visit(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmclinic.domain.visit import Visit, VisitStatus

    pid = positive_acl(svc)
    visit_day = TODAY + dt.timedelta(days=30)
    svc.visits.save_visit(pid, Visit(visit_day, status=VisitStatus.BOOKED))
    tab = AlertsTab(svc.alerts, svc.session)
    qtbot.addWidget(tab)
    tab.load(pid)
    tab.table.selectRow(next(i for i, v in enumerate(tab.shown) if v.alert.rule.id == "R3"))

    def until_visit(d: QDialog) -> None:
        assert isinstance(d, ResponseDialog) and not d.until_visit.isHidden()
        d.until_visit.click()
        d.comment.setText("To discuss at the next visit")

    monkeypatch.setattr(ResponseDialog, "exec", fake_exec(until_visit))
    qtbot.mouseClick(tab.snooze_button, Qt.MouseButton.LeftButton)
    r3 = next(v for v in tab.views if v.alert.rule.id == "R3")
    assert r3.status is Status.SNOOZED and r3.response is not None and r3.response.until == visit_day
    on_the_day = svc.alerts.for_patient(pid, as_of=visit_day)
    assert next(v for v in on_the_day if v.alert.rule.id == "R3").status is Status.ACTIVE  # back for the visit


def test_a_critical_alert_blocks_the_save_until_a_consultant_overrides(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = svc.patients.register(AMIRA).id
    view = svc.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=45)))
    edd = view.pregnancy.edd  # type: ignore[union-attr]
    nurse_saw: list[bool] = []

    def nurse(d: QDialog) -> int:
        assert isinstance(d, BlockedDialog)
        nurse_saw.append(d.buttons.button(d.buttons.StandardButton.Save).isVisible())
        return 0

    monkeypatch.setattr(BlockedDialog, "exec", nurse)
    dlg = PlanDialog(svc.pregnancy, pid, edd, TODAY)  # progesterone for threatened miscarriage, IUP not seen
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.on_save_clicked()
    assert nurse_saw == [False]  # a nurse cannot override
    assert "Not saved" in dlg.banner.text() and "consultant may override" in dlg.banner.text()
    assert svc.pregnancy.view(pid).plans == ()  # nothing written

    act_as(svc, Role.CONSULTANT, "drlee")

    def consultant(d: QDialog) -> None:
        assert isinstance(d, BlockedDialog)
        (card,) = d.findChildren(QTextBrowser)
        assert (
            "NICE NG126" in card.toPlainText() and "intrauterine pregnancy not confirmed on scan" in card.toPlainText()
        )
        d.reason.setCurrentIndex(d.reason.findData("done_elsewhere"))
        d.comment.setText("IUP seen at the referring unit on 20/11")

    monkeypatch.setattr(BlockedDialog, "exec", fake_exec(consultant))
    dlg.can_override = True
    dlg.on_save_clicked()
    assert dlg.result() == QDialog.DialogCode.Accepted
    (plan,) = svc.pregnancy.view(pid).plans
    assert plan.indication is Indication.THREATENED_MISCARRIAGE and plan.frequency is Frequency.TWICE_DAILY
    assert plan.stop == Anchor(gestation_days=112)
    r23 = next(v for v in svc.alerts.for_patient(pid) if v.alert.rule.id == "R23")
    assert r23.status is Status.OVERRIDDEN and r23.response and r23.response.username == "drlee"
    act_as(svc, Role.ADMIN, "auditor")
    trail, _ = svc.audit.query(AuditFilter(patient_id=pid))
    assert any(e.entity == "alert" and "overridden" in e.details for e in trail)


def test_evidence_library_search_and_analytics_for_admins(qtbot: QtBot, svc: Services) -> None:
    pid = positive_acl(svc)
    svc.alerts.for_patient(pid)  # records firings
    page = EvidencePage(svc)
    qtbot.addWidget(page)
    page.load()
    assert not page.tabs.isTabVisible(2)  # analytics: administrators only
    visible = [page.rules.item(r, 0).text() for r in range(page.rules.rowCount()) if not page.rules.isRowHidden(r)]  # type: ignore[union-attr]
    assert len(visible) == len(svc.alerts.rule_set().rules)
    qtbot.keyClicks(page.search, "TRUST")
    visible = [page.rules.item(r, 0).text() for r in range(page.rules.rowCount()) if not page.rules.isRowHidden(r)]  # type: ignore[union-attr]
    assert visible == ["R21"]
    page.rules.selectRow([page.rules.item(r, 0).text() for r in range(page.rules.rowCount())].index("R21"))  # type: ignore[union-attr]
    text = page.detail.toPlainText()
    assert "The other side" in text and "ASRM" in text and "Funding" in text and "Review by" in text
    act_as(svc, Role.ADMIN, "admin")
    page.load()
    assert page.tabs.isTabVisible(2)
    rows = {
        page.analytics.item(r, 0).text(): page.analytics.item(r, 1).text() for r in range(page.analytics.rowCount())
    }  # type: ignore[union-attr]
    assert rows.get("R4") == "1"


def test_re_evaluating_all_alerts_runs_off_the_ui_thread_and_fills_the_worklist(qtbot: QtBot, svc: Services) -> None:
    from rmclinic.ui.main_window import MainWindow

    svc.patients.register(AMIRA)
    win = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.worklist_page.loading, timeout=5000)
    assert not any(i.type == "alert" for i in win.worklist_page.model.items)
    win.act_refresh_alerts.trigger()
    qtbot.waitUntil(
        lambda: any(i.type == "alert" for i in win.worklist_page.model.items) and not win.worklist_page.loading,
        timeout=10000,
    )
    alert = next(i for i in win.worklist_page.model.items if i.type == "alert")
    assert alert.hospital_number == "RM1" and "WARNING" in alert.description
    win.open_worklist_item(alert)
    view = win.patients.view
    assert view.alerts is not None and view.tabs.currentWidget() is view.alerts
