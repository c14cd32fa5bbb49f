"""`make bench`: measure rmclinic on a synthetic 100,000-patient clinic against floors (the least the same
libraries need for the same job), and publish the figures with the machine they were measured on.

Usage: ``.venv/bin/python -m benchmarks.run [--patients N] [--db sqlite|postgresql] [--repeat R]
[--output PATH] [--cache DIR] [--no-readme]``. See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import report
from .common import REPO, BenchError, say
from .dataset import DemoBuild
from .processes import Launcher, measure_starts
from .stats import median, p95, sig

DEFAULT_OUTPUT = REPO / "benchmarks" / "results.json"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
FULL_SIZE = 100_000


class Copies(Protocol):
    """A backend holding the demo data, handing out working databases that may be written."""

    backend: str

    def fresh(self) -> str: ...

    def discard(self, url: str) -> None: ...

    def server_version(self) -> str: ...


@dataclass
class BackendResult:
    """One backend's twelve figures, the table's notes, everything else for the detail file."""

    figures: dict[str, float]
    notes: dict[str, str]
    detail: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "median": sig(median(samples)),
        "p95": sig(p95(samples)),
        "min": sig(min(samples)),
        "max": sig(max(samples)),
        "samples": [sig(s) for s in samples],
    }


def _ms(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f} ms"
    return f"{x:.1f} ms" if x >= 1 else f"{x:.2f} ms"


def measure_backend(
    copies: Copies, demo: DemoBuild, args: argparse.Namespace, work: Path, launcher: Launcher
) -> BackendResult:
    """Every figure on one backend; the pairs are interleaved inside this call."""
    from .inprocess import measure_alerts, measure_ui

    name = copies.backend
    repeat = args.repeat
    alert_runs, start_runs = min(repeat, 3), max(repeat, 5)

    say(f"{name}: every patient's alerts, {alert_runs} runs on fresh copies")
    alerts = measure_alerts(copies.fresh, copies.discard, alert_runs, repeat)
    alerts_s, url, evaluated = alerts.seconds, alerts.url, alerts.patients

    say(f"{name}: {start_runs} rounds of app and floor starts (first window, patient list)")
    starts = measure_starts(launcher, url, start_runs, work)
    say(f"{name}: in the window: search, open patient, timeline, worklist, care plans ({repeat} repeats)")
    ui = measure_ui(url, name, repeat)
    copies.discard(url)

    med = {k: median(v.seconds) * 1000 for k, v in starts.items()}
    rss = {k: median(v.rss_mb) for k, v in starts.items()}
    search_ratios = {k: median(p.ours) / median(p.floor) for k, p in ui.search.items()}
    service_ms = median([median(p.ours) for p in ui.search.values()])
    bare_ms = median([median(p.floor) for p in ui.search.values()])
    worst_key = max(search_ratios, key=lambda k: search_ratios[k])
    care = {v: (median(p.ours), median(p.floor)) for v, p in ui.careplan.items()}
    care_ratio = {v: o / f for v, (o, f) in care.items()}

    figures = {
        "first_window_ratio": med["first_window"] / med["bare_window"],
        "list_ratio": med["list"] / med["orm_list"],
        "search_keystroke_ms_p95": p95(ui.keystrokes_ms),
        "search_ratio": median(list(search_ratios.values())),
        "careplan_ratio": max(care_ratio.values()),
        "open_patient_ms": median(ui.open_patient_ms),
        "timeline_ms": median(ui.timeline_ms),
        "worklist_week_ms": median(ui.worklist_ms),
        "alerts_all_s": median(alerts_s),
        "careplan_ms": max(median(p.whole) for p in ui.careplan.values()),
        "peak_rss_mb": rss["list"],
        "demo_data_100k_s": demo.seconds,
    }
    bad = [k for k, v in figures.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise BenchError(f"{name}: not a positive finite figure: {', '.join(bad)}")
    figures = {k: sig(figures[k]) for k in report.KEYS}
    demo_note = "measured in this run" if demo.measured_now else f"cached, built {demo.built_at[:10]}"
    if args.patients != FULL_SIZE:
        demo_note += f", {args.patients:,} patients"
    notes = {
        "first_window_ratio": f"app {_ms(med['first_window'])} / bare window {_ms(med['bare_window'])}",
        "list_ratio": f"app {_ms(med['list'])} / ORM list {_ms(med['orm_list'])}",
        "search_keystroke_ms_p95": f"median {_ms(median(ui.keystrokes_ms))}, {len(ui.keystrokes_ms)} keystrokes",
        "search_ratio": f"service {_ms(service_ms)} / bare SQL {_ms(bare_ms)}; worst {search_ratios[worst_key]:.2f}",
        "careplan_ratio": ", ".join(
            f"{v} {care_ratio[v]:.2f} (layout {_ms(care[v][0])}, floor {_ms(care[v][1])})" for v in care
        ),
        "open_patient_ms": f"p95 {_ms(p95(ui.open_patient_ms))}; {ui.long_patient['results']} results, "
        f"{ui.long_patient['previous_pregnancies']} pregnancies",
        "timeline_ms": f"p95 {_ms(p95(ui.timeline_ms))}",
        "worklist_week_ms": f"p95 {_ms(p95(ui.worklist_ms))}, {ui.worklist_items:,} items "
        f"({ui.worklist_types.get('alert', 0):,} alerts); before the alert refresh "
        f"{_ms(median(alerts.worklist_before_ms))}, {alerts.worklist_before_items:,} items",
        "alerts_all_s": f"{evaluated:,} patients, {len(alerts_s)} runs",
        "careplan_ms": ", ".join(
            f"{v} {_ms(median(ui.careplan[v].whole))} ({ui.careplan[v].info['pages']} p)" for v in care
        ),
        "peak_rss_mb": f"bare window {rss['bare_window']:.0f} MB, ORM list {rss['orm_list']:.0f} MB",
        "demo_data_100k_s": demo_note,
    }
    detail = {
        "figures": figures,
        "budgets": report.BUDGETS,
        "ok": report.verdicts(figures),
        "notes": notes,
        "measurements": {
            "start_to_window_ms": {k: _summary([s * 1000 for s in v.seconds]) for k, v in starts.items()},
            "peak_rss_mb": {k: _summary(v.rss_mb) for k, v in starts.items()},
            "search_keystroke_ms": {**_summary(ui.keystrokes_ms), "keystrokes_per_round": ui.keystroke_count},
            "search_pairs_ms": {
                k: {
                    "service": _summary(p.ours),
                    "bare_sql": _summary(p.floor),
                    "ratio": sig(search_ratios[k]),
                    **p.info,
                }
                for k, p in ui.search.items()
            },
            "search_ratio_worst": {"keystrokes": worst_key, "ratio": sig(search_ratios[worst_key])},
            "open_patient_ms": _summary(ui.open_patient_ms),
            "timeline_ms": _summary(ui.timeline_ms),
            "worklist_week_ms": {**_summary(ui.worklist_ms), "items": ui.worklist_items, "types": ui.worklist_types},
            "worklist_week_ms_before_alert_refresh": {
                **_summary(alerts.worklist_before_ms),
                "items": alerts.worklist_before_items,
            },
            "alerts_all_s": {**_summary(alerts_s), "patients": evaluated},
            "careplan_ms": {
                v: {
                    "service": _summary(p.whole),
                    "layout": _summary(p.ours),
                    "floor": _summary(p.floor),
                    "ratio": sig(care_ratio[v]),
                    **p.info,
                }
                for v, p in ui.careplan.items()
            },
        },
        "long_history_patient": ui.long_patient,
        "start_page_worklist_loaded_s": sig(ui.start_page_worklist_s),
        "demo_data": {
            "seconds": sig(demo.seconds),
            "measured_in_this_run": demo.measured_now,
            "built_at": demo.built_at,
            "dated_relative_to": demo.today.isoformat(),
            "patients": demo.patients,
            "schema_head": demo.head,
        },
    }
    machine = report.machine(copies.server_version(), args.patients, repeat)
    return BackendResult(figures, notes, detail, machine)


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _compile_sources() -> None:
    """An installed app has its bytecode compiled; this machine may set PYTHONDONTWRITEBYTECODE=1, and then
    every start would recompile our modules."""
    proc = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "src")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchError(f"compileall src failed: {last}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--patients", type=int, default=FULL_SIZE, metavar="N", help="demo patients (default 100000)")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="postgresql: measure both backends")
    p.add_argument("--repeat", type=int, default=7, metavar="R", help="repeats of fast measures (default 7)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="PATH")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README's Performance section")
    args = p.parse_args(argv)
    if args.patients < 10:
        p.error("--patients must be at least 10")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def run(args: argparse.Namespace) -> int:
    from .dataset import PostgresCopies, SqliteCopies, ensure_sqlite_cache

    started = time.monotonic()
    started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    launcher = Launcher()  # first, while this process is still small
    try:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt
        _compile_sources()
        cache = args.cache.resolve()
        db, demo = ensure_sqlite_cache(cache, args.patients)
        work = cache / f"work-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        results: dict[str, BackendResult] = {}
        try:
            results["sqlite"] = measure_backend(SqliteCopies(db, work, demo), demo, args, work, launcher)
            if args.db == "postgresql":
                pg = PostgresCopies(work)
                say("postgresql: starting a throwaway server")
                pg.start()
                try:
                    pg_demo = pg.load(args.patients, demo.today)
                    results["postgresql"] = measure_backend(pg, pg_demo, args, work, launcher)
                finally:
                    pg.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        launcher.close()
    seconds = time.monotonic() - started

    output = args.output.resolve()
    detail_path = output.with_name(output.stem + "-detail.json")
    for name, r in results.items():
        path = output if name == "sqlite" else output.with_name(f"{output.stem}-{name}.json")
        _write_json(path, {**r.figures, "machine": r.machine})
    _write_json(
        detail_path,
        {
            "run": {
                "started": started_at,
                "seconds": round(seconds, 1),
                "patients": args.patients,
                "repeat": args.repeat,
            },
            "machine": results["sqlite"].machine,
            **{name: {**r.detail, "machine": r.machine} for name, r in results.items()},
        },
    )

    sq = results["sqlite"]
    if "postgresql" in results:
        pg_r = results["postgresql"]
        header = ["metric", "sqlite", "postgresql", "budget", "ok", "floor/detail (sqlite | postgresql)"]
        rows = report.side_by_side_rows(sq.figures, pg_r.figures, sq.notes, pg_r.notes)
    else:
        header = ["metric", "value", "budget", "ok", "floor/detail"]
        rows = report.table_rows(sq.figures, sq.notes)
    print(report.plain_table(header, rows))
    print(f"\n{args.patients:,} patients, {args.repeat} repeats; {report.machine_line(sq.machine)}")
    print(f"wrote {output} and {detail_path.name}; took {seconds / 60:.1f} min")

    if not args.no_readme and args.patients == FULL_SIZE and output == DEFAULT_OUTPUT.resolve():
        when = sq.machine["date"][:10]
        backends = " and ".join(f"{r.machine['database']}" for r in results.values())
        section = (
            f"`make bench` ({'`DB=postgresql`, ' if 'postgresql' in results else ''}{seconds / 60:.0f} min) on "
            f"{when}, {args.patients:,} demo patients, {args.repeat} repeats, {backends}; budgets are ceilings, "
            f"ratios are against floor programs ([benchmarks/README.md](benchmarks/README.md)).\n\n"
            f"{report.markdown_table(header, rows)}\n\nMachine: {report.machine_line(sq.machine)}."
        )
        report.update_readme(REPO / "README.md", section)
        say("README.md Performance section updated")
    return 0


def main(argv: list[str] | None = None) -> int:
    """One clear line and a non-zero exit on any failure (set BENCH_TRACEBACK=1 for the traceback)."""
    args = parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("BENCH_TRACEBACK") == "1":
            raise
        kind = "" if isinstance(e, BenchError) else f"{type(e).__name__}: "
        print(f"bench: error: {kind}{e}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
