"""The patient search as one hand-written SQL query through the bare driver: the floor of search_ratio.

Same meaning as rmclinic/domain/search.py and persistence/patient_search.py describe: every term must match,
and a term matches a prefix of the folded family or given name, of the hospital number (upper-cased), of
the NHS number (digits), or a dd/mm/yyyy date of birth; archived patients are left out; sorted by
family_fold, given_fold, id; the first 50. Prefixes are written as ranges, as any index-minded author would.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

PAGE = 50
_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def _fold(text: str) -> str:
    """Lower case without accents (enough for the ASCII texts the harness types; the ids are compared)."""
    t = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _date(token: str) -> dt.date | None:
    m = _DATE.match(token)
    if not m:
        return None
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


def bare_query(text: str, backend: str) -> tuple[str, dict[str, Any]]:
    """The SQL (named parameters in the driver's style) and its parameters for what was typed."""
    raw = text.strip()
    if re.fullmatch(r"[\d\s]+", raw):
        raw = "".join(raw.split())
    conds: list[str] = []
    params: dict[str, Any] = {}

    def p(name: str, value: object) -> str:
        params[name] = value
        return f":{name}" if backend == "sqlite" else f"%({name})s"

    for i, token in enumerate(raw.replace(",", " ").split()):
        folded, hosp = _fold(token), re.sub(r"\s+", "", token).upper()
        ors = []
        if folded:
            lo, hi = p(f"f{i}", folded), p(f"fu{i}", _upper_bound(folded))
            ors += [f"(family_fold >= {lo} AND family_fold < {hi})", f"(given_fold >= {lo} AND given_fold < {hi})"]
        ors.append(f"(hospital_number >= {p(f'h{i}', hosp)} AND hospital_number < {p(f'hu{i}', _upper_bound(hosp))})")
        if token.isdigit():
            ors.append(f"(nhs_number >= {p(f'd{i}', token)} AND nhs_number < {p(f'du{i}', _upper_bound(token))})")
        day = _date(token)
        if day is not None:
            ors.append(f"date_of_birth = {p(f'dob{i}', day.isoformat() if backend == 'sqlite' else day)}")
        conds.append("(" + " OR ".join(ors) + ")")
    conds.append("archived_at IS NULL")
    sql = (
        "SELECT id, hospital_number, nhs_number, family_name, given_name, date_of_birth, archived_at "
        f"FROM patient WHERE {' AND '.join(conds)} ORDER BY family_fold, given_fold, id LIMIT {PAGE}"
    )
    return sql, params
