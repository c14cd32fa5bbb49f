"""The letter to the GP about a clinic visit, as a formal A4 letter (ReportLab Platypus).

Page 1 carries the letterhead (logo, clinic name, address, telephone), the recipient, the letter's date and
the clinic date; every page carries a footer with the patient's identifiers, the letter's version, "Page X of
Y" and a Code128 barcode of the hospital number. A draft says "DRAFT — not signed, not for sending" at the
top of every page and has a light diagonal "DRAFT" behind the text; a signed letter never mentions a draft.
A correction opens with a boxed note naming the letter it replaces.

The body is the letter's plain text: paragraphs separated by blank lines, "## " lines are subheadings, "- "
lines are bullets (an indented line straight after a bullet continues it) and a single line break inside a
paragraph is kept. Every typed character is escaped: "<b>" and "&" print as typed.

Output is byte-for-byte reproducible (``invariant``): a signed letter's stored PDF can be made again exactly.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ..domain.identifiers import format_nhs_number
from ..domain.visit import VISIT_TYPE_LABELS
from ..services.letters import LetterData
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
    load_logo,
    local_date,
    local_time,
)
from .fonts import BOLD, REGULAR, register_fonts

MARGIN_X = 20 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X
TOP = PAGE_H - 14 * mm  # the letterhead (page 1) and the running header (later pages) start here
DRAFT_BASELINE = PAGE_H - 9 * mm  # the draft line, above everything else
LOGO_BOX = (45 * mm, 20 * mm)
CLINIC_BLOCK_W = 100 * mm  # the clinic's name, address and telephone, right-aligned at the top right
ADDRESS_LINES = 6
LATER_FRAME_TOP = PAGE_H - 22 * mm
FOOTER_TOP = 27 * mm  # the footer's rule; the footer is drawn below it
FRAME_BOTTOM = FOOTER_TOP + 4 * mm
BARCODE_MAX_W = 60 * mm

DRAFT_LINE = "DRAFT — not signed, not for sending"
DRAFT_RED = colors.HexColor("#b42318")
WATERMARK = colors.HexColor("#e3e6ea")
NOTE_BG = colors.HexColor("#f5f7fa")
DEFAULT_RECIPIENT = "The patient's GP"

BODY_SIZE = 10.5


# -- the letter's parts, as data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One piece of the body: ``kind`` is "heading", "bullet" or "paragraph"; ``text`` is plain text (a
    paragraph or bullet may hold line breaks)."""

    kind: str
    text: str


def body_blocks(body: str) -> list[Block]:
    """The letter's plain text split into headings, bullets and paragraphs (see the module docstring)."""
    blocks: list[Block] = []
    para: list[str] = []
    in_bullet = False  # the previous line was a bullet (or continued one)

    def flush() -> None:
        if para:
            blocks.append(Block("paragraph", "\n".join(para)))
            para.clear()

    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
            in_bullet = False
        elif line.startswith("## ") and line[3:].strip():
            flush()
            blocks.append(Block("heading", line[3:].strip()))
            in_bullet = False
        elif line.startswith("- ") and line[2:].strip():
            flush()
            blocks.append(Block("bullet", line[2:].strip()))
            in_bullet = True
        elif in_bullet and raw[:1].isspace():
            blocks[-1] = Block("bullet", f"{blocks[-1].text}\n{line}")
        else:
            para.append(line)
            in_bullet = False
    flush()
    return blocks


def full_name(data: LetterData) -> str:
    return f"{data.patient.given_name} {data.patient.family_name}".strip()


def letter_date(data: LetterData) -> dt.date:
    """The date the letter bears: the day it was signed, or for a draft the day it is printed."""
    signed_at = data.letter.signed_at
    return local_date(signed_at) if signed_at is not None and not data.draft else local_date(data.printed_at)


def correction_note(data: LetterData) -> str:
    old = data.supersedes
    if old is None:
        return ""
    when = f"the letter of {fmt_date(local_date(old.signed_at))}" if old.signed_at else "the earlier letter"
    return f"This letter corrects {when} (version {old.version}), which should be disregarded."


def _one_line(text: str) -> str:
    """A multi-line address as one line, parts separated by commas."""
    parts = [p.strip().rstrip(",") for p in text.replace("\r\n", "\n").split("\n")]
    return ", ".join(p for p in parts if p)


# -- styles -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    bold: ParagraphStyle
    heading: ParagraphStyle
    bullet: ParagraphStyle
    small: ParagraphStyle
    small_bold: ParagraphStyle
    note: ParagraphStyle


def _styles() -> _Styles:
    body = ParagraphStyle(
        "letter", fontName=REGULAR, fontSize=BODY_SIZE, leading=BODY_SIZE * 1.38, spaceAfter=7, textColor=INK
    )
    small = ParagraphStyle("small", parent=body, fontSize=9.5, leading=12.5, spaceAfter=0)
    return _Styles(
        body=body,
        bold=ParagraphStyle("bold", parent=body, fontName=BOLD),
        heading=ParagraphStyle(
            "heading", parent=body, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=6, spaceAfter=3
        ),
        bullet=ParagraphStyle(
            "bullet", parent=body, leftIndent=14, bulletIndent=3, bulletFontName=REGULAR, spaceAfter=3
        ),
        small=small,
        small_bold=ParagraphStyle("small_bold", parent=small, fontName=BOLD),
        note=ParagraphStyle("note", parent=body, fontName=BOLD, spaceAfter=0),
    )


# -- the page: letterhead, running header, footer, draft marking ------------------------------------------------


def _split(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    for part in text.replace("\r\n", "\n").split("\n"):
        if part.strip():
            lines += simpleSplit(part.strip(), font, size, width)
    return lines


def _cut(text: str, font: str, size: float, width: float) -> str:
    """``text`` shortened with "…" to fit ``width`` (only for text that identifies nobody)."""
    while len(text) > 1 and stringWidth(text, font, size) > width:
        text = text[:-2].rstrip() + "…"
    return text


def _draw_right(c: Any, text: str, font: str, size: float, right: float, y: float, width: float) -> None:
    """``text`` ending at ``right``, shrunk to fit ``width`` (down to 7 pt), squeezed if it still does not."""
    size = fit_size(text, font, size, width, 7)
    w = min(stringWidth(text, font, size), width)
    draw_line(c, text, font, size, right - w, y, width)


class _Letterhead:
    """Page 1's top: the logo at the top left, the clinic's name, address and telephone at the top right."""

    NAME_SIZE, NAME_LEADING = 12.5, 15.0
    LINE_SIZE, LINE_LEADING = 9.0, 11.5

    def __init__(self, data: LetterData) -> None:
        clinic = data.clinic
        self.logo = load_logo(clinic.logo)
        self.logo_size = (0.0, 0.0)
        if self.logo is not None:
            iw, ih = self.logo.getSize()
            scale = min(LOGO_BOX[0] / iw, LOGO_BOX[1] / ih)
            self.logo_size = (iw * scale, ih * scale)
        # the clinic's name: beside the logo, in smaller type or on two lines if it must; the name identifies
        # nobody, so a very long one is cut
        self.name_w = FRAME_W - (self.logo_size[0] + 8 * mm if self.logo is not None else 0)
        self.name_size = fit_size(clinic.name.strip(), BOLD, self.NAME_SIZE, self.name_w, 10.5)
        names = _split(clinic.name, BOLD, self.name_size, self.name_w)
        if len(names) > 2:
            names = [names[0], _cut(" ".join(names[1:]), BOLD, self.name_size, self.name_w)]
        self.names = names
        lines = _split(clinic.address, REGULAR, self.LINE_SIZE, CLINIC_BLOCK_W)
        if len(lines) > ADDRESS_LINES:
            lines = [*lines[: ADDRESS_LINES - 1], _cut(lines[ADDRESS_LINES - 1] + " …", REGULAR, 9, CLINIC_BLOCK_W)]
        if clinic.phone.strip():
            lines.append(f"Telephone {clinic.phone.strip()}")
        self.lines = lines
        text_bottom = TOP - self.NAME_LEADING * max(1, len(names)) - self.LINE_LEADING * len(lines) - 2
        self.bottom = min(text_bottom, TOP - self.logo_size[1]) - 4 * mm  # where the rule is drawn

    def draw(self, c: Any) -> None:
        right = PAGE_W - MARGIN_X
        if self.logo is not None:
            w, h = self.logo_size
            c.drawImage(self.logo, MARGIN_X, TOP - h, w, h, mask="auto")
        c.setFillColor(INK)
        y = TOP - self.NAME_SIZE + self.NAME_LEADING
        for name in self.names:
            y -= self.NAME_LEADING
            _draw_right(c, name, BOLD, self.name_size, right, y, self.name_w)
        c.setFillColor(MUTED)
        for line in self.lines:
            y -= self.LINE_LEADING
            _draw_right(c, line, REGULAR, self.LINE_SIZE, right, y, CLINIC_BLOCK_W)
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN_X, self.bottom, right, self.bottom)


class _PageDecor:
    """Draws the letterhead (page 1) or the running header (later pages), the footer, and on a draft the
    draft line and the watermark; tells the canvas where "Page X of Y" goes."""

    def __init__(self, data: LetterData, letterhead: _Letterhead) -> None:
        self.data = data
        self.letterhead = letterhead
        self.pages = 0
        self.barcode = barcode(data.patient.hospital_number, BARCODE_MAX_W)

    def __call__(self, c: Any, _doc: Any) -> None:
        self.pages += 1
        c.page_label = (0, self.pages)
        c.saveState()
        if self.data.draft:
            self._watermark(c)
        if self.pages == 1:
            self.letterhead.draw(c)
        else:
            self._running_header(c)
        self._footer(c)
        if self.data.draft:
            c.setFillColor(DRAFT_RED)
            c.setFont(BOLD, 10)
            c.drawCentredString(PAGE_W / 2, DRAFT_BASELINE, DRAFT_LINE)
        c.restoreState()

    def _watermark(self, c: Any) -> None:
        c.saveState()
        c.setFillColor(WATERMARK)
        c.translate(PAGE_W / 2, PAGE_H / 2)
        c.rotate(50)
        c.setFont(BOLD, 150)
        c.drawCentredString(0, -50, "DRAFT")
        c.restoreState()

    def _running_header(self, c: Any) -> None:
        right = PAGE_W - MARGIN_X
        c.setFillColor(MUTED)
        c.setFont(REGULAR, 8)
        continued = f"Letter of {fmt_date(letter_date(self.data))}, continued"
        c.drawRightString(right, TOP - 8, continued)
        width = FRAME_W - stringWidth(continued, REGULAR, 8) - 8 * mm
        draw_fitted(c, self.data.clinic.name, REGULAR, 8, MARGIN_X, TOP - 8, width, truncate=True)
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN_X, TOP - 4 * mm, right, TOP - 4 * mm)

    def _footer(self, c: Any) -> None:
        d, p = self.data, self.data.patient
        right = PAGE_W - MARGIN_X
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN_X, FOOTER_TOP, right, FOOTER_TOP)
        # the barcode's bars end at the right margin; its quiet zones stay clear of any text
        bc = self.barcode
        bc_x = right - bc.width + bc.rquiet
        c.setFillColor(colors.black)  # bars in full black: grey bars scan badly
        bc.drawOn(c, bc_x, FOOTER_TOP - 2.5 * mm - BARCODE_H)
        c.setFillColor(INK)
        c.setFont(REGULAR, 7.5)
        bars_middle = bc_x + bc.lquiet + (bc.width - bc.lquiet - bc.rquiet) / 2
        c.drawCentredString(bars_middle, FOOTER_TOP - 2.5 * mm - BARCODE_H - 3 * mm, p.hospital_number)
        text_right = bc_x - 1 * mm
        number_w = stringWidth("Page 99 of 99", BOLD, 9)
        c.number_right, c.number_baseline = text_right, FOOTER_TOP - 5 * mm  # where "Page X of Y" goes
        draw_fitted(c, full_name(d), BOLD, 9, MARGIN_X, FOOTER_TOP - 5 * mm, text_right - MARGIN_X - number_w - 4 * mm)
        ids = [f"Hospital number {p.hospital_number}", f"Date of birth {fmt_date(p.date_of_birth)}"]
        if p.nhs_number:
            ids.append(f"NHS number {format_nhs_number(p.nhs_number)}")
        c.setFillColor(INK)
        draw_fitted(
            c, "  ·  ".join(ids), REGULAR, 8, MARGIN_X, FOOTER_TOP - 9.5 * mm, text_right - MARGIN_X, smallest=6
        )
        state = [f"Letter version {d.letter.version}"]
        if d.draft:
            state.append("draft, not signed")
        elif d.letter.signed_at is not None:
            state.append(f"signed {fmt_date(local_date(d.letter.signed_at))}")
        if d.supersedes is not None:
            state.append(f"replaces version {d.supersedes.version}")
        c.setFillColor(MUTED)
        draw_fitted(c, "  ·  ".join(state), REGULAR, 8, MARGIN_X, FOOTER_TOP - 13.5 * mm, text_right - MARGIN_X)


# -- the story --------------------------------------------------------------------------------------------------


def _plain_table(rows: list[list[Any]], widths: list[float], extra: list[tuple[Any, ...]] | None = None) -> Table:
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        *(extra or []),
    ]
    return Table(rows, colWidths=widths, hAlign="LEFT", style=TableStyle(style))


def _address_and_dates(data: LetterData, s: _Styles) -> Table:
    recipient = data.letter.recipient.strip() or DEFAULT_RECIPIENT
    dates = [
        ("Date", fmt_date(letter_date(data))),
        ("Clinic date", fmt_date(data.visit.date)),
        ("Visit", VISIT_TYPE_LABELS[data.visit.type]),
    ]
    if data.visit.clinician.strip():
        dates.append(("Seen by", data.visit.clinician.strip()))
    right = _plain_table(
        [[Paragraph(esc(k), s.small_bold), Paragraph(esc(v), s.small)] for k, v in dates],
        [24 * mm, 46 * mm],
    )
    return _plain_table(
        [[Paragraph(esc(recipient), s.body), right]],
        [FRAME_W - 70 * mm, 70 * mm],
        [("RIGHTPADDING", (0, 0), (0, 0), 8 * mm)],
    )


def _re_block(data: LetterData, s: _Styles) -> Table:
    p = data.patient
    lines = [f"{full_name(data)}, date of birth {fmt_date(p.date_of_birth)}"]
    ids = f"Hospital number {p.hospital_number}"
    if p.nhs_number:
        ids += f", NHS number {format_nhs_number(p.nhs_number)}"
    lines.append(ids)
    address = _one_line(p.address)
    if address:
        lines.append(address)
    markup = "<br/>".join(esc(x) for x in lines)
    return _plain_table([[Paragraph("Re:", s.bold), Paragraph(markup, s.bold)]], [12 * mm, FRAME_W - 12 * mm])


def _correction_box(text: str, s: _Styles) -> Table:
    return Table(
        [[Paragraph(esc(text), s.note)]],
        colWidths=[FRAME_W],
        hAlign="LEFT",
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, INK),
                ("BACKGROUND", (0, 0), (-1, -1), NOTE_BG),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        ),
    )


def _body(data: LetterData, s: _Styles) -> list[Any]:
    out: list[Any] = []
    blocks = body_blocks(data.letter.body)
    for i, b in enumerate(blocks):
        if b.kind == "heading":
            out += [CondPageBreak(s.heading.leading + s.body.leading * 3), Paragraph(esc(b.text), s.heading)]
        elif b.kind == "bullet":
            last = i + 1 == len(blocks) or blocks[i + 1].kind != "bullet"
            style = ParagraphStyle("last_bullet", parent=s.bullet, spaceAfter=s.body.spaceAfter) if last else s.bullet
            out.append(Paragraph(esc(b.text), style, bulletText="•"))
        else:
            out.append(Paragraph(esc(b.text), s.body))
    return out


def _closing(data: LetterData, s: _Styles) -> list[Any]:
    letter = data.letter
    block: list[Any] = []
    if data.hospital_contact.strip():
        block.append(
            Paragraph(
                esc(
                    f"If you have any questions about this letter, please contact the clinic on "
                    f"{data.hospital_contact.strip()}."
                ),
                s.body,
            )
        )
    block += [Spacer(1, 2 * mm), Paragraph("Yours sincerely,", s.body), Spacer(1, 6 * mm)]
    if data.draft or letter.signed_at is None:
        block.append(Paragraph("Not signed yet: this is a draft.", s.bold))
    else:
        block.append(Paragraph(esc(letter.signed_by_name or letter.signed_by), s.bold))
        signed = f"Electronically signed on {fmt_datetime(local_time(letter.signed_at))}"
        block.append(Paragraph(esc(signed), s.small))
    if data.clinic.name.strip():
        block.append(Paragraph(esc(data.clinic.name.strip()), s.small))
    if letter.copy_to_patient:
        address = _one_line(data.patient.address)
        cc = "cc: the patient" + (f", {address}" if address else "")
        block += [Spacer(1, 6 * mm), Paragraph(esc(cc), s.small)]
    return [KeepTogether(block)]


def _story(data: LetterData, s: _Styles) -> list[Any]:
    story: list[Any] = [_address_and_dates(data, s), Spacer(1, 9 * mm)]
    story += [Paragraph("Dear Doctor,", s.body), Spacer(1, 1 * mm), _re_block(data, s), Spacer(1, 4 * mm)]
    note = correction_note(data)
    if note:
        story += [_correction_box(note, s), Spacer(1, 4 * mm)]
    story += _body(data, s)
    story += _closing(data, s)
    return story


def render_letter(data: LetterData) -> bytes:
    """The letter as a PDF. The same ``data`` always gives the same bytes."""
    register_fonts()
    letterhead = _Letterhead(data)
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=PAGE_H - LATER_FRAME_TOP,
        bottomMargin=FRAME_BOTTOM,
        title="Letter",  # no identifiers in the metadata: file browsers show it
        author=data.clinic.name,
        creator="rmclinic",
        invariant=1,  # fixed dates and IDs: the same data gives the same bytes
        initialFontName=REGULAR,
    )
    decor = _PageDecor(data, letterhead)

    def frame(top: float) -> Frame:
        return Frame(
            MARGIN_X,
            FRAME_BOTTOM,
            FRAME_W,
            top - FRAME_BOTTOM,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )

    doc.addPageTemplates(
        [
            PageTemplate(
                id="first", frames=[frame(letterhead.bottom - 6 * mm)], onPage=decor, autoNextPageTemplate="later"
            ),
            PageTemplate(id="later", frames=[frame(LATER_FRAME_TOP)], onPage=decor),
        ]
    )
    doc.build(_story(data, _styles()), canvasmaker=NumberedCanvas)
    return buf.getvalue()
