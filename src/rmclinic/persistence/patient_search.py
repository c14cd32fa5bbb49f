"""The patient list's search, which runs on every keystroke and must stay within a frame on 100,000 patients.

Its SQL is written out per query shape (which kinds of match each typed term can make, the sort, the plan)
and kept, so a keystroke costs the database's work and little else: building SQLAlchemy expressions and
their cache keys cost more than SQLite's own index search here (measured in ``benchmarks/``).

How many match decides the plan (counted up to ``COUNT_CAP``):
- few: collect the matches through the indexes (prefix ranges, an OR of several indexes) and sort them;
- many, for a name prefix sorted by name: the page is the union of the family-name range (one stretch of the
  name index, in order) and the other matches (given name, numbers, date of birth). Those are spread
  through the name order, so when they too are many, walking the name index in order finds a page of them
  after a few hundred rows; when they are few, they are collected and sorted like the few case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Date, TextClause, bindparam, column, text

from ..domain.search import SearchTerm
from ..domain.text import prefix_upper_bound
from ..services.dto import PatientPage, PatientRow

COUNT_CAP = 250  # beyond this the list says "more than 250 found": nobody scrolls further; counting costs time
# PostgreSQL, a name prefix with more than COUNT_CAP matches sorted by name: its other matches are collected and
# sorted up to this many (~1.3 µs each), beyond it found by walking the name index (50 in ~100,000 / n x 50 rows)
WALK_CAP = 2000

_COLUMNS = "id, hospital_number, nhs_number, family_name, given_name, date_of_birth, archived_at"
SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("family_fold", "given_fold"),
    "hospital_number": ("hospital_number",),
    "nhs_number": ("nhs_number",),
    "date_of_birth": ("date_of_birth",),
}

# Which kinds of match a term can make: (name, hospital number, NHS number digits, full date of birth).
Kinds = tuple[bool, bool, bool, bool]


def _kinds(t: SearchTerm) -> Kinds:
    return (bool(t.folded), bool(t.hospital_number), bool(t.digits), t.date is not None)


def _term_sql(i: int, kinds: Kinds, walk: bool = False) -> tuple[str | None, list[str]]:
    """Term ``i``'s family-name range, and its other matches. ``walk`` writes the other columns so SQLite's
    planner cannot use their indexes (``col || ''``) and walks the name index in order instead."""

    def c(name: str) -> str:
        return f"({name} || '')" if walk else name

    name, hospital, digits, date = kinds
    family = f"(family_fold >= :f{i} AND family_fold < :fu{i})" if name else None
    others = []
    if name:
        others.append(f"({c('given_fold')} >= :f{i} AND {c('given_fold')} < :fu{i})")
    if hospital:
        others.append(f"({c('hospital_number')} >= :h{i} AND {c('hospital_number')} < :hu{i})")
    if digits:
        others.append(f"({c('nhs_number')} >= :d{i} AND {c('nhs_number')} < :du{i})")
    if date:
        others.append(f"{c('date_of_birth')} = :dob{i}")
    return family, others


def _any(parts: Sequence[str]) -> str:
    return "(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"


def _where(conds: Sequence[str]) -> str:
    return " AND ".join(conds) if conds else "1 = 1"


def _statement(sql: str, shapes: tuple[Kinds, ...]) -> TextClause:
    dates = [bindparam(f"dob{i}", type_=Date) for i, k in enumerate(shapes) if k[3]]
    stmt = text(sql).bindparams(*dates) if dates else text(sql)
    return stmt.columns(  # type: ignore[return-value]
        column("id"),
        column("hospital_number"),
        column("nhs_number"),
        column("family_name"),
        column("given_name"),
        column("date_of_birth", Date),
        column("archived_at"),
    )


@lru_cache(maxsize=256)
def _count_sql(
    shapes: tuple[Kinds, ...], include_archived: bool, split: str, cap: int, postgresql: bool = False
) -> TextClause:
    """``split``: "all" counts every match; "others" only the first term's non-family matches.

    On PostgreSQL each of the first term's ranges is counted through its own index, up to the cap, and
    united: the planner meets ``LIMIT`` over an OR by scanning the table in its physical order, assuming
    the matches spread evenly, but hospital numbers are stored in order, so the 8,000 matches of "RM09" lie
    at the end (90,000 rows read, 26 ms; united, 0.6 ms). Under the cap every range is complete, so the
    count is exact; over it, so is the true count. United by hospital number (unique), which the name
    index holds, so the family range is counted from that index alone."""
    conds = _conditions(shapes, include_archived)
    family, others = _term_sql(0, shapes[0])
    if split == "others":
        conds[0] = _any(others)
    ranges = ([family] if family and split == "all" else []) + others
    if postgresql and len(ranges) > 1:
        each = [
            f"(SELECT hospital_number FROM patient WHERE {_where([r, *conds[1:]])} LIMIT {cap + 1})" for r in ranges
        ]
        sql = f"SELECT count(*) FROM ({' UNION '.join(each)}) AS m"
    else:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM patient WHERE {_where(conds)} LIMIT {cap + 1}) AS m"
    return _with_dates(sql, shapes)


@lru_cache(maxsize=256)
def _density_sql(kinds: Kinds, cap: int) -> TextClause:
    """PostgreSQL, one term: about how many other (non-family) matches it has, up to ``cap`` each, summed
    (a patient in two ranges counts twice; archived ones count): only index entries are read. It decides the
    plan, not the rows."""
    each = [
        f"(SELECT count(*) FROM (SELECT 1 FROM patient WHERE {r} LIMIT {cap + 1}) AS c{j})"
        for j, r in enumerate(_term_sql(0, kinds)[1])
    ]
    return _with_dates(f"SELECT {' + '.join(each) or '0'}", (kinds,))


def _with_dates(sql: str, shapes: tuple[Kinds, ...]) -> TextClause:
    dates = [bindparam(f"dob{i}", type_=Date) for i, k in enumerate(shapes) if k[3]]
    return text(sql).bindparams(*dates) if dates else text(sql)


def _conditions(shapes: tuple[Kinds, ...], include_archived: bool) -> list[str]:
    conds = []
    for i, kinds in enumerate(shapes):
        family, others = _term_sql(i, kinds)
        conds.append(_any(([family] if family else []) + others))
    if not include_archived:
        conds.append("archived_at IS NULL")
    return conds


def _order(sort: str, descending: bool, prefix: str = "") -> str:
    way = " DESC" if descending else ""
    return ", ".join(f"{prefix}{c}{way}" for c in (*SORT_COLUMNS[sort], "id"))


@lru_cache(maxsize=256)
def _page_sql(shapes: tuple[Kinds, ...], include_archived: bool, sort: str, descending: bool) -> TextClause:
    sql = (
        f"SELECT {_COLUMNS} FROM patient WHERE {_where(_conditions(shapes, include_archived))} "
        f"ORDER BY {_order(sort, descending)} LIMIT :limit OFFSET :offset"
    )
    return _statement(sql, shapes)


@lru_cache(maxsize=256)
def _union_sql(shapes: tuple[Kinds, ...], include_archived: bool, descending: bool, plan: str) -> TextClause:
    """Sorted by name, the first term a name: its family-name range and its other matches, a page of each.
    ``plan`` for the other matches: "walk" makes SQLite walk the name index in order (see ``_term_sql``);
    "collect" makes PostgreSQL gather them first (a materialised CTE, through their indexes) and sort the
    page out of them, instead of walking the name index and filtering ("RM012": 1,000 matches, 5,000 rows
    read to find 50, 8 ms; collected and sorted, 1 ms); "" leaves it to the planner."""
    rest = _conditions(shapes, include_archived)[1:]
    family, others = _term_sql(0, shapes[0], plan == "walk")
    picked = f"{_COLUMNS}, family_fold, given_fold"
    order = _order("name", descending)
    branch = "SELECT * FROM (SELECT {cols} FROM {source} WHERE {where} ORDER BY {order} LIMIT :k) AS {alias}"
    first = branch.format(
        cols=picked, source="patient", where=_where([family or "(1 = 0)", *rest]), order=order, alias="a"
    )
    where = _where([_any(others), *rest])
    cte = ""
    if plan == "collect":
        cte = f"WITH m AS MATERIALIZED (SELECT {picked} FROM patient WHERE {where}) "
        second = branch.format(cols="*", source="m", where="1 = 1", order=order, alias="b")
    else:
        second = branch.format(cols=picked, source="patient", where=where, order=order, alias="b")
    sql = (
        f"{cte}SELECT {_COLUMNS} FROM ({first} UNION {second}) AS u "
        f"ORDER BY {_order('name', descending)} LIMIT :limit OFFSET :offset"
    )
    return _statement(sql, shapes)


def _params(terms: Sequence[SearchTerm]) -> dict[str, Any]:
    p: dict[str, Any] = {}
    for i, t in enumerate(terms):
        if t.folded:
            p[f"f{i}"], p[f"fu{i}"] = t.folded, prefix_upper_bound(t.folded)
        if t.hospital_number:
            p[f"h{i}"], p[f"hu{i}"] = t.hospital_number, prefix_upper_bound(t.hospital_number)
        if t.digits:
            p[f"d{i}"], p[f"du{i}"] = t.digits, prefix_upper_bound(t.digits)
        if t.date:
            p[f"dob{i}"] = t.date
    return p


_COUNT_ALL = text("SELECT count(*) FROM patient")
_COUNT_ARCHIVED = text("SELECT count(*) FROM patient WHERE archived_at IS NOT NULL")  # the partial index


def count_listed(conn: Connection, include_archived: bool) -> int:
    """Every patient, or every one not archived: all rows less the few archived (a partial index), much
    cheaper than testing every row for "not archived"."""
    everyone = int(conn.execute(_COUNT_ALL).scalar_one())
    return everyone if include_archived else everyone - int(conn.execute(_COUNT_ARCHIVED).scalar_one())


def _row(r: Any) -> PatientRow:
    born = r[5]
    return PatientRow(
        id=r[0],
        hospital_number=r[1],
        nhs_number=r[2] or "",
        family_name=r[3],
        given_name=r[4],
        date_of_birth=born if isinstance(born, dt.date) else dt.date.fromisoformat(born),
        archived=r[6] is not None,
    )


def search(
    conn: Connection,
    terms: Sequence[SearchTerm],
    sort: str,
    descending: bool,
    include_archived: bool,
    offset: int,
    limit: int,
) -> PatientPage:
    cap = COUNT_CAP
    pg = conn.dialect.name == "postgresql"
    shapes = tuple(_kinds(t) for t in terms)
    params = _params(terms)
    if shapes:
        found = int(conn.execute(_count_sql(shapes, include_archived, "all", cap, pg), params).scalar_one())
        at_least, total = found > cap, min(found, cap)
    else:
        at_least, total = False, count_listed(conn, include_archived)
    page = {**params, "limit": limit, "offset": offset}
    if at_least and sort == "name" and shapes[0][0]:
        if pg:  # several terms: as many as the planner estimates (the first term's density says little)
            few = len(shapes) == 1 and conn.execute(_density_sql(shapes[0], WALK_CAP), params).scalar_one() <= WALK_CAP
            plan = "collect" if few else ""
        else:
            others = conn.execute(_count_sql(shapes, include_archived, "others", cap), params).scalar_one()
            plan = "walk" if others > cap else ""
        stmt = _union_sql(shapes, include_archived, descending, plan)
        page["k"] = offset + limit
    else:
        stmt = _page_sql(shapes, include_archived, sort, descending)
    rows = tuple(_row(r) for r in conn.execute(stmt, page))
    return PatientPage(rows=rows, total=total, offset=offset, total_at_least=at_least)
