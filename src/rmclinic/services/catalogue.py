"""The investigation catalogue as the clinic uses it: the shipped file plus the clinic's own additions."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..domain.investigations import Catalogue, CatalogueError, parse_catalogue
from ..paths import resource


@cache
def shipped_document() -> dict[str, Any]:
    with resource("investigations.json").open(encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def merged_catalogue(additions_json: str = "", protocol_csv: str = "") -> Catalogue:
    """Apply the clinic's settings: ``additions_json`` is a JSON list of investigation objects (same
    fields as resources/investigations.json; an existing id replaces that entry), ``protocol_csv`` a
    comma-separated list of investigation ids for the completeness line. Raises CatalogueError."""
    doc = json.loads(json.dumps(shipped_document()))
    if additions_json.strip():
        try:
            additions = json.loads(additions_json)
        except json.JSONDecodeError as e:
            raise CatalogueError(f"not valid JSON: {e}") from None
        if not isinstance(additions, list) or not all(isinstance(a, dict) for a in additions):
            raise CatalogueError("the additions must be a JSON list of investigation objects")
        by_id = {i["id"]: n for n, i in enumerate(doc["investigations"])}
        for a in additions:
            if a.get("id") in by_id:
                doc["investigations"][by_id[a["id"]]] = a
            else:
                doc["investigations"].append(a)
    if protocol_csv.strip():
        doc["protocol"] = {**doc["protocol"], "items": [p.strip() for p in protocol_csv.split(",") if p.strip()]}
    try:
        return parse_catalogue(doc)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, CatalogueError):
            raise
        raise CatalogueError(f"an investigation is malformed ({type(e).__name__}: {e})") from None


def check_additions(value: str) -> str | None:
    try:
        merged_catalogue(value)
    except CatalogueError as e:
        return str(e)
    return None


def check_protocol(value: str, additions: str = "") -> str | None:
    try:
        merged_catalogue(additions, value)
    except CatalogueError as e:
        return str(e)
    return None
