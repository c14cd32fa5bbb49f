"""Patient, partner and risk history as plain values, with the validation a registration needs."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from .errors import FieldProblem, ValidationError
from .identifiers import (
    hospital_number_problem,
    nhs_number_problem,
    normalise_hospital_number,
    normalise_nhs_number,
)
from .obstetric import PreviousPregnancy, pregnancy_problems
from .typecheck import check_types

MIN_AGE_YEARS = 12  # younger than this is taken as a typing error in the year of birth
MAX_AGE_YEARS = 70
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{6,20}$")


def age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


@dataclass(frozen=True)
class Partner:
    family_name: str
    given_name: str = ""
    date_of_birth: dt.date | None = None


@dataclass(frozen=True)
class CervicalExcision:
    """One LLETZ / cone procedure. Depth in mm when the histology report gives it."""

    date: dt.date | None = None
    year: int | None = None
    kind: str = "lletz"  # lletz | cone | other
    depth_mm: float | None = None


@dataclass(frozen=True)
class RiskHistory:
    cervical_excisions: tuple[CervicalExcision, ...] = ()
    previous_cerclage: bool = False
    cerclage_notes: str = ""
    vte_history: bool = False
    vte_notes: str = ""
    smoking: str = "unknown"  # never | former | current | unknown
    alcohol_units_per_week: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    drug_allergies: tuple[str, ...] = ()
    oligo_amenorrhoea: bool | None = None  # infrequent or absent periods; None: not asked
    aps_diagnosed: bool = False  # antiphospholipid syndrome diagnosed, e.g. by another unit

    @property
    def bmi(self) -> float | None:
        if self.height_cm and self.weight_kg:
            m = self.height_cm / 100
            return round(self.weight_kg / (m * m), 1)
        return None


SMOKING_VALUES = ("unknown", "never", "former", "current")
EXCISION_KINDS = ("lletz", "cone", "other")


@dataclass(frozen=True)
class PatientData:
    """Everything a user types about a patient (no database identity, no audit fields)."""

    hospital_number: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    nhs_number: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    gp_practice: str = ""
    notes: str = ""
    partner: Partner | None = None
    risk: RiskHistory = field(default_factory=RiskHistory)
    pregnancies: tuple[PreviousPregnancy, ...] = ()

    def normalised(self) -> PatientData:
        return replace(
            self,
            hospital_number=normalise_hospital_number(self.hospital_number),
            nhs_number=normalise_nhs_number(self.nhs_number),
            family_name=" ".join(self.family_name.split()),
            given_name=" ".join(self.given_name.split()),
            phone=self.phone.strip(),
            email=self.email.strip(),
        )


def _name_problem(value: str, label: str, required: bool) -> str | None:
    if not value.strip():
        return f"{label} is required." if required else None
    if len(value) > 100:
        return f"{label} is limited to 100 characters."
    if any(ch.isdigit() for ch in value):
        return f"{label} should not contain digits."
    return None


def validate_patient(data: PatientData, today: dt.date) -> PatientData:
    """Return the normalised data, or raise ``ValidationError`` listing every problem found."""
    check_types(data, PatientData)
    d = data.normalised()
    problems: list[FieldProblem] = []

    def add(fieldname: str, message: str | None) -> None:
        if message:
            problems.append(FieldProblem(fieldname, message))

    add("hospital_number", hospital_number_problem(d.hospital_number))
    add("nhs_number", nhs_number_problem(d.nhs_number))
    add("family_name", _name_problem(d.family_name, "Family name", True))
    add("given_name", _name_problem(d.given_name, "Given name", True))
    if d.date_of_birth > today:
        add("date_of_birth", "Date of birth cannot be in the future.")
    else:
        age = age_on(d.date_of_birth, today)
        if not MIN_AGE_YEARS <= age <= MAX_AGE_YEARS:
            add(
                "date_of_birth",
                f"Age would be {age}: a patient is {MIN_AGE_YEARS} to {MAX_AGE_YEARS} years old. "
                "Please check the year.",
            )
    if d.phone and not _PHONE.match(d.phone):
        add("phone", "Phone number may hold digits, spaces, brackets, '-' and a leading '+'.")
    if d.email and not _EMAIL.match(d.email):
        add("email", "E-mail address should look like name@example.org.")
    for name, value, limit in (
        ("address", d.address, 500),
        ("gp_practice", d.gp_practice, 200),
        ("notes", d.notes, 10000),
    ):
        if len(value) > limit:
            add(name, f"Limited to {limit} characters.")
    if d.partner is not None:
        add("partner.family_name", _name_problem(d.partner.family_name, "Partner's family name", True))
        add("partner.given_name", _name_problem(d.partner.given_name, "Partner's given name", False))
        if d.partner.date_of_birth and d.partner.date_of_birth > today:
            add("partner.date_of_birth", "Partner's date of birth cannot be in the future.")
    problems.extend(risk_problems(d.risk, today))
    for i, p in enumerate(d.pregnancies):
        problems.extend(FieldProblem(f, m) for f, m in pregnancy_problems(p, today, f"pregnancies.{i}."))
    if problems:
        raise ValidationError(problems)
    return d


def risk_problems(r: RiskHistory, today: dt.date) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    if r.smoking not in SMOKING_VALUES:
        out.append(FieldProblem("risk.smoking", f"Smoking must be one of {', '.join(SMOKING_VALUES)}."))
    if r.alcohol_units_per_week is not None and not 0 <= r.alcohol_units_per_week <= 200:
        out.append(FieldProblem("risk.alcohol_units_per_week", "Alcohol must be 0 to 200 units a week."))
    if r.height_cm is not None and not 120 <= r.height_cm <= 220:
        out.append(FieldProblem("risk.height_cm", "Height must be 120 to 220 cm."))
    if r.weight_kg is not None and not 30 <= r.weight_kg <= 250:
        out.append(FieldProblem("risk.weight_kg", "Weight must be 30 to 250 kg."))
    for i, ex in enumerate(r.cervical_excisions):
        pre = f"risk.cervical_excisions.{i}."
        if ex.kind not in EXCISION_KINDS:
            out.append(FieldProblem(pre + "kind", f"Kind must be one of {', '.join(EXCISION_KINDS)}."))
        if ex.depth_mm is not None and not 1 <= ex.depth_mm <= 40:
            out.append(FieldProblem(pre + "depth_mm", "Depth must be 1 to 40 mm."))
        if ex.date is not None and ex.date > today:
            out.append(FieldProblem(pre + "date", "The date cannot be in the future."))
        if ex.year is not None and not 1940 <= ex.year <= today.year:
            out.append(FieldProblem(pre + "year", f"Year must be between 1940 and {today.year}."))
    for i, a in enumerate(r.drug_allergies):
        if not a.strip() or len(a) > 200:
            out.append(FieldProblem(f"risk.drug_allergies.{i}", "Each allergy needs a name (at most 200 characters)."))
    return out
