"""The bundled DejaVu Sans fonts (resources/fonts, with their licence).

ReportLab's built-in Helvetica only covers Latin-1, so names such as Łucja, Nguyễn or Ağaoğlu would lose
letters; DejaVu Sans covers Latin, Greek and Cyrillic. The fonts are registered once per process.
"""

from __future__ import annotations

import threading

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from ..paths import resource

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
ITALIC = "DejaVuSans-Oblique"

_lock = threading.Lock()  # care plans may be drawn on a worker thread
_registered = False


def register_fonts() -> None:
    """Register the fonts with ReportLab (idempotent, thread-safe)."""
    global _registered
    with _lock:
        if _registered:
            return
        for name in (REGULAR, BOLD, ITALIC):
            pdfmetrics.registerFont(TTFont(name, str(resource("fonts", f"{name}.ttf"))))
        # <b> and <i> in Paragraphs pick the right face; there is no bold oblique, so bold stands in for it.
        addMapping(REGULAR, 0, 0, REGULAR)
        addMapping(REGULAR, 1, 0, BOLD)
        addMapping(REGULAR, 0, 1, ITALIC)
        addMapping(REGULAR, 1, 1, BOLD)
        _registered = True
