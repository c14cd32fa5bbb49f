"""CSV exports (patient list, worklist, alert analytics): files Excel and LibreOffice open correctly (UTF-8 with
a byte-order mark, ISO dates), no cell a spreadsheet would run as a formula, the right rows and columns, the
permission checked and every export audited; from the services, the command line and the pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
from conftest import TODAY, act_as
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.audit import Action
from rmclinic.domain.errors import ValidationError
from rmclinic.domain.patient import PatientData
from rmclinic.services.container import Services
from rmclinic.services.csv_export import BOM, safe_cell, to_csv
from rmclinic.services.dto import AuditFilter, PatientQuery
from rmclinic.services.session import PermissionDenied


def read(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM.encode("utf-8")), "Excel needs the byte-order mark to read UTF-8"
    text = data.decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert text.count("\r\n") == len(rows) and text.endswith("\r\n")  # every record ends CRLF
    return rows


def exports(svc: Services) -> list:  # type: ignore[type-arg]
    act_as(svc, Role.ADMIN, "auditor")
    found, _ = svc.audit.query(AuditFilter(action=Action.EXPORT.value, sort="seq", descending=False), 0, 5000)
    return found


@pytest.mark.parametrize(
    "dangerous", ["=1+2", "+44 20 7946 0000", "-2", "@SUM(A1)", "\t=1", "\r=1", "\0=1", "＝1", "＋1"]
)
def test_a_cell_a_spreadsheet_would_run_is_made_inert(dangerous: str) -> None:
    assert safe_cell(dangerous) == "'" + dangerous
    rows = read(to_csv(["a"], [[dangerous]]))
    assert rows[1] == ["'" + dangerous]


def test_every_text_cell_is_quoted_so_a_semicolon_locale_cannot_split_out_a_formula() -> None:
    """Excel set to ";" as its list separator splits an unquoted ``Practice;=cmd|...`` into a cell that starts
    with "=" (a DDE payload); quoted, it stays one inert cell."""
    data = to_csv(["GP practice", "Age"], [["Practice;=cmd|' /C calc'!A0", 36]])
    assert data.decode("utf-8").endswith("\"Practice;=cmd|' /C calc'!A0\",36\r\n")
    semicolon_reading = list(csv.reader(io.StringIO(data.decode("utf-8")[1:], newline=""), delimiter=";"))
    assert all(not cell.startswith("=") for row in semicolon_reading for cell in row)


def test_plain_values_are_kept_and_typed_values_written_as_a_spreadsheet_reads_them() -> None:
    when = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    row = ["Wiśniewska, Łucja", 'says "hi"', "two\nlines", -3, 2.5, dt.date(2026, 1, 2), when, True, False, None]
    got = read(to_csv(["h"] * len(row), [row]))[1]
    assert got == [
        "Wiśniewska, Łucja",
        'says "hi"',
        "two\nlines",
        "-3",  # a number stays a number: negative numbers are data, not formulas
        "2.5",
        "2026-01-02",
        "2026-11-22T08:30:00Z",  # timestamps in UTC
        "yes",
        "no",
        "",
    ]


@pytest.fixture
def clinic(services: Services) -> Services:
    services.demo.create(60, seed=5, today=TODAY)
    act_as(services, Role.NURSE)
    services.patients.register(
        PatientData(
            hospital_number="CSV0001",
            family_name="Abbott",
            given_name="Zoë",
            date_of_birth=dt.date(1990, 5, 17),
            phone="+44 20 7946 0000",
            gp_practice='=HYPERLINK("http://example.invalid")',
        ),
        confirm_possible_duplicate=True,
    )
    old = services.patients.get(2)
    services.patients.set_archived(old.id, old.version, True)
    return services


def test_the_patient_list_export_has_the_chosen_columns_in_the_lists_order_and_is_audited(clinic: Services) -> None:
    act_as(clinic, Role.CONSULTANT, "carol")
    query = PatientQuery(text="abbott")
    listed = [r.hospital_number for r in clinic.patients.search(query, 0, 500).rows]
    assert "CSV0001" in listed
    columns = ["hospital_number", "family_name", "given_name", "date_of_birth", "phone", "gp_practice", "age"]
    progress: list[tuple[int, int]] = []
    data, n = clinic.patients.export_csv(query, columns, lambda done, total: progress.append((done, total)))
    assert progress[0] == (0, n) and progress[-1] == (n, n)  # the count is known from the start
    rows = read(data)
    assert rows[0] == ["Hospital number", "Family name", "Given name", "Date of birth", "Phone", "GP practice", "Age"]
    assert [r[0] for r in rows[1:]] == listed and n == len(listed)
    zoe = next(r for r in rows if r[0] == "CSV0001")
    assert zoe[1:] == [
        "Abbott",
        "Zoë",
        "1990-05-17",
        "'+44 20 7946 0000",
        '\'=HYPERLINK("http://example.invalid")',
        "36",
    ]
    exported = [e for e in exports(clinic) if e.username == "carol"]
    assert sorted(int(e.patient_id) for e in exported) == sorted(
        r.id for r in clinic.patients.search(query, 0, 500).rows
    )
    assert all(json.loads(e.details) == {"format": "csv", "columns": columns} for e in exported)


def test_the_whole_list_follows_the_archived_switch(clinic: Services) -> None:
    act_as(clinic, Role.CONSULTANT)
    every = clinic.patients.search(PatientQuery(include_archived=True), 0, 500)
    shown = clinic.patients.search(PatientQuery(), 0, 500)
    assert every.total > shown.total  # the demo archives some
    for query, page in ((PatientQuery(include_archived=True), every), (PatientQuery(), shown)):
        data, n = clinic.patients.export_csv(query, ["hospital_number", "archived"])
        rows = read(data)[1:]
        assert [r[0] for r in rows] == [r.hospital_number for r in page.rows] and n == page.total
        assert {r[1] for r in rows} == ({"yes", "no"} if query.include_archived else {"no"})


def test_exporting_the_list_needs_the_export_permission_and_known_columns(clinic: Services) -> None:
    before = len(exports(clinic))
    act_as(clinic, Role.NURSE)
    with pytest.raises(PermissionDenied):
        clinic.patients.export_csv(PatientQuery(), ["hospital_number"])
    act_as(clinic, Role.CONSULTANT)
    with pytest.raises(ValidationError, match="Choose columns from"):
        clinic.patients.export_csv(PatientQuery(), ["hospital_number", "password"])
    with pytest.raises(ValidationError):
        clinic.patients.export_csv(PatientQuery(), [])
    act_as(clinic, Role.READ_ONLY)
    with pytest.raises(PermissionDenied):  # the worklist holds names and clinical tasks: not for read-only
        clinic.worklist.export_csv(TODAY, 7)
    assert len(exports(clinic)) == before  # nothing left the building, nothing recorded as exported


def test_the_worklist_export_is_what_the_worklist_shows_and_audits_each_patient(clinic: Services) -> None:
    act_as(clinic, Role.NURSE, "nina")
    items = clinic.worklist.items(TODAY, 14)
    assert items
    data, n = clinic.worklist.export_csv(TODAY, 14)
    rows = read(data)
    assert rows[0] == ["Due date", "Type", "Hospital number", "Patient", "Gestation", "What", "Overdue"]
    assert n == len(items) == len(rows) - 1
    for item, row in zip(items, rows[1:], strict=True):
        assert row[0] == item.due_date.isoformat() and row[2] == item.hospital_number
        assert row[4] == (item.gestation or "") and row[6] == ("yes" if item.overdue else "no")
    audited = {int(e.patient_id) for e in exports(clinic) if e.username == "nina"}
    assert audited == {i.patient_id for i in items}


def test_alert_analytics_export_is_for_administrators_and_sums_to_the_events(clinic: Services) -> None:
    act_as(clinic, Role.CONSULTANT)
    clinic.alerts.refresh_all(workers=0)
    with pytest.raises(PermissionDenied):
        clinic.alerts.analytics_csv()
    act_as(clinic, Role.ADMIN, "ada")
    counts = clinic.alerts.analytics()
    rows = read(clinic.alerts.analytics_csv())
    assert rows[0] == ["Rule", "Title", "Event", "Role", "Override reason", "Count"]
    assert sum(int(r[5]) for r in rows[1:]) == sum(n for *_, n in counts) > 0
    titles = {r.id: r.title for r in clinic.alerts.rule_set().rules}
    assert all(r[1] == titles[r[0]] for r in rows[1:])
    assert any(e.entity == "alert_analytics" and e.username == "ada" for e in exports(clinic))


def test_the_command_line_writes_a_private_file_and_says_one_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "30", "--today", TODAY.isoformat()]) == 0
    capsys.readouterr()
    monkeypatch.setenv("RMCLINIC_USER", "consultant")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")
    out = tmp_path / "patients.csv"
    args = ["--database", sqlite_url, "export-csv", "patients", "-o", str(out)]
    assert main([*args, "--columns", "hospital_number,age,pregnancy_losses", "--include-archived"]) == 0
    said = capsys.readouterr().out.strip().splitlines()
    assert said == [f"exported 30 patients to {out}"]
    assert os.stat(out).st_mode & 0o777 == 0o600
    rows = read(out.read_bytes())
    assert rows[0] == ["Hospital number", "Age", "Pregnancy losses"] and len(rows) == 31
    assert all(r[1].isdigit() and r[2].isdigit() for r in rows[1:])

    assert main([*args, "--columns", "hospital_number,shoe_size"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Choose columns from" in err[0]

    wl = tmp_path / "worklist.csv"
    assert main(["--database", sqlite_url, "export-csv", "worklist", "-o", str(wl), "--days", "7"]) == 0
    assert capsys.readouterr().out.startswith("exported ") and read(wl.read_bytes())[0][0] == "Due date"
    monkeypatch.setenv("RMCLINIC_USER", "nurse")
    assert main(["--database", sqlite_url, "export-csv", "alert-analytics", "-o", str(tmp_path / "a.csv")]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "a.csv").exists()


# -- the pages --------------------------------------------------------------------------------------------


def test_the_patients_page_exports_what_it_lists_with_the_ticked_columns(
    qtbot: QtBot, clinic: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmclinic.ui import csv_files
    from rmclinic.ui.main_window import MainWindow

    act_as(clinic, Role.CONSULTANT)
    window = MainWindow(clinic, remember_geometry=False)
    qtbot.addWidget(window)
    window.load()
    page = window.patients
    assert not page.export_button.isHidden()
    page.search.setText("abbott")
    page.run_search()
    target = tmp_path / "chosen"  # the dialog adds .csv
    monkeypatch.setattr(csv_files.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))

    def tick(dialog: csv_files.ColumnsDialog) -> int:
        for i in range(dialog.list.count()):  # only the hospital number and the phone
            item = dialog.list.item(i)
            wanted = item.data(Qt.ItemDataRole.UserRole) in ("hospital_number", "phone")
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
        dialog._accept()
        return dialog.result()

    monkeypatch.setattr(type(page), "exec_columns_dialog", lambda self, d: tick(d))
    page.export_button.click()
    written = tmp_path / "chosen.csv"
    qtbot.waitUntil(lambda: not page.notice.isHidden(), timeout=10_000)
    rows = read(written.read_bytes())
    assert rows[0] == ["Hospital number", "Phone"]
    assert [r[0] for r in rows[1:]] == [page.model.data(page.model.index(i, 0)) for i in range(page.model.rowCount())]
    assert page.notice.text() == f"Exported {len(rows) - 1} patients to {written}."


def test_nurses_have_no_patient_export_and_an_empty_column_choice_is_refused_in_the_dialog(
    qtbot: QtBot, clinic: Services
) -> None:
    from rmclinic.services.csv_export import PATIENT_COLUMNS
    from rmclinic.ui.csv_files import ColumnsDialog
    from rmclinic.ui.main_window import MainWindow

    act_as(clinic, Role.NURSE)
    window = MainWindow(clinic, remember_geometry=False)
    qtbot.addWidget(window)
    window.load()
    assert window.patients.export_button.isHidden()
    dialog = ColumnsDialog([(c.key, c.label) for c in PATIENT_COLUMNS], ["hospital_number"])
    qtbot.addWidget(dialog)
    dialog.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    dialog._accept()
    assert dialog.result() == 0 and dialog.problem.text() == "Tick at least one column."
    assert dialog.chosen() == []


def test_the_worklist_page_exports_the_days_shown(
    qtbot: QtBot, clinic: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmclinic.ui import csv_files
    from rmclinic.ui.worklist_page import WorklistPage

    act_as(clinic, Role.NURSE)
    page = WorklistPage(clinic)
    qtbot.addWidget(page)
    page.set_defaults(TODAY)
    page.days.setValue(14)
    qtbot.waitUntil(lambda: not page.loading, timeout=10_000)
    target = tmp_path / "wl.csv"
    monkeypatch.setattr(csv_files.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    page.export_button.click()
    qtbot.waitUntil(target.exists, timeout=10_000)
    rows = read(target.read_bytes())
    assert len(rows) - 1 == len(page.model.items) > 0
    assert page.status.text() == f"Exported {len(page.model.items)} items to {target}."
    assert page.export_button.isEnabled()  # disabled while the export ran, back once written
    act_as(clinic, Role.READ_ONLY)
    page.set_defaults(TODAY)
    assert page.export_button.isHidden()


def test_the_analytics_tab_exports_its_counts(
    qtbot: QtBot, clinic: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmclinic.ui import csv_files
    from rmclinic.ui.evidence_page import EvidencePage

    act_as(clinic, Role.CONSULTANT)
    clinic.alerts.refresh_all(workers=0)
    act_as(clinic, Role.ADMIN)
    page = EvidencePage(clinic)
    qtbot.addWidget(page)
    page.load()
    target = tmp_path / "a.csv"
    monkeypatch.setattr(csv_files.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    page.analytics_export.click()
    qtbot.waitUntil(target.exists, timeout=10_000)
    fired = sum(int(r[5]) for r in read(target.read_bytes())[1:] if r[2] == "fired")
    shown = sum(int(page.analytics.item(r, 1).text()) for r in range(page.analytics.rowCount()))
    assert fired == shown > 0
