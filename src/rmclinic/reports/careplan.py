"""Care plan PDFs (ReportLab Platypus), in two variants drawn from the same ``CarePlanData``.

- **Clinician**: the obstetric summary, history, workup, current pregnancy, medication, follow-ups, the
  timeline, alerts with numbered citations and the reference list.
- **Patient**: plain words in large type: the medicines, a dose calendar, appointments and tests, and whom to
  call. After a loss (``data.sensitive``) there is no antenatal wording at all. Neither variant congratulates.

Every page carries the clinic, the patient's identifiers with a Code128 barcode of the hospital number,
"Page X of Y" (numbered per care plan in a batch), the print time, today's gestation, the rule-set version,
the record hash and the sign-off. Output is byte-for-byte reproducible (``invariant``), so a signed version can
be compared and reprinted exactly.

Every user-typed string is escaped before it enters a Paragraph: a name such as "O'Brien & <b>" prints as typed.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ..domain.dating import METHOD_LABELS, gestation_days_on, gestation_on
from ..domain.followup import (
    ANTENATAL_KINDS,
    SWAB_LABELS,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    is_short_cervix,
)
from ..domain.gestation import format_days
from ..domain.identifiers import format_nhs_number
from ..domain.medication import (
    FREQUENCY_LABELS,
    INDICATION_LABELS,
    CalendarDay,
    Frequency,
    MedicationPlan,
    PlanStatus,
    Route,
    describe_dose,
    dose_calendar,
    dosed_days,
    last_dose_day,
    segments,
)
from ..domain.obstetric import GENETICS_LABELS, OUTCOME_LABELS, Conception, TissueGenetics, chronological
from ..domain.pregnancy import IupMethod
from ..services.careplan import CarePlanData, Variant
from .common import (
    BARCODE_H,
    INK,
    MUTED,
    PAGE_H,
    PAGE_W,
    RULE,
    NumberedCanvas,
    barcode,
    draw_fitted,
    draw_line,
    esc,
    fit_size,
    fmt_date,
    fmt_datetime,
    fmt_day,
    load_logo,
    local_date,
)
from .fonts import BOLD, REGULAR, register_fonts
from .timeline import timeline_flowable

MARGIN_X = 15 * mm
HEADER_TOP = PAGE_H - 10 * mm
HEADER_BOTTOM = HEADER_TOP - 27 * mm
FOOTER_TOP = 17 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X
FRAME_BOTTOM = FOOTER_TOP + 3 * mm
FRAME_H = HEADER_BOTTOM - 4 * mm - FRAME_BOTTOM
LOGO_BOX = (30 * mm, 10 * mm)  # the top row of the header; the patient's name goes below it

HEAD_BG = colors.HexColor("#e4e7eb")
FLAG_BG = colors.HexColor("#f6dcd8")
TAPER_BG = colors.HexColor("#e4e7eb")
OFF_BG = colors.HexColor("#f5f7fa")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ROUTE_CLINICIAN = {
    Route.VAGINAL: "Vaginal",
    Route.ORAL: "Oral",
    Route.INTRAMUSCULAR: "Intramuscular",
    Route.SUBCUTANEOUS: "Subcutaneous",
    Route.OTHER: "Other",
}
_ROUTE_PATIENT = {
    Route.VAGINAL: "vaginal pessary, put into the vagina",
    Route.ORAL: "tablet by mouth",
    Route.INTRAMUSCULAR: "injection into a muscle",
    Route.SUBCUTANEOUS: "injection under the skin",
    Route.OTHER: "as the clinic has shown you",
}
# Catalogue names carry abbreviations (LMWH, IVIG, G-CSF) that mean nothing to a patient.
_PATIENT_DRUG_NAMES = {
    "progesterone_vaginal": "Progesterone",
    "dydrogesterone_oral": "Dydrogesterone",
    "progesterone_im": "Progesterone",
    "progesterone_sc": "Progesterone",
    "aspirin": "Aspirin (low dose)",
    "enoxaparin": "Enoxaparin (a heparin)",
    "dalteparin": "Dalteparin (a heparin)",
    "tinzaparin": "Tinzaparin (a heparin)",
    "levothyroxine": "Levothyroxine",
    "folic_acid": "Folic acid",
    "warfarin": "Warfarin",
    "doac": "Apixaban, rivaroxaban, edoxaban or dabigatran",
    "ivig": "Immunoglobulin",
    "g_csf": "Filgrastim",
    "intralipid": "Intralipid",
    "tnf_inhibitor": "Adalimumab or etanercept",
    "prednisolone": "Prednisolone",
    "hydroxychloroquine": "Hydroxychloroquine",
}
_PATIENT_UNITS = {"IU": "units", "microgram": "micrograms"}
_PATIENT_FOLLOW_UP = {
    FollowUpKind.SWAB: "Vaginal swab",
    FollowUpKind.CERVICAL_LENGTH_SCAN: "Scan to measure the length of the neck of the womb (cervix)",
    FollowUpKind.BLOOD_TEST: "Blood test",
    FollowUpKind.APPOINTMENT: "Appointment at the clinic",
}
_TIMES_A_DAY = {
    Frequency.ONCE_DAILY: 1,
    Frequency.TWICE_DAILY: 2,
    Frequency.THREE_TIMES_DAILY: 3,
    Frequency.ALTERNATE_DAYS: 1,
}
_SEVERITY_WORDS = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFORMATION"}
_IUP_METHODS = {
    IupMethod.TRANSVAGINAL: "transvaginal scan",
    IupMethod.TRANSABDOMINAL: "transabdominal scan",
    IupMethod.OTHER: "other method",
}
_SMOKING = {"never": "Never smoked", "former": "Former smoker", "current": "Current smoker", "unknown": "Not recorded"}
_EXCISION_KINDS = {"lletz": "LLETZ", "cone": "Cone biopsy", "other": "Other excision"}
GENERIC_URGENT_ADVICE = "If you have any bleeding, pain or other worries, please call us."


# -- small formatting helpers -----------------------------------------------------------------------------------


def _ga_on(edd: dt.date | None, day: dt.date | None) -> str:
    if edd is None or day is None:
        return ""
    ga = gestation_on(edd, day)
    return str(ga) if ga else ""


def _yes_no(value: bool | None) -> str:
    return "Not recorded" if value is None else ("Yes" if value else "No")


def full_name(data: CarePlanData) -> str:
    return f"{data.patient.given_name} {data.patient.family_name}".strip()


# -- styles -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    h2: ParagraphStyle
    h3: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    bullet: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    head: ParagraphStyle
    big: ParagraphStyle  # the patient's telephone numbers


def _styles(patient: bool) -> _Styles:
    # The patient copy is for reading without glasses: body 13 pt, headings 17 pt (at least 12 and 15).
    body_size, head_size, cell_size = (13.0, 17.0, 12.0) if patient else (9.0, 12.0, 8.0)
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=body_size, leading=body_size * 1.3, spaceAfter=4)
    cell = ParagraphStyle("cell", fontName=REGULAR, fontSize=cell_size, leading=cell_size * 1.22)
    return _Styles(
        title=ParagraphStyle(
            "title", fontName=BOLD, fontSize=head_size + 6, leading=(head_size + 6) * 1.2, spaceAfter=6
        ),
        h2=ParagraphStyle(
            "h2",
            fontName=BOLD,
            fontSize=head_size,
            leading=head_size * 1.25,
            spaceBefore=head_size * 0.9,
            spaceAfter=4,
            textColor=INK,
        ),
        h3=ParagraphStyle(
            "h3",
            fontName=BOLD,
            fontSize=body_size + (2 if patient else 1),
            leading=(body_size + 2) * 1.3,
            spaceBefore=6,
            spaceAfter=2,
        ),
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=body_size - 1, leading=(body_size - 1) * 1.3),
        bullet=ParagraphStyle("bullet", parent=body, leftIndent=body_size, bulletIndent=2, spaceAfter=2),
        cell=cell,
        cell_bold=ParagraphStyle("cell_bold", parent=cell, fontName=BOLD),
        head=ParagraphStyle("head", parent=cell, fontName=BOLD),
        big=ParagraphStyle("big", fontName=BOLD, fontSize=20, leading=26, spaceAfter=4),
    )


# -- the page frame: header, footer, numbering ------------------------------------------------------------------


class _CarePlanCanvas(NumberedCanvas):
    """Writes "Page X of Y" at the right end of the footer's first line, each care plan in a batch numbered on
    its own."""

    number_right = PAGE_W - MARGIN_X
    number_baseline = FOOTER_TOP - 4.5 * mm


def _draw_name(c: Any, text: str, x: float, y: float, first_width: float, width: float) -> None:
    """The patient's name at baseline ``y``: one line if it fits (down to 10 pt), otherwise two lines ending
    at ``y``, the first beside the barcode (``first_width``) and the second the full ``width``."""
    size = fit_size(text, BOLD, 13, first_width, 10)
    if stringWidth(text, BOLD, size) <= first_width:
        draw_line(c, text, BOLD, size, x, y, first_width)
        return
    words = text.split(" ")
    for size in (10.0, 9.0, 8.0, 7.0):
        n = 1
        while n < len(words) and stringWidth(" ".join(words[: n + 1]), BOLD, size) <= first_width:
            n += 1
        first, rest = " ".join(words[:n]), " ".join(words[n:])
        if stringWidth(rest, BOLD, size) <= width and stringWidth(first, BOLD, size) <= first_width:
            break
    draw_line(c, first, BOLD, size, x, y + size + 1.5, first_width)
    draw_line(c, rest, BOLD, size, x, y, width)


class _PageDecor:
    """Draws one care plan's header and footer on each of its pages and counts its pages."""

    def __init__(self, index: int, data: CarePlanData) -> None:
        self.index = index
        self.data = data
        self.pages = 0
        self.logo = load_logo(data.clinic.logo)
        self.barcode = barcode(data.patient.hospital_number, FRAME_W * 0.45)

    def __call__(self, c: Any, _doc: Any) -> None:
        self.pages += 1
        c.page_label = (self.index, self.pages)
        c.saveState()
        self._header(c)
        self._footer(c)
        c.restoreState()

    def _header(self, c: Any) -> None:
        d, p = self.data, self.data.patient
        right = PAGE_W - MARGIN_X
        bc = self.barcode
        bc_x = right - bc.width
        bc.drawOn(c, bc_x, HEADER_TOP - BARCODE_H - 1 * mm)
        c.setFillColor(INK)
        c.setFont(REGULAR, 8)
        c.drawCentredString(bc_x + bc.width / 2, HEADER_TOP - BARCODE_H - 4.5 * mm, p.hospital_number)
        text_right = bc_x - 6 * mm
        x = MARGIN_X
        if self.logo is not None:
            iw, ih = self.logo.getSize()
            scale = min(LOGO_BOX[0] / iw, LOGO_BOX[1] / ih)
            w, h = iw * scale, ih * scale
            c.drawImage(self.logo, x, HEADER_TOP - h, w, h, mask="auto")
            x += w + 4 * mm
        draw_fitted(c, d.clinic.name, BOLD, 10.5, x, HEADER_TOP - 9, text_right - x, truncate=True)
        if d.clinic.phone:
            c.setFillColor(MUTED)
            phone = f"Telephone {d.clinic.phone}"
            draw_fitted(c, phone, REGULAR, 8, x, HEADER_TOP - 19, text_right - x, truncate=True)
            c.setFillColor(INK)
        name_y = HEADER_TOP - 18 * mm
        _draw_name(c, full_name(d), MARGIN_X, name_y, text_right - MARGIN_X, right - MARGIN_X)
        ids = [f"Date of birth {fmt_date(p.date_of_birth)}", f"Hospital number {p.hospital_number}"]
        if p.nhs_number:
            ids.append(f"NHS number {format_nhs_number(p.nhs_number)}")
        draw_fitted(c, "    ".join(ids), REGULAR, 9, MARGIN_X, HEADER_BOTTOM + 3.5 * mm, right - MARGIN_X)
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN_X, HEADER_BOTTOM + 1 * mm, right, HEADER_BOTTOM + 1 * mm)

    def _footer(self, c: Any) -> None:
        d = self.data
        right = PAGE_W - MARGIN_X
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN_X, FOOTER_TOP, right, FOOTER_TOP)
        bits = [f"Printed {fmt_datetime(d.printed_at)}"]
        if d.gestation is not None and not d.sensitive:
            bits.append(f"Today {d.gestation} weeks")
        bits += [f"Rules {d.rule_set_version}", f"Record {d.short_hash}"]
        width = right - MARGIN_X - 25 * mm  # leave room for "Page X of Y"
        c.setFillColor(MUTED)
        draw_fitted(c, "  ·  ".join(bits), REGULAR, 7.5, MARGIN_X, FOOTER_TOP - 4.5 * mm, width, smallest=6)
        s = d.signed
        if s is not None:
            who = s.signed_by_name if s.signed_by_name == s.signed_by else f"{s.signed_by_name} ({s.signed_by})"
            signed = f"Signed by {who} on {fmt_date(local_date(s.signed_at))}, version {s.version}"
        else:
            signed = "Not signed"
        c.setFillColor(INK)
        draw_fitted(c, signed, BOLD if s else REGULAR, 7.5, MARGIN_X, FOOTER_TOP - 8.5 * mm, width, smallest=6)


class _Progress(Flowable):  # type: ignore[misc]
    """Invisible: reports that a care plan has been laid out."""

    def __init__(self, callback: Callable[[int, int], None], done: int, total: int) -> None:
        super().__init__()
        self._callback, self._done, self._total = callback, done, total

    def wrap(self, _w: float, _h: float) -> tuple[float, float]:
        return 0.0, 0.0

    def draw(self) -> None:
        self._callback(self._done, self._total)


# -- shared building blocks -------------------------------------------------------------------------------------


def _table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = True,
    flagged: Iterable[int] = (),
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A table whose cells are Paragraphs (they wrap) that splits across pages, repeating its header row and,
    for a very tall row, splitting inside the row."""
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_BG))
    for r in flagged:
        commands.append(("BACKGROUND", (0, r), (-1, r), FLAG_BG))
    commands.extend(extra)
    total = sum(widths)
    scaled = [w * FRAME_W / total for w in widths]
    return Table(
        [list(r) for r in rows],
        colWidths=scaled,
        repeatRows=1 if header else 0,
        splitInRow=1,
        hAlign="LEFT",
        style=TableStyle(commands),
    )


class _Cell(Flowable):  # type: ignore[misc]
    """A table cell's plain text: drawn as one line, exactly where its Paragraph would draw it, when it fits the
    column; otherwise a Paragraph that wraps. Most cells are short, and parsing and line-breaking a Paragraph
    for each one was about a third of a care plan's layout time."""

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.text = text
        self.style = style
        # A Paragraph joins words with one space; a line break in the text (kept by ``esc``) needs the Paragraph.
        self._line = " ".join(text.split()) if "\n" not in text and style.alignment == TA_LEFT else None
        self._para: Paragraph | None = None

    def _paragraph(self) -> Paragraph:
        if self._para is None:
            self._para = Paragraph(esc(self.text), self.style)
        return self._para

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        s = self.style
        room = availWidth - s.leftIndent - s.rightIndent
        if self._para is None and self._line is not None and stringWidth(self._line, s.fontName, s.fontSize) <= room:
            self.width, self.height = availWidth, s.leading
            return self.width, self.height
        self.width, self.height = self._paragraph().wrap(availWidth, availHeight)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return self._paragraph().split(availWidth, availHeight) if self._para is not None else []

    def draw(self) -> None:
        if self._para is not None:
            self._para.drawOn(self.canv, 0, 0)
            return
        s = self.style
        self.canv.setFillColor(s.textColor)
        self.canv.setFont(s.fontName, s.fontSize, s.leading)
        self.canv.drawString(s.leftIndent, self.height - s.fontSize, self._line or "")


class _Story:
    """Collects one care plan's flowables."""

    def __init__(self, data: CarePlanData, styles: _Styles) -> None:
        self.data = data
        self.s = styles
        self.items: list[Any] = []

    def add(self, *flowables: Any) -> None:
        self.items.extend(flowables)

    def para(self, markup: str, style: ParagraphStyle | None = None) -> None:
        self.items.append(Paragraph(markup, style or self.s.body))

    def text(self, text: str, style: ParagraphStyle | None = None) -> None:
        self.para(esc(text), style)

    def heading(self, text: str) -> None:
        # Not keepWithNext: that keeps a heading with the *whole* next table and can leave most of a page
        # empty. A heading only moves on when there is no room for a few lines under it.
        self.items += [CondPageBreak(self.s.h2.leading * 5), Paragraph(esc(text), self.s.h2)]

    def subheading(self, text: str) -> None:
        self.items += [CondPageBreak(self.s.h3.leading * 5), Paragraph(esc(text), self.s.h3)]

    def bullets(self, markups: Iterable[str], style: ParagraphStyle | None = None) -> None:
        for m in markups:
            self.items.append(Paragraph(m, style or self.s.bullet, bulletText="•"))

    def cells(self, *texts: str, bold: bool = False) -> list[Any]:
        style = self.s.cell_bold if bold else self.s.cell
        return [_Cell(t, style) for t in texts]

    def head(self, *texts: str) -> list[Any]:
        return [_Cell(t, self.s.head) for t in texts]


def _display_edd(data: CarePlanData, pregnancy_id: int | None) -> dt.date | None:
    """The EDD to show gestations against: the item's own pregnancy, else the open one (a plan or follow-up
    recorded without a pregnancy still happens during it)."""
    own = data.edd_for(pregnancy_id)
    if own is not None:
        return own
    return data.pregnancy.edd if data.pregnancy is not None else None


# -- clinician copy ---------------------------------------------------------------------------------------------


def _clinician(data: CarePlanData, s: _Styles) -> list[Any]:
    st = _Story(data, s)
    st.text("Care plan — clinician copy", s.title)
    _summary(st)
    _history(st)
    _risk(st)
    _results(st)
    _pregnancy(st)
    _plans_clinician(st)
    _follow_ups_clinician(st)
    _timeline(st)
    _alerts(st)
    _references(st)
    return st.items


def _summary(st: _Story) -> None:
    d, sm = st.data, st.data.summary
    st.heading("Obstetric summary")

    def met(flag: bool) -> str:
        return "met" if flag else "not met"

    pairs = [
        ("Losses before 24 weeks", str(sm.total_losses)),
        ("Consecutive losses", str(sm.consecutive_losses)),
        ("First-trimester losses", str(sm.first_trimester_losses)),
        ("Second-trimester losses", str(sm.second_trimester_losses)),
        ("Live births", str(sm.live_births)),
        ("Gravidity / parity", f"G{sm.gravidity} P{sm.parity}"),
        ("ESHRE 2022 (two or more losses)", met(sm.meets_eshre)),
        ("RCOG 2023 (three first-trimester or a second-trimester loss)", met(sm.meets_rcog)),
    ]
    if sm.meets_eshre or sm.meets_rcog:
        pairs.append(("Recurrent pregnancy loss", sm.rm_type))
    rows = []
    for i in range(0, len(pairs), 2):
        row: list[Any] = []
        for label, value in pairs[i : i + 2]:
            row += [*st.cells(label), *st.cells(value, bold=True)]
        while len(row) < 4:
            row += st.cells("")
        rows.append(row)
    st.add(KeepTogether(_table(rows, [3, 1.2, 3, 1.2], header=False)))
    if d.sensitive and d.last_ended is not None:
        st.para(
            f"<b>Sensitive communication:</b> the last pregnancy ended on {fmt_date(d.last_ended.ended_on)} "
            f"({esc(OUTCOME_LABELS[d.last_ended.outcome]) if d.last_ended.outcome else 'outcome not recorded'}).",
            ParagraphStyle("note", parent=st.s.body, spaceBefore=4),
        )
    st.subheading("Diagnoses")
    if d.diagnoses:
        st.bullets(esc(x) for x in d.diagnoses)
    else:
        st.text("None recorded.")


def _history(st: _Story) -> None:
    st.heading("Previous pregnancies")
    history = chronological(st.data.history)
    if not history:
        st.text("None recorded.")
        return
    rows = [st.head("Date", "Outcome", "Gestation", "Fetuses", "Conception", "Tissue genetics")]
    extra: list[tuple[Any, ...]] = []
    for p in history:
        genetics = GENETICS_LABELS[p.tissue_genetics] if p.tissue_genetics is not TissueGenetics.NOT_SENT else "—"
        rows.append(
            st.cells(
                fmt_date(p.date) if p.date else f"{p.year} (year only)",
                OUTCOME_LABELS[p.outcome] + (", preterm" if p.preterm_birth else ""),
                format_days(p.gestation_days) or "—",
                str(p.fetuses),
                "ART" if p.conception is Conception.ART else "Spontaneous",
                genetics,
            )
        )
        if p.notes:  # notes run the full width of the table under their pregnancy, however long they are
            extra += [("SPAN", (0, len(rows)), (-1, len(rows))), ("TOPPADDING", (0, len(rows)), (-1, len(rows)), 0)]
            rows.append([Paragraph(f"<i>Notes:</i> {esc(p.notes)}", st.s.cell), *([""] * 5)])
    st.add(_table(rows, [62, 140, 58, 50, 80, 120], extra=extra))


def _risk(st: _Story) -> None:
    r = st.data.risk
    st.heading("Allergies and risk history")
    allergies = ", ".join(r.drug_allergies) if r.drug_allergies else "None recorded"
    st.para(f"<b>Drug allergies:</b> {esc(allergies)}")
    items: list[str] = []
    for ex in r.cervical_excisions:
        when = fmt_date(ex.date) if ex.date else (str(ex.year) if ex.year else "date not recorded")
        depth = f", {ex.depth_mm:g} mm deep" if ex.depth_mm is not None else ""
        items.append(f"Cervical excision: {_EXCISION_KINDS.get(ex.kind, ex.kind)} {when}{depth}")
    if r.previous_cerclage:
        items.append("Previous cervical cerclage" + (f": {r.cerclage_notes}" if r.cerclage_notes else ""))
    if r.vte_history:
        items.append("Venous thromboembolism in the past" + (f": {r.vte_notes}" if r.vte_notes else ""))
    if r.aps_diagnosed:
        items.append("Antiphospholipid syndrome diagnosed")
    items.append(f"Smoking: {_SMOKING.get(r.smoking, r.smoking)}")
    if r.alcohol_units_per_week is not None:
        items.append(f"Alcohol: {r.alcohol_units_per_week:g} units a week")
    if r.bmi is not None:
        items.append(f"BMI {r.bmi:g} (height {r.height_cm:g} cm, weight {r.weight_kg:g} kg)")
    if r.oligo_amenorrhoea:
        items.append("Infrequent or absent periods (oligo-/amenorrhoea)")
    st.bullets(esc(i) for i in items)


def _results(st: _Story) -> None:
    d = st.data
    st.heading("Investigations")
    if not d.results:
        st.text("No results recorded.")
    else:
        rows = [st.head("Domain", "Investigation", "Value", "Lab range", "Interpretation", "Sample", "Reviewed")]
        flagged = []
        for i, r in enumerate(d.results, 1):
            interp = r.interpretation.replace("_", " ")
            if r.flagged:
                flagged.append(i)
                interp = f"ABNORMAL — {interp}" if interp != "abnormal" else "ABNORMAL"
            rows.append(
                st.cells(
                    r.domain.capitalize(),
                    r.name,
                    r.value,
                    r.lab_range,
                    interp,
                    fmt_date(r.sample_date),
                    "Yes" if r.reviewed else "No",
                    bold=r.flagged,
                )
            )
        st.add(_table(rows, [72, 98, 88, 58, 78, 58, 50], flagged=flagged))
    if d.outstanding:
        st.subheading("Outstanding investigations")
        st.bullets(esc(x) for x in d.outstanding)


def _pregnancy(st: _Story) -> None:
    d, p = st.data, st.data.pregnancy
    st.heading("Current pregnancy")
    if p is None:
        st.text("No open pregnancy.")
        if d.last_ended is not None and d.last_ended.ended_on is not None:
            outcome = OUTCOME_LABELS[d.last_ended.outcome] if d.last_ended.outcome else "outcome not recorded"
            st.text(f"The last pregnancy ended on {fmt_date(d.last_ended.ended_on)}: {outcome}.")
        return
    entry = p.dating[-1]
    basis = entry.basis(fmt_date)
    if basis == METHOD_LABELS[entry.method] and entry.reason:
        basis += f" ({entry.reason})"
    redated = f"; redated {len(p.dating) - 1}×" if len(p.dating) > 1 else ""
    rows = [
        ("EDD", f"{fmt_date(p.edd)} — dated by {basis}{redated}"),
        ("Gestation today", f"{d.gestation} weeks" if d.gestation else "—"),
        ("Fetuses", str(p.fetuses)),
        ("Conception", "ART" if p.conception is Conception.ART else "Spontaneous"),
        (
            "Intrauterine pregnancy confirmed",
            f"{fmt_date(p.iup_confirmed_on)} ({_ga_on(p.edd, p.iup_confirmed_on)})"
            + (f", {_IUP_METHODS[p.iup_method]}" if p.iup_method else "")
            if p.iup_confirmed_on
            else "Not yet",
        ),
        (
            "Heartbeat seen",
            f"{fmt_date(p.heartbeat_on)} ({_ga_on(p.edd, p.heartbeat_on)})" if p.heartbeat_on else "Not recorded",
        ),
        ("High-risk or preconception clinic", _yes_no(p.high_risk_care)),
        (
            "Cerclage in this pregnancy",
            f"{fmt_date(p.cerclage_on)} ({_ga_on(p.edd, p.cerclage_on)})" if p.cerclage_on else "None recorded",
        ),
    ]
    if p.bleeding:
        episodes = "; ".join(
            f"{fmt_date(b.date)} ({_ga_on(p.edd, b.date)}) {b.severity.value}" + (f": {b.notes}" if b.notes else "")
            for b in sorted(p.bleeding, key=lambda b: b.date)
        )
        rows.append(("Bleeding", episodes))
    else:
        rows.append(("Bleeding", "None recorded"))
    if p.notes:
        rows.append(("Notes", p.notes))
    # a short table: kept whole rather than leave one row at the top of the next page
    st.add(KeepTogether(_table([[*st.cells(k, bold=True), *st.cells(v)] for k, v in rows], [1.3, 4], header=False)))


def _route(plan: MedicationPlan) -> Route:
    return plan.route or plan.drug_def.route


def _stop_text(plan: MedicationPlan, data: CarePlanData) -> str:
    edd = data.edd_for(plan.pregnancy_id)
    shown = _display_edd(data, plan.pregnancy_id)
    stop = plan.stop_date(edd)
    if stop is None:
        return "No planned stop"
    last = last_dose_day(plan, edd) or stop - dt.timedelta(days=1)  # an every-other-day rest day is no dose
    ga_stop, ga_last = _ga_on(shown, stop), _ga_on(shown, last)
    lines = [fmt_date(stop) + (f" ({ga_stop})" if ga_stop else "")]
    lines.append(f"last dose {fmt_date(last)}" + (f" ({ga_last})" if ga_last else ""))
    if plan.stopped_on is not None and plan.stopped_on == stop:
        lines.append("stopped early" + (f": {plan.stop_reason}" if plan.stop_reason else ""))
    elif plan.stop is not None and plan.stop.gestation_days is not None:
        lines.append(f"planned at {format_days(plan.stop.gestation_days)}")
    return "\n".join(lines)


def _taper_text(plan: MedicationPlan, data: CarePlanData) -> str:
    """One line per taper step: its first day (and gestation) and dose; each step runs to the next or the stop."""
    edd = data.edd_for(plan.pregnancy_id)
    shown = _display_edd(data, plan.pregnancy_id)
    unit = plan.display_unit
    steps = []
    for seg in segments(plan, edd):
        if seg.taper:
            ga = _ga_on(shown, seg.start)
            when = fmt_date(seg.start) + (f" ({ga})" if ga else "")
            steps.append(f"from {when}: {describe_dose(seg.dose, unit, seg.frequency)}")
    if not steps and plan.taper:  # steps by gestation without a dated pregnancy cannot be resolved
        steps = [f"from {s.start}: {describe_dose(s.dose, unit, s.frequency)}" for s in plan.taper]
    return "\n".join(steps) if steps else "—"


_PLAN_WIDTHS = (118, 96, 66, 100, 130)


def _plan_rows(st: _Story, plans: Sequence[MedicationPlan], past: bool) -> list[list[Any]]:
    d = st.data
    last_head = "Status" if past else "Taper steps"
    rows = [st.head("Medicine", "Dose, frequency, route", "Start", "Stop (first day without a dose)", last_head)]
    for plan in plans:
        shown = _display_edd(d, plan.pregnancy_id)
        ga = _ga_on(shown, plan.start)
        name = f"<b>{esc(plan.display_name)}</b><br/>{esc(INDICATION_LABELS[plan.indication])}"
        if plan.notes:
            name += f"<br/><i>Notes:</i> {esc(plan.notes)}"
        if past:
            last = {
                PlanStatus.ACTIVE: "Completed",
                PlanStatus.STOPPED: "Stopped early",
                PlanStatus.CANCELLED: "Cancelled",
            }[plan.status]
            if plan.taper:
                last += f"\nTaper: {_taper_text(plan, d)}"
        else:
            last = _taper_text(plan, d)
        dose = describe_dose(plan.dose, plan.display_unit, plan.frequency)
        rest = st.cells(
            f"{dose}\n{_ROUTE_CLINICIAN[_route(plan)].lower()}",
            fmt_date(plan.start) + (f" ({ga})" if ga else ""),
            _stop_text(plan, d),
            last,
        )
        rows.append([Paragraph(name, st.s.cell), *rest])
    return rows


def _plans_clinician(st: _Story) -> None:
    d = st.data
    if d.unresolved_plans:
        st.heading("Medication still active after the pregnancy ended — review")
        st.text(
            "These plans belong to a pregnancy that has ended but were not stopped. They are not printed as current "
            "medication and are left out of the patient copy. Stop them, or record why they continue."
        )
        st.add(_table(_plan_rows(st, d.unresolved_plans, past=False), _PLAN_WIDTHS))
    st.heading("Current medication")
    if d.plans:
        st.add(_table(_plan_rows(st, d.plans, past=False), _PLAN_WIDTHS))
    else:
        st.text("No current medication plans.")
    if d.past_plans:
        st.subheading("Past medication")
        st.add(_table(_plan_rows(st, d.past_plans, past=True), _PLAN_WIDTHS))


def _follow_up_result(f: FollowUp, edd: dt.date | None) -> tuple[str, bool]:
    """(result in words, flagged) of a follow-up that is done or missed."""
    if f.status is FollowUpStatus.MISSED:
        return "MISSED", True
    if f.kind is FollowUpKind.SWAB and f.swab_result is not None:
        text = SWAB_LABELS[f.swab_result] + (f": {f.organism}" if f.organism else "")
        flagged = f.swab_result.value != "negative"
        text = f"ABNORMAL — {text}" if flagged else text
    elif f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN and f.cervical_length_mm is not None:
        mm_ = f.cervical_length_mm
        funnel = {True: ", funnelling", False: ", no funnelling", None: ""}[f.funnelling]
        day = f.result_date or f.due_date
        ga = None if edd is None else gestation_days_on(edd, day)
        flagged = is_short_cervix(mm_, ga)
        text = f"{mm_:g} mm{funnel}"
        if flagged:
            text = f"SHORT — {text} (25 mm or less between 16+0 and 24+0, NICE NG25)"
    else:
        text, flagged = f.result_notes or "Done", False
    if f.result_notes and text != f.result_notes:
        text += f". {f.result_notes}"
    return text, flagged


def _follow_ups_clinician(st: _Story) -> None:
    d = st.data
    st.heading("Follow-ups")
    st.subheading("Due")
    if d.follow_ups:
        rows = [st.head("Due", "Gestation", "What", "Window", "Note")]
        flagged = []
        for i, f in enumerate(sorted(d.follow_ups, key=lambda f: f.due_date), 1):
            edd = _display_edd(d, f.pregnancy_id)
            overdue = f.overdue(d.today)
            if overdue:
                flagged.append(i)
            rows.append(
                st.cells(
                    fmt_date(f.due_date),
                    _ga_on(edd, f.due_date) or "—",
                    f.label,
                    f"± {f.window_days} days" if f.window_days else "on the day",
                    "OVERDUE" if overdue else "",
                    bold=overdue,
                )
            )
        st.add(_table(rows, [62, 55, 190, 70, 60], flagged=flagged))
    else:
        st.text("Nothing due.")
    if d.done_follow_ups:
        st.subheading("Done in this pregnancy")
        rows = [st.head("Date", "Gestation", "What", "Result")]
        flagged = []
        for i, f in enumerate(sorted(d.done_follow_ups, key=lambda f: f.result_date or f.due_date), 1):
            edd = _display_edd(d, f.pregnancy_id)
            day = f.result_date or f.due_date
            result, flag = _follow_up_result(f, edd)
            if flag:
                flagged.append(i)
            rows.append(st.cells(fmt_date(day), _ga_on(edd, day) or "—", f.label, result, bold=flag))
        st.add(_table(rows, [62, 55, 140, 180], flagged=flagged))


def _timeline(st: _Story) -> None:
    if not st.data.timeline.panels:
        return
    drawing = timeline_flowable(st.data.timeline, FRAME_W)
    room = FRAME_H - 40  # the heading goes on the same page
    if drawing.height > room:  # a very long history: shrink to fit one page rather than fail to lay out
        drawing.renderScale = room / drawing.height
    st.add(CondPageBreak(min(drawing.height * drawing.renderScale, room) + 30))
    st.heading("Timeline")
    st.add(drawing)
    st.para(
        "Key — filled marks: ▲ loss, swab organism found or critical alert; ◆ abnormal result or bacterial "
        "vaginosis; ■ stillbirth; ● short cervix. Open marks: ○ birth, normal result, negative swab, done or "
        "information alert; □ due; △ warning alert; ◇ other outcome. ✕ stop (first day without a dose) or "
        "missed. ▨ taper step. Dashed outline ending in ›: no planned stop. Shaded: 16+0 to 24+0.",
        st.s.small,
    )


def _alerts(st: _Story) -> None:
    d = st.data
    st.heading("Alerts")
    if not d.alerts:
        st.text("No current alerts.")
        return
    for v in d.alerts:
        a = v.alert
        cites = "".join(f"[{d.citation_number(c.key)}]" for c in a.rule.citations)
        status = "" if v.status.value == "active" else f" — {v.status.value}"
        if v.response is not None and v.response.until is not None:
            status += f" until {fmt_date(v.response.until)}"
        block: list[Any] = [
            Paragraph(
                f"<b>{_SEVERITY_WORDS.get(a.severity.value, a.severity.value.upper())}: {esc(a.rule.title)}</b>"
                f"{esc(status)} {cites}",
                st.s.body,
            ),
            Paragraph(esc(a.message), st.s.body),
        ]
        if a.because:
            block.append(Paragraph("Because:", st.s.body))
            block += [Paragraph(esc(b), st.s.bullet, bulletText="•") for b in a.because]
        if a.rule.conflict:
            block.append(Paragraph(f"<i>Conflicting evidence:</i> {esc(a.rule.conflict)}", st.s.small))
        if a.rule.unverified:
            block.append(Paragraph(f"<i>Unverified:</i> {esc(a.rule.unverified)}", st.s.small))
        block.append(Spacer(1, 4))
        st.add(KeepTogether(block))


def _linked(label: str, target: str, href: str) -> str:
    """The escaped label with ``target`` made a link (appended when the label does not already hold it)."""
    attr = escape(href, {'"': "&quot;"})
    markup, shown = esc(label), esc(target)
    if shown in markup:
        return markup.replace(shown, f'<link href="{attr}">{shown}</link>', 1)
    return f'{markup} <link href="{attr}">{shown}</link>'


def _references(st: _Story) -> None:
    d = st.data
    if not d.references:
        return
    st.heading("References")
    style = ParagraphStyle("ref", parent=st.s.body, leftIndent=18, firstLineIndent=-18)
    for i, c in enumerate(d.references, 1):
        if c.doi:
            text = _linked(c.label, c.doi if c.doi in c.label else f"doi:{c.doi}", f"https://doi.org/{c.doi}")
            if c.doi_unverified:
                text += " (DOI not verified)"
        elif c.url:
            text = _linked(c.label, c.url, c.url)
        else:
            text = esc(c.label)
        st.para(f"[{i}] {text}", style)


# -- patient copy -----------------------------------------------------------------------------------------------


def _patient_name(plan: MedicationPlan) -> str:
    if plan.name.strip():
        return plan.name.strip()
    return _PATIENT_DRUG_NAMES.get(plan.drug, plan.display_name)


def _patient_amount(dose: float, unit: str) -> str:
    unit = _PATIENT_UNITS.get(unit, unit)
    if unit == "micrograms" and dose == 1:
        unit = "microgram"
    return f"{dose:g} {unit}".strip()


def _patient(data: CarePlanData, s: _Styles) -> list[Any]:
    st = _Story(data, s)
    st.text("Your care plan", s.title)
    antenatal = not data.sensitive
    if data.sensitive:
        st.text("We are sorry for your loss.")
        st.text(
            "This sheet lists what the clinic has planned with you next: any medicines, your appointments and "
            "tests, and how to reach us. If anything is unclear, please call us."
        )
    else:
        st.text(
            "This sheet lists what the clinic has planned with you: your medicines, your appointments and tests, "
            "and how to reach us. If anything is unclear, please call us."
        )
        if data.pregnancy is not None and data.gestation is not None:
            g = data.gestation
            st.text(
                f"Weeks of pregnancy are written as weeks+days: today you are {g.weeks} weeks and "
                f"{g.extra_days} day{'s' if g.extra_days != 1 else ''} pregnant, written {g}."
            )
            st.text(f"Your estimated due date is {fmt_day(data.pregnancy.edd)}.")
    _patient_medicines(st, antenatal)
    _patient_calendars(st, antenatal)
    _patient_follow_ups(st, antenatal)
    _patient_urgent(st)
    return st.items


def _patient_medicines(st: _Story, antenatal: bool) -> None:
    d = st.data
    st.heading("Your medicines")
    if not d.plans:
        st.text("No medicines are planned for you at the moment.")
        return
    for plan in d.plans:
        edd = d.edd_for(plan.pregnancy_id)
        shown = _display_edd(d, plan.pregnancy_id) if antenatal else None
        unit = plan.display_unit

        def ga(day: dt.date | None, shown: dt.date | None = shown) -> str:
            g = _ga_on(shown, day)
            return f" ({g})" if g else ""

        block: list[Any] = [Paragraph(esc(_patient_name(plan)), st.s.h3)]
        lines = [
            ("What", _patient_name(plan)),
            ("How much", f"{_patient_amount(plan.dose, unit)} each time"),
            ("How", _ROUTE_PATIENT[_route(plan)]),
            ("How often", FREQUENCY_LABELS[plan.frequency]),
            ("From", f"{fmt_day(plan.start)}{ga(plan.start)}"),
        ]
        stop = plan.stop_date(edd)
        if stop is None:
            lines.append(("Until", "There is no planned stop date. Keep taking it until the clinic tells you to stop."))
        else:
            last = last_dose_day(plan, edd) or stop - dt.timedelta(days=1)
            lines.append(
                (
                    "Until",
                    f"Take your last dose on {fmt_day(last)}{ga(last)}. Stop on {fmt_day(stop)}{ga(stop)}: "
                    "no more doses from that day.",
                )
            )
        rows = [[Paragraph(f"<b>{esc(k)}</b>", st.s.body), Paragraph(esc(v), st.s.body)] for k, v in lines]
        block.append(
            Table(
                rows,
                colWidths=[FRAME_W * 0.22, FRAME_W * 0.78],
                hAlign="LEFT",
                style=TableStyle(
                    [
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("TOPPADDING", (0, 0), (-1, -1), 0),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                    ]
                ),
            )
        )
        taper = [seg for seg in segments(plan, edd) if seg.taper]
        if taper:
            block.append(Paragraph("<b>Lowering the dose step by step before stopping:</b>", st.s.body))
            for seg in taper:
                dosed = dosed_days(seg)
                end = dosed[1] if dosed else None
                span = f"From {fmt_day(seg.start)}{ga(seg.start)}"
                if end is not None:
                    span += f" to {fmt_day(end)}{ga(end)}"
                how_often = FREQUENCY_LABELS[seg.frequency]
                block.append(
                    Paragraph(
                        esc(f"{span}: {_patient_amount(seg.dose, unit)} each time, {how_often}."),
                        st.s.bullet,
                        bulletText="•",
                    )
                )
        st.add(KeepTogether(block))


def _short_unit(unit: str) -> bool:
    return len(_PATIENT_UNITS.get(unit, unit)) <= 5


def _calendar_cell(st: _Story, day: dt.date, entry: CalendarDay | None, stop: dt.date | None, unit: str) -> Any:
    label = f"{day.day}" if day.day != 1 else f"{day.day} {_MONTHS[day.month - 1]}"
    if entry is None:
        body = "Stop<br/>no dose" if day == stop else ""
    elif entry.dose == 0:
        body = "–"
    else:
        times = _TIMES_A_DAY[entry.frequency]
        # keep "400 mg" on one line; a long unit ("micrograms") is named once, in the calendar's title
        amount = _patient_amount(entry.dose, unit).replace(" ", "\u00a0") if _short_unit(unit) else f"{entry.dose:g}"
        body = amount + (f" ×{times}" if times > 1 else "")
        if entry.taper:  # next to the date, so a taper day is no taller than any other
            label += " T"
    return Paragraph(f"<b>{label}</b><br/>{body}", st.s.cell)


def _week_label(monday: dt.date, sunday: dt.date, shown: dt.date | None) -> str:
    label = f"{monday.day:02d}/{monday.month:02d}–{sunday.day:02d}/{sunday.month:02d}"
    g0, g1 = _ga_on(shown, monday), _ga_on(shown, sunday)
    return label + (f"<br/>{g0} to {g1}" if g0 and g1 else "")


def _calendar(st: _Story, plan: MedicationPlan, antenatal: bool) -> Any:
    """One row per week, Monday to Sunday, from this week to the stop (or eight weeks for a plan without a
    stop). A run of four or more identical whole weeks keeps its first and last week and shows the weeks in
    between as one "every day" row, so a plan to 36 weeks fits on a page without losing a day."""
    d = st.data
    edd = d.edd_for(plan.pregnancy_id)
    shown = _display_edd(d, plan.pregnancy_id) if antenatal else None
    stop = plan.stop_date(edd)
    first = max(plan.start, d.today)
    monday = first - dt.timedelta(days=first.weekday())
    last_shown = monday + dt.timedelta(weeks=8, days=-1) if stop is None else stop
    days = {c.date: c for c in dose_calendar(plan, edd, until=last_shown)}
    unit = plan.display_unit

    def entry(day: dt.date) -> CalendarDay | None:
        return days.get(day) if first <= day <= last_shown else None

    def same_every_day(week: dt.date) -> tuple[float, Frequency, bool] | None:
        entries = [entry(week + dt.timedelta(days=i)) for i in range(7)]
        kinds = {(e.dose, e.frequency, e.taper) if e is not None else None for e in entries}
        only = kinds.pop() if len(kinds) == 1 else None
        return only if only is not None and only[0] > 0 else None

    weeks = []
    week = monday
    while week <= last_shown:
        weeks.append(week)
        week += dt.timedelta(days=7)
    # (first Monday, last Monday) per row: whole runs collapsed in the middle
    spans: list[tuple[dt.date, dt.date]] = []
    i = 0
    while i < len(weeks):
        kind = same_every_day(weeks[i])
        j = i
        while kind is not None and j + 1 < len(weeks) and same_every_day(weeks[j + 1]) == kind:
            j += 1
        if j - i + 1 >= 4:
            spans += [(weeks[i], weeks[i]), (weeks[i + 1], weeks[j - 1]), (weeks[j], weeks[j])]
        else:
            spans += [(w, w) for w in weeks[i : j + 1]]
        i = j + 1

    rows: list[list[Any]] = [st.head("Week", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
    extra: list[tuple[Any, ...]] = []
    for start, end in spans:
        r = len(rows)
        sunday = end + dt.timedelta(days=6)
        label = Paragraph(_week_label(start, sunday, shown), st.s.cell)
        if start != end:
            kind = same_every_day(start)
            assert kind is not None
            dose, frequency, taper = kind
            text = (
                f"Every day from {fmt_day(start)} to {fmt_day(sunday)}: "
                f"{_patient_amount(dose, unit)} each time, {FREQUENCY_LABELS[frequency]}"
            )
            rows.append([label, Paragraph(esc(text), st.s.cell), *([""] * 6)])
            extra.append(("SPAN", (1, r), (7, r)))
            if taper:
                extra.append(("BACKGROUND", (1, r), (7, r), TAPER_BG))
            continue
        row = [label]
        for k in range(7):
            day = start + dt.timedelta(days=k)
            e = entry(day)
            row.append(_calendar_cell(st, day, e, stop, unit))
            if e is not None and e.taper:
                extra.append(("BACKGROUND", (k + 1, r), (k + 1, r), TAPER_BG))
            elif e is None and day != stop:
                extra.append(("BACKGROUND", (k + 1, r), (k + 1, r), OFF_BG))
            if day == stop:
                extra.append(("BOX", (k + 1, r), (k + 1, r), 1.5, INK))
        rows.append(row)
    return _table(rows, [1.6, 1, 1, 1, 1, 1, 1, 1], extra=extra)


def _patient_calendars(st: _Story, antenatal: bool) -> None:
    d = st.data
    if not d.plans:
        return
    st.add(CondPageBreak(230))  # the heading, its explanation and the first weeks of the first calendar
    st.heading("Your dose calendar")
    st.text(
        "One row for each week. Each day shows the date and the dose: for example “400 mg ×2” means 400 mg, "
        "twice that day. “–” means no dose that day. “T” marks the days of a lower dose while you stop step "
        "by step (shaded grey). Days before today are left empty."
    )
    for plan in d.plans:
        amount = _patient_amount(plan.dose, plan.display_unit)
        title = f"{_patient_name(plan)}: {amount}, {FREQUENCY_LABELS[plan.frequency]}"
        if not _short_unit(plan.display_unit):
            title += f" (doses in {_PATIENT_UNITS.get(plan.display_unit, plan.display_unit)})"
        st.add(CondPageBreak(150), Paragraph(esc(title), st.s.h3), _calendar(st, plan, antenatal))
        if plan.stop_date(d.edd_for(plan.pregnancy_id)) is None:
            st.text("This medicine continues after these dates: there is no planned stop date.")
        st.add(Spacer(1, 6))


def _patient_follow_ups(st: _Story, antenatal: bool) -> None:
    d = st.data
    st.heading("Your appointments and tests")
    open_id = d.pregnancy.id if d.pregnancy is not None else None
    items = [
        f
        for f in d.follow_ups
        # After a loss, scans and swabs of the pregnancy that ended are not printed for the patient.
        if antenatal or not (f.kind in ANTENATAL_KINDS and f.pregnancy_id is not None and f.pregnancy_id != open_id)
    ]
    if not items:
        st.text("No appointments or tests are booked at the moment.")
        return
    head = ["Date", "What"] + (["Week of pregnancy"] if antenatal and d.pregnancy is not None else [])
    rows = [st.head(*head)]
    for f in sorted(items, key=lambda f: f.due_date):
        what = _PATIENT_FOLLOW_UP[f.kind] + (f": {f.title}" if f.title else "")
        when = fmt_day(f.due_date)
        if f.window_days:
            lo, hi = f.due_date - dt.timedelta(days=f.window_days), f.due_date + dt.timedelta(days=f.window_days)
            when += f" (any day from {fmt_date(lo)} to {fmt_date(hi)})"
        if f.overdue(d.today):
            what += ". This date has passed: please call us to arrange it."
        row = st.cells(when, what)
        if len(head) == 3:
            row += st.cells(_ga_on(_display_edd(d, f.pregnancy_id), f.due_date) or "—")
        rows.append(row)
    st.add(_table(rows, [1.5, 2.6, 0.9] if len(head) == 3 else [1.5, 3.5]))


def _patient_urgent(st: _Story) -> None:
    c = st.data.clinic
    st.add(CondPageBreak(140))
    st.heading("If you have bleeding or pain")
    st.text(c.urgent_advice.strip() or GENERIC_URGENT_ADVICE)
    # With no number set, lines to write it on: a patient copy must never leave her without one.
    blank = "____________________"
    st.para(f"The clinic: {esc(c.phone) if c.phone else blank}", st.s.big)
    st.para(f"Out of hours: {esc(c.urgent_phone) if c.urgent_phone else blank}", st.s.big)
    if c.address:
        st.text(c.address, st.s.small)


# -- the document -----------------------------------------------------------------------------------------------


def _story(data: CarePlanData) -> list[Any]:
    patient = data.variant == Variant.PATIENT
    styles = _styles(patient)
    return _patient(data, styles) if patient else _clinician(data, styles)


def render_care_plans(plans: Sequence[CarePlanData], progress: Callable[[int, int], None] | None = None) -> bytes:
    """One PDF holding every care plan in ``plans``, each starting on a new page with its own header and its
    own "Page X of Y". ``progress(done, total)`` is called as each care plan is laid out."""
    if not plans:
        raise ValueError("No care plans to print.")
    register_fonts()
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=PAGE_H - HEADER_BOTTOM + 4 * mm,
        bottomMargin=FRAME_BOTTOM,
        title="Care plan",  # no identifiers in the metadata: file browsers show it
        author=plans[0].clinic.name if len({p.clinic.name for p in plans}) == 1 else "",
        creator="rmclinic",
        invariant=1,  # fixed dates and IDs: the same data gives the same bytes
        initialFontName=REGULAR,
    )
    templates = []
    for i, data in enumerate(plans):
        frame = Frame(
            MARGIN_X, FRAME_BOTTOM, FRAME_W, FRAME_H, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0
        )
        templates.append(PageTemplate(id=f"plan{i}", frames=[frame], onPage=_PageDecor(i, data)))
    doc.addPageTemplates(templates)
    story: list[Any] = []
    for i, data in enumerate(plans):
        if i:
            story += [NextPageTemplate(f"plan{i}"), PageBreak()]
        story += _story(data)
        if progress is not None:
            story.append(_Progress(progress, i + 1, len(plans)))
    doc.build(story, canvasmaker=_CarePlanCanvas)
    return buf.getvalue()


def render_care_plan(data: CarePlanData) -> bytes:
    """One care plan as a PDF."""
    return render_care_plans([data])
