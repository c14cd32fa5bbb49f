"""Child process for the kill test: does one kind of writing work until it is killed.

Prints a line for every write only after its commit returned, so the parent knows what must survive.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path

from rmclinic.app import build_services
from rmclinic.domain.accounts import Actor, Role
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy
from rmclinic.domain.patient import PatientData, RiskHistory


def saves(url: str, tag: str) -> None:
    svc = build_services(url)
    svc.session.actor = Actor(None, "stress", Role.NURSE, "stress-test")
    i = 0
    while True:
        i += 1
        hosp = f"S{tag}X{i}"
        rec = svc.patients.register(
            PatientData(
                hosp,
                "Stress",
                "Test",
                dt.date(1990, 1, 1),
                pregnancies=(PreviousPregnancy(2020, Outcome.EARLY_MISCARRIAGE, gestation_days=50),),
            ),
            confirm_possible_duplicate=True,
        )
        print(f"COMMITTED {hosp}", flush=True)
        rec = svc.patients.update_demographics(rec.id, rec.version, replace(rec.data, phone=f"0{i:010d}"))
        print(f"COMMITTED {hosp} phone 0{i:010d}", flush=True)
        svc.patients.update_risk(rec.id, rec.risk_version, RiskHistory(smoking="never", weight_kg=60 + i % 30))


def backups(url: str, tag: str) -> None:
    svc = build_services(url)
    svc.session.actor = Actor(None, "stress", Role.ADMIN, "stress-test")
    target = Path(url.removeprefix("sqlite:///")).with_name(f"backup-{tag}.sqlite3")
    while True:
        svc.backup.backup(target)
        print(f"BACKUP {target}", flush=True)


if __name__ == "__main__":
    mode, url, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    {"saves": saves, "backups": backups}[mode](url, tag)
