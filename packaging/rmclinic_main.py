"""The entry point of the bundled executables (``rmclinic`` and ``rmclinic-cli``): the installed ``rmclinic``
command's ``rmclinic.cli:main``, plus the alert worker mode.

A bundle's executable is rmclinic itself, not a Python interpreter, so the alert service starts its worker
processes as ``<executable> --rmclinic-alert-worker`` (``rmclinic.services.alerts.FROZEN_WORKER_ARG``; a test
checks the two are the same). That argument alone, before any argument parsing, runs a worker.
"""

from __future__ import annotations

import sys

WORKER_ARG = "--rmclinic-alert-worker"


def run() -> int:
    if sys.argv[1:] == [WORKER_ARG]:
        from rmclinic.services.alerts import _worker_main

        _worker_main()
        return 0
    from rmclinic.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
