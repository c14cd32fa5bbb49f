"""CSV that Excel and LibreOffice open as the clinic expects: UTF-8 with a byte-order mark (without it Excel
reads "Wiśniewska" as mojibake), CRLF line ends, ISO dates, and no cell a spreadsheet would run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or their full-width forms, which some spreadsheets accept
too), a tab, a carriage return or a NUL is prefixed with an apostrophe: the OWASP advice for "CSV injection".
A name, a note or an imported value could otherwise hold ``=HYPERLINK(...)``, run when a colleague opens the
file. Every text cell is also quoted: a spreadsheet set to ";" as its list separator (German, Polish, ...)
would otherwise split ``Practice;=cmd|...`` into a second cell that starts with "=". Numbers stay numbers,
unquoted and unprefixed (a negative number is data, not a formula).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..domain.patient import age_on
from .dto import PatientRecord, PatientRow

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")

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
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
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


# Columns the list's own rows hold; the others need each patient's full record.
ROW_COLUMNS = frozenset(
    {"hospital_number", "nhs_number", "family_name", "given_name", "date_of_birth", "age", "archived"}
)


def needs_records(columns: Sequence[str]) -> bool:
    return not set(columns) <= ROW_COLUMNS


def patient_cell(row: PatientRow, record: PatientRecord | None, key: str, today: dt.date) -> Cell:
    if key == "age":
        return age_on(row.date_of_birth, today)
    if key == "nhs_number":
        return row.nhs_number
    if key in ROW_COLUMNS:
        value: Cell = getattr(row, key)
        return value
    assert record is not None, key
    if key == "pregnancy_losses":
        return record.summary.total_losses
    if key == "live_births":
        return record.summary.live_births
    value = getattr(record.data, key)
    return value


def patient_header(columns: Sequence[str]) -> list[str]:
    labels = {c.key: c.label for c in PATIENT_COLUMNS}
    return [labels[k] for k in columns]


# -- alert analytics ------------------------------------------------------------------------------------------

ANALYTICS_HEADER = ("Rule", "Title", "Event", "Role", "Override reason", "Count")
