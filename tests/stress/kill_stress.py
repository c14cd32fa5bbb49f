"""Kill a writing process at random moments; after every kill the database must be whole.

Checks after each SIGKILL: `PRAGMA integrity_check` is ok, every write the child reported committed
is there, the audit chain verifies, and the app opens the database. Work killed: saves through the
services, demo-data, migrations and backups.

    python tests/stress/kill_stress.py --kills 200      (make stress)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def check(db: Path, committed: list[str]) -> str | None:
    """None when the database is whole; otherwise what is wrong."""
    from rmclinic.app import build_services
    from rmclinic.domain.accounts import Actor, Role

    con = sqlite3.connect(db)
    try:
        result = con.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            return f"integrity_check: {result[:3]}"
    finally:
        con.close()
    svc = build_services(f"sqlite:///{db}")  # "opens": migrates if a migration was interrupted
    try:
        svc.session.actor = Actor(None, "stress-check", Role.ADMIN, "stress-test")
        report = svc.audit.verify()
        if not report.ok:
            return f"audit chain: {report.problem}"
        con = sqlite3.connect(db)
        try:
            for line in committed:
                parts = line.split()
                if parts[0] != "COMMITTED":
                    continue
                row = con.execute("SELECT phone FROM patient WHERE hospital_number = ?", (parts[1],)).fetchone()
                if row is None:
                    return f"lost a committed patient {parts[1]}"
                if len(parts) == 4 and row[0] < parts[3]:
                    return f"lost a committed change to {parts[1]}"
        finally:
            con.close()
        svc.session.actor = Actor(None, "stress-check", Role.NURSE, "stress-test")
        svc.patients.count()
    finally:
        svc.close()
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="rmclinic-stress-"))
    env = {**os.environ, "RMCLINIC_LOG_DIR": str(work / "logs"), "QT_QPA_PLATFORM": "offscreen"}
    db = work / "clinic.sqlite3"
    url = f"sqlite:///{db}"
    subprocess.run(
        [PY, "-m", "rmclinic", "--database", url, "demo-data", "--patients", "50"],
        check=True,
        env=env,
        capture_output=True,
    )
    # A database at the first schema revision, holding data, for interrupted migrations.
    old = work / "old.sqlite3"
    subprocess.run(
        [PY, "-m", "rmclinic", "--database", f"sqlite:///{old}", "demo-data", "--patients", "30"],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [PY, "-m", "alembic", "downgrade", "0001"],
        check=True,
        capture_output=True,
        cwd=HERE.parent.parent,
        env={**env, "RMCLINIC_DATABASE_URL": f"sqlite:///{old}"},
    )
    modes = ["saves", "saves", "demo", "migrate", "backups"]
    counts = dict.fromkeys(modes, 0)
    print(f"stress: {args.kills} kills, seed {args.seed}, in {work}", flush=True)
    for k in range(args.kills):
        mode = rng.choice(modes)
        counts[mode] += 1
        target = db
        if mode == "saves" or mode == "backups":
            cmd = [PY, str(HERE / "writer.py"), mode, url, str(k)]
        elif mode == "demo":
            cmd = [
                PY,
                "-m",
                "rmclinic",
                "--database",
                url,
                "demo-data",
                "--patients",
                "3000",
                "--force",
                "--seed",
                str(k),
            ]
        else:
            target = work / "migrating.sqlite3"
            for side in ("", "-wal", "-shm"):
                Path(str(target) + side).unlink(missing_ok=True)
            shutil.copy(old, target)
            cmd = [PY, "-m", "rmclinic", "--database", f"sqlite:///{target}", "db", "upgrade"]
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(rng.uniform(0.4, 2.5))
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        lines = out.splitlines()
        try:
            problem = check(target, lines if mode == "saves" else [])
        except Exception as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:300]}"
        if problem:
            print(f"FAIL after kill {k + 1} ({mode}): {problem}\n{err[-2000:]}", flush=True)
            print(f"kept for inspection: {work}")
            return 1
        if (k + 1) % 20 == 0:
            print(f"  {k + 1} kills survived ({', '.join(f'{m} {n}' for m, n in counts.items())})", flush=True)
    print(f"{args.kills} passed, 0 failed: every kill left a whole database", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
