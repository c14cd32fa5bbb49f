"""Layer boundaries (design.md): app/cli > ui > reports | persistence > services > rules > domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "rmclinic"

# For each layer, the top-level packages it must never import (third-party or rmclinic's own).
FORBIDDEN: dict[str, set[str]] = {
    "domain": {
        "PySide6",
        "sqlalchemy",
        "alembic",
        "reportlab",
        "rmclinic.services",
        "rmclinic.persistence",
        "rmclinic.ui",
        "rmclinic.reports",
        "rmclinic.rules",
        "rmclinic.app",
        "rmclinic.cli",
    },
    "rules": {
        "PySide6",
        "sqlalchemy",
        "alembic",
        "reportlab",
        "rmclinic.services",
        "rmclinic.persistence",
        "rmclinic.ui",
        "rmclinic.reports",
        "rmclinic.app",
        "rmclinic.cli",
    },
    "services": {
        "PySide6",
        "sqlalchemy",
        "alembic",
        "reportlab",
        "rmclinic.persistence",
        "rmclinic.ui",
        "rmclinic.reports",
        "rmclinic.app",
        "rmclinic.cli",
    },
    "persistence": {"PySide6", "reportlab", "rmclinic.ui", "rmclinic.reports", "rmclinic.app", "rmclinic.cli"},
    "reports": {
        "PySide6",
        "sqlalchemy",
        "alembic",
        "rmclinic.persistence",
        "rmclinic.ui",
        "rmclinic.app",
        "rmclinic.cli",
    },
    # The UI calls services, never SQL.
    "ui": {"sqlalchemy", "alembic", "rmclinic.persistence", "rmclinic.app", "rmclinic.cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(SRC.parent).with_suffix("").parts  # ("rmclinic", "ui", "x")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                module = ".".join(base + ([node.module] if node.module else []))
                found.add(module)
                found.update(f"{module}.{a.name}" for a in node.names)
            elif node.module:
                found.add(node.module)
    return found


def _violations(layer: str) -> list[str]:
    bad = []
    for path in sorted((SRC / layer).rglob("*.py")):
        for name in _imports(path):
            for forbidden in FORBIDDEN[layer]:
                if name == forbidden or name.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(SRC)} imports {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_what_sits_above_it(layer: str) -> None:
    assert _violations(layer) == []


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    # Guard against a checker that can never fail: a relative import up into persistence is seen.
    probe = SRC / "services" / "_probe_violation.py"
    probe.write_text("from ..persistence import models\nimport sqlalchemy\n", encoding="utf-8")
    try:
        found = _violations("services")
        assert "services/_probe_violation.py imports sqlalchemy" in found
        assert "services/_probe_violation.py imports rmclinic.persistence.models" in found
    finally:
        probe.unlink()


def test_nothing_heavy_happens_at_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rmclinic.cli, rmclinic.app;print(any(m.startswith(('PySide6', 'alembic')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # Qt and Alembic load only when a window or a migration is needed


def test_the_login_dialog_needs_no_database_libraries() -> None:
    """The first window (the login dialog) shows before SQLAlchemy, the services, Alembic, ReportLab or the
    password hasher are imported: they load in the background while the user types (issue 9's budget)."""
    import subprocess
    import sys

    code = (
        "import sys, rmclinic.cli, rmclinic.app, rmclinic.logs, rmclinic.ui.main, rmclinic.ui.login, rmclinic.ui.tasks;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic', 'reportlab', 'argon2'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
