"""Pieces every printed document shares: escaping user text, dates, fitting a line of text to a width, the
clinic logo, the Code128 barcode of the hospital number and the canvas that writes "Page X of Y".

Everything here is deterministic: with ``invariant`` set on the document, the same data gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from .fonts import BOLD

PAGE_W, PAGE_H = A4

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#52606d")
RULE = colors.HexColor("#9aa5b1")

BARCODE_H = 10 * mm
BARCODE_BAR_W = 1.0  # points per narrowest bar: scans reliably from a laser print at 200 dpi and up
MIN_BAR_W = 0.9

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- text and dates ---------------------------------------------------------------------------------------------


def esc(text: str) -> str:
    """User text for a Paragraph: markup characters escaped, line breaks kept."""
    return escape(text).replace("\r\n", "\n").replace("\n", "<br/>")


def fmt_date(d: dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def fmt_day(d: dt.date) -> str:
    """'Wednesday 03/03/2027' (weekday names fixed in English, whatever the printing machine's locale)."""
    return f"{_WEEKDAYS[d.weekday()]} {fmt_date(d)}"


def fmt_datetime(t: dt.datetime) -> str:
    return t.strftime("%d/%m/%Y %H:%M")


def local_time(t: dt.datetime) -> dt.datetime:
    """A stored time in the printing machine's time zone (a naive time is taken to be local already)."""
    return t.astimezone() if t.tzinfo else t


def local_date(t: dt.datetime) -> dt.date:
    return local_time(t).date()


# -- drawing lines of text on the canvas ------------------------------------------------------------------------


def fit_size(text: str, font: str, size: float, width: float, smallest: float) -> float:
    """The largest font size (down to ``smallest``) at which ``text`` fits ``width``."""
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def draw_line(c: Any, text: str, font: str, size: float, x: float, y: float, width: float) -> None:
    """One line of text, squeezed horizontally if it is still wider than ``width`` (an identifier is never cut)."""
    natural = stringWidth(text, font, size)
    t = c.beginText(x, y)
    t.setFont(font, size)
    squeezed = natural > width
    if squeezed:
        t.setHorizScale(100 * width / natural)
    t.textLine(text)
    if squeezed:  # the scale is graphics state: it would squeeze every later line of text on the page too
        t.setHorizScale(100)
    c.drawText(t)


def draw_fitted(
    c: Any,
    text: str,
    font: str,
    size: float,
    x: float,
    y: float,
    width: float,
    *,
    smallest: float = 7,
    truncate: bool = False,
) -> None:
    """Draw ``text`` at baseline ``y`` within ``width``, shrinking the type down to ``smallest``. Only text that
    identifies nobody (``truncate``, e.g. the clinic's name) is shortened with "…"; anything else is squeezed."""
    fitted = fit_size(text, font, size, width, smallest)
    if truncate:
        while len(text) > 1 and stringWidth(text, font, fitted) > width:
            text = text[:-2].rstrip() + "…"
    draw_line(c, text, font, fitted, x, y, width)


# -- images -----------------------------------------------------------------------------------------------------


def load_logo(raw: bytes | None) -> Any:
    """The clinic logo as an ImageReader, or None when there is none or it cannot be read."""
    if not raw:
        return None
    try:
        reader = ImageReader(io.BytesIO(raw))
        reader.getSize()
    except Exception:  # a damaged logo must not stop a document from printing
        return None
    return reader


def barcode(value: str, max_width: float) -> Any:
    """A Code128 barcode of ``value`` (no human-readable line: the caller prints it), ``BARCODE_H`` tall and at
    most ``max_width`` wide, quiet zones included, unless the bars would get too narrow to scan."""
    bar_w = BARCODE_BAR_W
    code = Code128(value, barHeight=BARCODE_H, barWidth=bar_w, humanReadable=False)
    if code.width > max_width:  # very long hospital numbers: narrower bars, never below what scans
        bar_w = max(MIN_BAR_W, bar_w * max_width / code.width)
        code = Code128(value, barHeight=BARCODE_H, barWidth=bar_w, humanReadable=False)
    return code


# -- page numbering ---------------------------------------------------------------------------------------------


class NumberedCanvas(Canvas):  # type: ignore[misc]
    """Holds every page back until the document ends, so "Page X of Y" can be written with the right Y, and
    each document in a batch has its own Y.

    Whatever draws a page sets ``page_label = (document index, page within it)``; pages without a label get no
    number. ``number_right`` is where the text ends and ``number_baseline`` its baseline: set by a subclass, or
    on the canvas by whatever draws the page (each page keeps its own)."""

    number_right: float = PAGE_W - 15 * mm
    number_baseline: float = 12.5 * mm
    number_font: str = BOLD
    number_size: float = 9

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []
        self.page_label: tuple[int, int] | None = None  # (document index, page within it), set per page

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self.page_label = None
        self._startPage()

    def save(self) -> None:
        totals = Counter(s["page_label"][0] for s in self._held if s["page_label"] is not None)
        for state in self._held:
            self.__dict__.update(state)
            if self.page_label is not None:
                document, number = self.page_label
                self.setFillColor(colors.black)
                self.setFont(self.number_font, self.number_size)
                self.drawRightString(self.number_right, self.number_baseline, f"Page {number} of {totals[document]}")
            super().showPage()
        super().save()
