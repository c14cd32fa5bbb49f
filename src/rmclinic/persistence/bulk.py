"""Many rows into one table at once: demo data, imports, the all-patient alert refresh.

PostgreSQL takes them by COPY, in the session's transaction and in the rows' order (ids from a sequence come
out as an insert would give them): an executemany costs ~20-45 µs a row there, COPY ~17 µs (100,000 demo
patients are over a million rows). Fewer rows, and SQLite, go in one executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

COPY_FROM = 100  # rows; fewer (one patient's) go in one executemany: COPY costs a round trip more


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction."""
    if not rows:
        return
    if len(rows) < COPY_FROM or session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), list(rows))
        return
    session.flush()
    cols = list(rows[0])
    raw: Any = session.connection().connection.driver_connection  # psycopg's, in this transaction
    statement = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])
    except raw.Error as e:
        # As SQLAlchemy's own errors, and without the server's CONTEXT line, which quotes the row refused
        # (patient data must not reach logs or messages: hide_parameters does it for the other statements).
        brief = type(e)(e.diag.message_primary or type(e).__name__)
        raise DBAPIError.instance(statement, None, brief, type(raw).Error, hide_parameters=True) from None
