"""Synthetic workup results for demo patients: every domain, abnormal results, APS repeats taken at the
right and at the wrong interval, requested and pending items. Values are illustrative, not epidemiology."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ..domain.investigations import Catalogue, Investigation
from ..domain.workup import ResultValue, assess
from .workup import value_columns

REVIEWER = "consultant"
ENTERER = "nurse"


def _row(
    inv: Investigation,
    status: str,
    requested: dt.date,
    sample: dt.date | None,
    value: ResultValue | None,
    reviewed: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "investigation_id": inv.id,
        "status": status,
        "requested_on": requested,
        "requested_by": ENTERER,
        "sample_date": sample,
        **value_columns(None),
        "normalised": None,
        "interpretation": None,
        "entered_by": "",
        "entered_at": None,
        "reviewed_by": "",
        "reviewed_at": None,
        "review_comment": "",
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if value is not None and sample is not None:
        normalised, interpretation = assess(inv, value)
        entered = dt.datetime.combine(sample + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
        row.update(
            **value_columns(value),
            normalised=normalised,
            interpretation=interpretation.value,
            entered_by=ENTERER,
            entered_at=entered,
        )
        if reviewed:
            row.update(reviewed_by=REVIEWER, reviewed_at=entered + dt.timedelta(days=2))
    return row


def _value(inv: Investigation, rng: random.Random, abnormal: bool) -> ResultValue:
    if inv.result_type == "qualitative":
        return ResultValue(text="positive" if abnormal else "negative")
    if inv.result_type == "categorical":
        bad = sorted(inv.abnormal_values)
        good = [c for c in inv.categories if c not in inv.abnormal_values]
        return ResultValue(text=rng.choice(bad) if abnormal and bad else good[0])
    if inv.result_type == "uterine":
        finding = rng.choice(["septate", "arcuate", "submucosal fibroid", "polyp"]) if abnormal else "normal"
        return ResultValue(findings=(finding,), method=inv.methods[0])
    samples = {  # (normal value, abnormal value, lab low, lab high) per test, in the catalogue unit
        "acl_igg": (8.0, 58.0, None, None),
        "acl_igm": (5.0, 47.0, None, None),
        "b2gpi_igg": (4.0, 31.0, 0.0, 20.0),
        "b2gpi_igm": (3.0, 28.0, 0.0, 20.0),
        "tsh": (1.8, 5.6, 0.4, 4.0),
        "ft4": (15.0, 9.0, 12.0, 22.0),
        "tpo": (9.0, 180.0, 0.0, 34.0),
        "prolactin": (250.0, 900.0, 100.0, 500.0),
        "hba1c": (36.0, 50.0, 20.0, 41.0),
        "progesterone": (45.0, 12.0, 30.0, 150.0),
        "vitamin_d": (60.0, 22.0, 50.0, 175.0),
        "bmi": (23.0, 31.0, None, None),
        "protein_c": (105.0, 55.0, 70.0, 140.0),
        "protein_s": (85.0, 40.0, 60.0, 130.0),
        "antithrombin": (100.0, 60.0, 80.0, 120.0),
        "sperm_dna": (12.0, 38.0, 0.0, 30.0),
    }
    normal, high, low_lim, high_lim = samples.get(inv.id, (1.0, 2.0, 0.0, 1.5))
    base = high if abnormal else normal
    jitter = round(base * rng.uniform(-0.1, 0.1), 1)
    return ResultValue(numeric=round(base + jitter, 1), unit=inv.unit, lab_low=low_lim, lab_high=high_lim)


def demo_workup(
    cat: Catalogue, rng: random.Random, index: int, today: dt.date, now: dt.datetime, has_partner: bool
) -> list[dict[str, Any]]:
    """Rows for one patient (without patient_id). ``index`` 0 is the first scripted patient (Amira)."""
    rows: list[dict[str, Any]] = []

    def result(iid: str, days_ago: int, abnormal: bool, reviewed: bool = True) -> None:
        inv = cat.get(iid)
        sample = today - dt.timedelta(days=days_ago)
        rows.append(
            _row(
                inv,
                "reviewed" if reviewed else "resulted",
                sample - dt.timedelta(days=7),
                sample,
                _value(inv, rng, abnormal),
                reviewed,
                now,
            )
        )

    def open_item(iid: str, days_ago: int, sample_taken: bool) -> None:
        inv = cat.get(iid)
        requested = today - dt.timedelta(days=days_ago)
        rows.append(
            _row(
                inv,
                "sample_taken" if sample_taken else "requested",
                requested,
                requested + dt.timedelta(days=1) if sample_taken else None,
                None,
                False,
                now,
            )
        )

    if index == 0:  # Amira: positive anticardiolipin, confirmatory repeat due in the coming weeks
        result("acl_igg", 40, True, reviewed=False)
        result("acl_igm", 40, False)
        result("la", 40, False)
        open_item("tsh", 5, False)
        open_item("tpo", 5, False)
        open_item("uterine", 5, False)
        result("poc_genetics", 420, False)
        return rows
    if index == 1:  # Claire: thyroid and uterus normal, cervix history elsewhere
        for iid in ("la", "acl_igg", "acl_igm", "tsh", "tpo"):
            result(iid, 300, False)
        result("uterine", 290, False)
        return rows
    if index == 2:  # Łucja: balanced translocation in her partner after unbalanced tissue
        result("poc_genetics", 150, True)
        result("karyotype_partner", 100, True)
        result("karyotype_woman", 100, False)
        return rows
    kind = rng.random()
    if kind < 0.15:
        return rows  # newly referred: nothing yet
    started = rng.randint(20, 700)
    for iid in cat.protocol.items:
        roll = rng.random()
        if roll < 0.12 and started < 120:
            open_item(iid, rng.randint(1, 20), sample_taken=rng.random() < 0.5)
        elif roll < 0.92:
            abnormal = rng.random() < (0.12 if iid in ("acl_igg", "acl_igm", "la") else 0.15)
            # consultants keep up: only recent results (within about six weeks) may still wait
            result(iid, started, abnormal, reviewed=rng.random() < 0.85 or started > 45)
            if abnormal and iid in ("acl_igg", "acl_igm", "la") and started > 40:
                # the confirmatory repeat: mostly at >= 12 weeks, sometimes (wrongly) too early
                gap = rng.choice([90, 95, 120, 30, 56])
                if started - gap > 0:
                    result(iid, started - gap, rng.random() < 0.6)
    if rng.random() < 0.3:
        result("bmi", started, rng.random() < 0.4)
    if rng.random() < 0.2:
        result("ft4", started, rng.random() < 0.2)
    if rng.random() < 0.1:
        result(rng.choice(["fvl", "prothrombin", "protein_s"]), started, rng.random() < 0.3)
    if rng.random() < 0.08:
        result(rng.choice(["vitamin_d", "hba1c", "prolactin", "progesterone", "ana"]), started, rng.random() < 0.3)
    if has_partner and rng.random() < 0.05:
        result(rng.choice(["karyotype_partner", "sperm_dna"]), started, rng.random() < 0.2)
    return rows
