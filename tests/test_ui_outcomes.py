"""The outcomes audit page, driven offscreen: run a period, tables and charts filled, a patient lost to follow-up
opened, PDF and CSV saved; the page is in the navigation of consultants and administrators only, built when first
opened, and QtCharts is not loaded at start-up."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import act_as
from outcomes_demo import demo_clinic
from pypdf import PdfReader
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from rmclinic.domain.accounts import Role
from rmclinic.domain.clock import FixedClock
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.patient import PatientData
from rmclinic.services.container import Services
from rmclinic.ui.main import make_application
from rmclinic.ui.main_window import MainWindow
from rmclinic.ui.outcomes_page import OutcomesPage

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def svc(sqlite_services: Services, clock: FixedClock, qapp: object) -> Iterator[Services]:
    """A demo clinic and one patient lost to follow-up (conceived 15/12/2025, last seen 05/01/2026)."""
    make_application()
    demo_clinic(sqlite_services, 120, TODAY)
    clock.at = dt.datetime(2025, 12, 20, 10, tzinfo=dt.UTC)
    pid = sqlite_services.patients.register(PatientData("LOST1", "Quinn", "Zoë", dt.date(1991, 2, 3))).id
    clock.at = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    sqlite_services.pregnancy.start(pid, date_entry(DatingMethod.LMP, clock.at.date(), lmp=dt.date(2025, 12, 1)))
    clock.at = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
    return sqlite_services


def run(qtbot: QtBot, page: OutcomesPage, start: str = "23/11/2025", end: str = "22/11/2026") -> None:
    page.start.setText(start)
    page.end.setText(end)
    page.report = None
    page.run_button.click()
    qtbot.waitUntil(lambda: page.report is not None and page.run_button.isEnabled(), timeout=20_000)


def test_run_fills_tables_and_charts_and_saves_pdf_and_csv(
    qtbot: QtBot, svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = OutcomesPage(svc)
    qtbot.addWidget(page)
    page.resize(1100, 800)
    page.show()
    page.load()
    # 365 days of conceptions ending 308 days before today: every outcome window in it has closed
    assert page.start.text() == "19/01/2025" and page.end.text() == "18/01/2026"
    assert not page.pdf_button.isEnabled() and not page.csv_button.isEnabled()
    run(qtbot, page, page.start.text(), page.end.text())
    assert page.report is not None and not page.report.too_recent and page.warning.isHidden()
    run(qtbot, page)  # the last 365 days: most are not yet assessable, and the page warns
    r = page.report
    assert r is not None and r.too_recent and r.outcomes.overall.not_assessable > 0
    assert page.warning.isVisibleTo(page) and "not yet assessable" in page.warning.text()
    assert f"not yet assessable: {r.outcomes.overall.not_assessable}" in page.summary.text()
    assert page.outcome_tables["losses"].rowCount() == 4 and page.outcome_tables["age"].rowCount() == 4
    assert page.outcome_tables["treatment"].rowCount() == 5
    total = sum(int(page.outcome_tables["age"].item(i, 1).text()) for i in range(4))
    assert total == r.outcomes.overall.total > 0
    assert page.workup_table.rowCount() == 6 and page.follow_up_table.rowCount() == 2
    assert page.alert_table.rowCount() == len(r.alerts.rules) > 0
    assert f"{r.outcomes.overall.total} pregnancies" in page.summary.text()
    from PySide6.QtCharts import QChartView

    charts = page.findChildren(QChartView)
    assert len(charts) == 5
    titles = {c.chart().title() for c in charts}
    assert "Outcomes of pregnancies conceived in the period" in titles
    bars = next(c for c in charts if c.chart().title().startswith("Outcomes")).chart().series()[0]
    assert bars.isLabelsVisible()  # the numbers are beside the bars
    assert [b.label() for b in bars.barSets()] == ["Pregnancies"]
    assert sum(bars.barSets()[0].at(i) for i in range(bars.barSets()[0].count())) == r.outcomes.overall.total
    # rate charts: k/n with the percentage in each category (the report's rounding), † for a small group, and no bar
    # (nor a "0 %" label) for an empty group
    rates = next(c for c in charts if c.chart().title().startswith("Live birth")).chart()
    rate_bars = rates.series()[0]
    assert not rate_bars.isLabelsVisible()
    names = list(reversed(rates.axes()[0].categories())) if hasattr(rates.axes()[0], "categories") else []
    if not names:
        names = list(reversed(next(a for a in rates.axes() if hasattr(a, "categories")).categories()))
    for row, name in zip(r.outcomes.by_treatment, names, strict=True):
        assert row.live_birth.short() in name.replace("&lt;", "<").replace("&gt;", ">")
        assert ("†" in name) == row.live_birth.small
        if row.live_birth.n == 0:
            assert name.endswith(": 0/0")
    values = [rate_bars.barSets()[0].at(i) for i in range(rate_bars.barSets()[0].count())][::-1]
    assert all(v == 0 for v, row in zip(values, r.outcomes.by_treatment, strict=True) if row.live_birth.n == 0)
    # lost to follow-up: listed, and Enter opens the patient
    assert page.lost_table.rowCount() == 1 and page.lost_table.item(0, 0).text() == "LOST1"
    assert page.lost_table.item(0, 1).text() == "Quinn, Zoë" and page.lost_table.item(0, 3).text() == "05/01/2026"
    opened: list[int] = []
    page.open_patient_requested.connect(opened.append)
    page.lost_table.selectRow(0)
    page.open_button.click()
    assert opened == [r.lost[0].patient_id]
    # saving
    for button, name in ((page.pdf_button, "audit.pdf"), (page.csv_button, "audit.csv")):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        button.click()
        qtbot.waitUntil(target.exists, timeout=20_000)
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO((tmp_path / "audit.pdf").read_bytes())).pages)
    assert "LOST1" in pdf_text and "Quinn, Zoë" in pdf_text
    header = next(csv.reader(io.StringIO((tmp_path / "audit.csv").read_bytes().decode("utf-8-sig"))))
    assert header[:3] == ["Section", "Breakdown", "Group"]
    assert "Exported the outcomes audit" in page.summary.text()
    page.grab().save(str(tmp_path / "outcomes-page.png"))
    assert (tmp_path / "outcomes-page.png").stat().st_size > 10_000


def test_a_failure_is_logged_without_its_message_and_a_closed_page_is_left_alone(
    qtbot: QtBot, svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    import shiboken6

    page = OutcomesPage(svc)  # not handed to qtbot: the test deletes it
    try:
        raise ValueError("Quinn, Zoë LOST1")  # a message can carry patient data
    except ValueError as exc:
        failure = exc
    with caplog.at_level("ERROR", logger="rmclinic.ui.outcomes"):
        page._on_failed(failure)
    assert "the report failed; see the log" in page.error.text().lower()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "test_ui_outcomes.py" in logged and "Quinn" not in logged
    shiboken6.delete(page)  # the page closed while the worker ran: its callbacks must not touch deleted widgets
    page._on_failed(failure)
    report = svc.outcomes.report(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    page._on_report(report)


def test_a_bad_period_is_refused_at_the_field(qtbot: QtBot, svc: Services) -> None:
    page = OutcomesPage(svc)
    qtbot.addWidget(page)
    page.start.setText("31/02/2026")
    page.end.setText("22/11/2026")
    page.run_button.click()
    assert page.error.isVisibleTo(page) and "Not a date" in page.error.text() and page.report is None
    page.start.setText("22/11/2026")
    page.end.setText("01/01/2026")
    page.run_button.click()
    assert "ends before it starts" in page.error.text() and page.run_button.isEnabled()


def test_a_nurse_is_told_she_may_not_run_it(qtbot: QtBot, svc: Services) -> None:
    page = OutcomesPage(svc)
    qtbot.addWidget(page)
    act_as(svc, Role.NURSE)
    page.start.setText("01/01/2026")
    page.end.setText("22/11/2026")
    page.run_button.click()
    qtbot.waitUntil(lambda: page.run_button.isEnabled() and page.error.isVisibleTo(page), timeout=10_000)
    assert "export" in page.error.text().lower() and page.report is None and not page.pdf_button.isEnabled()


def test_in_the_navigation_of_consultants_and_admins_only_built_when_first_opened(qtbot: QtBot, svc: Services) -> None:
    act_as(svc, Role.NURSE)
    nurse = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(nurse)
    assert "Outcomes audit" not in [nurse.nav.item(i).text() for i in range(nurse.nav.count())]
    for role in (Role.ADMIN, Role.CONSULTANT):
        act_as(svc, role)
        window = MainWindow(svc, remember_geometry=False)
        qtbot.addWidget(window)
        labels = [window.nav.item(i).text() for i in range(window.nav.count())]
        assert "Outcomes audit" in labels
    assert window.outcomes_page is None  # nothing built (and QtCharts not needed) until the page is opened
    window.nav.setCurrentRow(labels.index("Outcomes audit"))
    page = window.outcomes_page
    assert isinstance(page, OutcomesPage) and window.pages.currentWidget() is window.outcomes_host
    run(qtbot, page)
    assert page.report is not None
    page.open_patient_requested.emit(page.report.lost[0].patient_id)
    view = window.patients.view
    assert view.record is not None and view.record.data.hospital_number == "LOST1"


def test_start_up_does_not_load_qtcharts() -> None:
    code = (
        "import sys\n"
        "import rmclinic.app, rmclinic.cli, rmclinic.ui.main, rmclinic.ui.main_window\n"
        "assert 'PySide6.QtCharts' not in sys.modules, 'QtCharts loaded at start-up'\n"
        "assert 'rmclinic.ui.outcomes_page' not in sys.modules\n"
        "assert 'rmclinic.reports.outcomes' not in sys.modules\n"
        "import rmclinic.ui.outcomes_page\n"
        "assert 'PySide6.QtCharts' not in sys.modules, 'QtCharts is loaded when the first charts are drawn'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr


def test_without_qtcharts_the_page_says_so_and_keeps_every_table(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle built without PySide6-Addons still gives the whole report, in the tables."""
    from PySide6.QtWidgets import QLabel

    import rmclinic.ui.outcomes_page as module

    monkeypatch.setattr(module._Charts, "__init__", lambda self: setattr(self, "qc", None))
    page = OutcomesPage(svc)
    qtbot.addWidget(page)
    run(qtbot, page)
    missing = [w for w in page.findChildren(QLabel) if w.text().startswith("Charts need QtCharts")]
    assert len(missing) == 5
    assert page.outcome_tables["age"].rowCount() == 4 and page.pdf_button.isEnabled()
