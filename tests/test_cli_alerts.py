"""`rmclinic alerts ... --json` and `rmclinic rules --json`: the exact output contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rmclinic.cli import main

DAY = dt.date(2026, 11, 22)
SEVERITIES = {"info", "warning", "critical"}
STATUSES = {"active", "acknowledged", "overridden", "snoozed"}


@pytest.fixture(autouse=True)
def consultant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMCLINIC_USER", "consultant")
    monkeypatch.setenv("RMCLINIC_PASSWORD", "demo")


def _citations_ok(citations: object) -> None:
    assert isinstance(citations, list) and citations
    for c in citations:
        assert isinstance(c, dict) and str(c["label"]).strip()
        assert set(c) <= {"key", "label", "doi", "url", "doi_unverified"}


def test_rules_json_lists_every_rule_with_its_source_attributes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    assert len(rules) >= 35 and len({r["id"] for r in rules}) == len(rules)
    for r in rules:
        for key in (
            "id",
            "version",
            "title",
            "severity",
            "citations",
            "developer",
            "funding_source",
            "release_date",
            "revision_date",
            "review_by",
            "parameters",
        ):
            assert key in r, key
        assert r["severity"] in SEVERITIES and isinstance(r["version"], int)
        _citations_ok(r["citations"])
        assert r["developer"].strip() and r["funding_source"].strip()
        for d in ("release_date", "revision_date", "review_by"):
            dt.date.fromisoformat(r[d])
        for p in r["parameters"]:
            assert p["min"] <= p["default"] <= p["max"] and p["citation"].strip()
    by_id = {r["id"]: r for r in rules}
    assert by_id["R33"]["severity"] == "critical" and any(c.get("url") for c in by_id["R33"]["citations"])
    assert any(c.get("doi") == "10.1056/NEJMoa1504927" for c in by_id["R27"]["citations"])  # PROMISE
    assert by_id["R21"]["conflicting_evidence"] and "ASRM" in by_id["R21"]["conflicting_evidence"]
    assert by_id["R29"]["safety_net"] and by_id["X1"]["safety_net"]


def test_alerts_json_contract_patient_filter_and_as_of(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "120", "--today", DAY.isoformat()]) == 0
    capsys.readouterr()
    assert main(["--database", sqlite_url, "alerts", "--as-of", DAY.isoformat(), "--json"]) == 0
    alerts = json.loads(capsys.readouterr().out)
    assert alerts
    for a in alerts:
        for key in (
            "patient",
            "rule_id",
            "rule_version",
            "severity",
            "title",
            "message",
            "because",
            "citations",
            "status",
        ):
            assert key in a, key
        assert a["severity"] in SEVERITIES and a["status"] in STATUSES
        assert isinstance(a["because"], list) and a["because"] and all(str(b).strip() for b in a["because"])
        _citations_ok(a["citations"])
    assert {a["patient"] for a in alerts} > {"RM000001"}
    assert (
        main(["--database", sqlite_url, "alerts", "--patient", "RM000001", "--as-of", DAY.isoformat(), "--json"]) == 0
    )
    amira = json.loads(capsys.readouterr().out)
    assert amira == [a for a in alerts if a["patient"] == "RM000001"]
    assert any(a["rule_id"] == "R4" for a in amira)  # positive anticardiolipin, repeat due
    # as of a year earlier, before her results and this pregnancy: no repeat alert, no pregnancy alerts
    earlier = (DAY - dt.timedelta(days=365)).isoformat()
    assert main(["--database", sqlite_url, "alerts", "--patient", "RM000001", "--as-of", earlier, "--json"]) == 0
    past = json.loads(capsys.readouterr().out)
    assert not any(a["rule_id"] in ("R4", "R22", "R23", "R25") for a in past)


def test_alerts_for_an_unknown_patient_is_one_line(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", sqlite_url, "demo-data", "--patients", "5"]) == 0
    capsys.readouterr()
    assert main(["--database", sqlite_url, "alerts", "--patient", "NOPE", "--json"]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "NOPE" in err
    assert out == ""  # nothing half-written on standard output
