"""Everything the rules may read about one patient, as plain immutable data (no I/O), with the helpers the
rules share. ``as_of`` gives the record as it was known on a past date, so alerts can be re-evaluated then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..domain.dating import gestation_days_on
from ..domain.followup import FollowUp, FollowUpKind, FollowUpStatus
from ..domain.investigations import Catalogue
from ..domain.medication import MedicationPlan, PlanStatus
from ..domain.obstetric import LOSS_OUTCOMES, ObstetricSummary, Outcome, PreviousPregnancy, summarise
from ..domain.patient import RiskHistory
from ..domain.pregnancy import CurrentPregnancy
from ..domain.workup import WorkupItem

T = TypeVar("T")


# Episode keys from the record's own content, not database ids: they survive export and import, and a response
# can never attach to a different record that happens to get the same id.
def pregnancy_key(p: CurrentPregnancy) -> str:
    return p.dating[0].recorded_on.isoformat()  # booked once; two pregnancies are never booked the same day


def plan_key(plan: MedicationPlan) -> str:
    return f"{plan.drug}:{plan.start.isoformat()}"


def item_key(item: WorkupItem) -> str:
    return f"{item.investigation_id}:{item.sample_date.isoformat() if item.sample_date else 'unsampled'}"


def _pregnancy_as_of(p: CurrentPregnancy, on: dt.date) -> CurrentPregnancy | None:
    dating = tuple(e for e in p.dating if e.recorded_on <= on)
    if not dating:
        return None  # not yet known to the clinic
    ended = p.ended_on is not None and p.ended_on <= on
    if (
        len(dating) == len(p.dating)
        and (p.iup_confirmed_on <= on if p.iup_confirmed_on else p.iup_method is None)
        and (p.heartbeat_on is None or p.heartbeat_on <= on)
        and all(b.date <= on for b in p.bleeding)
        and (ended or (p.ended_on is None and p.outcome is None and p.sensitive is False))
    ):
        return p  # all known by then: the replace below would give an equal pregnancy
    return replace(
        p,
        dating=dating,
        iup_confirmed_on=p.iup_confirmed_on if p.iup_confirmed_on and p.iup_confirmed_on <= on else None,
        iup_method=p.iup_method if p.iup_confirmed_on and p.iup_confirmed_on <= on else None,
        heartbeat_on=p.heartbeat_on if p.heartbeat_on and p.heartbeat_on <= on else None,
        bleeding=tuple(b for b in p.bleeding if b.date <= on),
        ended_on=p.ended_on if ended else None,
        outcome=p.outcome if ended else None,
        sensitive=p.sensitive if ended else False,
    )


def _known(i: WorkupItem, on: dt.date) -> bool:
    """Requested by ``on``; a result counts only if it had been entered by then."""
    if (i.requested_on or i.sample_date or dt.date.min) > on and i.sample_date is None:
        return False
    if i.entered_at is not None and i.entered_at.date() > on:
        return False
    return (i.sample_date or i.requested_on or dt.date.min) <= on


def _follow_up_as_of(f: FollowUp, on: dt.date) -> FollowUp | None:
    if f.history and f.history[0].at.date() > on:
        return None  # scheduled later
    if f.status is FollowUpStatus.DONE and f.result_date is not None and f.result_date > on:
        return replace(
            f,
            status=FollowUpStatus.DUE,
            result_date=None,
            swab_result=None,
            organism="",
            cervical_length_mm=None,
            funnelling=None,
            result_notes="",
        )
    return f


@dataclass(frozen=True)
class Snapshot:
    hospital_number: str
    history: tuple[PreviousPregnancy, ...]
    risk: RiskHistory
    workup: tuple[WorkupItem, ...]
    catalogue: Catalogue
    pregnancy: CurrentPregnancy | None = None  # open on the evaluation date
    ended: tuple[CurrentPregnancy, ...] = ()
    plans: tuple[MedicationPlan, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()

    # -- as of a date -----------------------------------------------------------------------------

    def as_of(self, on: dt.date) -> Snapshot:
        """The record as known on ``on``: later results, requests, plans, scans and swabs, losses, pregnancies
        and pregnancy events are left out, and a pregnancy that ended later is still open."""
        history = tuple(p for p in self.history if (p.date or dt.date(p.year, 1, 1)) <= on)
        workup = tuple(i for i in self.workup if (i.sample_date or i.requested_on or dt.date.min) <= on)
        if len(history) == len(self.history):
            history = self.history
        if len(workup) == len(self.workup):
            workup = self.workup
        pregs = [_pregnancy_as_of(p, on) for p in (self.pregnancy, *self.ended) if p is not None]
        known = [p for p in pregs if p is not None]
        open_p = next((p for p in known if p.ended_on is None), None)
        ended = tuple(p for p in known if p.ended_on is not None)
        # a plan is known from the day it was written (its first history entry), even if it starts later
        plans = tuple(p for p in self.plans if (p.history[0].at.date() if p.history else p.start) <= on)
        follow_ups = tuple(f for f in (_follow_up_as_of(f, on) for f in self.follow_ups) if f is not None)
        if len(plans) == len(self.plans):
            plans = self.plans
        if (
            history is self.history
            and workup is self.workup
            and plans is self.plans
            and open_p is self.pregnancy
            and ended == self.ended
            and follow_ups == self.follow_ups
        ):
            return self  # everything was already known on ``on``: the same record
        return replace(
            self, history=history, workup=workup, pregnancy=open_p, ended=ended, plans=plans, follow_ups=follow_ups
        )

    # -- memo ---------------------------------------------------------------------------------------

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()``, worked out once per snapshot (the snapshot never changes, so neither does the answer):
        the rules share helpers, and evaluating the clinic calls them for every rule of every patient. Only
        immutable answers may be kept; a list is kept as a tuple and copied for each caller."""
        try:
            return self.__dict__["_memo"][key]  # type: ignore[no-any-return]
        except KeyError:
            value = self.__dict__.setdefault("_memo", {})[key] = compute()
            return value

    def _workup_index(self) -> tuple[dict[str, tuple[WorkupItem, ...]], dict[str, tuple[WorkupItem, ...]]]:
        """The workup by investigation: every item in record order, and the resulted ones oldest sample first."""
        try:
            return self.__dict__["_workup_by_investigation"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        grouped: dict[str, list[WorkupItem]] = {}
        for i in self.workup:
            grouped.setdefault(i.investigation_id, []).append(i)
        every = {k: tuple(v) for k, v in grouped.items()}
        resulted = {
            k: tuple(sorted((i for i in v if i.has_result), key=lambda i: (i.sample_date or dt.date.min, i.id or 0)))
            for k, v in grouped.items()
        }
        index = self.__dict__["_workup_by_investigation"] = (every, resulted)
        return index

    # -- history ------------------------------------------------------------------------------------

    @property
    def summary(self) -> ObstetricSummary:
        return self.memo("summary", lambda: summarise(self.history))

    @property
    def meets_rm_definition(self) -> bool:
        s = self.summary
        return s.meets_eshre or s.meets_rcog

    def losses(self) -> list[PreviousPregnancy]:
        return list(
            self.memo(
                "losses",
                lambda: tuple(
                    sorted((p for p in self.history if p.outcome in LOSS_OUTCOMES), key=lambda p: p.sort_key)
                ),
            )
        )

    def previous_miscarriages(self) -> int:
        return sum(1 for p in self.history if p.outcome in (Outcome.EARLY_MISCARRIAGE, Outcome.LATE_MISCARRIAGE))

    # -- workup ---------------------------------------------------------------------------------------

    def results(self, investigation_id: str) -> list[WorkupItem]:
        """Resulted items of one investigation, oldest sample first."""
        return list(self._workup_index()[1].get(investigation_id, ()))

    def latest(self, investigation_id: str) -> WorkupItem | None:
        found = self._workup_index()[1].get(investigation_id)
        return found[-1] if found else None

    def has_result(self, *investigation_ids: str) -> bool:
        resulted = self._workup_index()[1]
        return any(resulted.get(i) for i in investigation_ids)

    def requested_or_done(self, investigation_id: str) -> list[WorkupItem]:
        return list(self.items_of(investigation_id))

    def items_of(self, investigation_id: str) -> tuple[WorkupItem, ...]:
        """``requested_or_done`` as a tuple (no copy)."""
        return self._workup_index()[0].get(investigation_id, ())

    # -- medication and follow-ups --------------------------------------------------------------------

    def edd_for(self, pregnancy_id: int | None) -> dt.date | None:
        for p in (self.pregnancy, *self.ended):
            if p is not None and p.id == pregnancy_id:
                return p.edd
        return None

    def current_plans(self, on: dt.date) -> list[MedicationPlan]:
        """Plans being taken on ``on`` or planned to start later: not cancelled, not past their stop."""
        return list(self.memo(("current_plans", on), lambda: tuple(self._current_plans(on))))

    def _current_plans(self, on: dt.date) -> list[MedicationPlan]:
        out = []
        for p in self.plans:
            if p.status is PlanStatus.CANCELLED:
                continue
            stop = p.stop_date(self.edd_for(p.pregnancy_id))
            if stop is not None and stop <= on:
                continue
            out.append(p)
        return out

    def active_plans(self, on: dt.date) -> list[MedicationPlan]:
        """Plans being taken on ``on``: active, started, and not yet at their stop."""
        return list(self.memo(("active_plans", on), lambda: tuple(self._active_plans(on))))

    def _active_plans(self, on: dt.date) -> list[MedicationPlan]:
        out = []
        for p in self.plans:
            if p.status is PlanStatus.CANCELLED or p.start > on:
                continue
            stop = p.stop_date(self.edd_for(p.pregnancy_id))
            if stop is not None and stop <= on:
                continue
            out.append(p)
        return out

    def pregnancy_plans(self) -> list[MedicationPlan]:
        p = self.pregnancy
        return [] if p is None else [pl for pl in self.plans if pl.pregnancy_id == p.id]

    def gestation_days(self, on: dt.date) -> int | None:
        return None if self.pregnancy is None else gestation_days_on(self.pregnancy.edd, on)

    def cl_scans(self) -> list[FollowUp]:
        """Cervical-length scans done in the open pregnancy, oldest first."""
        p = self.pregnancy
        if p is None:
            return []
        return sorted(
            (
                f
                for f in self.follow_ups
                if f.kind is FollowUpKind.CERVICAL_LENGTH_SCAN
                and f.status is FollowUpStatus.DONE
                and f.pregnancy_id == p.id
                and f.cervical_length_mm is not None
            ),
            key=lambda f: f.result_date or f.due_date,
        )
