"""Care plans and the timeline in the window, offscreen: save, print (through the print system), sign as a
consultant, out-of-date marks after a change, reprinting a signed version exactly, the timeline opening
what is clicked, and batch printing from the worklist with progress."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import act_as
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.domain.timeline import ItemRef
from rmclinic.services.container import Services
from rmclinic.ui import printing
from rmclinic.ui.careplan_tab import CarePlanTab
from rmclinic.ui.main import make_application
from rmclinic.ui.main_window import MainWindow
from rmclinic.ui.worklist_page import WorklistPage

TODAY = dt.date(2026, 11, 22)
ZOE = PatientData(
    "RM5",
    "Nguyễn",
    "Zoë",
    dt.date(1987, 2, 3),
    pregnancies=(
        PreviousPregnancy(2024, Outcome.EARLY_MISCARRIAGE, dt.date(2024, 4, 1), 8 * 7),
        PreviousPregnancy(2025, Outcome.LATE_MISCARRIAGE, dt.date(2025, 6, 1), 17 * 7),
    ),
)


@pytest.fixture
def svc(sqlite_services: Services, qapp: object) -> Iterator[Services]:
    make_application()
    act_as(sqlite_services, Role.CONSULTANT, "drlee")
    return sqlite_services


def pregnant(svc: Services) -> int:
    pid = svc.patients.register(ZOE).id
    view = svc.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=70)))
    p = view.pregnancy
    assert p is not None and p.id is not None
    seen = replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL)
    svc.pregnancy.update(pid, p.id, p.version, seen)
    svc.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "progesterone_vaginal",
            400.0,
            Frequency.TWICE_DAILY,
            TODAY - dt.timedelta(days=3),
            Indication.THREATENED_MISCARRIAGE,
            stop=Anchor(gestation_days=16 * 7),
        ),
    )
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.SWAB, TODAY + dt.timedelta(days=2)))
    return pid


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_save_print_sign_and_out_of_date(
    qtbot: QtBot, svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pregnant(svc)
    tab = CarePlanTab(svc.careplans, svc.session)
    qtbot.addWidget(tab)
    tab.show()
    tab.load(pid, "RM5")
    assert tab.table.rowCount() == 0 and not tab.stale.isVisible()
    # what a care plan made now would say: the record hash, and the medicine up to its last dose
    data = svc.careplans.data(pid)
    assert f"record {data.short_hash}" in tab.preview.text()
    stop = TODAY + dt.timedelta(days=16 * 7 - 70)  # 16+0, the first day without a dose
    assert f"last dose {(stop - dt.timedelta(days=1)).strftime('%d/%m/%Y')} (15+6)" in tab.preview.text()
    # save as PDF: the file chosen gets the patient copy
    target = tmp_path / "zoe"
    monkeypatch.setattr(printing.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    tab.variant.setCurrentIndex(tab.variant.findData("patient"))
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    saved = tmp_path / "zoe.pdf"
    assert "Zoë" in pdf_text(saved.read_bytes()) and not tab.problem.isVisible()
    assert str(saved) in tab.note.text()
    # print: the chosen printer gets the PDF through the print system
    sent: list[Sequence[str]] = []
    monkeypatch.setattr(printing.shutil, "which", lambda name: "/usr/bin/lp" if name == "lp" else None)

    def accept(dialog: object) -> int:
        dialog.printer().setOutputFormat(QPrinter.OutputFormat.NativeFormat)  # type: ignore[attr-defined]
        return 1

    printed: list[bytes] = []
    monkeypatch.setattr(
        printing, "run_command", lambda args: (sent.append(args), printed.append(Path(args[-1]).read_bytes()))
    )
    monkeypatch.setattr(CarePlanTab, "exec_print_dialog", staticmethod(accept))
    qtbot.mouseClick(tab.print_button, Qt.MouseButton.LeftButton)
    assert len(sent) == 1 and sent[0][0] == "/usr/bin/lp" and "Zoë" in pdf_text(printed[0])
    assert not Path(sent[0][-1]).exists()  # the temporary copy is removed
    printing.send_to_printer(printed[0], "ward-3", 2, "care plan")  # a named printer and copies reach lp
    assert sent[1][:7] == ["/usr/bin/lp", "-n", "2", "-t", "care plan", "-d", "ward-3"]
    printing.send_to_printer(printed[0], "", 1, "care plans", one_sided=True)  # a batch: never duplex
    assert sent[2][5:7] == ["-o", "sides=one-sided"]
    # sign: a consultant signs the patient copy, which is listed as current
    monkeypatch.setattr(tab, "ask_comment", lambda: ("Went through it with Zoë", True))
    qtbot.mouseClick(tab.sign_button, Qt.MouseButton.LeftButton)
    assert tab.table.rowCount() == 1 and "Current" in tab.table.item(0, 4).text()  # type: ignore[union-attr]
    # the record changes: the tab says the signed version is out of date, in words
    svc.pregnancy.add_follow_up(pid, FollowUp(FollowUpKind.APPOINTMENT, TODAY + dt.timedelta(days=9)))
    tab.load(pid, "RM5")
    assert tab.stale.isVisible() and "out of date" in tab.stale.text() and "record has changed" in tab.stale.text()
    assert "Out of date" in tab.table.item(0, 4).text()  # type: ignore[union-attr]
    # reprinting the signed version gives the stored bytes exactly, after a warning
    monkeypatch.setattr(tab, "confirm_out_of_date", lambda st: True)
    signed_file = tmp_path / "signed.pdf"
    monkeypatch.setattr(printing.QFileDialog, "getSaveFileName", lambda *a, **k: (str(signed_file), ""))
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.save_signed_button, Qt.MouseButton.LeftButton)
    stored = svc.careplans.signatures(pid)[0].signature
    assert hashlib.sha256(signed_file.read_bytes()).hexdigest() == stored.pdf_sha256


def test_a_nurse_prints_but_does_not_sign(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    act_as(svc, Role.NURSE, "nina")
    tab = CarePlanTab(svc.careplans, svc.session)
    qtbot.addWidget(tab)
    tab.load(pid, "RM5")
    assert tab.print_button.isEnabled() and tab.save_button.isEnabled()
    assert tab.sign_button.isHidden()


def test_timeline_tab_opens_what_is_clicked(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    win = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win)
    win.open_patient(pid)
    view = win.patients.view
    assert view.timeline is not None
    view.show_tab("timeline")  # laid out when looked at
    layout = view.timeline.layout_shown
    assert layout is not None
    plan_marks = [m for m in layout.marks() if m.ref is not None and m.ref.kind == "plan"]
    assert plan_marks, "the progesterone course is on the timeline"
    view.timeline.item_activated.emit(plan_marks[0].ref)
    assert view.tabs.currentWidget() is view.pregnancy
    plan = view.pregnancy.selected_plan()
    assert plan is not None and plan.drug == "progesterone_vaginal"
    view.show_tab("timeline")
    swab = next(m for m in layout.marks() if m.ref is not None and m.ref.kind == "follow_up")
    view.timeline.item_activated.emit(swab.ref)
    f = view.pregnancy.selected_follow_up()
    assert f is not None and f.kind is FollowUpKind.SWAB
    view.on_timeline_item_activated(ItemRef("history", "1"))
    assert view.tabs.currentIndex() == 0 and view.history.currentRow() == 1  # the 2025 loss, by date


def test_batch_print_from_the_worklist(
    qtbot: QtBot, svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pregnant(svc)
    other = svc.patients.register(PatientData("RM6", "Okafor", "Beth", dt.date(1988, 7, 2))).id
    svc.pregnancy.add_follow_up(other, FollowUp(FollowUpKind.BLOOD_TEST, TODAY + dt.timedelta(days=2), title="TSH"))
    page = WorklistPage(svc)
    qtbot.addWidget(page)
    page.set_defaults(TODAY + dt.timedelta(days=2))
    target = tmp_path / "batch.pdf"
    monkeypatch.setattr(page, "ask_batch", lambda day: ("patient", "file"))
    monkeypatch.setattr(printing.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(target.exists, timeout=20000)
    qtbot.waitUntil(lambda: "2 care plan" in page.status.text(), timeout=5000)
    text = pdf_text(target.read_bytes())
    assert "RM5" in text and "RM6" in text and text.count("Page 1 of") == 2


def test_timeline_png_export_is_private_audited_and_only_for_those_who_print(
    qtbot: QtBot, svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os
    import stat

    from rmclinic.services.dto import AuditFilter
    from rmclinic.ui.timeline_view import TimelineView

    pid = pregnant(svc)
    act_as(svc, Role.NURSE, "nina")
    win = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win)
    win.open_patient(pid)
    view = win.patients.view
    assert view.timeline is not None
    view.show_tab("timeline")
    target = tmp_path / "timeline.png"
    monkeypatch.setattr(TimelineView, "choose_png_file", staticmethod(lambda *a: str(target)))
    view.timeline.on_export_button_clicked()
    assert target.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    act_as(svc, Role.ADMIN)
    entries = [e for e in svc.audit.query(AuditFilter(patient_id=pid))[0] if e.entity == "timeline"]
    assert [(e.action, e.username, json.loads(e.details)["to"]) for e in entries] == [("export", "nina", "png")]
    # someone who may not print sees no export button
    act_as(svc, Role.READ_ONLY, "reader")
    win2 = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win2)
    win2.open_patient(pid)
    assert win2.patients.view.timeline is not None and win2.patients.view.timeline.export_button.isHidden()
