"""Turning samples into the published figures: budgets, the machine they were measured on, the results
files, the printed table and the README's Performance section."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KEYS = (
    "first_window_ratio",
    "list_ratio",
    "search_keystroke_ms_p95",
    "search_ratio",
    "careplan_ratio",
    "open_patient_ms",
    "timeline_ms",
    "worklist_week_ms",
    "alerts_all_s",
    "careplan_ms",
    "peak_rss_mb",
    "demo_data_100k_s",
)

BUDGETS: dict[str, float] = {
    "first_window_ratio": 1.5,
    "list_ratio": 1.5,
    "search_keystroke_ms_p95": 16,
    "search_ratio": 3,
    "careplan_ratio": 2,
    "open_patient_ms": 100,
    "timeline_ms": 100,
    "worklist_week_ms": 300,
    "alerts_all_s": 30,
    "careplan_ms": 250,
    "peak_rss_mb": 250,
    "demo_data_100k_s": 120,
}

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine(database: str, patients: int, repeats: int) -> dict[str, Any]:
    """What the figures depend on besides our code."""
    import PySide6
    import reportlab
    import sqlalchemy

    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "memory": _memory(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "pyside6": PySide6.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "reportlab": reportlab.Version,
        "sqlite": sqlite3.sqlite_version,
        "alembic": _version("alembic"),
        "database": database,
        "patients": patients,
        "repeats": repeats,
    }


def verdicts(figures: Mapping[str, float]) -> dict[str, bool]:
    return {k: figures[k] <= BUDGETS[k] for k in KEYS}


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table_rows(figures: Mapping[str, float], notes: Mapping[str, str]) -> list[list[str]]:
    ok = verdicts(figures)
    return [[k, _fmt(figures[k]), f"≤ {BUDGETS[k]:g}", "ok" if ok[k] else "OVER", notes.get(k, "")] for k in KEYS]


def side_by_side_rows(
    a: Mapping[str, float], b: Mapping[str, float], notes_a: Mapping[str, str], notes_b: Mapping[str, str]
) -> list[list[str]]:
    ok_a, ok_b = verdicts(a), verdicts(b)
    return [
        [
            k,
            _fmt(a[k]),
            _fmt(b[k]),
            f"≤ {BUDGETS[k]:g}",
            f"{'ok' if ok_a[k] else 'OVER'} / {'ok' if ok_b[k] else 'OVER'}",
            f"{notes_a.get(k, '')} | {notes_b.get(k, '')}",
        ]
        for k in KEYS
    ]


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip(), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def cells(r: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"

    return "\n".join([cells(header), "| " + " | ".join("---" for _ in header) + " |", *(cells(r) for r in rows)])


def machine_line(m: Mapping[str, Any]) -> str:
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}; Python {m['python']}, PySide6 {m['pyside6']}, "
        f"SQLAlchemy {m['sqlalchemy']}, ReportLab {m['reportlab']}, SQLite {m['sqlite']}, alembic {m['alembic']}"
    )


def update_readme(readme: Path, section: str) -> None:
    """Replace the text between the bench markers (added under "## Performance" before "## Architecture", or
    at the end, when missing); nothing else in the README changes."""
    text = readme.read_text(encoding="utf-8")
    block = f"{START}\n{section.strip()}\n{END}"
    if START in text and END in text and text.index(START) < text.index(END):
        new = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        insert = f"## Performance\n\n{block}\n\n"
        m = re.search(r"^## Architecture\s*$", text, flags=re.MULTILINE)
        new = (
            text[: m.start()] + insert + text[m.start() :]
            if m
            else text.rstrip("\n") + "\n\n" + insert.rstrip("\n") + "\n"
        )
    if new != text:
        tmp = readme.with_name(readme.name + ".bench-tmp")
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, readme)
