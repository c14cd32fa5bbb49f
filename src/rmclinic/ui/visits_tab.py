"""The Visits tab: the patient's clinic visits (newest first) with what was said and done in each, the
dialog that books or records a visit, and the editor of the letter to the GP about a visit (drafted from
the record, edited, signed by a consultant, then never changed: a correction is a new version)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..domain.accounts import Permission
from ..domain.errors import DomainError, ValidationError
from ..domain.visit import (
    VISIT_STATUS_LABELS,
    VISIT_TYPE_LABELS,
    Letter,
    LetterStatus,
    Visit,
    VisitStatus,
    VisitType,
)
from ..services.letters import VisitService, VisitView
from ..services.session import PermissionDenied, SessionContext
from . import printing
from .common import DateField, ErrorLabel, add_field, format_date, read_only_table, tr
from .forms import FormDialog, Problems, read_date

NOTE_HEADINGS = (
    ("history", "History"),
    ("findings", "Findings"),
    ("discussion", "Discussion"),
    ("plan", "Plan"),
)


def _when(at: dt.datetime | None) -> str:
    return format_date(at.astimezone().date()) if at is not None else ""


def attended_text(v: Visit) -> str:
    """Who came: only meaningful once the visit has happened."""
    if v.status is not VisitStatus.ATTENDED:
        return ""
    who = [w for w, came in ((tr("patient"), v.patient_attended), (tr("partner"), v.partner_attended)) if came]
    return " + ".join(who) or "—"


def letter_text(view: VisitView) -> str:
    """The Letter column: "—", "Draft v1", "Signed v2 (Dr X, dd/mm/yyyy)", or a signed version with the
    correction being drafted after it."""
    latest, signed = view.latest_letter, view.latest_signed
    if latest is None:
        return "—"
    parts = []
    if signed is not None:
        parts.append(
            tr("Signed v{v} ({who}, {when})").format(
                v=signed.version, who=signed.signed_by_name or signed.signed_by, when=_when(signed.signed_at)
            )
        )
    if latest.status is LetterStatus.DRAFT:
        parts.append(
            tr("Draft v{v}").format(v=latest.version) if signed is None else tr("draft v{v}").format(v=latest.version)
        )
    return "; ".join(parts)


def visit_details_html(view: VisitView) -> str:
    """The details pane: the visit, its notes under their headings, what was done, and its letter (escaped)."""
    v = view.visit
    e = html.escape
    out = [
        f"<h3>{e(tr(VISIT_TYPE_LABELS[v.type]))}, {e(format_date(v.date))}</h3>",
    ]
    facts = [f"{e(tr('Status'))}: {e(tr(VISIT_STATUS_LABELS[v.status]))}"]
    if v.clinician:
        facts.append(f"{e(tr('Clinician'))}: {e(v.clinician)}")
    if v.status is VisitStatus.ATTENDED:
        facts.append(f"{e(tr('Attended'))}: {e(attended_text(v))}")
    if v.next_visit is not None:
        facts.append(f"{e(tr('Next visit'))}: {e(format_date(v.next_visit))}")
    out.append("<p>" + "<br>".join(facts) + "</p>")
    notes = [(label, getattr(v, key)) for key, label in NOTE_HEADINGS if getattr(v, key).strip()]
    for label, text in notes:
        out.append(f"<h4>{e(tr(label))}</h4>")
        out.append("<p>" + e(text.strip()).replace("\n", "<br>") + "</p>")
    if not notes:
        if v.status is VisitStatus.BOOKED:
            out.append("<p>" + e(tr("Booked. Record it as attended when the patient has been seen.")) + "</p>")
        else:
            out.append("<p>" + e(tr("No notes recorded.")) + "</p>")
    if view.done:
        out.append(f"<h4>{e(tr('Done in this visit:'))}</h4>")
        out.append("<ul>" + "".join(f"<li>{e(d)}</li>" for d in view.done) + "</ul>")
    elif v.status is VisitStatus.ATTENDED:
        out.append(f"<h4>{e(tr('Done in this visit:'))}</h4>")
        out.append("<p>" + e(tr("Nothing else is recorded on this day.")) + "</p>")
    if view.letters:
        out.append(f"<p><b>{e(tr('Letter to the GP'))}:</b> {e(letter_text(view))}</p>")
    return "\n".join(out)


class VisitsTab(QWidget):
    """The patient's visits, newest first, with a details pane; emits ``changed`` after any save."""

    changed = Signal()

    def __init__(
        self,
        service: VisitService,
        session: SessionContext,
        parent: Any = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._session = session
        self._today = today
        self.patient_id: int | None = None
        self.hospital_number = ""
        self.views: list[VisitView] = []  # newest first, as shown
        self._can_edit = True

        outer = QVBoxLayout(self)
        self.error = ErrorLabel(self)
        outer.addWidget(self.error)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.table = read_only_table(
            [
                tr("Date"),
                tr("Type"),
                tr("Status"),
                tr("Clinician"),
                tr("Attended"),
                tr("Next visit"),
                tr("Letter"),
            ],
            tr("Clinic visits"),
        )
        self.table.horizontalHeaderItem(4).setToolTip(tr("Who attended: the patient, her partner"))  # type: ignore[union-attr]
        self.table.currentCellChanged.connect(lambda *_a: self._show_details())
        self.table.doubleClicked.connect(lambda _i: self.on_default_action())
        split.addWidget(self.table)
        self.details = QTextBrowser()
        self.details.setAccessibleName(tr("Visit details"))
        self.details.setOpenLinks(False)
        split.addWidget(self.details)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        split.setSizes([880, 420])
        outer.addWidget(split, 1)

        row = QHBoxLayout()
        self.new_button = QPushButton(tr("New &visit…"))
        self.new_button.setToolTip(tr("Book or record a visit (Ctrl+Shift+V)"))
        self.new_button.clicked.connect(self.on_new_clicked)
        self.edit_button = QPushButton(tr("&Edit…"))
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.attended_button = QPushButton(tr("Record as &attended…"))
        self.attended_button.setToolTip(tr("The booked visit has happened: record who came and what was said."))
        self.attended_button.clicked.connect(self.on_attended_clicked)
        self.letter_button = QPushButton(tr("Letter to the &GP…"))
        self.letter_button.setToolTip(tr("Draft, edit, sign or print the letter about this visit"))
        self.letter_button.clicked.connect(self.on_letter_clicked)
        for b in (self.new_button, self.edit_button, self.attended_button, self.letter_button):
            row.addWidget(b)
        row.addStretch(1)
        outer.addLayout(row)
        QShortcut(QKeySequence("Ctrl+Shift+V"), self, self.on_new_clicked)
        self._update_buttons()

    # -- loading ------------------------------------------------------------------------------------------------

    def load(self, patient_id: int, hospital_number: str = "") -> None:
        """Show a patient's visits; the selection stays on the same visit when reloading the same patient."""
        shown = self.selected_view() if self.patient_id == patient_id else None
        keep = shown.visit.id if shown is not None else None
        self.patient_id = patient_id
        if hospital_number:
            self.hospital_number = hospital_number
        self.error.show_problem(None)
        try:
            views = self._service.visits(patient_id)
        except DomainError as e:
            views = []
            self.error.show_problem(str(e))
        self.views = sorted(views, key=lambda w: (w.visit.date, w.visit.id or 0), reverse=True)
        self.table.setRowCount(len(self.views))
        for r, w in enumerate(self.views):
            v = w.visit
            status = tr(VISIT_STATUS_LABELS[v.status])
            if v.status is VisitStatus.BOOKED and v.date < self._today():
                status = "⚠ " + tr("Booked, not recorded")
            cells = [
                format_date(v.date),
                tr(VISIT_TYPE_LABELS[v.type]),
                status,
                v.clinician,
                attended_text(v),
                format_date(v.next_visit),
                letter_text(w),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                if c == len(cells) - 1 and text != "—":
                    item.setToolTip(tr("Letter to the GP: {what}").format(what=text))
                self.table.setItem(r, c, item)
        for c in range(self.table.columnCount() - 1):  # the last (Letter) column takes the rest, stretched
            self.table.resizeColumnToContents(c)
        if keep is not None:
            self.select(keep, focus=False)
        elif self.views:
            self.table.selectRow(0)
        self._show_details()
        self._update_buttons()

    def reload(self) -> None:
        if self.patient_id is not None:
            self.load(self.patient_id)

    def select(self, visit_id: int, focus: bool = True) -> bool:
        """Select a visit (e.g. the one a worklist row points at); False when it is not listed."""
        for r, w in enumerate(self.views):
            if w.visit.id == visit_id:
                self.table.selectRow(r)
                cell = self.table.item(r, 0)
                if cell is not None:
                    self.table.scrollToItem(cell)
                if focus:
                    self.table.setFocus()
                self._show_details()
                self._update_buttons()
                return True
        return False

    def selected_view(self) -> VisitView | None:
        r = self.table.currentRow()
        return self.views[r] if 0 <= r < len(self.views) else None

    def _show_details(self) -> None:
        w = self.selected_view()
        if w is None:
            self.details.setHtml(
                "<p>" + html.escape(tr("No visits recorded. Use New visit… to book or record one.")) + "</p>"
                if self.patient_id is not None
                else ""
            )
        else:
            self.details.setHtml(visit_details_html(w))
        self._update_buttons()

    def set_can_edit(self, allowed: bool) -> None:
        """Read-only users see the visits but no edit controls (the services refuse anyway)."""
        self._can_edit = allowed
        self._update_buttons()

    def editable(self) -> bool:
        actor = self._session.actor
        return self._can_edit and actor is not None and actor.can(Permission.EDIT_PATIENTS)

    def _update_buttons(self) -> None:
        can_edit = self.editable()
        w = self.selected_view()
        for b in (self.new_button, self.edit_button, self.attended_button, self.letter_button):
            b.setVisible(can_edit)
        self.new_button.setEnabled(self.patient_id is not None)
        self.edit_button.setEnabled(w is not None)
        self.attended_button.setEnabled(w is not None and w.visit.status is VisitStatus.BOOKED)
        self.letter_button.setEnabled(w is not None and w.visit.status is VisitStatus.ATTENDED)

    # -- actions ------------------------------------------------------------------------------------------------

    def _run_visit_dialog(self, dialog: VisitDialog) -> None:
        if dialog.exec() and isinstance(dialog.result_value, Visit):
            saved = dialog.result_value
            self.reload()
            if saved.id is not None:
                self.select(saved.id)
            self.changed.emit()

    def on_new_clicked(self) -> None:
        if self.patient_id is None or not self.editable():
            return
        first = not any(w.visit.status is VisitStatus.ATTENDED for w in self.views)
        template = Visit(self._today(), VisitType.FIRST if first else VisitType.FOLLOW_UP)
        self._run_visit_dialog(VisitDialog(self._service, self.patient_id, self._today(), template, parent=self))

    def on_edit_clicked(self) -> None:
        w = self.selected_view()
        if self.patient_id is None or w is None:
            return
        self._run_visit_dialog(VisitDialog(self._service, self.patient_id, self._today(), w.visit, parent=self))

    def on_attended_clicked(self) -> None:
        w = self.selected_view()
        if self.patient_id is None or w is None or w.visit.status is not VisitStatus.BOOKED:
            return
        dialog = VisitDialog(
            self._service, self.patient_id, self._today(), w.visit, status=VisitStatus.ATTENDED, parent=self
        )
        self._run_visit_dialog(dialog)

    def on_default_action(self) -> None:
        """Enter or a double-click on a row: record a booked visit, open an attended visit's letter, or edit."""
        w = self.selected_view()
        if w is None or not self.editable():
            return
        if w.visit.status is VisitStatus.BOOKED:
            self.on_attended_clicked()
        else:
            self.on_edit_clicked()

    def make_letter_dialog(self, view: VisitView) -> LetterDialog:
        assert self.patient_id is not None
        return LetterDialog(self._service, self._session, self.patient_id, view, self.hospital_number, parent=self)

    def on_letter_clicked(self) -> None:
        w = self.selected_view()
        if self.patient_id is None or w is None or w.visit.status is not VisitStatus.ATTENDED:
            return
        dialog = self.make_letter_dialog(w)
        dialog.exec()
        self.reload()
        if dialog.touched:
            self.changed.emit()


class VisitDialog(FormDialog):
    """Book a visit or record one: date, type, status, who saw the couple and who came, the notes under
    four headings, and the next visit (booked on saving). Problems show under their field; nothing typed
    is lost on a refusal."""

    def __init__(
        self,
        service: VisitService,
        patient_id: int,
        today: dt.date,
        visit: Visit | None = None,
        status: VisitStatus | None = None,
        parent: Any = None,
    ) -> None:
        is_new = visit is None or visit.id is None
        v = visit or Visit(today)
        if status is VisitStatus.ATTENDED and v.status is VisitStatus.BOOKED:
            title = tr("Record the visit of {date}").format(date=format_date(v.date))
        elif is_new:
            title = tr("New visit")
        else:
            title = tr("Edit the visit of {date}").format(date=format_date(v.date))
        super().__init__(title, parent)
        self._service, self._pid, self._visit, self._new = service, patient_id, v, is_new
        self.setMinimumWidth(620)
        self.date = DateField()
        self.date.set_date(v.date)
        date_width = self.date.fontMetrics().horizontalAdvance("00/00/00000") + 24
        self.date.setMaximumWidth(date_width)
        self.add("date", tr("&Date *"), self.date)
        self.type = QComboBox()
        for t, label in VISIT_TYPE_LABELS.items():
            self.type.addItem(tr(label), t.value)
        self.type.setCurrentIndex(max(0, self.type.findData(v.type.value)))
        self.add("type", tr("T&ype"), self.type)
        self.status = QComboBox()
        for s, label in VISIT_STATUS_LABELS.items():
            self.status.addItem(tr(label), s.value)
        self.status.setCurrentIndex(max(0, self.status.findData((status or v.status).value)))
        self.add("status", tr("Stat&us"), self.status)
        self.clinician = QLineEdit(v.clinician)
        self.clinician.setPlaceholderText(tr("who saw the couple, e.g. Dr Lee"))
        self.clinician.setMaxLength(200)
        self.add("clinician", tr("Cli&nician"), self.clinician)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        self.patient_attended = QCheckBox(tr("the p&atient"))
        self.patient_attended.setChecked(v.patient_attended)
        self.partner_attended = QCheckBox(tr("her pa&rtner"))
        self.partner_attended.setChecked(v.partner_attended)
        row.addWidget(self.patient_attended)
        row.addWidget(self.partner_attended)
        row.addStretch(1)
        self.add("attendees", tr("Attended"), holder)
        holder.setAccessibleName(tr("Who attended"))
        self.fields["attendees"] = self.patient_attended  # a problem puts the focus on the first box
        self.notes: dict[str, QPlainTextEdit] = {}
        for key, label, mnemonic in (
            ("history", "History", "&History"),
            ("findings", "Findings", "&Findings"),
            ("discussion", "Discussion", "D&iscussion"),
            ("plan", "Plan", "P&lan"),
        ):
            edit = QPlainTextEdit(getattr(v, key))
            edit.setTabChangesFocus(True)
            edit.setMinimumHeight(64)
            edit.setPlaceholderText(tr(label))
            self.notes[key] = edit
            self.add(key, tr(mnemonic), edit)
        self.next_visit = DateField(optional=True)
        self.next_visit.set_date(v.next_visit)
        self.next_visit.setMaximumWidth(date_width)
        self.next_visit.setToolTip(tr("Saving an attended visit books the next one on this date."))
        self.add("next_visit", tr("Ne&xt visit"), self.next_visit)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.finish_layout()
        self.status.currentIndexChanged.connect(lambda _i: self._status_changed())
        self._status_changed()
        self.date.setFocus()

    def _status_changed(self) -> None:
        """Who came only applies to an attended visit; the boxes keep their ticks either way."""
        attended = self.status.currentData() == VisitStatus.ATTENDED.value
        self.patient_attended.setEnabled(attended)
        self.partner_attended.setEnabled(attended)

    def visit(self) -> Visit:
        """The visit as typed; raises ValidationError for dates that cannot be read."""
        p = Problems()
        day = p.read("date", lambda: read_date(self.date))
        nxt = p.read("next_visit", lambda: read_date(self.next_visit))
        p.raise_if_any()
        assert isinstance(day, dt.date)
        old = self._visit
        return Visit(
            day,
            VisitType(self.type.currentData()),
            VisitStatus(self.status.currentData()),
            clinician=self.clinician.text().strip(),
            patient_attended=self.patient_attended.isChecked(),
            partner_attended=self.partner_attended.isChecked(),
            history=self.notes["history"].toPlainText().strip(),
            findings=self.notes["findings"].toPlainText().strip(),
            discussion=self.notes["discussion"].toPlainText().strip(),
            plan=self.notes["plan"].toPlainText().strip(),
            next_visit=nxt,
            id=None if self._new else old.id,
            patient_id=old.patient_id,
            version=0 if self._new else old.version,
        )

    def submit(self) -> Any:
        return self._service.save_visit(self._pid, self.visit())


class LetterDialog(QDialog):
    """The letter to the GP about one attended visit. Opening it starts (or reopens) the draft, unless
    the latest version is signed: then that is shown, read-only, and a correction is a new version."""

    # Replaced in tests: modal dialogs must not block an offscreen run.
    exec_print_dialog: Callable[[QPrintDialog], int] = staticmethod(lambda d: d.exec())

    def __init__(
        self,
        service: VisitService,
        session: SessionContext,
        patient_id: int,
        view: VisitView,
        hospital_number: str = "",
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._service, self._session, self._pid = service, session, patient_id
        self.visit = view.visit
        self.hospital_number = hospital_number
        self.letter: Letter | None = None
        self._known: dict[int, Letter] = {x.id: x for x in view.letters if x.id is not None}
        self.touched = False  # anything saved, signed or started: the visits list must be refreshed
        self.setWindowTitle(
            tr("Letter to the GP: {what} of {date}").format(
                what=tr(VISIT_TYPE_LABELS[self.visit.type]).lower(), date=format_date(self.visit.date)
            )
        )
        self.resize(820, 760)

        lay = QVBoxLayout(self)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(tr("Letter status"))
        font = self.status.font()
        font.setBold(True)
        self.status.setFont(font)
        lay.addWidget(self.status)
        self.banner = ErrorLabel(self)
        lay.addWidget(self.banner)
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setAccessibleName(tr("Letter messages"))
        self.note.hide()
        lay.addWidget(self.note)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.recipient = QPlainTextEdit()
        self.recipient.setTabChangesFocus(True)
        self.recipient.setFixedHeight(self.recipient.fontMetrics().lineSpacing() * 4 + 14)
        self.recipient.setPlaceholderText(tr("The GP practice and its address"))
        self.errors: dict[str, ErrorLabel] = {"recipient": add_field(form, tr("&Recipient"), self.recipient, self)}
        self.copy_to_patient = QCheckBox(tr("Cop&y to the patient"))
        add_field(form, "", self.copy_to_patient, self)
        lay.addLayout(form)
        body_label = QLabel(tr("&Letter (paragraphs separated by a blank line; “## ” starts a heading, “- ” a bullet)"))
        body_label.setWordWrap(True)
        self.body = QPlainTextEdit()
        self.body.setTabChangesFocus(True)
        self.body.setAccessibleName(tr("Letter text"))
        self.body.setMinimumHeight(320)
        body_label.setBuddy(self.body)
        lay.addWidget(body_label)
        lay.addWidget(self.body, 1)
        self.errors["body"] = ErrorLabel(self)
        lay.addWidget(self.errors["body"])

        edit_row = QHBoxLayout()
        self.redraft_button = QPushButton(tr("Re&draft from the record…"))
        self.redraft_button.setToolTip(tr("Replace the text with a fresh draft from the record as it is now"))
        self.redraft_button.clicked.connect(self.on_redraft_clicked)
        self.save_button = QPushButton(tr("&Save draft"))
        self.save_button.setToolTip(tr("Ctrl+S"))
        self.save_button.clicked.connect(self.on_save_clicked)
        self.sign_button = QPushButton(tr("Si&gn…"))
        self.sign_button.setToolTip(tr("Consultants: sign the letter; the signed PDF is kept unchanged."))
        self.sign_button.clicked.connect(self.on_sign_clicked)
        self.correct_button = QPushButton(tr("&Write a correction…"))
        self.correct_button.setToolTip(tr("A signed letter never changes: a correction is a new version."))
        self.correct_button.clicked.connect(self.on_correct_clicked)
        for b in (self.redraft_button, self.save_button, self.sign_button, self.correct_button):
            edit_row.addWidget(b)
        edit_row.addStretch(1)
        self.pdf_button = QPushButton(tr("Save as &PDF…"))
        self.pdf_button.clicked.connect(self.on_pdf_clicked)
        self.print_button = QPushButton(tr("Pr&int…"))
        self.print_button.clicked.connect(self.on_print_clicked)
        self.open_button = QPushButton(tr("&Open in viewer"))
        self.open_button.clicked.connect(self.on_open_clicked)
        self.close_button = QPushButton(tr("Close"))
        self.close_button.clicked.connect(self.reject)
        for b in (self.pdf_button, self.print_button, self.open_button, self.close_button):
            edit_row.addWidget(b)
        lay.addLayout(edit_row)
        QShortcut(QKeySequence.StandardKey.Save, self, self.on_save_clicked)
        for b in self.findChildren(QPushButton):
            b.setAutoDefault(False)  # Enter in a field never redrafts, signs or closes
        # a signed letter looks as fixed as it is: read-only editors take the window's colour
        self.setStyleSheet('QPlainTextEdit[readOnly="true"] { background: palette(window); }')

        latest = view.latest_letter
        if (latest is not None and latest.status is LetterStatus.SIGNED) or not self._can(Permission.EDIT_PATIENTS):
            self._show_letter(latest)
        else:
            self._start()

    # -- state ---------------------------------------------------------------------------------------------------

    def _can(self, permission: Permission) -> bool:
        actor = self._session.actor
        return actor is not None and actor.can(permission)

    def _start(self) -> None:
        """The open draft, or a new one drafted from the record (a correction after a signed letter)."""
        assert self.visit.id is not None
        letter = self._guard(lambda: self._service.start_letter(self._pid, self.visit.id))  # type: ignore[arg-type]
        if isinstance(letter, Letter):
            self.touched = True
            self._show_letter(letter)
        else:
            self._show_letter(self.letter)

    def _show_letter(self, letter: Letter | None) -> None:
        self.letter = letter
        if letter is not None and letter.id is not None:
            self._known[letter.id] = letter
        self.recipient.setPlainText(letter.recipient if letter else "")
        self.copy_to_patient.setChecked(letter.copy_to_patient if letter else False)
        self.body.setPlainText(letter.body if letter else "")
        self.status.setText(self.describe(letter))
        self._update_controls()
        (self.body if not self.body.isReadOnly() else self.close_button).setFocus()

    def describe(self, letter: Letter | None) -> str:
        if letter is None:
            return tr("No letter has been written about this visit.")
        if letter.status is LetterStatus.SIGNED:
            text = tr("Signed by {who} on {when} — version {v}. A signed letter never changes.").format(
                who=letter.signed_by_name or letter.signed_by, when=_when(letter.signed_at), v=letter.version
            )
        else:
            text = tr("Draft, version {v} — not signed yet.").format(v=letter.version)
        old = self._known.get(letter.supersedes_id) if letter.supersedes_id is not None else None
        if letter.supersedes_id is not None:
            text += " " + tr("Correction of version {v}").format(v=old.version if old else letter.version - 1)
            if old is not None and old.signed_at is not None:
                text += " " + tr("(signed by {who} on {when})").format(
                    who=old.signed_by_name or old.signed_by, when=_when(old.signed_at)
                )
            text += "."
        return text

    @property
    def is_draft(self) -> bool:
        return self.letter is not None and self.letter.status is LetterStatus.DRAFT

    def _update_controls(self) -> None:
        can_edit = self._can(Permission.EDIT_PATIENTS)
        editable = self.is_draft and can_edit
        for w in (self.recipient, self.body):
            w.setReadOnly(not editable)
            w.style().unpolish(w)  # the style sheet keys on the read-only property
            w.style().polish(w)
        self.copy_to_patient.setEnabled(editable)
        self.redraft_button.setVisible(editable)
        self.save_button.setVisible(editable)
        self.sign_button.setVisible(editable and self._can(Permission.SIGN_CARE_PLANS))
        signed = self.letter is not None and self.letter.status is LetterStatus.SIGNED
        self.correct_button.setVisible(signed and can_edit)
        can_print = self.letter is not None and self._can(Permission.PRINT)
        for b in (self.pdf_button, self.print_button, self.open_button):
            b.setEnabled(can_print)

    def typed(self) -> tuple[str, str, bool]:
        return self.body.toPlainText(), self.recipient.toPlainText().strip(), self.copy_to_patient.isChecked()

    def is_edited(self) -> bool:
        if not self.is_draft or self.letter is None:
            return False
        return self.typed() != (self.letter.body, self.letter.recipient, self.letter.copy_to_patient)

    # -- running actions -----------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A short message about the last action (hidden when there is none, so it takes no room)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _clear_problems(self) -> None:
        self.banner.show_problem(None)
        self.say("")
        for e in self.errors.values():
            e.show_problem(None)

    def _guard(self, what: Callable[[], object]) -> object | None:
        """Run an action with a wait cursor; problems are shown in place (under their field or at the top),
        never as a crash, and the text typed stays as it is."""
        self._clear_problems()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return what()
        except ValidationError as e:
            for p in e.problems:
                (self.errors.get(p.field) or self.banner).show_problem(p.message)
            if any(p.field == "body" for p in e.problems):
                self.body.setFocus()
        except (DomainError, PermissionDenied, printing.PrintFailed) as e:
            self.banner.show_problem(str(e))
        except OSError as e:
            self.banner.show_problem(tr("The file could not be written: {e}").format(e=e.strerror or e))
        finally:
            QGuiApplication.restoreOverrideCursor()
        return None

    def _save(self) -> bool:
        """Save the draft as typed (nothing to do when unchanged). False when refused."""
        if self.letter is None or self.letter.id is None:
            return False
        if not self.is_edited():
            return True
        body, recipient, copy = self.typed()
        lid, rv = self.letter.id, self.letter.row_version
        saved = self._guard(lambda: self._service.save_draft(self._pid, lid, rv, body, recipient, copy))
        if not isinstance(saved, Letter):
            return False
        self.touched = True
        self.letter = saved
        self._known[lid] = saved
        self.status.setText(self.describe(saved))
        self._update_controls()
        return True

    def on_save_clicked(self) -> None:
        if not self.is_draft or self.save_button.isHidden():
            return
        edited = self.is_edited()
        if self._save():
            self.say(tr("Draft saved.") if edited else tr("No changes to save."))

    def on_redraft_clicked(self) -> None:
        if self.letter is None or self.letter.id is None or not self.is_draft:
            return
        if not self.confirm_redraft():
            return
        lid, rv = self.letter.id, self.letter.row_version
        _, recipient, copy = self.typed()
        letter = self._guard(lambda: self._service.redraft(self._pid, lid, rv))
        if isinstance(letter, Letter):
            self.touched = True
            self._show_letter(letter)
            # the recipient and the copy tick as typed are kept (only the text is replaced)
            self.recipient.setPlainText(recipient)
            self.copy_to_patient.setChecked(copy)
            self.say(tr("Redrafted from the record."))

    def confirm_redraft(self) -> bool:
        """Replaced in tests."""
        answer = QMessageBox.question(
            self,
            tr("Redraft the letter"),
            tr(
                "Replace the letter's text with a fresh draft from the record as it is now? "
                "Your edits to the text are lost."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def on_sign_clicked(self) -> None:
        if self.letter is None or not self.is_draft or not self._can(Permission.SIGN_CARE_PLANS):
            return
        if not self.confirm_sign():
            return
        if not self._save():  # sign what is on the screen
            return
        assert self.letter is not None and self.letter.id is not None
        lid, rv = self.letter.id, self.letter.row_version
        signed = self._guard(lambda: self._service.sign(self._pid, lid, rv))
        if isinstance(signed, Letter):
            self.touched = True
            self._show_letter(signed)
            self.say(tr("Signed. The signed PDF is kept unchanged; send or print it from here."))

    def confirm_sign(self) -> bool:
        """Replaced in tests."""
        answer = QMessageBox.question(
            self,
            tr("Sign the letter"),
            tr(
                "Sign version {v} of this letter as it is on the screen?\n\n"
                "A signed letter never changes; corrections are new versions."
            ).format(v=self.letter.version if self.letter else 1),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def on_correct_clicked(self) -> None:
        if self.letter is None or self.letter.status is not LetterStatus.SIGNED:
            return
        self._start()
        if self.is_draft:
            self.say(tr("A new version: edit it, then sign it. The signed version stays as it was."))
            self.body.setFocus()

    # -- paper ---------------------------------------------------------------------------------------------------

    def _stem(self) -> str:
        v = self.letter.version if self.letter else 1
        draft = "-draft" if self.is_draft else ""
        return f"letter-{self.hospital_number or self._pid}-{self.visit.date.isoformat()}-v{v}{draft}"

    def _pdf_maker(self, destination: str) -> Callable[[], bytes] | None:
        """A draft is saved first, so the PDF shows what is on the screen."""
        if self.letter is None or self.letter.id is None:
            return None
        if self.is_draft and not self._save():
            return None
        lid = self.letter.id
        return lambda: self._service.pdf(self._pid, lid, destination=destination)

    def on_pdf_clicked(self) -> None:
        self._clear_problems()
        maker = self._pdf_maker("file")
        if maker is None:
            return
        saved = self._guard(lambda: printing.ask_save_pdf(self, maker, self._stem() + ".pdf"))
        if isinstance(saved, Path):
            self.say(tr("Saved {p}").format(p=saved))

    def on_print_clicked(self) -> None:
        self._clear_problems()
        maker = self._pdf_maker("printer")
        if maker is None:
            return
        title = tr("letter {n}").format(n=self.hospital_number or self._pid)
        if self._guard(lambda: printing.ask_print_pdf(self, maker, title, type(self).exec_print_dialog)):
            self.say(tr("Sent to the printer."))

    def on_open_clicked(self) -> None:
        self._clear_problems()
        maker = self._pdf_maker("viewer")
        if maker is None:
            return
        self._guard(lambda: printing.open_in_viewer(maker(), self._stem()))

    # -- leaving -------------------------------------------------------------------------------------------------

    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Replaced in tests."""
        return QMessageBox.question(
            self,
            tr("Unsaved changes"),
            tr("The letter has changes that are not saved."),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def confirm_leave(self) -> bool:
        if not self.is_edited():
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self._save()
        return answer == QMessageBox.StandardButton.Discard

    def reject(self) -> None:
        """Escape, Close and the window's close button all come here (QDialog's closeEvent calls it)."""
        if self.confirm_leave():
            super().reject()
