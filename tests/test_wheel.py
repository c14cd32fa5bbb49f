"""A wheel built from the repo, installed into a fresh venv, creates, migrates and opens a database."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_wheel_migrates_and_opens_a_new_database(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("rmclinic-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rmclinic/_data/migrations/env.py" in names
    assert any(n.startswith("rmclinic/_data/migrations/versions/0001") for n in names)
    assert "rmclinic/_data/resources/schemas/patients-export-v1.schema.json" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True, timeout=300)
    # Dependencies come from the test environment's site-packages (added after the venv's own, so
    # the installed wheel, not the source tree, provides rmclinic).
    site = sysconfig.get_paths()["purelib"]
    (
        Path(
            subprocess.check_output(
                [py, "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"], text=True
            ).strip()
        )
        / "deps.pth"
    ).write_text(site + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    where = subprocess.check_output(
        [py, "-c", "import rmclinic.paths as p; print(p.migrations_dir()); print(p.resources_dir())"],
        text=True,
        env=env,
        cwd=tmp_path,
    ).split()
    assert all(str(env_dir) in w for w in where), where
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    exe = env_dir / "bin" / "rmclinic"
    done = subprocess.run(
        [exe, "--database", url, "db", "upgrade"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [exe, "--database", url, "--self-test"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "self-test passed" in done.stdout
