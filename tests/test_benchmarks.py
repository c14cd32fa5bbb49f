"""The benchmark harness (`make bench`) end to end on a small clinic: it runs, and its results file has
exactly the published keys with usable numbers. No timing is asserted: this machine's speed is not ours."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the harness is a top-level package beside src/, not installed
    sys.path.insert(0, str(REPO))

from benchmarks.report import KEYS, update_readme  # noqa: E402
from benchmarks.stats import median, p95, quantile, sig  # noqa: E402


def test_median_and_p95_interpolate_between_ranks() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert p95([5.0]) == 5.0
    assert p95([float(i) for i in range(1, 101)]) == pytest.approx(95.05)
    assert quantile([1.0, 2.0], 1.0) == 2.0
    with pytest.raises(ValueError, match="no samples"):
        median([])


def test_sig_keeps_small_positive_figures_positive() -> None:
    assert sig(0.000123456) == 0.0001235
    assert sig(123456.0) == 123500.0
    assert sig(0.0) == 0.0


def test_readme_section_goes_before_architecture_and_is_replaced_in_place(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# app\n\nIntro.\n\n## Architecture\n\nLayers.\n", encoding="utf-8")
    update_readme(readme, "first table")
    text = readme.read_text(encoding="utf-8")
    assert text.index("## Performance") < text.index("first table") < text.index("## Architecture")
    update_readme(readme, "second table")
    text = readme.read_text(encoding="utf-8")
    assert "first table" not in text and text.count("## Performance") == 1 and "second table" in text
    assert text.startswith("# app\n\nIntro.\n\n") and text.endswith("## Architecture\n\nLayers.\n")


@pytest.mark.slow
def test_harness_writes_the_published_keys(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--patients",
            "1000",
            "--repeat",
            "2",
            "--output",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--no-readme",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {*KEYS, "machine"}
    for key in KEYS:
        value = doc[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value) and value > 0, key
    machine = doc["machine"]
    assert machine["patients"] == 1000 and machine["repeats"] == 2
    for field in ("date", "cpu", "cores", "memory", "os", "python", "pyside6", "sqlalchemy", "reportlab", "sqlite"):
        assert machine[field], field
    detail = json.loads((tmp_path / "results-detail.json").read_text(encoding="utf-8"))
    assert set(detail["sqlite"]["figures"]) == set(KEYS)
    assert not list((tmp_path / "cache").glob("work-*")), "working copies are removed"
