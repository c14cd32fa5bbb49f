"""The installable bundle (packaging/): the PyInstaller build and its smoke test, the alert worker mode of a
bundled executable, the Linux menu entry, the icons and the Windows version resource."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import pickle
import re
import shutil
import signal
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
from rmclinic.persistence.migrate import HEAD_REVISION
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


def test_the_spec_names_psycopgs_c_modules_and_the_build_fails_on_a_missing_hidden_import() -> None:
    """collect_submodules("psycopg_binary") always gave nothing (psycopg_binary refuses to be imported before
    psycopg; PyInstaller only warned): the modules are named instead, and such lines now fail the build."""
    import psycopg  # noqa: F401  (psycopg_binary needs it imported first)

    spec = (PACKAGING / "rmclinic.spec").read_text(encoding="utf-8")
    assert 'collect_submodules("psycopg_binary")' not in spec
    for name in ("psycopg_binary", "psycopg_binary._psycopg", "psycopg_binary.pq", "psycopg_binary.version"):
        assert f'"{name}",' in spec
        assert importlib.util.find_spec(name) is not None, name
    build = load(PACKAGING / "build.py")
    output = (
        "28 WARNING: Failed to collect submodules for 'x' because importing 'x' raised: ImportError: no\n"
        '36309 WARNING: Hidden import "psycopg_binary._uuid" not found!\n'  # a contributed hook's, harmless
        "40000 ERROR: Hidden import 'psycopg_binary.nothing' not found\n"
        "41938 WARNING: Library ole32 required via ctypes not found\n"
    )
    assert build.build_problems(output) == [
        "28 WARNING: Failed to collect submodules for 'x' because importing 'x' raised: ImportError: no",
        "40000 ERROR: Hidden import 'psycopg_binary.nothing' not found",
    ]


# -- the entry script: what the programs rmclinic starts inherit --------------------------------------------


def child_environment() -> dict[str, str]:
    """The environment a program started now from this process sees."""
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process dressed as a bundle's, with the environment PyInstaller's bootloader and Qt hook give it."""
    internal = tmp_path / "dist" / "rmclinic" / "_internal"
    internal.mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(internal), raising=False)
    monkeypatch.setenv("QT_PLUGIN_PATH", str(internal / "PySide6" / "Qt" / "plugins"))
    monkeypatch.setenv("QML2_IMPORT_PATH", str(internal / "PySide6" / "Qt" / "qml"))
    monkeypatch.setenv("_PYI_ARCHIVE_FILE", str(internal.parent / "rmclinic"))
    monkeypatch.setenv("_PYI_PARENT_PROCESS_LEVEL", "1")
    monkeypatch.setenv("_PYI_LINUX_PROCESS_NAME", "rmclinic")
    monkeypatch.setenv("PATH", os.environ["PATH"])  # restored afterwards, whatever happens to it
    for name in ("LD_LIBRARY_PATH", "LD_LIBRARY_PATH_ORIG", "DYLD_LIBRARY_PATH"):
        monkeypatch.delenv(name, raising=False)
    return internal


def test_programs_started_by_a_bundle_do_not_get_its_libraries(frozen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bootloader points LD_LIBRARY_PATH at the bundle's _internal folder, and every program rmclinic starts
    (lp, xdg-open, the PDF viewer, the browser) would load the bundle's libraries (built on Debian 12) instead of
    its own. The entry script gives them the user's value back, or none."""
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{frozen}:/opt/site/lib")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/site/lib")  # the user's own, kept by the bootloader
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}{os.pathsep}{frozen / 'bin'}")
    load(PACKAGING / "rmclinic_main.py").clean_child_environment()
    child = child_environment()
    assert child["LD_LIBRARY_PATH"] == "/opt/site/lib"
    assert "LD_LIBRARY_PATH_ORIG" not in child
    assert str(frozen) not in child["PATH"] and child["PATH"]
    # a Qt program (a PDF viewer) would load the bundle's Qt plugins
    assert "QT_PLUGIN_PATH" not in child and "QML2_IMPORT_PATH" not in child
    # an alert worker (this executable again) starts as a program of its own and sets its own library path
    assert not [name for name in child if name.startswith("_PYI_")]


def test_without_a_library_path_of_the_users_own_none_is_handed_on(
    frozen: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", str(frozen))
    monkeypatch.setenv("QT_PLUGIN_PATH", f"{frozen / 'PySide6' / 'Qt' / 'plugins'}{os.pathsep}/usr/lib/qt6/plugins")
    load(PACKAGING / "rmclinic_main.py").clean_child_environment()
    child = child_environment()
    assert "LD_LIBRARY_PATH" not in child
    assert child["QT_PLUGIN_PATH"] == "/usr/lib/qt6/plugins"  # the bundle's entry only


def test_unfrozen_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/site/lib")
    monkeypatch.setenv("_PYI_SOMETHING", "x")
    load(PACKAGING / "rmclinic_main.py").clean_child_environment()
    assert os.environ["LD_LIBRARY_PATH"] == "/opt/site/lib" and os.environ["_PYI_SOMETHING"] == "x"


def test_on_windows_the_dll_directory_is_reset_and_the_bundle_stays_searchable(
    frozen: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SetDllDirectoryW(<bundle>), which children inherit, is undone (PyInstaller's documentation); the bundle's
    folder is added with os.add_dll_directory (not inherited) first, for the extension modules imported later."""
    import ctypes

    calls: list[tuple[str, object]] = []

    class Kernel32:
        def SetDllDirectoryW(self, path: object) -> int:  # the Win32 name
            calls.append(("SetDllDirectoryW", path))
            return 1

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "windll", type("WinDLL", (), {"kernel32": Kernel32()})(), raising=False)
    monkeypatch.setattr(os, "add_dll_directory", lambda p: calls.append(("add_dll_directory", p)), raising=False)
    load(PACKAGING / "rmclinic_main.py").clean_child_environment()
    assert calls == [("add_dll_directory", str(frozen)), ("SetDllDirectoryW", None)]
    # and without ctypes.windll (whatever the reason), the start goes on
    monkeypatch.delattr(ctypes, "windll")
    load(PACKAGING / "rmclinic_main.py").clean_child_environment()


# -- the Linux tarball's install.sh (on a stand-in bundle) --------------------------------------------------


def fake_tarball(tmp_path: Path, version: str, name: str = "unpacked") -> Path:
    """An unpacked tarball as build.py packs it, with a stand-in bundle whose executables print ``version``."""
    top = tmp_path / name
    bundle = top / "rmclinic"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "_internal" / "libpython3.so").write_text(version)
    for exe in ("rmclinic", "rmclinic-cli"):
        (bundle / exe).write_text(f"#!/bin/sh\necho {exe} {version}\n")
        (bundle / exe).chmod(0o700)
    shutil.copy(PACKAGING / "linux" / "install.sh", top / "install.sh")
    shutil.copy(PACKAGING / "linux" / "INSTALL.txt", top / "INSTALL.txt")
    apps = top / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(PACKAGING / "linux" / "rmclinic.desktop", apps / "rmclinic.desktop")
    icons = top / "share" / "icons" / "hicolor"
    (icons / "scalable" / "apps").mkdir(parents=True)
    shutil.copy(PACKAGING / "icons" / "rmclinic.svg", icons / "scalable" / "apps" / "rmclinic.svg")
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        (icons / f"{size}x{size}" / "apps").mkdir(parents=True)
        shutil.copy(PACKAGING / "icons" / f"rmclinic-{size}.png", icons / f"{size}x{size}" / "apps" / "rmclinic.png")
    return top


def install_sh(top: Path, *args: Any, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["sh", str(top / "install.sh"), *map(str, args)], capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def desktop_exec(value: str) -> list[str]:
    """An Exec= value as a launcher reads it (Desktop Entry Specification: the string escapes, the quoting, then
    the field codes)."""
    unescaped = re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), value)
    args, i = [], 0
    while i < len(unescaped):
        if unescaped[i] == " ":
            i += 1
            continue
        arg = ""
        if unescaped[i] == '"':
            i += 1
            while unescaped[i] != '"':
                if unescaped[i] == "\\":
                    i += 1
                arg += unescaped[i]
                i += 1
            i += 1
        else:
            while i < len(unescaped) and unescaped[i] != " ":
                arg += unescaped[i]
                i += 1
        args.append(arg.replace("%%", "%"))  # the field codes: %% is a %
    return args


@pytest.mark.parametrize("folder", ["Program Files", 'Dr O\'Neil "RM" $clinic\\50%'])
def test_install_sh_under_a_prefix_with_spaces_or_odd_characters(tmp_path: Path, folder: str) -> None:
    top = fake_tarball(tmp_path, "1.0")
    prefix = tmp_path / folder
    out = install_sh(top, "--prefix", prefix).stdout
    opt = prefix / "opt" / "rmclinic"
    assert f"rmclinic installed in {opt}" in out
    for exe in ("rmclinic", "rmclinic-cli"):
        link = prefix / "bin" / exe
        assert link.resolve() == opt / exe
        assert subprocess.run([link], capture_output=True, text=True).stdout == f"{exe} 1.0\n"
        assert stat.S_IMODE((opt / exe).stat().st_mode) == 0o755
    entry_file = prefix / "share" / "applications" / "rmclinic.desktop"
    entry = {k: v for k, _, v in (line.partition("=") for line in entry_file.read_text().splitlines())}
    assert desktop_exec(entry["Exec"]) == [str(opt / "rmclinic")]  # was unquoted: split at the space
    assert entry["TryExec"].replace("\\\\", "\\") == str(opt / "rmclinic")
    assert (prefix / "share" / "icons" / "hicolor" / "48x48" / "apps" / "rmclinic.png").is_file()
    validate = shutil.which("desktop-file-validate")
    if validate:
        done = subprocess.run([validate, str(entry_file)], capture_output=True, text=True)
        assert done.returncode == 0 and "error" not in done.stdout, done.stdout + done.stderr


def test_install_sh_upgrade_keeps_a_portable_data_folder(tmp_path: Path) -> None:
    """Before, the upgrade replaced the whole program folder: a portable data/ (the patient database) with it."""
    prefix = tmp_path / "prefix"
    opt = prefix / "opt" / "rmclinic"
    install_sh(fake_tarball(tmp_path, "1.0", "old"), "--prefix", prefix)
    data = opt / "data"
    data.mkdir(mode=0o700)
    (data / "rmclinic.sqlite3").write_bytes(b"SQLite format 3\x00 the patients")
    (data / "rmclinic.sqlite3").chmod(0o600)
    (opt / "rmclinic-portable.ini").write_text("")
    out = install_sh(fake_tarball(tmp_path, "2.0", "new"), "--prefix", prefix).stdout
    assert subprocess.run([opt / "rmclinic-cli"], capture_output=True, text=True).stdout == "rmclinic-cli 2.0\n"
    assert (opt / "_internal" / "libpython3.so").read_text() == "2.0"
    assert (data / "rmclinic.sqlite3").read_bytes() == b"SQLite format 3\x00 the patients"
    assert (opt / "rmclinic-portable.ini").is_file()
    # still private: the install's chmod -R go+rX is not applied to it
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "rmclinic.sqlite3").stat().st_mode) == 0o600
    assert "portable data of the previous version was kept" in out
    assert sorted(p.name for p in opt.parent.iterdir()) == ["rmclinic"]  # no .new or .old left


@pytest.mark.parametrize("used", ["data", "rmclinic-portable.ini"])
def test_install_sh_refuses_a_folder_that_was_run_in_portable_mode(tmp_path: Path, used: str) -> None:
    """Run where it was unpacked in portable mode, then installed: the data would be copied into the install and
    made readable to every user (chmod -R go+rX)."""
    prefix = tmp_path / "prefix"
    install_sh(fake_tarball(tmp_path, "1.0", "old"), "--prefix", prefix)
    top = fake_tarball(tmp_path, "2.0", "new")
    if used == "data":
        (top / "rmclinic" / "data").mkdir()
        (top / "rmclinic" / "data" / "rmclinic.sqlite3").write_text("patients")
    else:
        (top / "rmclinic" / used).write_text("")
    done = install_sh(top, "--prefix", prefix, ok=False)
    assert done.returncode == 1
    assert "used in portable mode" in done.stderr
    opt = prefix / "opt" / "rmclinic"
    assert (opt / "_internal" / "libpython3.so").read_text() == "1.0"  # the installed version is untouched
    assert not (opt / "data").exists() and not (opt / used).exists()


def test_install_sh_uninstall_leaves_a_portable_data_folder(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    opt = prefix / "opt" / "rmclinic"
    top = fake_tarball(tmp_path, "1.0")
    install_sh(top, "--prefix", prefix)
    (opt / "data").mkdir(mode=0o700)
    (opt / "data" / "rmclinic.sqlite3").write_text("patients")
    (opt / "rmclinic-portable.ini").write_text("")
    out = install_sh(top, "--prefix", prefix, "--uninstall").stdout
    assert sorted(p.name for p in opt.iterdir()) == ["data", "rmclinic-portable.ini"]
    assert (opt / "data" / "rmclinic.sqlite3").read_text() == "patients"
    assert "data" in out and "patient data" in out
    assert not (prefix / "bin" / "rmclinic").exists() and not (prefix / "bin" / "rmclinic").is_symlink()
    assert not (prefix / "share" / "applications" / "rmclinic.desktop").exists()
    # an ordinary install goes completely
    shutil.rmtree(opt)
    install_sh(top, "--prefix", prefix)
    assert "rmclinic removed from" in install_sh(top, "--prefix", prefix, "--uninstall").stdout
    assert not opt.exists()


def test_the_tarball_never_holds_a_portable_data_folder(tmp_path: Path) -> None:
    build = load(PACKAGING / "build.py")
    build.use_folders(tmp_path / "dist", tmp_path / "work")
    bundle = tmp_path / "dist" / "rmclinic"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "_internal" / "libpython3.so").write_text("")
    (bundle / "rmclinic").write_text("")
    (bundle / "data" / "backups").mkdir(parents=True)
    (bundle / "data" / "rmclinic.sqlite3").write_text("patients")
    (bundle / "data" / "backups" / "rmclinic-auto-20260101-090000.sqlite3").write_text("patients")
    (bundle / "rmclinic-portable.ini").write_text("")
    with tarfile.open(build.tarball()) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"rmclinic/rmclinic", "rmclinic/_internal/libpython3.so", "install.sh"} <= names
    assert not [n for n in names if n.startswith("rmclinic/data") or n.endswith("rmclinic-portable.ini")]


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


def build_package(dist: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """What `make package` runs (build, smoke test, tarball), in its own process group: on a timeout the whole
    build (PyInstaller and whatever it started) is stopped, not only build.py."""
    command = [sys.executable, str(PACKAGING / "build.py"), "--dist", str(dist), "--work", str(work)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=1800)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"the package build took over 30 minutes:\n{out[-3000:]}{err[-3000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.mark.slow
def test_make_package_builds_a_working_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist, build = tmp_path / "dist", tmp_path / "build"
    try:
        check_the_package(tmp_path, dist, build, monkeypatch)
    finally:  # about 650 MB: not left for pytest to keep with its last three runs
        shutil.rmtree(dist, ignore_errors=True)
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(tmp_path / "usb", ignore_errors=True)
        shutil.rmtree(tmp_path / "installed", ignore_errors=True)
        shutil.rmtree(tmp_path / "work", ignore_errors=True)


def check_the_package(tmp_path: Path, dist: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = build_package(dist, build)
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
    assert HEAD_REVISION in run([cli, "--database", fresh, "db", "current"], env, work).stdout

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
    # install.sh from the unpacked tarball, to a folder with a space in its name; the command link runs the bundle
    unpacked = tmp_path / "installed" / "unpacked"
    unpacked.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="tar")
    prefix = tmp_path / "installed" / "my programs"
    install_sh(unpacked / top, "--prefix", prefix)
    assert run([prefix / "bin" / "rmclinic-cli", "--version"], env, work).stdout.strip() == f"rmclinic {__version__}"
    install_sh(unpacked / top, "--prefix", prefix, "--uninstall")
    assert not (prefix / "opt" / "rmclinic").exists()

    # What the programs the bundled app starts inherit: its alert workers (from 10,000 patients) are the only
    # ones the command line starts, and strace shows the environment each is started with. The bootloader's
    # LD_LIBRARY_PATH (the bundle's _internal) is not handed on, nor its _PYI_* variables: each worker's own
    # bootloader then sets the library path for itself (its second execve) and it evaluates as before.
    strace = shutil.which("strace")
    if strace is None or subprocess.run([strace, "-o", os.devnull, "true"], capture_output=True).returncode != 0:
        pytest.skip("strace is not installed or may not trace here (Debian: strace; .ci/run installs it)")
    big = f"sqlite:///{work / 'big.sqlite3'}"
    run([cli, "--database", big, "demo-data", "--patients", str(alerts_module.PARALLEL_FROM)], env, work)
    consultant_big = {**env, "RMCLINIC_USER": "consultant", "RMCLINIC_PASSWORD": "demo"}
    trace = work / "execve.trace"
    traced = [strace, "-f", "-qq", "-e", "trace=execve", "-v", "-s", "4096", "-o", trace]
    out = run([*traced, cli, "--database", big, "alerts", "--refresh"], consultant_big, work).stdout
    assert f"re-evaluated the alerts of {alerts_module.PARALLEL_FROM} patients" in out
    execs: dict[str, list[str]] = {}
    for line in trace.read_text().splitlines():
        pid, _, call = line.partition(" ")
        call = call.lstrip()  # strace pads the pid column ("4024  execve(...)")
        if call.startswith("execve(") and "= -1 E" not in call:  # (a call may end "<unfinished ...>")
            execs.setdefault(pid, []).append(call)
    workers = {pid: calls for pid, calls in execs.items() if '"--rmclinic-alert-worker"]' in calls[0]}
    assert len(workers) == 2, execs.keys()
    internal = str(bundle.resolve() / "_internal")
    for calls in workers.values():
        handed_on = calls[0]  # the environment the bundled app started it with
        assert f'"LD_LIBRARY_PATH={internal}' not in handed_on and internal not in handed_on
        assert '"_PYI_' not in handed_on
        assert len(calls) == 2 and f'"LD_LIBRARY_PATH={internal}' in calls[1]  # its own bootloader's
