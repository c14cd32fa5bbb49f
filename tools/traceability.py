"""Traceability of the alert rules: rule id → citations → tests → release, generated so it cannot drift.

The rules and their citations come from the shipped rule set (``resources/evidence/rules.json`` and
``references.json``, loaded exactly as the application loads them); the tests come from what pytest collects
in ``tests/``. A test belongs to a rule when

- its collected id names the rule as a whole word: a parametrised case such as
  ``test_rule_fires_for_the_patient_it_was_written_for_and_names_why[R14 TSH 4.1, …]`` (ids are matched
  case-sensitively in the parameter part), or a test function named after it such as ``test_r14_…``; these
  are the rule's **own tests**, and every rule must have at least one;
- or its code names the rule id as a string (``"R14"``), e.g. a service test that tunes R14's threshold.
  These are listed too, but do not count as the rule's own tests: a test may name a rule only to break it on
  purpose (to test the engine) or to check that it stays quiet.

Tests that go through every rule at once (``EVERY_RULE_TESTS``) are listed once, not per rule.

Usage (from the repository root)::

    .venv/bin/python tools/traceability.py                  # print the Markdown
    .venv/bin/python tools/traceability.py -o docs/clinical-safety/traceability.md
    .venv/bin/python tools/traceability.py --check          # exit 1 naming rules without a test of their own
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rmclinic import __version__
from rmclinic.rules.model import Citation, RuleMeta, RuleSet
from rmclinic.services.alerts import shipped_rule_set

ROOT = Path(__file__).resolve().parent.parent
TESTS = "tests"
OUTPUT = "docs/clinical-safety/traceability.md"
COMMAND = f".venv/bin/python tools/traceability.py -o {OUTPUT}"

# Tests that check every rule at once (file, function). They are listed once, not under each rule.
EVERY_RULE_TESTS: tuple[tuple[str, str], ...] = (
    ("tests/test_rules.py", "test_the_shipped_rule_set_loads_every_rule_and_rejects_none"),
    ("tests/test_rules.py", "test_every_rule_has_a_patient_that_fires_it_and_a_near_miss_that_does_not"),
    ("tests/test_rules.py", "test_every_rule_cites_its_evidence_with_label_and_link"),
    ("tests/test_demo_alerts.py", "test_every_loaded_rule_fires_for_at_least_one_patient"),
    ("tests/test_demo_alerts.py", "test_each_case_fires_its_rules_and_not_its_near_misses"),
    ("tests/test_cli_alerts.py", "test_rules_json_lists_every_rule_with_its_source_attributes"),
)
# This script's own tests name made-up rules; they trace nothing.
IGNORED_FILES = frozenset({"tests/test_traceability.py"})

_WORD = re.compile(r"[A-Za-z0-9]+")


# -- collecting the tests ---------------------------------------------------------------------------------


class CollectionError(RuntimeError):
    """pytest could not collect the suite: the table would be incomplete, so nothing is written."""


def collect_node_ids(paths: Sequence[str] = (TESTS,), root: Path = ROOT) -> list[str]:
    """Every test id pytest collects under ``paths`` (run in a child process, so nothing is imported here)."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CollectionError(f"pytest could not collect {' '.join(paths)} (exit {done.returncode}):\n{tail}")
    ids: list[str] = []
    for line in done.stdout.splitlines():
        if not line.strip():
            break  # the summary follows the first blank line
        if "::" in line:
            ids.append(line.strip())
    return ids


@dataclass(frozen=True)
class NodeId:
    """One collected test: ``tests/test_rules.py::test_name[param]`` (a class, if any, is dropped)."""

    file: str
    function: str
    param: str

    @classmethod
    def parse(cls, node_id: str) -> NodeId:
        path, _, rest = node_id.partition("::")
        name, bracket, param = rest.partition("[")
        return cls(path, name.rsplit("::", 1)[-1], param[:-1] if bracket else "")

    @property
    def short(self) -> str:
        return f"{Path(self.file).name}::{self.function}"


def rules_named_by(node: NodeId, rule_ids: Iterable[str]) -> set[str]:
    """Rule ids a test id names as whole words: case-sensitive in the parameter (``[R14 …]``), any case in
    the function name (``test_r14_…``)."""
    param_words = set(_WORD.findall(node.param))
    name_words = {w.lower() for w in re.split(r"[^A-Za-z0-9]+", node.function) if w}
    return {r for r in rule_ids if r in param_words or r.lower() in name_words}


def rules_named_in_code(
    files: Iterable[Path], rule_ids: Iterable[str], root: Path = ROOT
) -> dict[tuple[str, str], set[str]]:
    """(file, test function) → the rule ids its code (decorators included) names as a string constant."""
    ids = set(rule_ids)
    out: dict[tuple[str, str], set[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name.startswith("test"):
                named = {
                    n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                } & ids
                if named:
                    out.setdefault((rel, fn.name), set()).update(named)
    return out


def suite_files(root: Path = ROOT) -> list[Path]:
    return sorted((root / TESTS).rglob("test_*.py"))


# -- tracing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleTrace:
    rule: RuleMeta
    own: tuple[NodeId, ...]  # collected tests whose id names the rule
    named: tuple[NodeId, ...]  # collected tests whose code names the rule


def trace(
    rule_set: RuleSet, node_ids: Iterable[str], named_in_code: Mapping[tuple[str, str], set[str]]
) -> list[RuleTrace]:
    """Each rule of the rule set with the tests that exercise it, in the rule set's order."""
    ids = [r.id for r in rule_set.rules]
    every = set(EVERY_RULE_TESTS)
    own: dict[str, list[NodeId]] = {r: [] for r in ids}
    named: dict[str, list[NodeId]] = {r: [] for r in ids}
    for raw in node_ids:
        node = NodeId.parse(raw)
        if node.file in IGNORED_FILES or (node.file, node.function) in every:
            continue
        by_id = rules_named_by(node, ids)
        for r in by_id:
            own[r].append(node)
        for r in named_in_code.get((node.file, node.function), set()) - by_id:
            named[r].append(node)
    return [RuleTrace(rule, tuple(own[rule.id]), tuple(named[rule.id])) for rule in rule_set.rules]


def problems(rule_set: RuleSet, traces: Sequence[RuleTrace], node_ids: Iterable[str]) -> list[str]:
    """What makes the check fail: rules without a test of their own, rules that did not load, and
    whole-rule-set tests that no longer exist."""
    out = [f"{t.rule.id} ({t.rule.title}) has no test of its own" for t in traces if not t.own]
    out += [f"{rid} did not load: {why}" for rid, why in rule_set.rejected]
    collected = {(n.file, n.function) for n in map(NodeId.parse, node_ids)}
    out += [
        f"{f}::{fn} is listed in EVERY_RULE_TESTS but was not collected"
        for f, fn in EVERY_RULE_TESTS
        if (f, fn) not in collected
    ]
    return out


# -- Markdown -----------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Plain text safe inside a Markdown table cell."""
    text = " ".join(text.split())
    return re.sub(r"([\\|*_`<>\[\]])", r"\\\1", text)


def _natural(key: str) -> tuple[int, int, str]:
    """The digest's S1 … S80 in number order, then the other keys (ASRM2024, SAFETY …) by name."""
    m = re.fullmatch(r"S(\d+)", key)
    return (0, int(m.group(1)), "") if m else (1, 0, key)


def short_label(label: str, limit: int = 60) -> str:
    if len(label) <= limit:
        return label
    cut = label[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:(")
    return cut + "…"


def _tests_cell(t: RuleTrace) -> str:
    def grouped(nodes: Sequence[NodeId]) -> list[str]:
        counts: dict[str, int] = {}
        for n in nodes:
            counts[n.short] = counts.get(n.short, 0) + 1
        return [f"`{name}` ×{k}" for name, k in counts.items()]

    lines = [f"**{len(t.own)}**", *grouped(t.own)]
    if t.named:
        lines.append(f"named in {len(t.named)} more:")
        lines += grouped(t.named)
    return "<br>".join(lines)


def _citations_cell(citations: Sequence[Citation]) -> str:
    return "<br>".join(f"{c.key}: {_md(short_label(c.label))}" for c in citations)


def _reference_line(c: Citation) -> str:
    link = ""
    if c.doi:
        link = f" doi:[{c.doi}](<https://doi.org/{c.doi}>)" + (" (DOI unconfirmed)" if c.doi_unverified else "")
    elif c.url:
        link = f" <{c.url}>"
    return f"- **{c.key}** {_md(c.label)}{link}"


def render(rule_set: RuleSet, traces: Sequence[RuleTrace], node_ids: Sequence[str]) -> str:
    release = f"{__version__} / {rule_set.version}"
    collected = [NodeId.parse(n) for n in node_ids]
    out = [
        "# Traceability: rule → citation → tests → release",
        "",
        f"<!-- Generated by `{COMMAND}` — do not edit by hand. -->",
        "",
        "**Generated; do not edit by hand.** Written by "
        f"`{COMMAND}` from the shipped rule set (`resources/evidence/rules.json`, `references.json`) and the tests "
        "pytest collects in `tests/`. `tests/test_traceability.py` fails when this file differs from what the "
        "command writes, or when a rule has no test of its own.",
        "",
        f"Release: rmclinic {__version__}, rule set {rule_set.version}. {len(traces)} rules; "
        f"{sum(1 for t in traces if t.own)} have tests of their own.",
        "",
        "**Tests**: the number of collected tests whose id names the rule (its own tests: the firing and "
        "near-miss cases in `tests/test_rules.py`, and any test named after the rule), then each test function "
        'with its number of cases. "Named in … more" lists tests whose code names the rule (e.g. a service test '
        "that tunes its parameter, or an engine test that breaks it on purpose). **Release**: rmclinic version / "
        "rule-set version. How the rule set is reviewed: [rule-review.md](rule-review.md).",
        "",
        "| Rule | Version | Title | Severity | Citations | Tests | Release | Review by |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in traces:
        r = t.rule
        out.append(
            f"| {r.id} | {r.version} | {_md(r.title)} | {r.severity.value} | {_citations_cell(r.citations)} | "
            f"{_tests_cell(t)} | {release} | {r.review_by.isoformat()} |"
        )
    out += ["", "## Tests that go through every rule", ""]
    for f, fn in EVERY_RULE_TESTS:
        n = sum(1 for c in collected if (c.file, c.function) == (f, fn))
        if n:
            out.append(f"- `{f}::{fn}`" + (f" ({n} cases)" if n > 1 else ""))
    out += ["", "## Rules in rules.json that did not load", ""]
    out += [f"- {rid}: {_md(why)}" for rid, why in rule_set.rejected] or ["None."]
    out += ["", "## References cited by the rules", ""]
    seen: dict[str, Citation] = {}
    for t in traces:
        for c in t.rule.citations:
            seen.setdefault(c.key, c)
    out += [_reference_line(seen[k]) for k in sorted(seen, key=_natural)]
    return "\n".join(out) + "\n"


# -- command line -------------------------------------------------------------------------------------------


def main(
    argv: Sequence[str] | None = None, rule_set: RuleSet | None = None, node_ids: Sequence[str] | None = None
) -> int:
    parser = argparse.ArgumentParser(description="Rule → citation → tests → release, as a Markdown table.")
    parser.add_argument("-o", "--output", type=Path, help=f"write the Markdown here (e.g. {OUTPUT})")
    parser.add_argument("--check", action="store_true", help="exit 1 naming every rule without a test of its own")
    args = parser.parse_args(argv)
    rule_set = rule_set or shipped_rule_set()
    try:
        node_ids = list(node_ids) if node_ids is not None else collect_node_ids()
    except CollectionError as e:
        print(f"traceability: {e}", file=sys.stderr)
        return 2
    named = rules_named_in_code(suite_files(), [r.id for r in rule_set.rules])
    traces = trace(rule_set, node_ids, named)
    if args.check:
        found = problems(rule_set, traces, node_ids)
        for p in found:
            print(f"traceability: {p}", file=sys.stderr)
        if not found:
            print(f"traceability: all {len(traces)} rules have tests of their own")
        return 1 if found else 0
    text = render(rule_set, traces, node_ids)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
