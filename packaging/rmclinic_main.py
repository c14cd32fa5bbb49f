"""The entry point of the bundled executables (``rmclinic`` and ``rmclinic-cli``): the installed ``rmclinic``
command's ``rmclinic.cli:main``, plus the alert worker mode.

A bundle's executable is rmclinic itself, not a Python interpreter, so the alert service starts its worker
processes as ``<executable> --rmclinic-alert-worker`` (``rmclinic.services.alerts.FROZEN_WORKER_ARG``; a test
checks the two are the same). That argument alone, before any argument parsing, runs a worker.

Before anything else, ``clean_child_environment()`` undoes what PyInstaller did to the environment for this
process's own sake, so that the programs rmclinic starts (``lp``, ``xdg-open`` and the PDF viewer or browser it
opens) use the workstation's libraries, not the bundle's (PyInstaller's documentation, "Common Issues and
Pitfalls: Launching External Programs from the Frozen Application").
"""

from __future__ import annotations

import os
import sys

WORKER_ARG = "--rmclinic-alert-worker"
# Path lists that PyInstaller's bootloader or its Qt run-time hook point into the bundle; only this process
# needs them, and it has already read them (the dynamic loader reads LD_LIBRARY_PATH once, when it starts;
# Qt finds its plugins through the qt.conf that PySide6 embeds).
_BUNDLE_PATH_LISTS = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "QT_PLUGIN_PATH", "QML2_IMPORT_PATH", "PATH")
_kept_dll_directory: object = None


def _inside(path: str, roots: list[str]) -> bool:
    if not os.path.isabs(path):
        return False
    full = os.path.normcase(os.path.normpath(path))
    return any(full == r or full.startswith(r + os.sep) for r in roots)


def clean_child_environment() -> None:
    """In a bundle: give the programs this process starts the environment the user started rmclinic with.

    - ``LD_LIBRARY_PATH`` (which the bootloader set to the bundle's ``_internal`` folder, keeping the user's own
      value in ``LD_LIBRARY_PATH_ORIG``) goes back to the user's value, or away; likewise any bundle folder in
      ``QT_PLUGIN_PATH``, ``QML2_IMPORT_PATH``, ``DYLD_LIBRARY_PATH`` and ``PATH``.
    - The bootloader's own ``_PYI_*`` variables go: with them an alert worker (this executable again) would take
      itself for a part of this process and keep the inherited library path instead of setting its own; without
      them it starts as a program of its own, as when the user starts it.
    - Windows: the bootloader's ``SetDllDirectoryW(<bundle>)`` is inherited by every program started from here;
      ``SetDllDirectoryW(NULL)`` undoes it, after the bundle's folder is added with ``os.add_dll_directory`` (which
      children do not inherit), so the extension modules imported later still find the bundle's DLLs.
    """
    if not getattr(sys, "frozen", False):
        return
    bundle = getattr(sys, "_MEIPASS", None)
    roots = []
    if bundle:
        roots.append(os.path.normcase(os.path.abspath(bundle)))
        contents = os.path.dirname(roots[0])
        if sys.platform == "darwin" and os.path.basename(contents) == "Contents":  # rmclinic.app: Frameworks
            roots.append(os.path.join(contents, "Resources"))  # and Resources, never MacOS (rmclinic-cli)
    env = os.environ
    if "LD_LIBRARY_PATH_ORIG" in env:
        env["LD_LIBRARY_PATH"] = env.pop("LD_LIBRARY_PATH_ORIG")
    for name in _BUNDLE_PATH_LISTS:
        value = env.get(name)
        if value is None or not roots:
            continue
        kept = [p for p in value.split(os.pathsep) if not (p and _inside(p, roots))]
        if kept != value.split(os.pathsep):
            if any(kept):
                env[name] = os.pathsep.join(kept)
            else:
                del env[name]
    for name in [n for n in env if n.startswith("_PYI_") or n == "_MEIPASS2"]:
        del env[name]
    if sys.platform == "win32":
        global _kept_dll_directory
        try:
            import ctypes

            if bundle and hasattr(os, "add_dll_directory"):
                _kept_dll_directory = os.add_dll_directory(bundle)
            ctypes.windll.kernel32.SetDllDirectoryW(None)
        except (AttributeError, OSError):
            pass  # not worth failing the start for: children then still see the bundle's folder


def run() -> int:
    clean_child_environment()
    if sys.argv[1:] == [WORKER_ARG]:
        from rmclinic.services.alerts import _worker_main

        _worker_main()
        return 0
    from rmclinic.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
