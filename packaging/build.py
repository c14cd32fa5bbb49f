"""Build the PyInstaller bundle, smoke-test it, and (on Linux) pack the tarball. `make package` runs this.

    .venv/bin/python packaging/build.py              # build dist/rmclinic/, smoke-test it, pack the tarball
    .venv/bin/python packaging/build.py --no-build   # smoke-test (and pack) the bundle already in dist/
    .venv/bin/python packaging/build.py --dist DIR --work DIR   # elsewhere than dist/ and build/ (the tests)

The smoke test runs the bundled executables the way a workstation would, on throwaway databases in a temporary
folder (with every data, log, backup and settings folder pointed there, never at the user's own):
`--version`; `--self-test` offscreen on a fresh database, with each executable; `demo-data --patients 20` and
`careplan RM000001` as the demo nurse (the PDF carries a Code128 barcode, so the barcode modules are exercised);
the alert worker mode; and that the barcode modules are in the bundle. Any failure exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"  # --dist changes these two
BUNDLE = DIST / "rmclinic"
WORK = ROOT / "build" / "pyinstaller"
EXE = ".exe" if sys.platform == "win32" else ""
WORKER_ARG = "--rmclinic-alert-worker"  # rmclinic.services.alerts.FROZEN_WORKER_ARG
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PORTABLE_MARKER = "rmclinic-portable.ini"  # rmclinic.paths.PORTABLE_MARKER
PORTABLE_DATA = "data"  # rmclinic.paths.PORTABLE_DATA


def version() -> str:
    text = (ROOT / "src" / "rmclinic" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'__version__ = "([^"]+)"', text)
    assert match, "no __version__ in src/rmclinic/__init__.py"
    return match.group(1)


def say(message: str) -> None:
    print(f"[package] {message}", flush=True)


# Lines of PyInstaller's output that mean the bundle lacks something the spec asked for: a hidden import it could
# not find, or a collect_submodules() that gave nothing (it only warns, and the bundle then fails at run time).
BUILD_PROBLEMS = ("ERROR: Hidden import", "Failed to collect submodules")


def build_problems(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if any(p in line for p in BUILD_PROBLEMS)]


def build() -> float:
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level=WARN",
        "--distpath",
        str(DIST),
        "--workpath",
        str(WORK),
        str(PACKAGING / "rmclinic.spec"),
    ]
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # shown as it comes, and kept for the checks below
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    if proc.returncode != 0:
        raise SystemExit(f"[package] FAILED: PyInstaller exited {proc.returncode}")
    problems = build_problems("".join(lines))
    if problems:
        raise SystemExit(
            "[package] FAILED: PyInstaller could not bundle everything the spec asks for:\n" + "\n".join(problems)
        )
    return time.monotonic() - started


def smoke_env(work: Path) -> dict[str, str]:
    """The environment of a bundled run: everything the app writes goes under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RMCLINIC_", "PYTHON", "QT_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        RMCLINIC_PORTABLE="0",
        RMCLINIC_LOG_DIR=str(work / "logs"),
        RMCLINIC_BACKUP_DIR=str(work / "backups"),
        XDG_CONFIG_HOME=str(work / "config"),
        XDG_DATA_HOME=str(work / "data"),
        XDG_CACHE_HOME=str(work / "cache"),
        XDG_STATE_HOME=str(work / "state"),
    )
    return env


def run(args: list[str | Path], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(
            f"[package] FAILED: {' '.join(str(a) for a in args)} exited {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done


def check_worker_mode(cli: Path, env: dict[str, str], cwd: Path) -> None:
    """Started with the worker argument alone, the executable is an alert worker: it reads its set-up from
    stdin; given none, it answers with a pickled ("error", EOFError) on stdout (argparse would exit 2)."""
    done = subprocess.run([str(cli), WORKER_ARG], input=b"", capture_output=True, env=env, cwd=cwd, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"[package] FAILED: worker mode exited {done.returncode}: {done.stderr.decode()}")
    status, payload = pickle.loads(done.stdout)
    if status != "error" or not isinstance(payload, EOFError):
        raise SystemExit(f"[package] FAILED: worker mode answered {status!r} {payload!r}")


def bundled_modules(cli: Path) -> set[str]:
    """The names of the Python modules inside the bundle (its PYZ archive)."""
    from PyInstaller.archive.readers import CArchiveReader

    pkg = CArchiveReader(str(cli))
    names: set[str] = set()
    for name in pkg.toc:
        if name.endswith(".pyz"):
            names.update(pkg.open_embedded_archive(name).toc)
    return names


def smoke_test() -> None:
    gui, cli = BUNDLE / f"rmclinic{EXE}", BUNDLE / f"rmclinic-cli{EXE}"
    for exe in (gui, cli):
        if not exe.is_file():
            raise SystemExit(f"[package] FAILED: {exe} is missing")
    with tempfile.TemporaryDirectory(prefix="rmclinic-package-") as tmp:
        work = Path(tmp)
        env = smoke_env(work)
        out = run([cli, "--version"], env, work).stdout.strip()
        if out != f"rmclinic {version()}":
            raise SystemExit(f"[package] FAILED: --version printed {out!r}")
        say(out)
        for exe in (cli, gui):
            url = f"sqlite:///{work / f'fresh-{exe.stem}.sqlite3'}"
            out = run([exe, "--database", url, "--self-test"], env, work).stdout.strip()
            if "self-test passed" not in out:
                raise SystemExit(f"[package] FAILED: {exe.name} --self-test printed {out!r}")
            say(f"{exe.name} --self-test: {out}")
        demo = f"sqlite:///{work / 'demo.sqlite3'}"
        say(run([cli, "--database", demo, "demo-data", "--patients", "20"], env, work).stdout.strip())
        pdf = work / "careplan.pdf"
        nurse = {**env, "RMCLINIC_USER": "nurse", "RMCLINIC_PASSWORD": "demo"}
        run([cli, "--database", demo, "careplan", "RM000001", "--variant", "clinician", "-o", pdf], nurse, work)
        head = pdf.read_bytes()[:5]
        if head != b"%PDF-":
            raise SystemExit(f"[package] FAILED: the care plan starts with {head!r}")
        say(f"careplan RM000001: {pdf.stat().st_size} bytes of PDF")
        check_worker_mode(cli, env, work)
        say("alert worker mode answers")
    modules = bundled_modules(cli)
    barcode = {"reportlab.graphics.barcode.code128", "reportlab.graphics.barcode.widgets"}
    if not barcode <= modules:
        raise SystemExit(f"[package] FAILED: the bundle lacks {sorted(barcode - modules)}")
    say("reportlab barcode modules are bundled")


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def tarball() -> Path:
    """dist/rmclinic-<version>-linux-<machine>.tar.gz: the bundle, the .desktop file, the icons, install.sh and
    INSTALL.txt (see packaging/README.md)."""
    name = f"rmclinic-{version()}-linux-{platform.machine()}"
    out = DIST / f"{name}.tar.gz"
    icons = PACKAGING / "icons"
    linux = PACKAGING / "linux"
    members: list[tuple[Path, str]] = [
        (linux / "rmclinic.desktop", "share/applications/rmclinic.desktop"),
        (icons / "rmclinic.svg", "share/icons/hicolor/scalable/apps/rmclinic.svg"),
        *((icons / f"rmclinic-{s}.png", f"share/icons/hicolor/{s}x{s}/apps/rmclinic.png") for s in ICON_SIZES),
        (linux / "install.sh", "install.sh"),
        (linux / "INSTALL.txt", "INSTALL.txt"),
    ]

    bundle = f"{name}/rmclinic/"
    private = (f"{bundle}{PORTABLE_DATA}", f"{bundle}{PORTABLE_MARKER}")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        # never a portable data folder (patient data) or the marker, should the bundle have been run portable
        if info.name in private or info.name.startswith(f"{bundle}{PORTABLE_DATA}/"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, f"{name}/rmclinic", filter=clean)
        for src, dest in members:
            tar.add(src, f"{name}/{dest}", filter=clean)
    return out


def use_folders(dist: Path, work: Path) -> None:
    global DIST, BUNDLE, WORK
    DIST, WORK = dist.resolve(), work.resolve()
    BUNDLE = DIST / "rmclinic"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-build", action="store_true", help="smoke-test the bundle already in dist/")
    p.add_argument("--no-tarball", action="store_true", help="do not pack the Linux tarball")
    p.add_argument("--dist", type=Path, default=DIST, metavar="DIR", help="where the bundle goes (default: dist/)")
    p.add_argument("--work", type=Path, default=WORK, metavar="DIR", help="PyInstaller's work folder")
    args = p.parse_args()
    use_folders(args.dist, args.work)
    if not args.no_build:
        say("building dist/rmclinic/ with PyInstaller (a few minutes)")
        shutil.rmtree(BUNDLE, ignore_errors=True)
        say(f"built in {build():.0f} s")
    started = time.monotonic()
    smoke_test()
    say(f"smoke test passed in {time.monotonic() - started:.0f} s")
    if sys.platform.startswith("linux") and not args.no_tarball:
        out = tarball()
        say(f"{out}: {out.stat().st_size / 2**20:.0f} MiB")
    say(f"bundle size: {size_of(BUNDLE) / 2**20:.0f} MiB in {BUNDLE}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
