"""tools/traceability.py: every rule has a test of its own, the committed table is what the script writes now,
and the check can fail."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rmclinic.services.alerts import shipped_rule_set

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("traceability", ROOT / "tools" / "traceability.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(scope="module")
def node_ids() -> list[str]:
    """The suite's test ids, collected once (a child pytest process, a few seconds)."""
    ids: list[str] = tool.collect_node_ids()
    return ids


@pytest.fixture(scope="module")
def named_in_code() -> dict[tuple[str, str], set[str]]:
    named: dict[tuple[str, str], set[str]] = tool.rules_named_in_code(
        tool.suite_files(), [r.id for r in shipped_rule_set().rules]
    )
    return named


def test_every_shipped_rule_has_a_test_of_its_own(
    node_ids: list[str], named_in_code: dict[tuple[str, str], set[str]]
) -> None:
    rule_set = shipped_rule_set()
    traces = tool.trace(rule_set, node_ids, named_in_code)
    assert [t.rule.id for t in traces] == [r.id for r in rule_set.rules]
    assert tool.problems(rule_set, traces, node_ids) == []


def test_the_committed_table_is_what_the_script_writes_now(
    node_ids: list[str], named_in_code: dict[tuple[str, str], set[str]]
) -> None:
    rule_set = shipped_rule_set()
    expected = tool.render(rule_set, tool.trace(rule_set, node_ids, named_in_code), node_ids)
    committed = ROOT / tool.OUTPUT
    assert committed.exists(), f"{tool.OUTPUT} is missing: run `{tool.COMMAND}`"
    assert committed.read_text(encoding="utf-8") == expected, (
        f"{tool.OUTPUT} is out of date (rules, references or tests changed): run `{tool.COMMAND}` and commit it"
    )


def test_the_check_fails_naming_a_rule_without_tests(node_ids: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    shipped = shipped_rule_set()
    fake = dataclasses.replace(shipped.rules[0], id="R999", title="Made up for this test")
    rule_set = dataclasses.replace(shipped, rules=(*shipped.rules, fake))
    assert tool.main(["--check"], rule_set=rule_set, node_ids=node_ids) == 1
    err = capsys.readouterr().err
    assert "R999 (Made up for this test) has no test of its own" in err
    assert err.count("has no test of its own") == 1  # only the fake rule
    assert tool.main(["--check"], rule_set=shipped, node_ids=node_ids) == 0


def test_rule_ids_match_as_whole_words_only() -> None:
    ids = ["R1", "R14", "X1"]

    def named(node_id: str) -> set[str]:
        found: set[str] = tool.rules_named_by(tool.NodeId.parse(node_id), ids)
        return found

    assert named("tests/test_rules.py::test_fires[R14 TSH 4.1, just above 4.0]") == {"R14"}
    assert named("tests/test_rules.py::test_fires[R1 two early miscarriages]") == {"R1"}
    assert named("tests/test_x.py::TestAlerts::test_r14_threshold_is_tunable[sqlite]") == {"R14"}
    assert named("tests/test_x.py::test_x1_blocks_the_save") == {"X1"}
    assert named("tests/test_x.py::test_case[R140 or r14 in lower case, XR1]") == set()
    assert named("tests/test_x.py::test_every_rule[R1-R14]") == {"R1", "R14"}


def test_the_whole_rule_set_tests_are_listed_once_not_per_rule(node_ids: list[str]) -> None:
    rule_set = shipped_rule_set()
    traces = tool.trace(rule_set, node_ids, {})
    every = {fn for _, fn in tool.EVERY_RULE_TESTS}
    assert not any(n.function in every for t in traces for n in (*t.own, *t.named))
    # the parametrised citation check has a case per rule, yet counts as no rule's own test
    assert any(n.endswith(f"[{rule_set.rules[0].id}]") for n in node_ids)
