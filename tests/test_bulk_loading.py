"""Evaluating the whole clinic reads patients in bulk, as plain rows, and may evaluate them in worker processes.
The bulk readers must build exactly what the record-by-record (ORM) readers build, and the workers exactly
what evaluating here gives, on both databases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import TODAY, act_as
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, selectinload

from rmclinic.domain.accounts import Role
from rmclinic.domain.errors import NotFoundError
from rmclinic.domain.patient import PatientData
from rmclinic.domain.workup import ResultValue
from rmclinic.persistence.alerts import ReopenDatabase, SqlAlertRepository, _event
from rmclinic.persistence.models import (
    AlertEventRec,
    AlertStateRec,
    CurrentPregnancyRec,
    FollowUpRec,
    MedicationPlanRec,
    PatientRec,
    WorkupItemRec,
    table_of,
)
from rmclinic.persistence.pregnancy import _follow_up, _plan, _pregnancy
from rmclinic.persistence.workup import _item
from rmclinic.rules.lifecycle import EventKind
from rmclinic.services.alerts import BATCH, RuleSettings, _Workers, shipped_rule_set
from rmclinic.services.container import Services

PATIENTS = 700  # two batches, the second part full; every scripted alert case (indexes 3 to 41) is in


# The readers as they were before the bulk ones: ORM records with their relationships, turned into the same
# domain objects. The bulk readers must give the same objects, in the same order, with the same types (repr
# tells 400 from 400.0 and a tuple from a list).


def orm_records(repo: Any, ids: Sequence[int]) -> list[Any]:
    """The record by record reader (the ORM, each record with its relationships), skipping unknown ids."""
    out = []
    for pid in ids:
        try:
            out.append(repo.get(pid))
        except NotFoundError:
            pass
    return out


def orm_workup(s: Session, ids: Sequence[int]) -> dict[int, list[Any]]:
    q = (
        select(WorkupItemRec)
        .where(WorkupItemRec.patient_id.in_(list(ids)))
        .options(selectinload(WorkupItemRec.history))
        .order_by(WorkupItemRec.id)
    )
    out: dict[int, list[Any]] = {pid: [] for pid in ids}
    for r in s.scalars(q):
        out[r.patient_id].append(_item(r))
    return out


def orm_care(s: Session, ids: Sequence[int]) -> dict[int, tuple[list[Any], list[Any], list[Any]]]:
    out: dict[int, tuple[list[Any], list[Any], list[Any]]] = {pid: ([], [], []) for pid in ids}
    pq = select(CurrentPregnancyRec).where(CurrentPregnancyRec.patient_id.in_(ids)).order_by(CurrentPregnancyRec.id)
    for r in s.scalars(pq):
        out[r.patient_id][0].append(_pregnancy(r))
    mq = (
        select(MedicationPlanRec)
        .where(MedicationPlanRec.patient_id.in_(ids))
        .options(selectinload(MedicationPlanRec.steps))
        .order_by(MedicationPlanRec.start_date, MedicationPlanRec.id)
    )
    for m in s.scalars(mq):
        out[m.patient_id][1].append(_plan(m))
    fq = select(FollowUpRec).where(FollowUpRec.patient_id.in_(ids)).order_by(FollowUpRec.due_date, FollowUpRec.id)
    for f in s.scalars(fq):
        out[f.patient_id][2].append(_follow_up(f))
    return out


def orm_events(s: Session, ids: Sequence[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {pid: [] for pid in ids}
    q = select(AlertEventRec).where(AlertEventRec.patient_id.in_(list(ids))).order_by(AlertEventRec.id)
    for r in s.scalars(q):
        out[r.patient_id].append(_event(r))
    return out


def corrected_results(svc: Services) -> None:
    """Results corrected once and twice (the history the bulk reader groups by item), and uterine findings."""
    act_as(svc, Role.CONSULTANT)
    day = TODAY - dt.timedelta(days=30)
    for pid in (4, 17, 250):
        view = svc.workup.record_result(pid, "tsh", ResultValue(numeric=2.5, unit="mIU/L"), day)
        item = max((i for i in view.items if i.investigation_id == "tsh"), key=lambda i: i.id)
        for value in (3.1, 4.2):
            view = svc.workup.record_result(pid, "tsh", ResultValue(numeric=value, unit="mIU/L"), day, item.id)
        found = ("septate",) if pid == 17 else ("arcuate", "submucosal fibroid")
        svc.workup.record_result(pid, "uterine", ResultValue(findings=found, method="3D transvaginal ultrasound"), day)


@pytest.fixture
def clinic(services: Services) -> Services:
    services.demo.create(PATIENTS, seed=3, today=TODAY)
    corrected_results(services)
    return services


def test_the_bulk_readers_build_what_the_record_readers_build(clinic: Services) -> None:
    act_as(clinic, Role.CONSULTANT)
    clinic.alerts.refresh_all()  # events to read too
    with clinic.alerts._uow(read_only=True) as uow:
        s: Session = uow.session  # type: ignore[attr-defined]
        every = uow.patients.all_ids()
        assert len(every) == PATIENTS
        histories = 0
        for chunk in (every[:BATCH], every[BATCH:], every[::7], [every[-1], every[0], 999_999], []):
            assert repr(uow.patients.get_many(chunk)) == repr(orm_records(uow.patients, chunk))
            bulk_workup = uow.workup.for_patients(chunk)
            assert repr(bulk_workup) == repr(orm_workup(s, chunk))
            assert repr(uow.pregnancy.for_patients(chunk)) == repr(orm_care(s, chunk))
            assert repr(uow.alerts.events_for(chunk)) == repr(orm_events(s, chunk))
            histories += sum(len(i.history) for items in bulk_workup.values() for i in items)
        assert histories == 6  # the corrections are there: three items corrected twice
        for pid in every[:40]:  # the single-patient readers agree too
            care = uow.pregnancy.for_patients([pid])[pid]
            assert (care[0], care[1], care[2]) == (
                uow.pregnancy.pregnancies(pid),
                uow.pregnancy.plans(pid),
                uow.pregnancy.follow_ups(pid),
            )
            for item in uow.workup.for_patient(pid):
                assert repr(item) == repr(uow.workup.get(pid, item.id))
        records = uow.patients.get_many(every)
        assert any(r.data.partner for r in records)  # every kind of row the bulk reader joins up is there
        assert any(r.data.risk.cervical_excisions for r in records)
        assert any(r.data.risk.drug_allergies for r in records)
        assert any(r.archived for r in records)
        care = uow.pregnancy.for_patients(every)
        assert any(p.taper for _, plans, _ in care.values() for p in plans)


def test_a_reader_sees_what_its_own_transaction_has_not_yet_flushed(clinic: Services) -> None:
    """As an ORM query would (autoflush): pending changes are flushed before the rows are read."""
    with clinic.alerts._uow() as uow:
        s: Session = uow.session  # type: ignore[attr-defined]
        item = uow.workup.for_patient(4)[0]
        rec = s.get(WorkupItemRec, item.id)
        assert rec is not None
        rec.requested_by = "someone"  # not flushed
        assert uow.workup.for_patients([4])[4][0].requested_by == "someone"
        patient = s.get(PatientRec, 4)
        assert patient is not None
        patient.given_name = "Renamed"
        assert uow.patients.get_many([4])[0].data.given_name == "Renamed"


def alerts_json(svc: Services, workers: int, **kw: Any) -> list[str]:
    return [json.dumps(v.to_json(h)) for h, v in svc.alerts.all_patients(workers=workers, **kw)]


def state_and_events(svc: Services) -> tuple[list[Any], list[Any]]:
    """Every current-alert row but its id and evaluation time, and every event."""
    t = table_of(AlertStateRec)
    columns = [c for c in t.c if c.name not in ("id", "evaluated_at")]
    with svc.alerts._uow(read_only=True) as uow:
        s: Session = uow.session  # type: ignore[attr-defined]
        state = [tuple(r) for r in s.execute(select(*columns).order_by(t.c.patient_id, t.c.rule_id, t.c.episode))]
        events = uow.alerts.events_for(uow.patients.all_ids())
    return state, sorted((pid, repr(e)) for pid, es in events.items() for e in es)


def test_worker_processes_evaluate_exactly_as_this_process(clinic: Services) -> None:
    act_as(clinic, Role.CONSULTANT)
    here = alerts_json(clinic, workers=0)
    assert len(here) > PATIENTS  # many alerts: the scripted cases and the random patients'
    assert alerts_json(clinic, workers=2) == here
    past = TODAY - dt.timedelta(days=400)
    assert alerts_json(clinic, workers=1, as_of=past) == alerts_json(clinic, workers=0, as_of=past)

    progress: list[tuple[int, int]] = []
    assert clinic.alerts.refresh_all(lambda done, total: progress.append((done, total)), workers=2) == PATIENTS
    assert progress == [(min(n + BATCH, PATIENTS), PATIENTS) for n in range(0, PATIENTS, BATCH)]
    after_workers = state_and_events(clinic)
    fired = [e for _, e in after_workers[1] if "FIRED" in e]
    # every current alert fired once (none had fired before), archived patients' too (the list leaves them out)
    assert len(fired) == len(after_workers[0]) > len(here)

    # evaluating here finds nothing new to record, and writes the same current alerts
    clinic.alerts.refresh_all(workers=0)
    assert state_and_events(clinic) == after_workers
    # and so, answered and later, in the workers again (the responses and endings read back by this process)
    answered = {}
    for row in after_workers[0][:300:5]:
        answered[row[0]] = row  # one alert of some patients: acknowledged
    for pid, rule_id, episode, *_ in answered.values():
        clinic.alerts.respond(pid, rule_id, episode, EventKind.ACKNOWLEDGED)
    later = TODAY + dt.timedelta(days=60)
    clinic.alerts._clock.at = dt.datetime.combine(later, dt.time(9, 30), tzinfo=dt.UTC)  # type: ignore[attr-defined]
    assert alerts_json(clinic, workers=2) == alerts_json(clinic, workers=0)
    clinic.alerts.refresh_all(workers=2)
    after_workers = state_and_events(clinic)
    assert any("ENDED" in e for _, e in after_workers[1])
    clinic.alerts.refresh_all(workers=0)
    assert state_and_events(clinic) == after_workers


def test_a_worker_that_fails_raises_here(tmp_path: Any, clinic: Services) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"  # no tables: the worker's first query fails
    settings = RuleSettings(frozenset(), {})
    pool = _Workers.start(
        ReopenDatabase(empty), clinic.workup.catalogue(), shipped_rule_set(), settings, patients=10, workers=1
    )
    assert pool is not None
    try:
        with pytest.raises(Exception, match=r"workup_item|patient|no such table"):
            next(pool.evaluate([[1, 2]], TODAY))
    finally:
        pool.close()


def test_a_database_in_memory_is_evaluated_here(clinic: Services) -> None:
    with Session(create_engine("sqlite://")) as s:
        assert SqlAlertRepository(s).reopen() is None  # no other process can see it
    with clinic.alerts._uow(read_only=True) as uow:
        assert uow.alerts.reopen() is not None  # type: ignore[attr-defined]  # a file or a server
    cat, rules, settings = clinic.workup.catalogue(), shipped_rule_set(), RuleSettings(frozenset(), {})
    assert _Workers.start(None, cat, rules, settings, patients=50_000, workers=2) is None
    assert _Workers.start(ReopenDatabase("sqlite://"), cat, rules, settings, patients=50, workers=None) is None


def test_a_patient_saved_while_the_workers_read_is_not_left_with_the_older_evaluation(
    clinic: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers read ahead of the writes: a result recorded meanwhile must not be overwritten by an evaluation
    made before it (the patient is evaluated again in the writing transaction)."""
    act_as(clinic, Role.CONSULTANT)
    clinic.alerts.refresh_all(workers=0)
    pid = 4  # in the first batch
    before = [v.to_json("") for v in clinic.alerts.for_patient(pid)]

    def change() -> None:  # raised TSH with a normal free T4: the thyroid rule fires
        ft4 = ResultValue(numeric=15.0, unit="pmol/L", lab_low=12, lab_high=22)
        clinic.workup.record_result(pid, "ft4", ft4, TODAY)
        clinic.workup.record_result(pid, "tsh", ResultValue(numeric=9.0, unit="mIU/L", lab_low=0.4, lab_high=4), TODAY)

    real = _Workers.evaluate

    def evaluate_then_save(self: _Workers, chunks: Sequence[Sequence[int]], on: dt.date) -> Any:
        batches = list(real(self, chunks, on))  # every batch read and evaluated, then the nurse saves
        change()
        yield from batches

    monkeypatch.setattr(_Workers, "evaluate", evaluate_then_save)
    clinic.alerts.refresh_all(workers=2)
    with_workers = state_and_events(clinic)
    clinic.alerts.refresh_all(workers=0)  # evaluating here, all in the writing transaction
    assert state_and_events(clinic) == with_workers
    assert [v.to_json("") for v in clinic.alerts.for_patient(pid)] != before  # the save did change her alerts


class _Planted:
    """What someone might feed a worker by hand: unpickling it would run a shell command."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_worker_started_by_hand_runs_nothing_it_is_fed(tmp_path: Any) -> None:
    """A worker builds only rmclinic's classes and dates from its input: a pickle naming any other callable is
    refused before anything runs (a bundle's worker mode can be started by hand)."""
    import pickle
    import subprocess
    import sys

    from rmclinic.services.alerts import _WORKER_CODE, _restricted_loader

    marker = tmp_path / "ran"
    evil = pickle.dumps((_Planted(str(marker)), 1, 2, 3, 4), protocol=pickle.HIGHEST_PROTOCOL)
    import io

    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os|nt)\.system is not something"):
        _restricted_loader(io.BytesIO(evil))()
    assert _restricted_loader(io.BytesIO(pickle.dumps(([1, 2], TODAY))))() == ([1, 2], TODAY)
    src = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-P", "-c", _WORKER_CODE, src], input=evil, capture_output=True, timeout=60, check=False
    )
    status, error = pickle.loads(done.stdout)
    assert status == "error" and "not something a worker is sent" in str(error)
    assert not marker.exists()


def test_copy_writes_exactly_what_an_insert_writes(clinic: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL takes the all-patient refresh's many rows by COPY: the states and events stored, with every
    column's type and value (dates, times with their zone, flags, empty and missing values), are those an
    executemany stores. (On SQLite both runs are executemany.)"""
    import rmclinic.persistence.bulk as bulk_module

    act_as(clinic, Role.CONSULTANT)
    clinic.alerts.refresh_all(workers=0)  # first evaluation: every alert fires, written in bulk
    by_copy = state_and_events(clinic)
    assert len(by_copy[0]) > bulk_module.COPY_FROM and len(by_copy[1]) > bulk_module.COPY_FROM
    with clinic.alerts._uow() as uow:
        s: Session = uow.session  # type: ignore[attr-defined]
        s.execute(table_of(AlertStateRec).delete())
        s.execute(table_of(AlertEventRec).delete())
        uow.commit()
    monkeypatch.setattr(bulk_module, "COPY_FROM", 10**9)
    clinic.alerts.refresh_all(workers=0)
    assert state_and_events(clinic) == by_copy


def test_a_refresh_rewrites_only_the_patients_whose_alerts_changed(clinic: Services) -> None:
    """The nightly refresh compares each patient's new alerts with the stored ones and rewrites only what
    changed (``evaluated_at`` tells when a patient's alerts last changed); what is stored is what a full
    rewrite would store."""
    act_as(clinic, Role.CONSULTANT)
    t = table_of(AlertStateRec)

    def written() -> dict[int, set[Any]]:
        with clinic.alerts._uow(read_only=True) as uow:
            s: Session = uow.session  # type: ignore[attr-defined]
            out: dict[int, set[Any]] = {}
            for pid, at in s.execute(select(t.c.patient_id, t.c.evaluated_at)):
                out.setdefault(pid, set()).add(at)
            return out

    clinic.alerts.refresh_all(workers=0)
    first, stored = written(), state_and_events(clinic)
    clock = clinic.alerts._clock
    clock.at = clock.at + dt.timedelta(minutes=5)  # type: ignore[attr-defined]
    clinic.alerts.refresh_all(workers=0)
    assert written() == first and state_and_events(clinic) == stored  # nothing changed, nothing rewritten

    pid, rule_id, episode, *_ = stored[0][0]
    clinic.alerts.respond(pid, rule_id, episode, EventKind.ACKNOWLEDGED)
    after = written()
    assert after[pid] != first[pid] and len(after[pid]) == 1  # that patient's rows, all written again
    assert {p: a for p, a in after.items() if p != pid} == {p: a for p, a in first.items() if p != pid}
    clinic.alerts.refresh_all(workers=0)
    assert written() == after


def test_a_refused_copy_is_an_sqlalchemy_error_without_the_patient_data(services: Services) -> None:
    """PostgreSQL's COPY error quotes the row it refused; the error raised says what went wrong without it, as
    SQLAlchemy's errors (hide_parameters) do for every other statement, and nothing is written."""
    if services.backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    from sqlalchemy.exc import DataError

    import rmclinic.persistence.bulk as bulk_module
    from rmclinic.services.dto import AlertStateRow

    act_as(services, Role.NURSE)
    pid = services.patients.register(PatientData("RM900", "Secretname", "Ada", dt.date(1990, 1, 2))).id
    rows = [
        AlertStateRow(pid, "copy-test", f"e{i}", 1, "warning", "clinician", "Title", "active", None, TODAY)
        for i in range(bulk_module.COPY_FROM + 5)
    ]
    rows[-1] = replace(rows[-1], episode="SECRET-Secretname-" + "x" * 80)  # longer than the column
    with services.alerts._uow() as uow, pytest.raises(DataError) as refused:
        uow.alerts.replace_state([pid], rows, dt.datetime.now(dt.UTC))
    assert "too long" in str(refused.value) and "SECRET" not in str(refused.value)
    assert "Secretname" not in repr(refused.value.orig)
    with services.alerts._uow(read_only=True) as uow:
        assert uow.alerts.state(pid) == []


def test_demo_data_by_copy_is_what_an_insert_writes(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL takes demo data and imports by COPY: every table holds what executemany would have stored
    (all columns but the sequence ids and the creation times), and ids come in the order of the rows."""
    from sqlalchemy import text

    import rmclinic.persistence.bulk as bulk_module

    tables = ("patient", "partner", "risk_history", "previous_pregnancy", "cervical_excision", "drug_allergy")

    def contents() -> dict[str, list[Any]]:
        out = {}
        with services.patients._uow(read_only=True) as uow:
            s: Session = uow.session  # type: ignore[attr-defined]
            for name in (*tables, "workup_item"):
                names = s.execute(text(f"SELECT * FROM {name} LIMIT 0")).keys()
                cols = [
                    c
                    for c in names
                    if c not in ("created_at", "updated_at", "archived_at") and not (c == "id" and name != "patient")
                ]
                if name == "patient":  # archived_at is the time demo-data ran: only whether it is set
                    cols.append("archived_at IS NULL")
                rows = s.execute(text(f"SELECT {', '.join(cols)} FROM {name}")).all()
                out[name] = sorted(tuple(map(repr, r)) for r in rows)
            ids = s.execute(text("SELECT patient_id FROM workup_item ORDER BY id")).scalars().all()
            out["workup ids follow the rows"] = [list(ids) == sorted(ids)]
        return out

    services.demo.create(300, seed=5, today=TODAY)
    by_copy = contents()
    assert len(by_copy["workup_item"]) > bulk_module.COPY_FROM
    monkeypatch.setattr(bulk_module, "COPY_FROM", 10**9)
    services.demo.create(300, seed=5, today=TODAY, force=True)
    assert contents() == by_copy


def test_a_bulk_load_leaves_postgresql_planning_on_what_was_loaded(services: Services) -> None:
    """Demo data (and an import) ends with ANALYZE: planned on the statistics of the empty tables, the next
    all-patient alert refresh took twice as long. (A table never analysed has reltuples -1.)"""
    if services.backend != "postgresql":
        pytest.skip("SQLite plans without statistics")
    from sqlalchemy import text

    services.demo.create(60, seed=2, today=TODAY)
    with services.patients._uow(read_only=True) as uow:
        s: Session = uow.session  # type: ignore[attr-defined]
        tuples = dict(
            s.execute(text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('patient', 'workup_item')")).all()
        )
    assert tuples["patient"] == 60 and tuples["workup_item"] > 60
