"""A demo clinic with a history worth auditing: demo patients, an alert history with responses, and some of the demo
pregnancies ended (the demo data's current pregnancies are all still open). Shared by the outcomes tests."""

from __future__ import annotations

import datetime as dt

from conftest import act_as

from rmclinic.domain.accounts import Role
from rmclinic.domain.dating import gestation_days_on
from rmclinic.domain.obstetric import Outcome
from rmclinic.rules.lifecycle import EventKind, OverrideReason
from rmclinic.services.container import Services


def demo_clinic(svc: Services, patients: int, today: dt.date) -> None:
    """``patients`` demo patients, alerts evaluated four weeks back, a few responses, every open pregnancy past 24+0
    ended today in a live birth and every third earlier one in a loss. Leaves a consultant logged in."""
    svc.demo.create(patients, seed=3, today=today)
    act_as(svc, Role.CONSULTANT, "consultant")
    svc.alerts.refresh_all(backdate=today - dt.timedelta(days=28))
    responded = 0
    for pid in _patients_with_pregnancies(svc):
        view = svc.pregnancy.view(pid)
        p = view.pregnancy
        if p is None or p.id is None:
            continue
        ga = gestation_days_on(p.edd, today)
        if ga >= 168:
            svc.pregnancy.end(pid, p.id, p.version, Outcome.LIVE_BIRTH, today)
        elif pid % 3 == 0:
            outcome = Outcome.EARLY_MISCARRIAGE if ga < 84 else Outcome.LATE_MISCARRIAGE
            svc.pregnancy.end(pid, p.id, p.version, outcome, today)
    for hosp, view in list(svc.alerts.all_patients()):
        if view.status.value != "active" or responded >= 12:
            continue
        record = svc.patients.find_by_hospital_number(hosp)
        assert record is not None
        kind = EventKind.ACKNOWLEDGED if responded % 3 else EventKind.OVERRIDDEN
        reason = "" if kind is EventKind.ACKNOWLEDGED else OverrideReason.PATIENT_DECLINED.value
        try:
            svc.alerts.respond(record.id, view.alert.rule.id, view.alert.episode, kind, reason, "audit demo")
        except Exception:  # e.g. a critical alert that needs a different response: not what this data is about
            continue
        responded += 1


def _patients_with_pregnancies(svc: Services) -> list[int]:
    from rmclinic.services.dto import PatientQuery

    page = svc.patients.search(PatientQuery(), 0, 10_000)
    return [r.id for r in page.rows]
