"""The installable bundle (packaging/): the PyInstaller build and its smoke test, the alert worker mode of a
bundled executable, the Linux menu entry, the icons and the Windows version resource."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import pickle
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import act_as

from rmclinic import __version__
from rmclinic.app import build_services
from rmclinic.domain.accounts import Role
from rmclinic.services import alerts as alerts_module

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- fast checks --------------------------------------------------------------------------------------------


def test_the_worker_argument_is_the_same_everywhere() -> None:
    assert load(PACKAGING / "rmclinic_main.py").WORKER_ARG == alerts_module.FROZEN_WORKER_ARG
    assert load(PACKAGING / "build.py").WORKER_ARG == alerts_module.FROZEN_WORKER_ARG


def fake_bundle_executable(tmp_path: Path) -> Path:
    """A stand-in for the bundle's executable: runs packaging/rmclinic_main.py as the bundle does."""
    exe = tmp_path / "bundle" / "rmclinic"
    exe.parent.mkdir()
    exe.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path[:0] = [{str(PACKAGING)!r}, {str(ROOT / 'src')!r}]\n"
        "import rmclinic_main\n"
        "sys.exit(rmclinic_main.run())\n"
    )
    exe.chmod(0o700)
    return exe


def test_a_bundled_app_evaluates_alerts_in_worker_processes_of_its_own_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When frozen, the workers are the executable itself started with the worker argument (before, a bundle
    never used workers): they give exactly the alerts this process does."""
    svc = build_services(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    try:
        svc.demo.create(60, seed=3)
        act_as(svc, Role.CONSULTANT)
        here = [json.dumps(v.to_json(h)) for h, v in svc.alerts.all_patients(workers=0)]
        assert len(here) > 10
        started: list[list[str]] = []
        real_popen = subprocess.Popen

        def popen(args: list[str], **kw: Any) -> Any:
            started.append(list(args))
            return real_popen(args, **kw)

        exe = fake_bundle_executable(tmp_path)
        monkeypatch.setattr(sys, "frozen", True, raising=False)
        monkeypatch.setattr(sys, "executable", str(exe))
        monkeypatch.setattr(subprocess, "Popen", popen)
        there = [json.dumps(v.to_json(h)) for h, v in svc.alerts.all_patients(workers=2)]
    finally:
        svc.close()
    assert started == [[str(exe), "--rmclinic-alert-worker"]] * 2
    assert there == here


def test_the_linux_menu_entry() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(PACKAGING / "linux" / "rmclinic.desktop", encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application"
    assert d["Name"] == "rmclinic"
    assert d["Exec"] == d["TryExec"] == "rmclinic"  # install.sh writes the installed path
    assert d["Icon"] == "rmclinic"  # share/icons/hicolor/*/apps/rmclinic.png in the tarball
    assert d["Terminal"] == "false"
    assert d["Categories"].endswith(";")
    assert {"Office", "MedicalSoftware"} <= set(d["Categories"].split(";"))
    # the window says it belongs to this entry (ui/main.py: setDesktopFileName), so the taskbar shows its icon
    assert d["StartupWMClass"] == "rmclinic"
    assert 'setDesktopFileName("rmclinic")' in (ROOT / "src" / "rmclinic" / "ui" / "main.py").read_text()
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils; .ci/run installs it)")
    done = subprocess.run([validate, str(PACKAGING / "linux" / "rmclinic.desktop")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout


def test_the_icons_are_rendered_in_every_size() -> None:
    icons = PACKAGING / "icons"
    assert (icons / "rmclinic.svg").read_text().lstrip().startswith("<?xml")
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert png_size((icons / f"rmclinic-{size}.png").read_bytes()) == (size, size)
    assert png_size((ROOT / "resources" / "icons" / "rmclinic.png").read_bytes()) == (256, 256)
    ico = (icons / "rmclinic.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", ico)
    assert (reserved, kind, count) == (0, 1, 7)
    sides = []
    for i in range(count):
        side, _, _, _, _, _, length, offset = struct.unpack_from("<BBBBHHII", ico, 6 + 16 * i)
        sides.append(side or 256)
        assert png_size(ico[offset : offset + length]) == (side or 256, side or 256)
    assert sides == [16, 24, 32, 48, 64, 128, 256]
    icns = (icons / "rmclinic.icns").read_bytes()
    assert icns[:4] == b"icns"
    assert struct.unpack_from(">I", icns, 4)[0] == len(icns)


def test_the_windows_version_resource_reads_back_with_the_version() -> None:
    """The template, filled in as rmclinic.spec does, is the Python expression PyInstaller evaluates (its classes
    stand in here: PyInstaller's own need the Windows-only pefile)."""
    text = (PACKAGING / "windows" / "version_info.txt").read_text(encoding="utf-8")
    for key, value in {"filevers": "(0, 1, 0, 0)", "version": __version__, "name": "rmclinic-cli"}.items():
        text = text.replace("{" + key + "}", value)
    text = text.replace("{description}", "rmclinic command line")
    assert "{" not in text.replace("[{", "")

    def make(kind: str) -> Any:
        return lambda *args, **kw: (kind, args, kw)

    names = [
        "VSVersionInfo",
        "FixedFileInfo",
        "StringFileInfo",
        "StringTable",
        "StringStruct",
        "VarFileInfo",
        "VarStruct",
    ]
    info = eval(text, {n: make(n) for n in names})
    assert info[0] == "VSVersionInfo"
    assert info[2]["ffi"][2]["filevers"] == (0, 1, 0, 0)
    string_file_info = info[2]["kids"][0]
    (table,) = string_file_info[1][0]
    strings = dict(entry[1] for entry in table[1][1])
    assert strings["ProductVersion"] == strings["FileVersion"] == __version__
    assert strings["OriginalFilename"] == "rmclinic-cli.exe"


def test_the_installer_script_keeps_the_data_on_upgrade_and_uninstall() -> None:
    iss = (PACKAGING / "windows" / "rmclinic.iss").read_text(encoding="utf-8")
    assert "PrivilegesRequired=admin" in iss  # per machine, to Program Files
    assert "{autopf}" in iss
    assert "rmclinic-cli.exe" in iss
    assert "{localappdata}" not in iss.split("[UninstallDelete]")[-1]  # never deletes the users' data


# -- the bundle itself (slow: builds it with PyInstaller, about a minute) --------------------------------


def bundle_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RMCLINIC_", "PYTHON", "QT_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        RMCLINIC_LOG_DIR=str(work / "logs"),
        RMCLINIC_BACKUP_DIR=str(work / "backups"),
        XDG_CONFIG_HOME=str(work / "xdg" / "config"),
        XDG_DATA_HOME=str(work / "xdg" / "data"),
        XDG_CACHE_HOME=str(work / "xdg" / "cache"),
        XDG_STATE_HOME=str(work / "xdg" / "state"),
    )
    return env


def run(args: list[Any], env: dict[str, str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if ok:
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


@pytest.mark.slow
def test_make_package_builds_a_working_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "dist"
    # what `make package` runs: build, smoke test, tarball
    done = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py"), "--dist", str(dist), "--work", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "bundle size:" in done.stdout
    bundle = dist / "rmclinic"
    gui, cli = bundle / "rmclinic", bundle / "rmclinic-cli"
    for exe in (gui, cli):
        assert exe.is_file() and exe.stat().st_mode & stat.S_IXUSR
    work = tmp_path / "work"
    work.mkdir()
    env = bundle_env(work)

    assert run([cli, "--version"], env, work).stdout.strip() == f"rmclinic {__version__}"
    assert "demo-data" in run([gui, "--help"], env, work).stdout  # the same subcommands in both
    bad = run([cli, "no-such-command"], env, work, ok=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

    # the self-test offscreen on a fresh database, with the migrations shipped in the bundle
    fresh = f"sqlite:///{work / 'fresh.sqlite3'}"
    out = run([gui, "--database", fresh, "--self-test"], env, work).stdout
    assert "self-test passed: sqlite database migrated" in out
    assert "0010" in run([cli, "--database", fresh, "db", "current"], env, work).stdout

    # a care plan (with its Code128 barcode) of a demo patient, as the demo nurse
    demo = f"sqlite:///{work / 'demo.sqlite3'}"
    run([cli, "--database", demo, "demo-data", "--patients", "20"], env, work)
    nurse = {**env, "RMCLINIC_USER": "nurse", "RMCLINIC_PASSWORD": "demo"}
    pdf = work / "plan.pdf"
    run([cli, "--database", demo, "careplan", "RM000001", "-o", pdf], nurse, work)
    assert pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    assert "RM000001" in PdfReader(pdf).pages[0].extract_text()
    # the outcomes audit as PDF (ReportLab's charts) and CSV, as a consultant
    consultant = {**env, "RMCLINIC_USER": "consultant", "RMCLINIC_PASSWORD": "demo"}
    for name in ("audit.pdf", "audit.csv"):
        run(
            [
                cli,
                "--database",
                demo,
                "report",
                "outcomes",
                "--from",
                "2025-01-01",
                "--to",
                "2026-12-31",
                "-o",
                work / name,
            ],
            consultant,
            work,
        )
    assert (work / "audit.pdf").read_bytes().startswith(b"%PDF")
    assert (work / "audit.csv").read_bytes().startswith("\ufeff".encode())

    # SQLCipher in the bundle: encrypt the demo database, then print from it with the key
    admin = {**env, "RMCLINIC_USER": "admin", "RMCLINIC_PASSWORD": "demo", "RMCLINIC_NEW_DB_KEY": "k3y-for-test"}
    run([cli, "--database", demo, "encrypt"], admin, work)
    assert not (work / "demo.sqlite3").read_bytes().startswith(b"SQLite format 3")
    keyed = {**nurse, "RMCLINIC_DB_KEY": "k3y-for-test"}
    run([cli, "--database", demo, "careplan", "RM000002", "-o", work / "plan2.pdf"], keyed, work)
    assert (work / "plan2.pdf").read_bytes().startswith(b"%PDF")

    # the alert worker mode: a worker of the bundle evaluates for this process exactly as this process does
    plain = tmp_path / "workers.sqlite3"
    svc = build_services(f"sqlite:///{plain}")
    try:
        svc.demo.create(40, seed=5)
        act_as(svc, Role.CONSULTANT)
        here = [json.dumps(v.to_json(h)) for h, v in svc.alerts.all_patients(workers=0)]
        monkeypatch.setattr(sys, "frozen", True, raising=False)
        monkeypatch.setattr(sys, "executable", str(cli))
        pool_started: list[object] = []
        real_start = alerts_module._Workers.start

        def start(*args: Any, **kw: Any) -> Any:
            pool = real_start(*args, **kw)
            pool_started.append(pool)
            return pool

        monkeypatch.setattr(alerts_module._Workers, "start", start)
        there = [json.dumps(v.to_json(h)) for h, v in svc.alerts.all_patients(workers=2)]
    finally:
        monkeypatch.undo()
        svc.close()
    assert len(pool_started) == 1 and pool_started[0] is not None  # workers ran (not this process)
    assert there == here and len(here) > 10
    answer = subprocess.run([str(cli), "--rmclinic-alert-worker"], input=b"", capture_output=True, env=env, timeout=60)
    status, error = pickle.loads(answer.stdout)
    assert (status, type(error)) == ("error", EOFError)

    # ReportLab's barcode modules (imported from strings) are in the bundle
    modules = load(PACKAGING / "build.py").bundled_modules(cli)
    assert {"reportlab.graphics.barcode.code128", "reportlab.graphics.barcode.qr"} <= modules
    assert not any(m.split(".")[0] in ("pytest", "hypothesis", "mypy", "tkinter") for m in modules)
    assert not (bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "platformthemes" / "libqgtk3.so").exists()
    # QtCharts (the outcomes audit's charts, imported only when its page opens) and the Qt library it loads
    assert list((bundle / "_internal" / "PySide6").glob("QtCharts.*"))
    assert list((bundle / "_internal" / "PySide6" / "Qt" / "lib").glob("libQt6Charts.so*"))

    # portable mode: a marker file beside the executable keeps every file in data/ beside it
    usb = tmp_path / "usb" / "rmclinic"
    shutil.copytree(bundle, usb, symlinks=True, copy_function=os.link)
    (usb / "rmclinic-portable.ini").write_text("")
    portable = {k: v for k, v in env.items() if k not in ("RMCLINIC_LOG_DIR", "RMCLINIC_BACKUP_DIR")}
    assert "self-test passed" in run([usb / "rmclinic", "--self-test"], portable, work).stdout
    assert (usb / "data" / "rmclinic.sqlite3").is_file()
    assert (usb / "data" / "logs" / "rmclinic.log").is_file()
    assert (usb / "data" / "settings").is_dir()
    assert not (work / "xdg" / "data" / "rmclinic").exists()
    assert stat.S_IMODE((usb / "data").stat().st_mode) == 0o700

    # the Linux tarball: the bundle, the menu entry, the icons and the install script
    (tarball,) = dist.glob(f"rmclinic-{__version__}-linux-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    top = tarball.name.removesuffix(".tar.gz")
    for name in (
        "rmclinic/rmclinic",
        "rmclinic/rmclinic-cli",
        "share/applications/rmclinic.desktop",
        "share/icons/hicolor/scalable/apps/rmclinic.svg",
        "share/icons/hicolor/48x48/apps/rmclinic.png",
        "install.sh",
        "INSTALL.txt",
    ):
        assert f"{top}/{name}" in names
