"""Database refusals turned into the domain's errors (kept apart from the repositories: every unit of work
commits through it, and a log-in must not import the mapped classes to do so)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..domain.errors import ConflictError, DuplicateError, ValidationError

CONFLICT = "Someone else saved this record after you opened it. Reload to see their changes."


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn database refusals into the domain's errors, which the UI and CLI know how to show."""
    try:
        yield
    except StaleDataError as e:
        raise ConflictError(CONFLICT) from e
    except IntegrityError as e:
        msg = str(e.orig).lower()
        if "hospital_number" in msg:
            raise DuplicateError("hospital_number", "This hospital number is already registered.") from e
        if "nhs_number" in msg:
            raise DuplicateError("nhs_number", "This NHS number is already registered.") from e
        if "current_pregnancy" in msg:  # the partial unique index: one open pregnancy per patient
            raise ValidationError.single("dating", "This patient already has a current pregnancy.") from e
        if "care_plan_signature" in msg or "letter" in msg:  # two workstations numbering the same version
            raise ConflictError("Someone else signed a version at the same moment. Reload and try again.") from e
        raise
