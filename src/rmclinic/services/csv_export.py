"""CSV that Excel and LibreOffice open as the clinic expects: UTF-8 with a byte-order mark (without it Excel
reads "Wiśniewska" as mojibake), CRLF line ends, ISO dates, and no cell a spreadsheet would run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or their full-width forms, which some spreadsheets accept
too), a tab or a carriage return is prefixed with an apostrophe: the OWASP advice for "CSV injection". A
name, a note or an imported value could otherwise hold ``=HYPERLINK(...)``, run when a colleague opens the
file. Numbers stay numbers (a negative number is data, not a formula), so only text is prefixed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..domain.patient import age_on
from .dto import PatientRecord

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

Cell = str | int | float | bool | dt.date | dt.datetime | None


def safe_cell(value: Cell) -> str | int | float:
    """One cell as written: dates ISO (timestamps in UTC), yes/no for booleans, text made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


# -- the patient list ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientColumn:
    key: str
    label: str


PATIENT_COLUMNS: tuple[PatientColumn, ...] = (
    PatientColumn("hospital_number", "Hospital number"),
    PatientColumn("nhs_number", "NHS number"),
    PatientColumn("family_name", "Family name"),
    PatientColumn("given_name", "Given name"),
    PatientColumn("date_of_birth", "Date of birth"),
    PatientColumn("age", "Age"),
    PatientColumn("archived", "Archived"),
    PatientColumn("phone", "Phone"),
    PatientColumn("email", "Email"),
    PatientColumn("gp_practice", "GP practice"),
    PatientColumn("pregnancy_losses", "Pregnancy losses"),
    PatientColumn("live_births", "Live births"),
)
PATIENT_COLUMN_KEYS = tuple(c.key for c in PATIENT_COLUMNS)
DEFAULT_PATIENT_COLUMNS = ("hospital_number", "nhs_number", "family_name", "given_name", "date_of_birth")


def patient_cell(record: PatientRecord, key: str, today: dt.date) -> Cell:
    d = record.data
    if key == "age":
        return age_on(d.date_of_birth, today)
    if key == "archived":
        return record.archived
    if key == "pregnancy_losses":
        return record.summary.total_losses
    if key == "live_births":
        return record.summary.live_births
    value: Cell = getattr(d, key)
    return value


def patient_rows(records: Iterable[PatientRecord], columns: Sequence[str], today: dt.date) -> Iterable[list[Cell]]:
    for r in records:
        yield [patient_cell(r, key, today) for key in columns]


def patient_header(columns: Sequence[str]) -> list[str]:
    labels = {c.key: c.label for c in PATIENT_COLUMNS}
    return [labels[k] for k in columns]


# -- alert analytics ------------------------------------------------------------------------------------------

ANALYTICS_HEADER = ("Rule", "Title", "Event", "Role", "Override reason", "Count")
