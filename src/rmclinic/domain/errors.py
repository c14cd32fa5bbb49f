"""Domain errors carry field-level problems so every layer can show them where they were typed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field. ``field`` is a dotted path such as ``pregnancies.2.outcome``."""

    field: str
    message: str


class DomainError(Exception):
    """Base class of every error the domain and service layers raise on purpose."""


class ValidationError(DomainError):
    """Input that breaks a rule. Holds every problem found, not only the first."""

    def __init__(self, problems: list[FieldProblem] | tuple[FieldProblem, ...]) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls([FieldProblem(field, message)])

    @classmethod
    def from_dict(cls, problems: dict[str, str]) -> ValidationError:
        return cls([FieldProblem(f, m) for f, m in problems.items()])

    def for_field(self, field: str) -> list[str]:
        return [p.message for p in self.problems if p.field == field]


class NotFoundError(DomainError):
    """The record asked for does not exist."""


class ConflictError(DomainError):
    """Someone else saved the record since it was read (optimistic locking)."""


class DuplicateError(DomainError):
    """The record would duplicate one that exists (unique hospital or NHS number)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
