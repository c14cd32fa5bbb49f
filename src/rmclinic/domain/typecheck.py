"""Reject input of the wrong type or with unstorable characters before any rule looks at it.

Services are called by the UI, the CLI, importers and (later) other programs; a wrong type must give a
clear validation error at its field, never an AttributeError deep inside.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import types
import typing
import unicodedata
from functools import cache
from typing import Any

from .errors import FieldProblem, ValidationError

MAX_TEXT = 10_000  # no free-text field may exceed this, whatever its own rule says
_MULTILINE_OK = {"\n", "\r", "\t"}


def text_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT:
        return f"Text is limited to {MAX_TEXT} characters."
    for ch in value:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            return "Contains a character that cannot be stored (an unpaired surrogate)."
        if cat == "Cc" and ch not in _MULTILINE_OK:
            return "Contains a control character; please retype it."
    return None


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if tp is dt.date:
        return "a date"
    if tp in (int, float):
        return "a number"
    if tp is bool:
        return "yes or no"
    if tp is str:
        return "text"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    return getattr(tp, "__name__", str(tp))


def _check(value: Any, tp: Any, path: str, out: list[FieldProblem]) -> None:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return
        real = [o for o in options if o is not type(None)]
        if len(real) == 1:
            _check(value, real[0], path, out)
        return
    if origin is tuple:
        if not isinstance(value, tuple | list):
            out.append(FieldProblem(path, "Must be a list."))
            return
        (inner, *_rest) = typing.get_args(tp)
        for i, v in enumerate(value):
            _check(v, inner, f"{path}.{i}", out)
        return
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, tp):  # type: ignore[arg-type]
            out.append(FieldProblem(path, f"Must be {getattr(tp, '__name__', 'a record')}."))
            return
        for name, sub in _hints(tp).items():  # type: ignore[arg-type]
            _check(getattr(value, name), sub, f"{path}.{name}" if path else name, out)
        return
    ok: bool
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif tp is dt.date:
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        ok = isinstance(value, tp)
    elif tp is str:
        ok = isinstance(value, str)
        if ok:
            problem = text_problem(value)
            if problem:
                out.append(FieldProblem(path, problem))
            return
    else:
        ok = True
    if not ok:
        out.append(FieldProblem(path, f"Must be {_type_name(tp)}."))


def check_types(value: Any, kind: type, prefix: str = "") -> None:
    """Raise ``ValidationError`` listing every field of the wrong type (paths as in the dataclass)."""
    problems: list[FieldProblem] = []
    _check(value, kind, prefix, problems)
    if problems:
        raise ValidationError(problems)
