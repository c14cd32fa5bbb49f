"""The Visits tab, the visit dialog and the GP letter editor, driven offscreen with pytest-qt: a nurse
records a visit by typing into the real fields (the next visit is booked), a bad date is refused in place
with nothing lost, the worklist opens a booked visit at its row, and a letter is drafted from the record,
edited, signed by a consultant (then read-only), saved as the signed PDF and corrected by a new version."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import act_as, fake_exec
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import DatingMethod, date_entry
from rmclinic.domain.medication import Anchor, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData
from rmclinic.domain.pregnancy import IupMethod
from rmclinic.domain.timeline import ItemRef
from rmclinic.domain.visit import LetterStatus, Visit, VisitStatus, VisitType
from rmclinic.domain.workup import ResultValue
from rmclinic.services.container import Services
from rmclinic.ui import printing
from rmclinic.ui.main import make_application
from rmclinic.ui.main_window import MainWindow
from rmclinic.ui.visits_tab import LetterDialog, VisitDialog, VisitsTab

TODAY = dt.date(2026, 11, 22)
NEXT = TODAY + dt.timedelta(days=28)
AMIRA = PatientData(
    "RM41",
    "Haddad",
    "Amira",
    dt.date(1992, 3, 14),
    gp_practice="Riverside Medical Practice\n1 High Street",
    pregnancies=tuple(
        PreviousPregnancy(y, Outcome.EARLY_MISCARRIAGE, dt.date(y, 5, 1), 8 * 7) for y in (2023, 2024, 2025)
    ),
)


@pytest.fixture
def svc(sqlite_services: Services, qapp: object) -> Iterator[Services]:
    make_application()
    act_as(sqlite_services, Role.NURSE, "nina")
    return sqlite_services


def pregnant(svc: Services) -> int:
    """Three losses, lupus anticoagulant positive, 8 weeks pregnant, progesterone started today."""
    pid = svc.patients.register(AMIRA).id
    svc.workup.record_result(pid, "la", ResultValue(text="positive"), TODAY - dt.timedelta(days=40))
    p = svc.pregnancy.start(pid, date_entry(DatingMethod.LMP, TODAY, lmp=TODAY - dt.timedelta(days=56))).pregnancy
    assert p is not None and p.id is not None
    seen = replace(p, iup_confirmed_on=TODAY - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL)
    svc.pregnancy.update(pid, p.id, p.version, seen)
    svc.pregnancy.save_plan(
        pid,
        MedicationPlan(
            "progesterone_vaginal",
            400.0,
            Frequency.TWICE_DAILY,
            TODAY,
            Indication.THREATENED_MISCARRIAGE,
            stop=Anchor(gestation_days=16 * 7),
        ),
    )
    return pid


def visits_tab(qtbot: QtBot, svc: Services, pid: int) -> VisitsTab:
    tab = VisitsTab(svc.visits, svc.session, today=lambda: TODAY)
    qtbot.addWidget(tab)
    tab.show()
    tab.load(pid, AMIRA.hospital_number)
    return tab


def cell(tab: VisitsTab, row: int, col: int) -> str:
    item = tab.table.item(row, col)
    return item.text() if item is not None else ""


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_a_nurse_records_a_visit_and_the_next_one_is_booked(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pregnant(svc)
    tab = visits_tab(qtbot, svc, pid)
    assert tab.table.rowCount() == 0 and "No visits recorded" in tab.details.toPlainText()
    assert tab.new_button.isVisible() and not tab.edit_button.isEnabled() and not tab.letter_button.isEnabled()

    def fill(d: QDialog) -> None:
        assert isinstance(d, VisitDialog)
        d.show()
        assert d.date.text() == "22/11/2026"  # today by default
        assert d.type.currentData() == VisitType.FIRST.value  # her first visit
        assert all(n.tabChangesFocus() for n in d.notes.values())
        d.type.setCurrentIndex(d.type.findData(VisitType.EARLY_PREGNANCY.value))
        qtbot.keyClicks(d.clinician, "Dr Lee")
        qtbot.mouseClick(d.partner_attended, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(d.notes["history"], "Three early losses; LA positive.")
        qtbot.keyClicks(d.notes["findings"], "Well. Scan: heartbeat seen.")
        qtbot.keyClicks(d.notes["discussion"], "We discussed progesterone.")
        qtbot.keyClicks(d.notes["plan"], "Continue progesterone to 16 weeks.")
        qtbot.keyClicks(d.next_visit, NEXT.strftime("%d/%m/%Y"))

    monkeypatch.setattr(VisitDialog, "exec", fake_exec(fill))
    with qtbot.waitSignal(tab.changed, timeout=1000):
        qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    # two rows, newest first: the visit booked by saving, then the visit itself
    assert tab.table.rowCount() == 2
    assert [cell(tab, 0, c) for c in range(7)] == [
        "20/12/2026",
        "Follow-up",
        "Booked",
        "Dr Lee",
        "",
        "",
        "—",
    ]
    assert [cell(tab, 1, c) for c in range(7)] == [
        "22/11/2026",
        "Early pregnancy review",
        "Attended",
        "Dr Lee",
        "patient + partner",
        "20/12/2026",
        "—",
    ]
    # the visit saved is the one selected; its notes are shown under their headings with what was done
    assert tab.table.currentRow() == 1
    details = tab.details.toPlainText()
    for text in (
        "Early pregnancy review, 22/11/2026",
        "History\nThree early losses; LA positive.",
        "Findings\nWell. Scan: heartbeat seen.",
        "Discussion\nWe discussed progesterone.",
        "Plan\nContinue progesterone to 16 weeks.",
        "Next visit: 20/12/2026",
        "Done in this visit:",
    ):
        assert text in details
    assert "Micronised progesterone (vaginal) started" in details
    assert tab.letter_button.isEnabled() and not tab.attended_button.isEnabled()
    # the booked one: no letter yet, but it can be recorded as attended (the dialog opens as Attended)
    tab.table.selectRow(0)
    assert "Booked" in tab.details.toPlainText()
    assert tab.attended_button.isEnabled() and not tab.letter_button.isEnabled()
    seen: list[tuple[str, str, str]] = []

    def look(d: QDialog) -> None:
        assert isinstance(d, VisitDialog)
        seen.append((d.status.currentData(), d.date.text(), d.clinician.text()))

    monkeypatch.setattr(VisitDialog, "exec", fake_exec(look))
    qtbot.mouseClick(tab.attended_button, Qt.MouseButton.LeftButton)
    # opened as attended, on the booked day, with the booked clinician; not yet possible (it is ahead)
    assert seen == [(VisitStatus.ATTENDED.value, "20/12/2026", "Dr Lee")]
    statuses = [v.visit.status for v in svc.visits.visits(pid)]
    assert statuses == [VisitStatus.ATTENDED, VisitStatus.BOOKED]


def test_a_future_attended_visit_is_refused_in_place_and_nothing_typed_is_lost(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    dlg = VisitDialog(svc.visits, pid, TODAY)
    qtbot.addWidget(dlg)
    dlg.date.clear()
    qtbot.keyClicks(dlg.date, "25/11/2026")
    qtbot.keyClicks(dlg.notes["history"], "Typed before the refusal.")
    qtbot.keyClicks(dlg.notes["plan"], "Aspirin and heparin.")
    qtbot.keyClicks(dlg.next_visit, "01/12/2026")
    dlg.on_save_clicked()
    assert dlg.result() != QDialog.DialogCode.Accepted
    assert dlg.errors["date"].isVisibleTo(dlg) and "future" in dlg.errors["date"].text()
    assert not dlg.errors["history"].isVisibleTo(dlg) and not dlg.banner.isVisibleTo(dlg)
    assert dlg.notes["history"].toPlainText() == "Typed before the refusal."
    assert dlg.notes["plan"].toPlainText() == "Aspirin and heparin."
    assert dlg.date.text() == "25/11/2026" and dlg.next_visit.text() == "01/12/2026"
    assert svc.visits.visits(pid) == []
    # nobody ticked as attending, and a next visit before this one: both shown under their fields
    dlg.date.clear()
    qtbot.keyClicks(dlg.date, "22/11/2026")
    dlg.patient_attended.setChecked(False)
    dlg.next_visit.clear()
    qtbot.keyClicks(dlg.next_visit, "20/11/2026")
    dlg.on_save_clicked()
    assert "Tick who attended" in dlg.errors["attendees"].text()
    assert "after this one" in dlg.errors["next_visit"].text()
    assert not dlg.errors["date"].isVisibleTo(dlg)
    # a date that cannot be read is refused before the service is asked
    dlg.next_visit.clear()
    qtbot.keyClicks(dlg.next_visit, "31/02/2027")
    dlg.on_save_clicked()
    assert "Not a date" in dlg.errors["next_visit"].text()
    # fixed: saved
    dlg.patient_attended.setChecked(True)
    dlg.next_visit.clear()
    dlg.on_save_clicked()
    assert dlg.result() == QDialog.DialogCode.Accepted
    saved = svc.visits.visits(pid)
    assert len(saved) == 1 and saved[0].visit.history == "Typed before the refusal."


def test_a_stale_edit_shows_a_banner_and_keeps_the_text(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    visit = svc.visits.save_visit(pid, Visit(TODAY, clinician="Dr Lee"))
    dlg = VisitDialog(svc.visits, pid, TODAY, visit)
    qtbot.addWidget(dlg)
    svc.visits.save_visit(pid, replace(visit, findings="Saved elsewhere first"))
    qtbot.keyClicks(dlg.notes["findings"], "My findings")
    dlg.on_save_clicked()
    assert dlg.banner.isVisibleTo(dlg) and "Someone else changed this visit" in dlg.banner.text()
    assert dlg.notes["findings"].toPlainText() == "My findings"


def test_the_worklist_opens_the_booked_visit_at_the_visits_tab(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    svc.visits.save_visit(pid, Visit(TODAY, VisitType.FIRST, clinician="Dr Lee", next_visit=NEXT))
    booked = next(v.visit for v in svc.visits.visits(pid) if v.visit.status is VisitStatus.BOOKED)
    win = MainWindow(svc, remember_geometry=False)
    qtbot.addWidget(win)
    page = win.worklist_page
    qtbot.waitUntil(lambda: not page.loading, timeout=10000)  # today's list, loaded on opening
    page.set_defaults(NEXT)
    page.load()
    qtbot.waitUntil(lambda: not page.loading, timeout=10000)
    assert any(i.type == "visit" for i in page.model.items), (page.error.text(), page.status.text())
    row = next(r for r, i in enumerate(page.model.items) if i.type == "visit")
    page.on_activated(page.model.index(row, 0))
    view = win.patients.view
    assert view.visits is not None and view.tabs.currentWidget() is view.visits
    assert view.tabs.tabText(view.tabs.currentIndex()) == "Vi&sits"
    shown = view.visits.selected_view()
    assert shown is not None and shown.visit.id == booked.id and shown.visit.status is VisitStatus.BOOKED
    assert view.visits.table.currentRow() == 0 and view.visits.attended_button.isEnabled()
    # the timeline's visit marks open the same place
    view.show_tab("history")
    view.on_timeline_item_activated(ItemRef("visit", str(booked.id)))
    assert view.tabs.currentWidget() is view.visits and view.visits.table.currentRow() == 0


def test_a_letter_is_drafted_edited_signed_saved_and_corrected(
    qtbot: QtBot, svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pregnant(svc)
    svc.visits.save_visit(
        pid, Visit(TODAY, VisitType.EARLY_PREGNANCY, discussion="We discussed progesterone.", next_visit=NEXT)
    )
    tab = visits_tab(qtbot, svc, pid)
    tab.table.selectRow(1)
    view = tab.selected_view()
    assert view is not None and view.visit.status is VisitStatus.ATTENDED and tab.letter_button.isEnabled()

    # a nurse drafts it: the counts, the abnormal result and the next visit come from the record
    dlg = tab.make_letter_dialog(view)
    qtbot.addWidget(dlg)
    assert dlg.letter is not None and dlg.letter.status is LetterStatus.DRAFT
    assert dlg.status.text().startswith("Draft, version 1")
    body = dlg.body.toPlainText()
    assert "3 pregnancy losses before 24 weeks (3 in the first trimester, 0 in the second)" in body
    assert "Abnormal: Lupus anticoagulant" in body
    assert f"next appointment in the clinic is on {NEXT.strftime('%d/%m/%Y')}" in body
    assert "We discussed progesterone." in body
    assert dlg.recipient.toPlainText().startswith("Riverside Medical Practice")
    assert dlg.copy_to_patient.isChecked()
    assert dlg.sign_button.isHidden() and not dlg.save_button.isHidden()  # a nurse does not sign
    # redraft: asked first, and only the text is replaced
    dlg.body.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(dlg.body, "Scribble")
    monkeypatch.setattr(dlg, "confirm_redraft", lambda: False)
    qtbot.mouseClick(dlg.redraft_button, Qt.MouseButton.LeftButton)
    assert dlg.body.toPlainText().endswith("Scribble")
    monkeypatch.setattr(dlg, "confirm_redraft", lambda: True)
    qtbot.mouseClick(dlg.redraft_button, Qt.MouseButton.LeftButton)
    assert "Scribble" not in dlg.body.toPlainText() and "Redrafted" in dlg.note.text()
    # an edit, saved
    dlg.body.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(dlg.body, "Seen with the nurse specialist.")
    assert dlg.is_edited()
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    assert "Draft saved" in dlg.note.text() and not dlg.is_edited()
    stored = svc.visits.visits(pid)[0].latest_letter
    assert stored is not None and "Seen with the nurse specialist." in stored.body
    dlg.reject()
    tab.reload()
    assert cell(tab, 1, 6) == "Draft v1"

    # a consultant reopens the same draft, edits it and signs: the edit is saved first
    act_as(svc, Role.CONSULTANT, "drlee")
    view = tab.selected_view()
    assert view is not None
    dlg = tab.make_letter_dialog(view)
    qtbot.addWidget(dlg)
    assert dlg.letter is not None and dlg.letter.id == stored.id  # the open draft, not a new one
    assert not dlg.sign_button.isHidden()
    dlg.body.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(dlg.body, " Signed off by the consultant.")
    asked: list[bool] = []
    monkeypatch.setattr(dlg, "confirm_sign", lambda: asked.append(True) or True)
    qtbot.mouseClick(dlg.sign_button, Qt.MouseButton.LeftButton)
    assert asked == [True] and not dlg.banner.isVisibleTo(dlg), dlg.banner.text()
    assert dlg.letter.status is LetterStatus.SIGNED and dlg.letter.signed_by == "drlee"
    assert "Signed off by the consultant." in dlg.letter.body
    assert dlg.status.text().startswith("Signed by drlee on 22/11/2026")
    # a signed letter never changes: the editors are read-only, only paper and a correction remain
    assert dlg.body.isReadOnly() and dlg.recipient.isReadOnly() and not dlg.copy_to_patient.isEnabled()
    assert dlg.save_button.isHidden() and dlg.sign_button.isHidden() and dlg.redraft_button.isHidden()
    assert not dlg.correct_button.isHidden() and dlg.pdf_button.isEnabled()
    # save as PDF: exactly the signed PDF
    target = tmp_path / "letter"
    monkeypatch.setattr(printing.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(dlg.pdf_button, Qt.MouseButton.LeftButton)
    saved = tmp_path / "letter.pdf"
    assert saved.exists(), dlg.banner.text()
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == dlg.letter.pdf_sha256
    assert "Signed off by the consultant." in pdf_text(saved.read_bytes())
    assert str(saved) in dlg.note.text()
    # a correction is version 2, editable, naming version 1
    signed_id = dlg.letter.id
    qtbot.mouseClick(dlg.correct_button, Qt.MouseButton.LeftButton)
    assert dlg.letter.version == 2 and dlg.letter.supersedes_id == signed_id
    assert dlg.letter.status is LetterStatus.DRAFT and not dlg.body.isReadOnly()
    assert "Draft, version 2" in dlg.status.text() and "Correction of version 1" in dlg.status.text()
    assert "Signed off by the consultant." in dlg.body.toPlainText()
    dlg.reject()
    tab.reload()
    assert cell(tab, 1, 6) == "Signed v1 (drlee, 22/11/2026); draft v2"
    letters = svc.visits.visits(pid)[0].letters
    assert [(x.version, x.status) for x in letters] == [(1, LetterStatus.SIGNED), (2, LetterStatus.DRAFT)]


def test_opening_a_signed_letter_shows_it_without_starting_a_correction(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    visit = svc.visits.save_visit(pid, Visit(TODAY))
    assert visit.id is not None
    act_as(svc, Role.CONSULTANT, "drlee")
    draft = svc.visits.start_letter(pid, visit.id)
    assert draft.id is not None
    svc.visits.sign(pid, draft.id, draft.row_version)
    act_as(svc, Role.NURSE, "nina")
    view = svc.visits.visits(pid)[0]
    dlg = LetterDialog(svc.visits, svc.session, pid, view, "RM41")
    qtbot.addWidget(dlg)
    assert dlg.letter is not None and dlg.letter.status is LetterStatus.SIGNED and dlg.body.isReadOnly()
    assert len(svc.visits.visits(pid)[0].letters) == 1  # nothing new was started by looking
    assert dlg.sign_button.isHidden() and not dlg.correct_button.isHidden()


def test_unsaved_letter_edits_are_asked_about_on_closing(
    qtbot: QtBot, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pregnant(svc)
    svc.visits.save_visit(pid, Visit(TODAY))
    dlg = LetterDialog(svc.visits, svc.session, pid, svc.visits.visits(pid)[0], "RM41")
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.keyClicks(dlg.recipient, "Dr Patel, ")
    monkeypatch.setattr(dlg, "ask_unsaved", lambda: QMessageBox.StandardButton.Cancel)
    dlg.reject()
    assert dlg.isVisible() and dlg.recipient.toPlainText().startswith("Dr Patel, ")
    monkeypatch.setattr(dlg, "ask_unsaved", lambda: QMessageBox.StandardButton.Save)
    dlg.reject()
    assert not dlg.isVisible()
    letter = svc.visits.visits(pid)[0].latest_letter
    assert letter is not None and letter.recipient.startswith("Dr Patel, Riverside")


def test_read_only_users_see_no_edit_buttons(qtbot: QtBot, svc: Services) -> None:
    pid = pregnant(svc)
    svc.visits.save_visit(pid, Visit(TODAY, next_visit=NEXT))
    act_as(svc, Role.READ_ONLY, "reader")
    tab = visits_tab(qtbot, svc, pid)
    assert tab.table.rowCount() == 2
    for b in (tab.new_button, tab.edit_button, tab.attended_button, tab.letter_button):
        assert b.isHidden()
