"""Floor of list_ratio: PySide6 and SQLAlchemy's ORM showing the patient list's first page, and nothing else.

Usage: ``python orm_list.py DATABASE_URL``. One query for the first 50 patients not archived, ordered as the
app's list is (family_fold, given_fold, id), shown in a QTableWidget; the time it was shown is reported as
rmclinic reports it. Imports nothing of rmclinic: the minimal mapped class below declares the columns read.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem
from sqlalchemy import Date, DateTime, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

FIRST_PAGE = 50


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_number: Mapped[str] = mapped_column(String(32))
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_fold: Mapped[str] = mapped_column(String(200))
    given_fold: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


def report_first_window_for_benchmark() -> None:
    """Once the event loop has run with the window shown, write the wall-clock time and end at once."""
    path = os.environ.get("RMCLINIC_BENCH_SHOWN")
    if not path:
        return

    def report() -> None:
        with open(path, "w", encoding="ascii") as f:
            f.write(repr(time.time()))
        os._exit(0)

    QTimer.singleShot(0, report)


def main(url: str) -> int:
    app = QApplication(sys.argv[:1])
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.scalars(
            select(Patient)
            .where(Patient.archived_at.is_(None))
            .order_by(Patient.family_fold, Patient.given_fold, Patient.id)
            .limit(FIRST_PAGE)
        ).all()
        table = QTableWidget(len(rows), 4)
        table.setHorizontalHeaderLabels(["Hospital number", "NHS number", "Name", "Date of birth"])
        for r, p in enumerate(rows):
            cells = (
                p.hospital_number,
                p.nhs_number or "",
                f"{p.family_name}, {p.given_name}",
                f"{p.date_of_birth:%d/%m/%Y}",
            )
            for c, text in enumerate(cells):
                table.setItem(r, c, QTableWidgetItem(text))
    table.resize(900, 600)
    table.show()
    report_first_window_for_benchmark()
    return app.exec()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: orm_list.py DATABASE_URL")
    sys.exit(main(sys.argv[1]))
