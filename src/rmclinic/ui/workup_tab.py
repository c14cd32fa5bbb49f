"""The workup tab: four domains side by side, the completeness line, and fast keyboard result entry."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..domain.errors import DomainError, ValidationError
from ..domain.investigations import QUALITATIVE, Investigation
from ..domain.workup import PanelEntry, PanelState, RepeatState, ResultValue, Status, WorkupItem
from ..services.workup import WorkupService, WorkupView
from .common import DateField, ErrorLabel, add_field, format_date, parse_optional_float, tr

DOMAIN_TITLES = {
    "genetic": "Genetic",
    "anatomical": "Anatomical",
    "endocrine": "Endocrine",
    "thrombophilia": "Thrombophilia",
    "other": "Other",
}


def describe_entry(e: PanelEntry) -> str:
    """One line per investigation. Text and a symbol carry the meaning, never colour alone."""
    name = e.investigation.name
    if e.state is PanelState.NOT_DONE:
        return f"○ {name}: {tr('not done')}"
    if e.state is PanelState.REQUESTED:
        return f"◔ {name}: {tr('requested')}"
    if e.state is PanelState.PENDING:
        return f"◑ {name}: {tr('sample taken, result pending')}"
    latest = next((i for i in reversed(e.items) if i.has_result), None)
    value = latest.value.describe() if latest and latest.value else ""
    interp = e.interpretation.value if e.interpretation else ""
    flag = "⚠ " if e.interpretation and e.interpretation.flagged else "✓ "
    same = interp and value.strip().lower() == interp  # "negative — negative" says it once
    text = f"{flag}{name}: {value}" + (f" — {tr(interp)}" if interp and not same else "")
    if e.state is PanelState.REPEAT_DUE:
        note = tr("repeat taken too early; ") if e.repeat.state is RepeatState.TOO_EARLY else ""
        text += f"  ⟳ {note}{tr('repeat due from')} {format_date(e.repeat.due_on)}"
    elif e.repeat.state is RepeatState.CONFIRMED:
        text += "  " + tr("(persistent: confirmed ≥ 12 weeks apart)")
    if e.state is PanelState.REVIEWED and latest:
        text += f"  [{tr('reviewed by')} {latest.reviewed_by}]"
    elif e.state in (PanelState.RESULT, PanelState.REPEAT_DUE) and latest and latest.status is Status.RESULTED:
        text += f"  [{tr('to review')}]"
    return text


class ResultEntry(QGroupBox):
    """Type the investigation's name, the value, unit and date; Enter saves and starts the next one."""

    saved = Signal(object)  # WorkupView

    def __init__(self, service: WorkupService, parent: Any = None) -> None:
        super().__init__(tr("Enter a result (Enter saves and moves to the next)"), parent)
        self._service = service
        self.patient_id: int | None = None
        self._items: tuple[WorkupItem, ...] = ()
        form = QFormLayout(self)
        self.form = form
        self.investigation = QLineEdit()
        self.investigation.setPlaceholderText(tr("start typing: tsh, anticardiolipin, karyotype…"))
        self.value = QLineEdit()
        self.choice = QComboBox()
        self.unit = QComboBox()
        self.lab_range = QLineEdit()
        self.lab_range.setPlaceholderText(tr("optional, as on the lab report: 0.4-4.0"))
        self.method = QComboBox()
        self.date = DateField()
        self.errors = {
            "investigation": add_field(form, tr("&Investigation"), self.investigation, self),
            "value": add_field(form, tr("&Value"), self.value, self),
            "choice": add_field(form, tr("&Result"), self.choice, self),
            "unit": add_field(form, tr("U&nit"), self.unit, self),
            "lab_range": add_field(form, tr("&Lab range"), self.lab_range, self),
            "method": add_field(form, tr("&Method"), self.method, self),
            "sample_date": add_field(form, tr("Sample &date"), self.date, self),
        }
        self.correction = QCheckBox(tr("&Correct the latest result (the earlier value is kept in its history)"))
        self.correction.setAccessibleName(self.correction.text().replace("&", ""))
        form.addRow("", self.correction)
        self.save = QPushButton(tr("&Save result"))
        form.addRow("", self.save)
        self.banner = ErrorLabel(self)
        form.addRow(self.banner)
        self._names: dict[str, Investigation] = {}
        completer = QCompleter(self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self._model = QStringListModel(self)
        completer.setModel(self._model)
        self.investigation.setCompleter(completer)
        self.investigation.editingFinished.connect(self._on_investigation_chosen)
        self.investigation.returnPressed.connect(self._accept_investigation)
        completer.activated.connect(lambda _t: self._accept_investigation())
        for w in (self.value, self.lab_range, self.date):
            w.returnPressed.connect(self.on_save_clicked)
        self.save.clicked.connect(self.on_save_clicked)
        self._current: Investigation | None = None
        self._show_fields(None)

    def set_catalogue(self, investigations: list[Investigation]) -> None:
        self._names = {f"{i.name} ({i.id})": i for i in investigations}
        self._model.setStringList(sorted(self._names))

    def set_patient(self, patient_id: int, items: tuple[WorkupItem, ...]) -> None:
        self.patient_id = patient_id
        self._items = items

    def choose(self, inv: Investigation) -> None:
        self.investigation.setText(f"{inv.name} ({inv.id})")
        self._on_investigation_chosen()

    def _find(self, text: str) -> Investigation | None:
        t = text.strip().lower()
        if not t:
            return None
        exact = self._names.get(text.strip())
        if exact:
            return exact
        hits = [i for k, i in self._names.items() if t in k.lower()]
        return hits[0] if len(hits) == 1 else None

    def _on_investigation_chosen(self) -> None:
        inv = self._find(self.investigation.text())
        self.errors["investigation"].show_problem(
            None if inv or not self.investigation.text().strip() else tr("Choose an investigation from the list.")
        )
        if inv is not None and inv is not self._current:
            self.investigation.setText(f"{inv.name} ({inv.id})")
            self._show_fields(inv)

    def _accept_investigation(self) -> None:
        """Enter in the investigation field: take it, and go on to its first input."""
        self._on_investigation_chosen()
        if self._current is not None:
            first = self.value if self._current.result_type == "numeric" else self.choice
            first.setFocus()

    def _show_fields(self, inv: Investigation | None) -> None:
        self._current = inv
        kind = inv.result_type if inv else ""
        for key, widget, visible in (
            ("value", self.value, kind == "numeric"),
            ("unit", self.unit, kind == "numeric"),
            ("lab_range", self.lab_range, kind == "numeric"),
            ("choice", self.choice, kind in ("qualitative", "categorical", "uterine")),
            ("method", self.method, kind == "uterine"),
        ):
            holder = widget.parentWidget()
            if holder is not None:
                holder.setVisible(visible)  # the row's holder, so a hidden row leaves no gap
            widget.setVisible(visible)
            label = self.form.labelForField(holder) if holder is not None else None
            if label is not None:
                label.setVisible(visible)
            self.errors[key].show_problem(None)
        if inv is None:
            return
        self.unit.clear()
        self.unit.addItems(list(inv.units))
        self.choice.clear()
        if inv.result_type == "qualitative":
            self.choice.addItems(list(QUALITATIVE))
        elif inv.result_type in ("categorical", "uterine"):
            self.choice.addItems(list(inv.categories))
        self.method.clear()
        self.method.addItems(list(inv.methods))
        if not self.date.text():
            self.date.set_date(self._service.today())

    def _target_item(self, inv: Investigation) -> WorkupItem | None:
        """Which item takes the result: the latest entered one when correcting; otherwise a requested or
        pending one; otherwise none (a new result, such as a repeat)."""
        mine = [i for i in self._items if i.investigation_id == inv.id]
        if self.correction.isChecked():
            done = [i for i in mine if i.has_result]
            return done[-1] if done else None
        open_items = [i for i in mine if i.status in (Status.REQUESTED, Status.SAMPLE_TAKEN)]
        return open_items[-1] if open_items else None

    def collect(self) -> tuple[ResultValue | None, dict[str, str]]:
        inv = self._current
        problems: dict[str, str] = {}
        if inv is None:
            return None, {"investigation": tr("Choose an investigation from the list.")}
        if inv.result_type == "numeric":
            number, p = parse_optional_float(self.value.text())
            if p or number is None:
                problems["value"] = p or tr("Type the value.")
            low = high = None
            if self.lab_range.text().strip():
                parts = self.lab_range.text().replace("–", "-").split("-")
                lo, p1 = parse_optional_float(parts[0]) if len(parts) == 2 else (None, "x")
                hi, p2 = parse_optional_float(parts[1]) if len(parts) == 2 else (None, "x")
                if p1 or p2:
                    problems["lab_range"] = tr("Type the range as low-high, for example 0.4-4.0.")
                low, high = lo, hi
            return (
                None
                if problems
                else ResultValue(numeric=number, unit=self.unit.currentText(), lab_low=low, lab_high=high)
            ), problems
        if inv.result_type == "uterine":
            return ResultValue(findings=(self.choice.currentText(),), method=self.method.currentText()), problems
        return ResultValue(text=self.choice.currentText()), problems

    def on_save_clicked(self) -> None:
        self.banner.show_problem(None)
        for e in self.errors.values():
            e.show_problem(None)
        value, problems = self.collect()
        day, p = self.date.date_or_problem()
        if p:
            problems["sample_date"] = p
        if problems or value is None or day is None or self._current is None or self.patient_id is None:
            for k, m in problems.items():
                self.errors.get(k, self.banner).show_problem(m)
            return
        target = self._target_item(self._current)
        if self.correction.isChecked() and target is None:
            self.banner.show_problem(tr("There is no entered result of this investigation to correct."))
            return
        try:
            view = self._service.record_result(
                self.patient_id,
                self._current.id,
                value,
                day,
                target.id if target else None,
                target.version if target else None,
            )
        except ValidationError as e:
            for prob in e.problems:
                key = "choice" if prob.field == "value" and self._current.result_type != "numeric" else prob.field
                self.errors.get(key, self.banner).show_problem(prob.message)
            return
        except DomainError as e:
            self.banner.show_problem(str(e))
            return
        self._items = view.items
        self.correction.setChecked(False)
        self.value.clear()
        self.lab_range.clear()
        self.investigation.clear()
        self._show_fields(None)
        self.investigation.setFocus()
        self.saved.emit(view)


class WorkupTab(QWidget):
    changed = Signal()

    def __init__(self, service: WorkupService, parent: Any = None) -> None:
        super().__init__(parent)
        self._service = service
        self.patient_id: int | None = None
        self.view: WorkupView | None = None
        outer = QVBoxLayout(self)
        self.completeness = QLabel()
        self.completeness.setWordWrap(True)
        self.completeness.setTextFormat(Qt.TextFormat.PlainText)
        self.completeness.setAccessibleName(tr("Workup completeness"))
        outer.addWidget(self.completeness)
        grid = QGridLayout()
        self.lists: dict[str, QListWidget] = {}
        for n, domain in enumerate(("genetic", "anatomical", "endocrine", "thrombophilia")):
            box = QGroupBox(tr(DOMAIN_TITLES[domain]))
            lay = QVBoxLayout(box)
            lst = QListWidget()
            lst.setAccessibleName(tr("{d} investigations").format(d=tr(DOMAIN_TITLES[domain])))
            lst.setWordWrap(True)
            lst.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
            lst.itemActivated.connect(self._on_item_activated)
            lay.addWidget(lst)
            self.lists[domain] = lst
            grid.addWidget(box, n // 2, n % 2)
        outer.addLayout(grid, 1)
        row = QHBoxLayout()
        self.request_button = QPushButton(tr("Re&quest selected / missing"))
        self.request_button.setToolTip(tr("Requests the selected investigations, or every missing protocol item"))
        self.request_button.clicked.connect(self.on_request_clicked)
        row.addWidget(self.request_button)
        self.sample_button = QPushButton(tr("Sample &taken for selected"))
        self.sample_button.setToolTip(tr("Marks the selected requested investigations as sampled today"))
        self.sample_button.clicked.connect(self.on_sample_clicked)
        row.addWidget(self.sample_button)
        row.addStretch(1)
        outer.addLayout(row)
        self.banner = ErrorLabel(self)
        outer.addWidget(self.banner)
        self.entry = ResultEntry(service)
        self.entry.saved.connect(self._show)
        outer.addWidget(self.entry)

    def set_can_edit(self, allowed: bool) -> None:
        self.entry.setVisible(allowed)
        self.request_button.setVisible(allowed)
        self.sample_button.setVisible(allowed)

    def load(self, patient_id: int) -> None:
        self.patient_id = patient_id
        self.entry.set_catalogue(list(self._service.catalogue().investigations.values()))
        self.banner.show_problem(None)
        try:
            self._show(self._service.view(patient_id), notify=False)
        except DomainError as e:
            self.banner.show_problem(str(e))

    def _show(self, view: WorkupView, notify: bool = True) -> None:
        self.view = view
        assert self.patient_id is not None
        self.entry.set_patient(self.patient_id, view.items)
        c = view.completeness
        missing = ", ".join(m.name for m in c.missing)
        self.completeness.setText(
            tr("Workup {done} of {total} complete").format(done=c.done, total=c.total)
            + (f" — {tr('missing')}: {missing}" if missing else " ✓")
        )
        for domain, lst in self.lists.items():
            lst.clear()
            entries = list(view.panel.get(domain, []))
            if domain == "thrombophilia":
                entries += view.panel.get("other", [])
            for e in entries:
                item = QListWidgetItem(describe_entry(e))
                item.setData(Qt.ItemDataRole.UserRole, e.investigation.id)
                tip = [e.investigation.routine_note] if e.investigation.routine_note else []
                if e.investigation.threshold:
                    tip.append(e.investigation.threshold.text)
                item.setToolTip("\n".join(tip))
                lst.addItem(item)
        if notify:
            self.changed.emit()

    def select_item(self, item_id: int) -> None:
        """Select the investigation a workup item belongs to (e.g. clicked on the timeline)."""
        if self.view is None:
            return
        iid = next((i.investigation_id for i in self.view.items if i.id == item_id), None)
        for lst in self.lists.values():
            for row in range(lst.count()):
                if lst.item(row).data(Qt.ItemDataRole.UserRole) == iid:
                    lst.setCurrentRow(row)
                    lst.setFocus()
                    return

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        """Enter or double-click on an investigation starts entering its result."""
        iid = item.data(Qt.ItemDataRole.UserRole)
        self.entry.choose(self._service.catalogue().get(iid))
        self.entry.value.setFocus()

    def on_sample_clicked(self) -> None:
        if self.patient_id is None or self.view is None:
            return
        chosen = {i.data(Qt.ItemDataRole.UserRole) for lst in self.lists.values() for i in lst.selectedItems()}
        targets = [i for i in self.view.items if i.investigation_id in chosen and i.status is Status.REQUESTED]
        if not targets:
            self.banner.show_problem(tr("Select requested investigations first."))
            return
        self.banner.show_problem(None)
        try:
            for item in targets:
                view = self._service.record_sample(self.patient_id, item.id, item.version, self._service.today())
            self._show(view)
        except DomainError as e:
            self.banner.show_problem(str(e))

    def on_request_clicked(self) -> None:
        if self.patient_id is None or self.view is None:
            return
        chosen = [i.data(Qt.ItemDataRole.UserRole) for lst in self.lists.values() for i in lst.selectedItems()]
        if not chosen:
            chosen = [m.id for m in self.view.completeness.missing]
        if not chosen:
            return
        try:
            self._show(self._service.request(self.patient_id, chosen))
        except DomainError as e:
            self.banner.show_problem(str(e))
