"""Clinic settings: stored in the database, validated, and every change audited."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.accounts import Actor, Permission
from ..domain.audit import Action, AuditEvent
from ..domain.errors import ValidationError
from ..domain.followup import DEFAULT_PROTOCOLS, parse_protocols
from ..domain.typecheck import text_problem
from ..domain.worklist import DEFAULT_MILESTONES, parse_milestones
from .alerts import parse_rule_settings, shipped_rule_set
from .base import ServiceBase
from .careplan import decode_logo
from .catalogue import check_additions, check_protocol


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    default: str
    check: Callable[[str], str | None]
    user_editable: bool = True


def _int_between(lo: int, hi: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value.strip().isdigit() or not lo <= int(value) <= hi:
            return f"Type a whole number from {lo} to {hi}."
        return None

    return check


def _text(limit: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return f"At most {limit} characters." if len(value) > limit else text_problem(value)

    return check


def _parses(parse: Callable[[str], object], value: str) -> str | None:
    try:
        parse(value)
    except (ValueError, TypeError) as e:  # json.JSONDecodeError is a ValueError
        return str(e)
    return None


# FHIR R4's oid data type (its regular expression in the specification): the first arc 0, 1 or 2, at least two
# arcs, no leading zeros. Its uuid data type is lower-case hexadecimal in groups of 8-4-4-4-12.
_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


def _identifier_system_problem(value: str) -> str | None:
    """A FHIR Identifier.system: an absolute URI (urn:oid:, urn:uuid:, http:// or https://) without spaces."""
    v = value.strip()
    if not v:
        return None
    if len(v) > 200 or any(ch.isspace() for ch in v):
        return "At most 200 characters, without spaces."
    if v.startswith("urn:oid:"):
        if _OID.fullmatch(v):
            return None
        return "An OID is numbers separated by dots (at least two; the first 0, 1 or 2; no leading zeros)."
    if v.startswith("urn:uuid:"):
        rest = v.removeprefix("urn:uuid:")
        try:
            canonical = str(uuid.UUID(rest)) == rest  # lower-case hexadecimal digits in groups of 8-4-4-4-12
        except ValueError:
            canonical = False
        return None if canonical else "A UUID is 32 lower-case hexadecimal digits in groups of 8-4-4-4-12."
    if v.startswith(("http://", "https://")) and len(v.split(":", 1)[1].strip("/")) > 0:
        return None
    return "Type a URI starting with urn:oid:, urn:uuid:, http:// or https://."


SPECS = {
    s.key: s
    for s in (
        SettingSpec("idle_lock_minutes", "Lock the screen after this many idle minutes", "10", _int_between(1, 120)),
        SettingSpec("backup_keep", "Automatic daily backups to keep", "14", _int_between(1, 365)),
        SettingSpec("demo_database", "Demo database", "0", lambda v: None if v in ("0", "1") else "0 or 1", False),
        SettingSpec("audit_alert", "Audit trail alert", "", lambda v: None, False),
        SettingSpec(
            "workup_protocol",
            "Workup protocol (investigation ids, comma-separated; empty: the default)",
            "",
            lambda v: check_protocol(v),
        ),
        SettingSpec(
            "followup_protocols",
            "Follow-up series protocols (JSON list; each says what it rests on)",
            json.dumps([p.to_json() for p in DEFAULT_PROTOCOLS], ensure_ascii=False, indent=1),
            lambda v: _parses(parse_protocols, v),
        ),
        SettingSpec(
            "worklist_milestones",
            "Pregnancy milestones shown on the worklist (JSON list)",
            json.dumps([m.to_json() for m in DEFAULT_MILESTONES], ensure_ascii=False, indent=1),
            lambda v: _parses(parse_milestones, v),
        ),
        SettingSpec(
            "rule_settings",
            'Alert rules: disabled rules and tuned parameters (JSON, e.g. {"disabled": ["R38"], '
            '"parameters": {"R14": {"tsh_threshold": 2.5}}}; bounds in the evidence library)',
            "",
            lambda v: _parses(lambda t: parse_rule_settings(t, shipped_rule_set()), v),
        ),
        SettingSpec("clinic_name", "Clinic name (printed on care plans)", "Recurrent Miscarriage Clinic", _text(200)),
        SettingSpec("clinic_address", "Clinic address (printed on care plans)", "", _text(500)),
        SettingSpec("clinic_phone", "Clinic telephone, working hours (printed on care plans)", "", _text(100)),
        SettingSpec(
            "clinic_urgent_phone",
            "Urgent telephone out of hours, e.g. early pregnancy unit or maternity triage (printed on care plans)",
            "",
            _text(100),
        ),
        SettingSpec(
            "clinic_urgent_advice",
            "What patients should do if they have bleeding or pain, in the clinic's own words (care plans)",
            "",
            _text(1000),
        ),
        SettingSpec(
            "clinic_logo",
            "Clinic logo for care plans (a PNG or JPEG file, at most 256 KB)",
            "",
            lambda v: None if not v or decode_logo(v) is not None else "Choose a PNG or JPEG file of at most 256 KB.",
        ),
        SettingSpec(
            "catalogue_additions",
            "Clinic investigations and ranges (JSON list; see docs/workup.md)",
            "",
            lambda v: check_additions(v),
        ),
        SettingSpec(
            "fhir_hospital_number_system",
            "Identifier system of the hospital number in FHIR exports (the URI your hospital assigns, e.g. "
            "urn:oid:...; empty: sent without a system)",
            "",
            lambda v: _identifier_system_problem(v),
        ),
    )
}


class SettingsService(ServiceBase):
    def get(self, key: str) -> str:
        """Settings are readable without a login (the lock timeout is needed before anyone logs in)."""
        spec = SPECS[key]
        with self._uow(read_only=True) as uow:
            value = uow.settings.get(key)
        return spec.default if value is None else value

    def get_int(self, key: str) -> int:
        return int(self.get(key))

    def is_demo(self) -> bool:
        return self.get("demo_database") == "1"

    def all(self) -> dict[str, str]:
        with self._uow(read_only=True) as uow:
            stored = uow.settings.all()
        return {k: stored.get(k, s.default) for k, s in SPECS.items()}

    def set(self, key: str, value: str) -> None:
        actor = self._actor(Permission.MANAGE_SETTINGS)
        spec = SPECS.get(key)
        if spec is None or not spec.user_editable:
            raise ValidationError.single(key, "This setting cannot be changed here.")
        if not isinstance(value, str):
            problem: str | None = "Must be text."
        elif key == "workup_protocol":  # may name the clinic's own investigations
            problem = check_protocol(value, self.get("catalogue_additions"))
        elif key == "catalogue_additions":  # must still hold every investigation the protocol names
            problem = check_additions(value) or check_protocol(self.get("workup_protocol"), value)
        else:
            problem = spec.check(value)
        if problem:
            raise ValidationError.single(key, problem)
        self._store(key, value.strip(), actor)

    def _store(self, key: str, value: str, actor: Actor) -> None:
        with self._uow() as uow:
            before = uow.settings.set(key, value)
            if before != value:
                self._audit(
                    uow,
                    actor,
                    AuditEvent(
                        Action.SETTINGS_CHANGE,
                        "setting",
                        key,
                        changes={key: [before, value]},
                    ),
                )
            uow.commit()

    def set_internal(self, key: str, value: str, who: str) -> None:
        """The app's own flags (demo database, audit alert), recorded under a system name."""
        self._store(key, value, self._session.system(who))
