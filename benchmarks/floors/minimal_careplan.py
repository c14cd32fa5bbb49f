"""Floor of careplan_ratio: the same text as our care plan, laid out by the plainest ReportLab Platypus document.

The harness extracts the text of our PDF page by page (pypdf) and passes the lines here; they become
Paragraphs (the first page's opening lines one Table), a page break where our page ended, in the same bundled
DejaVu fonts, embedded as ours are. What remains between this and our renderer is the cost of our layout.
Imports nothing of rmclinic: the font folder is passed in.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

REGULAR = "FloorDejaVuSans"  # not the app's font names, so the two registrations never meet
BOLD = "FloorDejaVuSans-Bold"
TABLE_LINES = 8


def register_fonts(font_dir: Path) -> None:
    """Parse the TTFs once per process, as the app does (idempotent)."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, file in ((REGULAR, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf")):
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(font_dir / file)))


def build_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """One PDF page per entry of ``pages`` (more if a page's lines overflow); call ``register_fonts`` first."""
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=10, leading=12.5)
    head = ParagraphStyle("head", parent=body, fontName=BOLD)
    story: list[object] = []
    for number, lines in enumerate(pages):
        if number:
            story.append(PageBreak())
        rest = list(lines)
        if number == 0 and rest:
            cells = [[Paragraph(escape(line), head)] for line in rest[:TABLE_LINES]]
            table = Table(cells, colWidths=[170 * mm])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"), ("FONTNAME", (0, 0), (-1, -1), BOLD)]))
            story.append(table)
            rest = rest[TABLE_LINES:]
        story.extend(Paragraph(escape(line), body) for line in rest)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=15 * mm, bottomMargin=15 * mm
    )
    doc.build(story)
    return out.getvalue()
