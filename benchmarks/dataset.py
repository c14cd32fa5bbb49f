"""The synthetic clinic the benchmarks run on: the cached SQLite demo database (built with the real
``rmclinic demo-data``), a long-history patient added through the real services, working copies for
anything that writes, and the same data loaded into a throwaway PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .common import REPO, BenchError, rmclinic_exe, say

LONG_HOSPITAL_NUMBER = "BENCH-LONG"
LONG_RESULTS = 300
LONG_PREGNANCIES = 8
DEMO_TIMEOUT_S = 3600


@dataclass(frozen=True)
class DemoBuild:
    """How the demo data came to be: ``seconds`` is demo-data's wall time, ``measured_now`` says whether
    that was in this run or is the cached figure."""

    patients: int
    seconds: float
    head: str
    today: dt.date
    built_at: str
    measured_now: bool


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def run_demo_data(url: str, patients: int, today: dt.date, log_dir: Path) -> float:
    """``rmclinic demo-data`` in its own process, as a user runs it; returns its wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMCLINIC_")}
    env.update(RMCLINIC_DATABASE_URL=url, RMCLINIC_LOG_DIR=str(log_dir))
    cmd = [str(rmclinic_exe()), "demo-data", "--patients", str(patients), "--today", today.isoformat()]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"rmclinic demo-data --patients {patients} took more than {DEMO_TIMEOUT_S} s") from None
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchError(f"rmclinic demo-data failed (exit {proc.returncode}): {last}")
    return seconds


def _remove_sqlite(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so the file alone is the whole database and can be copied."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    Path(f"{path}-wal").unlink(missing_ok=True)
    Path(f"{path}-shm").unlink(missing_ok=True)


def ensure_sqlite_cache(cache: Path, patients: int) -> tuple[Path, DemoBuild]:
    """The cached demo database for ``patients``, with the long-history patient; built when missing or when
    the app's schema head has moved on (the sidecar JSON records both)."""
    from rmclinic.persistence.migrate import HEAD_REVISION

    cache.mkdir(parents=True, exist_ok=True)
    db = cache / f"demo-{patients}.sqlite3"
    sidecar = cache / f"demo-{patients}.json"
    meta: dict[str, Any] = {}
    if sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
    fresh = (
        db.exists()
        and meta.get("head") == HEAD_REVISION
        and meta.get("patients") == patients
        and meta.get("long_patient") == LONG_HOSPITAL_NUMBER
        and isinstance(meta.get("demo_data_s"), int | float)
    )
    if fresh:
        say(f"reusing the cached demo database ({patients:,} patients, built {meta['built_at']})")
        return db, DemoBuild(
            patients,
            float(meta["demo_data_s"]),
            HEAD_REVISION,
            dt.date.fromisoformat(meta["today"]),
            meta["built_at"],
            False,
        )
    building = cache / f"demo-{patients}.building.sqlite3"
    _remove_sqlite(building)
    today = dt.date.today()
    say(f"building the demo database: rmclinic demo-data --patients {patients:,} (schema {HEAD_REVISION})")
    seconds = run_demo_data(sqlite_url(building), patients, today, cache / "log")
    say(f"demo-data took {seconds:.1f} s; adding the long-history patient")
    add_long_patient(sqlite_url(building), today)
    _checkpoint(building)
    _remove_sqlite(db)
    os.replace(building, db)
    built_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    meta = {
        "patients": patients,
        "demo_data_s": seconds,
        "head": HEAD_REVISION,
        "today": today.isoformat(),
        "built_at": built_at,
        "long_patient": LONG_HOSPITAL_NUMBER,
    }
    sidecar.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return db, DemoBuild(patients, seconds, HEAD_REVISION, today, built_at, True)


def add_long_patient(url: str, today: dt.date) -> None:
    """A patient with a long record, through the real services (validated and audited as in the clinic):
    8 previous pregnancies, 300 results over three years, and a current pregnancy at 9+0 on ``today`` with
    a progesterone plan and taper, follow-ups and a scan series. Dates hang on ``today`` so the SQLite and
    PostgreSQL copies are the same."""
    from rmclinic.app import build_services
    from rmclinic.domain.dating import DatingMethod, date_entry
    from rmclinic.domain.followup import FollowUp, FollowUpKind
    from rmclinic.domain.medication import Anchor, DoseStep, Frequency, Indication, MedicationPlan
    from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
    from rmclinic.domain.patient import Partner, PatientData
    from rmclinic.domain.pregnancy import IupMethod
    from rmclinic.domain.workup import ResultValue

    services = build_services(url)
    try:
        services.auth.login("consultant", "demo")
        pregnancies = []
        for k in range(LONG_PREGNANCIES):
            year = today.year - 11 + k
            if k == 1:
                outcome, days = Outcome.LIVE_BIRTH, 39 * 7
            elif k == 5:
                outcome, days = Outcome.LATE_MISCARRIAGE, 16 * 7
            else:
                outcome, days = Outcome.EARLY_MISCARRIAGE, (6 + k % 4) * 7
            pregnancies.append(PreviousPregnancy(year, outcome, dt.date(year, 2 + k, 10), days))
        data = PatientData(
            LONG_HOSPITAL_NUMBER,
            "Longhistory",
            "Benchmark",
            dt.date(today.year - 41, 6, 1),
            partner=Partner("Longhistory", "Partner"),
            pregnancies=tuple(pregnancies),
        )
        pid = services.patients.register(data, confirm_possible_duplicate=True).id
        series = [
            ("tsh", 0.5, 6.0, "mIU/L"),
            ("ft4", 8.0, 25.0, "pmol/L"),
            ("vitamin_d", 20.0, 120.0, "nmol/L"),
            ("hba1c", 30.0, 50.0, "mmol/mol"),
            ("prolactin", 100.0, 800.0, "mIU/L"),
            ("tpo", 5.0, 200.0, "IU/mL"),
        ]
        first = today - dt.timedelta(days=3 * 365)
        for i in range(LONG_RESULTS):
            inv, low, high, unit = series[i % len(series)]
            value = round(low + (high - low) * ((i * 37) % 100) / 100, 2)
            services.workup.record_result(
                pid, inv, ResultValue(numeric=value, unit=unit), first + dt.timedelta(days=(i * 3) % (3 * 365))
            )
        view = services.pregnancy.start(pid, date_entry(DatingMethod.LMP, today, lmp=today - dt.timedelta(days=63)))
        p = view.pregnancy
        if p is None or p.id is None:
            raise BenchError("the long-history patient's pregnancy was not recorded")
        services.pregnancy.update(
            pid,
            p.id,
            p.version,
            replace(p, iup_confirmed_on=today - dt.timedelta(days=1), iup_method=IupMethod.TRANSVAGINAL),
        )
        plan = MedicationPlan(
            "progesterone_vaginal",
            400.0,
            Frequency.TWICE_DAILY,
            today - dt.timedelta(days=7),
            Indication.THREATENED_MISCARRIAGE,
            stop=Anchor(gestation_days=16 * 7),
            taper=(DoseStep(Anchor(gestation_days=14 * 7), 200.0, Frequency.TWICE_DAILY),),
        )
        services.pregnancy.save_plan(pid, plan)
        for kind, days, title in (
            (FollowUpKind.SWAB, 7, ""),
            (FollowUpKind.BLOOD_TEST, 3, "TSH"),
            (FollowUpKind.APPOINTMENT, 14, "Review"),
        ):
            services.pregnancy.add_follow_up(
                pid, FollowUp(kind, today + dt.timedelta(days=days), title=title, pregnancy_id=p.id)
            )
        protocols = services.pregnancy.protocols()
        if protocols:
            services.pregnancy.schedule_series(pid, protocols[0].key)
    finally:
        services.close()


def bare_connect(url: str) -> Any:
    """A plain DB-API connection (sqlite3, or psycopg in autocommit) for the floors' hand-written queries."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return sqlite3.connect(str(u.database))
    import psycopg

    host = u.query.get("host") or u.host
    return psycopg.connect(
        host=str(host),
        port=int(str(u.query.get("port") or u.port or 5432)),
        user=u.username,
        dbname=u.database,
        autocommit=True,
    )


class SqliteCopies:
    """Working copies of the cached file (each measurement that writes gets one; the cache never changes)."""

    backend = "sqlite"

    def __init__(self, pristine: Path, work: Path, demo: DemoBuild) -> None:
        self.pristine = pristine
        self.work = work
        self.demo = demo

    def fresh(self) -> str:
        target = self.work / f"work-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(self.pristine, target)
        os.chmod(target, 0o600)
        return sqlite_url(target)

    def discard(self, url: str) -> None:
        _remove_sqlite(Path(url.removeprefix("sqlite:///")))

    def server_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"


def _pg_server_class() -> Any:
    """tests/pgserver.py's PostgresServer (Debian's binaries, unix socket only), loaded by path."""
    path = REPO / "tests" / "pgserver.py"
    spec = importlib.util.spec_from_file_location("rmclinic_bench_pgserver", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PostgresCopies:
    """A throwaway PostgreSQL server holding the same demo data; working copies are CREATE DATABASE … TEMPLATE."""

    backend = "postgresql"

    def __init__(self, work: Path) -> None:
        module = _pg_server_class()
        bin_dir = module.find_bin_dir()
        if bin_dir is None:
            raise BenchError("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
        self.server = module.PostgresServer(bin_dir)
        self.work = work
        self.started = False
        self.demo: DemoBuild | None = None

    def start(self) -> None:
        try:
            self.server.start()
        except subprocess.CalledProcessError as e:
            raise BenchError(f"could not start PostgreSQL: {e}") from None
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.server.stop()
            self.started = False

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=str(self.server.socket_dir), port=self.server.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def load(self, patients: int, today: dt.date) -> DemoBuild:
        """demo-data into a new database (timed: a throwaway server never has a cache), then the long patient;
        ``today`` is the SQLite cache's, so both hold the same patients."""
        self._admin('CREATE DATABASE "bench"')
        url = self.server.url("bench")
        say(f"postgresql: rmclinic demo-data --patients {patients:,}")
        seconds = run_demo_data(url, patients, today, self.work / "log")
        say(f"postgresql: demo-data took {seconds:.1f} s; adding the long-history patient")
        add_long_patient(url, today)
        built_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        from rmclinic.persistence.migrate import HEAD_REVISION

        self.demo = DemoBuild(patients, seconds, HEAD_REVISION, today, built_at, True)
        return self.demo

    def fresh(self) -> str:
        name = f"work_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "bench"')
        return str(self.server.url(name))

    def discard(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def server_version(self) -> str:
        import psycopg

        with psycopg.connect(
            host=str(self.server.socket_dir), port=self.server.port, user="postgres", dbname="postgres"
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"
