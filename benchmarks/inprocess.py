"""Measurements inside one process, as a user meets them in the running app: typing a search, opening a
patient, drawing the timeline, the week's worklist, every patient's alerts, and printing a care plan; the
search and the care plan each against their floor, interleaved sample by sample."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .baresearch import PAGE, bare_query
from .common import FONTS, BenchError, say
from .dataset import LONG_HOSPITAL_NUMBER, bare_connect
from .floors import minimal_careplan

if TYPE_CHECKING:
    from rmclinic.services.container import Services

SURNAME = "Whitfield"  # a demo surname (the scripted patient RM000002 and others)
VARIANTS = ("patient", "clinician")
IDLE_MS = 6 * 3600 * 1000  # the screen lock must not fall mid-run
WORKLIST_WAIT_S = 600


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


@dataclass
class Pair:
    """Ours against its floor, in milliseconds, sampled alternately."""

    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    whole: list[float] = field(default_factory=list)  # care plans: the service call end to end (data + PDF)


@dataclass
class UiResults:
    keystrokes_ms: list[float] = field(default_factory=list)
    keystroke_count: int = 0
    search: dict[str, Pair] = field(default_factory=dict)  # keyed "surname:3" / "hospital_number:5" (no text)
    open_patient_ms: list[float] = field(default_factory=list)
    timeline_ms: list[float] = field(default_factory=list)
    worklist_ms: list[float] = field(default_factory=list)
    worklist_items: int = 0
    worklist_types: dict[str, int] = field(default_factory=dict)
    careplan: dict[str, Pair] = field(default_factory=dict)
    long_patient: dict[str, int] = field(default_factory=dict)
    start_page_worklist_s: float = 0.0  # the nurse's start page: window built to its worklist shown


@dataclass
class AlertRuns:
    seconds: list[float]
    url: str  # the last copy, now holding current alerts
    patients: int
    worklist_before_ms: list[float]  # the week's worklist on the same data before any alert was recorded
    worklist_before_items: int


def measure_alerts(fresh: Callable[[], str], discard: Callable[[str], None], runs: int, repeat: int) -> AlertRuns:
    """``refresh_all`` on a fresh copy each time (it writes every patient's alert state). The last copy, as
    after the nightly job, is the working database for the rest. On the first copy the week's worklist is
    timed before the refresh too, for comparison (the worklist lists the alerts the refresh records)."""
    from rmclinic.app import build_services

    out = AlertRuns([], "", 0, [], 0)
    for i in range(runs):
        if out.url:
            discard(out.url)
        out.url = fresh()
        services = build_services(out.url)
        try:
            services.auth.login("consultant", "demo")
            if i == 0:
                today = services.worklist.today()
                for rep in range(repeat + 1):
                    t0 = time.perf_counter()
                    out.worklist_before_items = len(services.worklist.items(today, 7))
                    if rep:
                        out.worklist_before_ms.append(_ms(t0))
            t0 = time.perf_counter()
            out.patients = services.alerts.refresh_all()
            out.seconds.append(time.perf_counter() - t0)
        finally:
            services.close()
        say(f"  alerts refresh_all {i + 1}/{runs}: {out.seconds[-1]:.2f} s")
    return out


HARMLESS_QT = ("This plugin does not support",)  # the offscreen platform's notes (as in pyproject's pytest-qt)


def _quiet_offscreen_notes() -> None:
    """Pass Qt's messages on to stderr, except the offscreen platform's harmless notes."""
    import sys

    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode: object, _context: object, message: str) -> None:
        if not message.startswith(HARMLESS_QT):
            print(f"Qt: {message}", file=sys.stderr)

    qInstallMessageHandler(handler)


@contextmanager
def _window(url: str) -> Iterator[tuple[Any, Services, Any, float]]:
    """The real main window, offscreen, logged in as the demo nurse (real password check and audit); also
    the seconds from building the window to its start page's worklist loaded."""
    from rmclinic.app import build_services
    from rmclinic.ui.main import make_application
    from rmclinic.ui.main_window import MainWindow

    app = make_application()
    _quiet_offscreen_notes()
    services = build_services(url)
    window = None
    try:
        services.auth.login("nurse", "demo")
        t0 = time.perf_counter()
        window = MainWindow(services, remember_geometry=False, idle_ms=IDLE_MS)
        window.resize(1280, 800)
        window.load()
        window.show()
        app.processEvents()
        _wait_for_worklist(app, window)
        loaded = time.perf_counter() - t0
        window.on_find()
        app.processEvents()
        yield app, services, window, loaded
    finally:
        if window is not None:
            window.close()
            window.deleteLater()
            app.processEvents()
        services.close()


def _wait_for_worklist(app: Any, window: Any) -> None:
    """The nurse's start page loads the worklist in a background thread; let it finish before timing, so a
    keystroke measures the search and not that load landing in the middle of it."""
    t0 = time.perf_counter()
    while getattr(window.worklist_page, "loading", False):
        if time.perf_counter() - t0 > WORKLIST_WAIT_S:
            raise BenchError(f"the worklist page was still loading after {WORKLIST_WAIT_S} s")
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


def _pick_hospital_number(conn: Any) -> str:
    """A real hospital number from the middle of the demo numbers (RM000001 …)."""
    count = conn.execute(
        "SELECT count(*) FROM patient WHERE archived_at IS NULL AND hospital_number LIKE 'RM%'"
    ).fetchone()[0]
    row = conn.execute(
        "SELECT hospital_number FROM patient WHERE archived_at IS NULL AND hospital_number LIKE 'RM%' "
        f"ORDER BY hospital_number LIMIT 1 OFFSET {int(count) // 2}"
    ).fetchone()
    if row is None:
        raise BenchError("the demo database holds no RM hospital numbers")
    return str(row[0])


def measure_ui(url: str, backend: str, repeat: int) -> UiResults:
    from PySide6.QtTest import QTest

    from rmclinic.services.dto import PatientQuery
    from rmclinic.ui.timeline_view import TimelineView

    out = UiResults()
    bare = bare_connect(url)
    try:
        hospital_number = _pick_hospital_number(bare)
        sequences = {"surname": SURNAME, "hospital_number": hospital_number}
        with _window(url) as (app, services, window, worklist_loaded):
            out.start_page_worklist_s = worklist_loaded
            page = window.patients
            if not services.patients.search(PatientQuery(text=SURNAME), 0, 1).rows:
                raise BenchError("the demo data lacks the surname the search benchmark types")
            long_record = services.patients.find_by_hospital_number(LONG_HOSPITAL_NUMBER)
            if long_record is None:
                raise BenchError("the long-history patient is missing from the database")
            pid = long_record.id
            out.long_patient = {
                "previous_pregnancies": len(long_record.data.pregnancies),
                "results": len(services.workup.view(pid).items),
            }

            # 3. typing into the search field: key event, the debounced search run at once, the list redrawn
            def first_id(text: str) -> int | None:
                rows = services.patients.search(PatientQuery(text=text), 0, PAGE).rows
                return rows[0].id if rows else None

            for rep in range(repeat + 1):  # the first round warms up, untimed
                for seq in sequences.values():
                    page.search.clear()
                    page.run_search()
                    app.processEvents()
                    for k, ch in enumerate(seq):
                        t0 = time.perf_counter()
                        QTest.keyClicks(page.search, ch)
                        page.run_search()
                        app.processEvents()
                        elapsed = _ms(t0)
                        row = page.model.row_at(0)
                        if page.search.text() != seq[: k + 1] or (row.id if row else None) != first_id(seq[: k + 1]):
                            raise BenchError("the patient list did not show what the search service returns")
                        if rep:
                            out.keystrokes_ms.append(elapsed)
            out.keystroke_count = sum(len(s) for s in sequences.values())

            # search_ratio: the service against one hand-written query through the bare driver
            for label, seq in sequences.items():
                for k in range(1, len(seq) + 1):
                    text = seq[:k]
                    sql, params = bare_query(text, backend)
                    pair = Pair()
                    for rep in range(repeat + 1):
                        t0 = time.perf_counter()
                        result = services.patients.search(PatientQuery(text=text), 0, PAGE)
                        ours = _ms(t0)
                        t0 = time.perf_counter()
                        rows = bare.execute(sql, params).fetchall()
                        floor = _ms(t0)
                        if rep == 0:
                            if [r.id for r in result.rows] != [r[0] for r in rows]:
                                raise BenchError(
                                    f"the bare search query disagrees with the service ({label}, {k} keys)"
                                )
                            continue
                        pair.ours.append(ours)
                        pair.floor.append(floor)
                    pair.info = {"rows": len(rows)}
                    out.search[f"{label}:{k}"] = pair

            # 4. opening the long-history patient (another one in between, so it really reloads)
            other = services.patients.search(PatientQuery(text=SURNAME), 0, 1).rows[0].id
            for rep in range(repeat + 1):
                page.open_patient(other)
                app.processEvents()
                t0 = time.perf_counter()
                page.open_patient(pid)
                app.processEvents()
                window.repaint()
                if rep:
                    out.open_patient_ms.append(_ms(t0))

            # 7. the timeline: built by the service and drawn
            view = TimelineView()
            view.resize(1100, 700)
            view.show()
            app.processEvents()
            for rep in range(repeat + 1):
                t0 = time.perf_counter()
                view.set_layout(services.careplans.timeline(pid))
                view.grab()
                if rep:
                    out.timeline_ms.append(_ms(t0))
            view.close()
            view.deleteLater()

            # 5. the worklist for a week, across all patients
            today = services.worklist.today()
            for rep in range(repeat + 1):
                t0 = time.perf_counter()
                items = services.worklist.items(today, 7)
                if rep:
                    out.worklist_ms.append(_ms(t0))
            out.worklist_items = len(items)
            for item in items:
                out.worklist_types[item.type] = out.worklist_types.get(item.type, 0) + 1

            # 8. care plans against the same text in a minimal ReportLab document
            out.careplan = {v: _careplan_pair(services, pid, v, repeat) for v in VARIANTS}
    finally:
        bare.close()
    return out


def _careplan_pair(services: Services, pid: int, variant: str, repeat: int) -> Pair:
    from pypdf import PdfReader

    ours_pdf = services.careplans.render(pid, variant)  # warm-up, and the text the floor lays out
    pages = [
        [line.strip() for line in (p.extract_text() or "").splitlines() if line.strip()]
        for p in PdfReader(io.BytesIO(ours_pdf)).pages
    ]
    minimal_careplan.register_fonts(FONTS)
    floor_pdf = minimal_careplan.build_pdf(pages)
    from rmclinic.app import render_care_plans

    # The ratio compares like with like: our renderer laying out the care plan's data, against the plainest
    # document of the same text. The service call (reading the record, evaluating the alerts, then the same
    # layout) is careplan_ms.
    data = services.careplans.data(pid, variant)
    render_care_plans([data])
    pair = Pair()
    for _ in range(repeat):
        t0 = time.perf_counter()
        services.careplans.render(pid, variant)
        pair.whole.append(_ms(t0))
        t0 = time.perf_counter()
        render_care_plans([data])
        pair.ours.append(_ms(t0))
        t0 = time.perf_counter()
        minimal_careplan.build_pdf(pages)
        pair.floor.append(_ms(t0))
    pair.info = {
        "pages": len(pages),
        "lines": sum(len(p) for p in pages),
        "bytes": len(ours_pdf),
        "floor_pages": len(PdfReader(io.BytesIO(floor_pdf)).pages),
        "floor_bytes": len(floor_pdf),
    }
    return pair
