"""Getting a finished PDF to paper, to a file, or to the system viewer.

The care plan is drawn once, by ReportLab; Qt's print dialog chooses the printer and copies, and the PDF
itself goes to the print system (CUPS takes PDF as it is), so the paper copy is the same document as the
saved one, with the same hash stamped on it. Temporary copies live in a private folder and are removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog, QWidget

from ..fileio import write_private_atomically
from .common import tr


def _run(args: Sequence[str]) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=60)


# Replaced in tests: the command that hands a PDF to the print system.
run_command: Callable[[Sequence[str]], None] = _run


class PrintFailed(Exception):
    pass


def _private_dir() -> Path:
    """A folder only this user can read, for copies handed to the viewer or the printer."""
    from ..paths import cache_dir

    path = cache_dir() / "printouts"
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def temp_pdf(pdf: bytes, stem: str) -> Path:
    fd, name = tempfile.mkstemp(dir=_private_dir(), prefix=f"{stem}-", suffix=".pdf")
    os.close(fd)
    write_private_atomically(Path(name), pdf)
    return Path(name)


def clean_old_printouts(keep_seconds: float = 24 * 3600) -> None:
    """Copies opened in the viewer must outlive the call; they are removed a day later."""
    import time

    try:
        for p in _private_dir().glob("*.pdf"):
            if time.time() - p.stat().st_mtime > keep_seconds:
                p.unlink(missing_ok=True)
    except OSError:
        pass


def choose_printer(parent: QWidget | None, title: str, exec_dialog: Callable[[QPrintDialog], int]) -> QPrinter | None:
    """The system print dialog: printer, copies, or a file. None when cancelled."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setDocName(title)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(tr("Print {title}").format(title=title))
    return printer if exec_dialog(dialog) == 1 else None


def deliver(printer: QPrinter, pdf: bytes, title: str, one_sided: bool = False) -> None:
    """The PDF to the printer chosen (or to the file chosen in the dialog). ``one_sided`` for a batch of
    several patients: on a duplex printer the next patient's first page must not land on the back of the
    last page of the one before."""
    if printer.outputFormat() is QPrinter.OutputFormat.PdfFormat and printer.outputFileName():
        write_private_atomically(Path(printer.outputFileName()), pdf)
        return
    send_to_printer(pdf, printer.printerName(), max(1, printer.copyCount()), title, one_sided)


def ask_print_pdf(
    parent: QWidget | None, pdf_maker: Callable[[], bytes], title: str, exec_dialog: Callable[[QPrintDialog], int]
) -> bool:
    """Print dialog, then the PDF to the chosen printer. False if cancelled. The PDF is made only once the
    user has chosen to print (making it is what gets audited)."""
    printer = choose_printer(parent, title, exec_dialog)
    if printer is None:
        return False
    deliver(printer, pdf_maker(), title)
    return True


def send_to_printer(pdf: bytes, printer_name: str, copies: int, title: str, one_sided: bool = False) -> None:
    path = temp_pdf(pdf, "print")
    try:
        if sys.platform.startswith("win"):
            os.startfile(str(path), "print")  # type: ignore[attr-defined]  # the default PDF handler prints
            return
        lp = shutil.which("lp")
        if lp:
            args = [lp, "-n", str(copies), "-t", title]
            if one_sided:
                args += ["-o", "sides=one-sided"]
            if printer_name:
                args += ["-d", printer_name]
            run_command([*args, str(path)])
        else:
            lpr = shutil.which("lpr")
            if not lpr:
                raise PrintFailed(tr("No print system was found (lp or lpr). Save the PDF and print it from there."))
            args = [lpr, "-#", str(copies), "-T", title] + (["-P", printer_name] if printer_name else [])
            if one_sided:
                args += ["-o", "sides=one-sided"]
            run_command([*args, str(path)])
    except (OSError, subprocess.SubprocessError) as e:
        raise PrintFailed(tr("The printer did not accept the document: {e}").format(e=e)) from None
    finally:
        if not sys.platform.startswith("win"):
            path.unlink(missing_ok=True)


def choose_pdf_file(parent: QWidget | None, suggested: str) -> Path | None:
    name, _ = QFileDialog.getSaveFileName(parent, tr("Save as PDF"), suggested, tr("PDF documents (*.pdf)"))
    if not name:
        return None
    return Path(name if name.lower().endswith(".pdf") else name + ".pdf")


def ask_save_pdf(parent: QWidget | None, pdf_maker: Callable[[], bytes], suggested: str) -> Path | None:
    """Save as: the PDF is only made once a file has been chosen (making it is what gets audited)."""
    path = choose_pdf_file(parent, suggested)
    if path is not None:
        write_private_atomically(path, pdf_maker())
    return path


def open_in_viewer(pdf: bytes, stem: str) -> Path:
    clean_old_printouts()
    path = temp_pdf(pdf, stem)
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        raise PrintFailed(tr("No PDF viewer is set up on this computer. Save the PDF instead."))
    return path
