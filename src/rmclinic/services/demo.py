"""Synthetic, realistic demo patients. Same seed and today -> the same patients, byte for byte.

Names are invented combinations; NHS numbers are drawn from the 999 range that NHS Digital reserves
for test data, so a demo record can never be mistaken for a real patient.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.accounts import Actor, Role
from ..domain.audit import Action, AuditEvent
from ..domain.errors import DomainError
from ..domain.identifiers import nhs_check_digit
from ..domain.obstetric import Conception, Outcome, PreviousPregnancy, TissueGenetics
from ..domain.patient import CervicalExcision, Partner, PatientData, RiskHistory
from ..domain.visit import Visit, VisitStatus, VisitType
from .auth import hash_password
from .base import ServiceBase
from .catalogue import merged_catalogue
from .demo_alerts import add_alert_case, is_alert_case, with_alert_cases  # demo_alerts
from .demo_pregnancy import Batch, add_random, add_scripted
from .demo_workup import demo_workup
from .ports import UnitOfWork

GIVEN = [
    "Amira",
    "Claire",
    "Zoë",
    "Łucja",
    "Aoife",
    "Siobhán",
    "Chloé",
    "Hannah",
    "Fatima",
    "Aisha",
    "Priya",
    "Anjali",
    "Mei",
    "Linh",
    "Thu",
    "Ngọc",
    "Olga",
    "Kasia",
    "Agnieszka",
    "Małgorzata",
    "Ines",
    "Inês",
    "Sofia",
    "Lucía",
    "María",
    "José",
    "Emma",
    "Olivia",
    "Grace",
    "Niamh",
    "Sarah",
    "Rachel",
    "Leah",
    "Yasmin",
    "Zainab",
    "Hana",
    "Yuki",
    "Ewa",
    "Zofia",
    "Ana",
    "Beatriz",
    "Ayesha",
    "Nadia",
    "Amara",
    "Chiamaka",
    "Adaeze",
    "Ife",
    "Ngozi",
    "Rosa",
    "Elena",
    "Ioana",
    "Dorota",
    "Jessica",
    "Laura",
    "Rebecca",
    "Kirsty",
    "Mhairi",
    "Eilidh",
    "Gwen",
    "Ffion",
    "Seren",
]
FAMILY = [
    "Haddad",
    "Whitfield",
    "Nguyễn",
    "Kowalska",
    "Wiśniewska",
    "O'Brien",
    "Murphy",
    "Ó Súilleabháin",
    "Müller",
    "Schröder",
    "Dubois",
    "Lefèvre",
    "García",
    "Muñoz",
    "Fernández",
    "Silva",
    "Gonçalves",
    "Patel",
    "Shah",
    "Khan",
    "Begum",
    "Ahmed",
    "Hussain",
    "Ali",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Tanaka",
    "Sato",
    "Kim",
    "Park",
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Johnson",
    "Walker",
    "Wright",
    "Robinson",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
    "Harris",
    "Lewis",
    "Martin",
    "Jackson",
    "Clarke",
    "Clark",
    "Turner",
    "Hill",
    "Scott",
    "Cooper",
    "Morris",
    "Ward",
    "Moore",
    "King",
    "Watson",
    "Baker",
    "Harrison",
    "Morgan",
    "Patterson",
    "Young",
    "Allen",
    "Mitchell",
    "Kelly",
    "Bell",
    "Bailey",
    "Cox",
    "Richardson",
    "Novák",
    "Horváth",
    "Popescu",
    "Ivanova",
    "Petrović",
    "Jensen",
    "Nielsen",
    "Andersson",
    "Virtanen",
    "Costa",
    "Rossi",
    "Bianchi",
]
PARTNER_GIVEN = [
    "Omar",
    "Tom",
    "James",
    "Daniel",
    "Piotr",
    "Marek",
    "Wei",
    "Minh",
    "Raj",
    "Arjun",
    "Kwame",
    "Chidi",
    "Luis",
    "João",
    "Sean",
    "Liam",
]
GP = ("Riverside Medical Practice", "Park Lane Surgery", "Canal Street Health Centre", "Hillview Surgery")
STREETS = ("High Street", "Church Road", "Station Road", "Victoria Road", "Mill Lane", "Park Avenue")
ALLERGENS = ("Penicillin", "Codeine", "Latex", "Trimethoprim", "Ibuprofen")

# Outcome mix for a referred RM population: mostly first-trimester losses. Illustrative weights only.
OUTCOME_WEIGHTS = (
    (Outcome.EARLY_MISCARRIAGE, 56),
    (Outcome.BIOCHEMICAL, 12),
    (Outcome.LATE_MISCARRIAGE, 7),
    (Outcome.LIVE_BIRTH, 16),
    (Outcome.STILLBIRTH, 1),
    (Outcome.ECTOPIC, 4),
    (Outcome.MOLAR, 1),
    (Outcome.TERMINATION, 3),
)
GESTATION_RANGE = {
    Outcome.EARLY_MISCARRIAGE: (5 * 7, 11 * 7 + 6),
    Outcome.BIOCHEMICAL: (4 * 7, 6 * 7),
    Outcome.LATE_MISCARRIAGE: (12 * 7, 23 * 7 + 6),
    Outcome.LIVE_BIRTH: (34 * 7, 41 * 7 + 3),
    Outcome.STILLBIRTH: (24 * 7, 40 * 7),
    Outcome.ECTOPIC: (5 * 7, 9 * 7),
    Outcome.MOLAR: (7 * 7, 13 * 7),
    Outcome.TERMINATION: (6 * 7, 20 * 7),
}


class DemoDataRefused(DomainError):
    pass


@dataclass(frozen=True)
class DemoResult:
    patients: int
    replaced: int


def _nhs_number(rng: random.Random, used: set[str]) -> str:
    while True:
        first = "999" + f"{rng.randrange(10**6):06d}"
        check = nhs_check_digit(first)
        if check is not None and (value := first + str(check)) not in used:
            used.add(value)
            return value


def _scripted(today: dt.date) -> list[PatientData]:
    """The patients of workflows.md, dated relative to today."""
    y = today.year

    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    amira = PatientData(
        hospital_number="RM000001",
        nhs_number="9990000018",
        family_name="Haddad",
        given_name="Amira",
        date_of_birth=dt.date(y - 34, 3, 14),
        phone="07700 900123",
        gp_practice=GP[0],
        partner=Partner("Haddad", "Omar", dt.date(y - 36, 8, 2)),
        risk=RiskHistory(smoking="current", height_cm=163, weight_kg=71, alcohol_units_per_week=2),
        pregnancies=(
            PreviousPregnancy(ago(800).year, Outcome.EARLY_MISCARRIAGE, ago(800), 6 * 7 + 2),
            PreviousPregnancy(
                ago(420).year, Outcome.EARLY_MISCARRIAGE, ago(420), 8 * 7, tissue_genetics=TissueGenetics.NORMAL
            ),
            PreviousPregnancy(ago(90).year, Outcome.EARLY_MISCARRIAGE, ago(90), 7 * 7 + 4),
        ),
    )
    claire = PatientData(
        hospital_number="RM000002",
        nhs_number="9990000026",
        family_name="Whitfield",
        given_name="Claire",
        date_of_birth=today - dt.timedelta(days=40 * 365 + 110),
        phone="07700 900456",
        gp_practice=GP[1],
        notes="Anxious after previous loss; careful wording please.",
        risk=RiskHistory(
            cervical_excisions=(
                CervicalExcision(year=y - 9, kind="lletz", depth_mm=9),
                CervicalExcision(year=y - 6, kind="lletz"),
            ),
            smoking="never",
            height_cm=168,
            weight_kg=64,
        ),
        pregnancies=(
            PreviousPregnancy(
                ago(400).year,
                Outcome.LATE_MISCARRIAGE,
                ago(400),
                17 * 7,
                fetuses=2,
                conception=Conception.ART,
                tissue_genetics=TissueGenetics.NOT_SENT,
                notes="IVF twins after severe OHSS. Progesterone stopped 13 weeks, self-tapered over two weeks; "
                "spotting, then preterm labour; chorioamnionitis on placental histology.",
            ),
        ),
    )
    lucja = PatientData(
        hospital_number="RM000003",
        family_name="Wiśniewska",
        given_name="Łucja",
        date_of_birth=dt.date(y - 31, 5, 2),
        partner=Partner("Wiśniewski", "Piotr"),
        risk=RiskHistory(smoking="former", drug_allergies=("Penicillin",)),
        pregnancies=(
            PreviousPregnancy(ago(700).year, Outcome.LIVE_BIRTH, ago(700), 39 * 7 + 2),
            PreviousPregnancy(ago(300).year, Outcome.BIOCHEMICAL, ago(300), 5 * 7),
            PreviousPregnancy(ago(150).year, Outcome.EARLY_MISCARRIAGE, ago(150), 9 * 7 + 1),
        ),
    )
    return [amira, claire, lucja]


def generate(n: int, seed: int, today: dt.date) -> Iterator[PatientData]:
    """Yield ``n`` patients; the first few are the scripted ones of the clinic journeys."""
    rng = random.Random(seed)
    used_nhs: set[str] = {"9990000018", "9990000026"}
    scripted = _scripted(today)
    outcomes = [o for o, _ in OUTCOME_WEIGHTS]
    weights = [w for _, w in OUTCOME_WEIGHTS]
    for i in range(n):
        if i < len(scripted):
            yield scripted[i]
            continue
        age_days = rng.randint(22 * 365, 44 * 365)
        dob = today - dt.timedelta(days=age_days)
        family = rng.choice(FAMILY)
        n_preg = rng.choices((2, 3, 4, 5, 6, 8), weights=(30, 35, 18, 9, 6, 2))[0]
        # Spread pregnancies from age ~20 (or 12 years ago) to a few weeks ago, oldest first.
        earliest = max(dob + dt.timedelta(days=20 * 365), today - dt.timedelta(days=12 * 365))
        span = max((today - dt.timedelta(days=30) - earliest).days, n_preg * 60)
        offsets = sorted(rng.sample(range(span), n_preg))
        pregnancies = []
        for off in offsets:
            outcome = rng.choices(outcomes, weights)[0]
            lo, hi = GESTATION_RANGE[outcome]
            when = min(earliest + dt.timedelta(days=off), today - dt.timedelta(days=30))
            genetics = TissueGenetics.NOT_SENT
            if outcome in (Outcome.EARLY_MISCARRIAGE, Outcome.LATE_MISCARRIAGE) and rng.random() < 0.3:
                genetics = rng.choice(list(TissueGenetics)[1:])
            pregnancies.append(
                PreviousPregnancy(
                    year=when.year,
                    outcome=outcome,
                    date=when if rng.random() < 0.8 else None,
                    gestation_days=rng.randint(lo, hi) if rng.random() < 0.9 else None,
                    fetuses=2 if rng.random() < 0.02 else 1,
                    conception=Conception.ART if rng.random() < 0.12 else Conception.SPONTANEOUS,
                    preterm_birth=outcome is Outcome.LIVE_BIRTH and rng.random() < 0.08,
                    tissue_genetics=genetics,
                )
            )
        excisions = tuple(
            CervicalExcision(
                year=rng.randint(max(dob.year + 18, today.year - 15), today.year - 1),
                kind="lletz",
                depth_mm=float(rng.randint(6, 16)) if rng.random() < 0.5 else None,
            )
            for _ in range(rng.choices((0, 1, 2), weights=(88, 10, 2))[0])
        )
        height = float(rng.randint(150, 182))
        risk = RiskHistory(
            cervical_excisions=excisions,
            previous_cerclage=rng.random() < 0.02,
            vte_history=rng.random() < 0.02,
            smoking=rng.choices(("never", "former", "current", "unknown"), weights=(60, 20, 12, 8))[0],
            alcohol_units_per_week=float(rng.choice((0, 0, 0, 2, 4, 6, 8, 12, 16))) if rng.random() < 0.8 else None,
            height_cm=height if rng.random() < 0.85 else None,
            weight_kg=float(rng.randint(45, 115)) if rng.random() < 0.85 else None,
            drug_allergies=(rng.choice(ALLERGENS),) if rng.random() < 0.08 else (),
        )
        partner = (
            Partner(family, rng.choice(PARTNER_GIVEN), dob - dt.timedelta(days=rng.randint(-1500, 3000)))
            if rng.random() < 0.85
            else None
        )
        yield PatientData(
            hospital_number=f"RM{i + 1:06d}",
            nhs_number=_nhs_number(rng, used_nhs) if rng.random() < 0.9 else "",
            family_name=family,
            given_name=rng.choice(GIVEN),
            date_of_birth=dob,
            phone=f"07700 9{rng.randrange(10**5):05d}",
            email="",
            address=f"{rng.randint(1, 199)} {rng.choice(STREETS)}",
            gp_practice=rng.choice(GP),
            partner=partner,
            risk=risk,
            pregnancies=tuple(pregnancies),
        )


DEMO_ACCOUNTS = (("admin", Role.ADMIN), ("consultant", Role.CONSULTANT), ("nurse", Role.NURSE))
DEMO_PASSWORD = "demo"  # exempt from the password policy only here, and the database is marked DEMO


DEMO_FOLLOW_UP_LIST = 2000  # the patients under follow-up: every fifth of these is booked within the week


def demo_visits(ids: Sequence[int], first_index: int, day: dt.date) -> list[tuple[int, Visit]]:
    """Every fifth demo patient of the first 2,000 was seen three weeks ago and is booked again within the week,
    so the worklist has patients booked for each day: about 60 a day, as a busy clinic (every fifth of a
    100,000-patient history booked in one week would be 3,000 a day). Drawn from the index, not the random
    streams, so every other demo record stays the same."""
    out: list[tuple[int, Visit]] = []
    for k, pid in enumerate(ids):
        i = first_index + k
        if i % 5 or i >= DEMO_FOLLOW_UP_LIST:
            continue
        seen, booked = day - dt.timedelta(days=21), day + dt.timedelta(days=i % 7)
        kind = VisitType.FIRST if i % 2 else VisitType.FOLLOW_UP
        out.append(
            (pid, Visit(seen, kind, clinician="Demo consultant", partner_attended=i % 3 == 0, next_visit=booked))
        )
        out.append((pid, Visit(booked, VisitType.FOLLOW_UP, VisitStatus.BOOKED, clinician="Demo consultant")))
    return out


class DemoService(ServiceBase):
    CHUNK = 5000

    def create(self, n: int, seed: int = 1, force: bool = False, today: dt.date | None = None) -> DemoResult:
        """Fill the database in one transaction. ``force`` replaces any existing patients."""
        if n < 1:
            raise DemoDataRefused("--patients must be at least 1.")
        day = today or self._clock.today()
        actor = self._session.system("demo-data")
        with self._uow() as uow:
            existing = uow.patients.count()
            if existing and not force:
                raise DemoDataRefused(
                    f"The database already holds {existing} patients; use --force to replace them with demo data."
                )
            if existing and uow.settings.get("demo_database") != "1":
                raise DemoDataRefused(
                    "This database was not created by demo-data: its patients are never replaced with demo data."
                )
            if existing:
                self._audit(
                    uow, actor, *(AuditEvent(Action.DELETE, "patient", str(pid), pid) for pid in uow.patients.all_ids())
                )
            replaced = uow.patients.delete_all() if existing else 0
            batch: list[PatientData] = []
            archived: list[bool] = []
            flags = random.Random(seed + 1)
            self._workup_rng = random.Random(seed + 2)
            self._pregnancy_rng = random.Random(seed + 3)
            self._catalogue = merged_catalogue()
            self._day = day
            self._index = 0
            for i, p in enumerate(generate(n, seed, day)):
                batch.append(p)
                hide = flags.random() < 0.01 and not p.hospital_number.startswith("RM00000")
                archived.append(hide and not is_alert_case(i))  # demo_alerts: the alert patients stay listed
                if len(batch) >= self.CHUNK:
                    self._add(uow, actor, batch, archived)
                    batch, archived = [], []
            self._add(uow, actor, batch, archived)
            for username, role in DEMO_ACCOUNTS:
                if uow.users.get(username) is None:
                    uow.users.add(username, f"Demo {role.value}", role, hash_password(DEMO_PASSWORD))
                    self._audit(
                        uow, actor, AuditEvent(Action.CREATE, "user", username, changes={"role": [None, role.value]})
                    )
            before = uow.settings.set("demo_database", "1")
            if before != "1":
                self._audit(
                    uow,
                    actor,
                    AuditEvent(
                        Action.SETTINGS_CHANGE, "setting", "demo_database", changes={"demo_database": [before, "1"]}
                    ),
                )
            uow.commit()
        self._after_bulk_load()
        return DemoResult(patients=n, replaced=replaced)

    def _add(self, uow: UnitOfWork, actor: Actor, batch: list[PatientData], archived: list[bool]) -> None:
        # --- demo_alerts: scripted patients that exercise every alert rule replace the random ones at
        # their indexes. The random streams are still drawn for the patients they replace (``batch`` keeps
        # the random patients), so every other demo patient stays the same.
        ids = uow.patients.add_many(with_alert_cases(batch, self._index, self._day), archived)
        self._audit(uow, actor, *(AuditEvent(Action.CREATE, "patient", str(pid), pid) for pid in ids))
        now = self._clock.now()
        rows: list[dict[str, Any]] = []
        pregnancies = Batch()
        for pid, p in zip(ids, batch, strict=True):
            workup = demo_workup(self._catalogue, self._workup_rng, self._index, self._day, now, p.partner is not None)
            if not add_scripted(pregnancies, self._index, pid, self._day):
                add_random(Batch() if is_alert_case(self._index) else pregnancies, pid, self._day, self._pregnancy_rng)
            if not add_alert_case(pregnancies, rows, self._index, pid, self._day, now, self._catalogue):
                rows.extend({**row, "patient_id": pid} for row in workup)
            self._index += 1
        # --- end demo_alerts
        uow.workup.add_many(rows)
        uow.pregnancy.add_many(pregnancies.pregnancies, pregnancies.plans, pregnancies.follow_ups)
        uow.visits.add_many(demo_visits(ids, self._index - len(ids), self._day))
