"""`rmclinic worklist [--date YYYY-MM-DD] [--days N] --json`: the contract fields, and the same items the
services know about, checked against the patients' own follow-ups and plans."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from conftest import act_as

from rmclinic.app import build_services
from rmclinic.cli import main
from rmclinic.domain.accounts import Role
from rmclinic.domain.followup import FollowUpStatus
from rmclinic.domain.medication import PlanStatus

DAY = dt.date(2026, 11, 22)
CONTRACT_TYPES = {
    "visit",
    "swab",
    "cervical_length_scan",
    "blood_test",
    "appointment",
    "taper_step",
    "medication_stop",
    "milestone",
    "result_review",
    "alert",
}


@pytest.fixture(autouse=True)
def nurse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "nurse")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")


def worklist(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["--database", url, "worklist", *args, "--json"]) == 0
    out = capsys.readouterr().out
    items = json.loads(out)
    assert isinstance(items, list)
    return items


def test_worklist_json_matches_the_records(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "400", "--today", DAY.isoformat()]) == 0
    capsys.readouterr()
    start, days = DAY + dt.timedelta(days=1), 14
    end = start + dt.timedelta(days=days - 1)
    items = worklist(sqlite_url, capsys, "--date", start.isoformat(), "--days", str(days))
    assert items, "demo data has something due in two weeks"
    for i in items:
        assert {"type", "hospital_number", "due_date", "gestation", "description"} <= i.keys()
        assert i["type"] in CONTRACT_TYPES
        assert i["gestation"] is None or re.fullmatch(r"\d{1,2}\+[0-6]", str(i["gestation"]))
        due = dt.date.fromisoformat(str(i["due_date"]))
        if i["type"] in ("taper_step", "medication_stop", "milestone"):
            assert start <= due <= end
        else:  # follow-ups and reviews may be older: overdue or waiting
            assert due <= end
    # every still-due follow-up up to the end of the range is listed, and nothing else of that kind
    svc = build_services(sqlite_url)
    act_as(svc, Role.NURSE, "nurse")
    try:
        expected_fu: set[tuple[str, str, str]] = set()
        expected_stops: set[tuple[str, str]] = set()
        for n in range(1, 401):
            rec = svc.patients.find_by_hospital_number(f"RM{n:06d}")
            if rec is None or rec.archived:
                continue
            view = svc.pregnancy.view(rec.id)
            for f in view.follow_ups:
                if f.status is FollowUpStatus.DUE and f.due_date <= end:
                    expected_fu.add((rec.data.hospital_number, f.kind.value, f.due_date.isoformat()))
            for p in view.plans:
                stop = p.stop_date(view.edd_for(p.pregnancy_id))
                if p.status is PlanStatus.ACTIVE and stop is not None and start <= stop <= end:
                    expected_stops.add((rec.data.hospital_number, stop.isoformat()))
    finally:
        svc.close()
    follow_up_types = {"swab", "cervical_length_scan", "blood_test", "appointment"}
    got_fu = {
        (str(i["hospital_number"]), str(i["type"]), str(i["due_date"])) for i in items if i["type"] in follow_up_types
    }
    got_stops = {(str(i["hospital_number"]), str(i["due_date"])) for i in items if i["type"] == "medication_stop"}
    assert got_fu == expected_fu and got_fu
    assert got_stops == expected_stops
    # the scripted patient (7+3 today) has her early-pregnancy scan in a week, at 8+3
    amira = [i for i in items if i["hospital_number"] == "RM000001" and i["type"] == "appointment"]
    assert [(i["due_date"], i["gestation"]) for i in amira] == [("2026-11-29", "8+3")]


def test_worklist_defaults_to_today_and_one_day(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "50"]) == 0
    capsys.readouterr()
    today = dt.date.today()
    for i in worklist(sqlite_url, capsys):
        assert dt.date.fromisoformat(str(i["due_date"])) <= today


def test_worklist_bad_input_is_one_line(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "5"]) == 0
    capsys.readouterr()
    assert main(["--database", sqlite_url, "worklist", "--days", "0", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Days must be 1 to 92" in err
    with pytest.raises(SystemExit) as e:
        main(["--database", sqlite_url, "worklist", "--date", "22/11/2026"])
    assert e.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_demo_data_has_an_alert_history_so_a_refresh_puts_only_new_warnings_on_the_worklist(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """Demo alerts are recorded as of four weeks back (as if the nightly job had been running): a clinic's
    worklist is not flooded with every demo warning as if all had fired today."""
    url = f"sqlite:///{tmp_path}/demo.sqlite3"
    today = dt.date.today()
    assert main(["--database", url, "demo-data", "--patients", "300", "--today", today.isoformat()]) == 0
    svc = build_services(url)
    try:
        act_as(svc, Role.NURSE)
        with svc.alerts._uow(read_only=True) as uow:  # the recorded history, straight from the store
            events = [e for pid in uow.patients.all_ids() for e in uow.alerts.events(pid)]
        assert events and {e.at.date() for e in events} == {today - dt.timedelta(days=28)}
        first = sum(1 for e in events if e.kind.value == "fired")
        svc.alerts.refresh_all()
        with svc.alerts._uow(read_only=True) as uow:
            later = [e for pid in uow.patients.all_ids() for e in uow.alerts.events(pid) if e.at.date() == today]
        assert sum(1 for e in later if e.kind.value == "fired") < first  # only what became due since
        items = svc.worklist.items(today, 7, ["alert"])
        warnings = [i for i in items if i.description.startswith("WARNING")]
        assert all(i.due_date >= today for i in warnings)
    finally:
        svc.close()
