"""Starts the timed child processes on the harness's behalf, so that their peak RSS is their own.

Linux keeps a process's peak RSS across fork and exec: a child started straight from the harness (which
by then holds Qt, SQLAlchemy and a 100,000-patient alert run) would report the harness's peak, not its own.
This small process is started before the harness grows; it reads one JSON request a line on stdin
({"cmd", "env", "stderr", "timeout"}), starts the command, reaps it with ``os.wait4`` and answers one JSON
line: the ``time.time()`` taken just before the start, the exit code and ``ru_maxrss`` (KiB on Linux).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    for line in sys.stdin:
        req = json.loads(line)
        with open(req["stderr"], "wb") as err:
            t0 = time.time()
            proc = subprocess.Popen(
                req["cmd"], env=req["env"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
            killer = threading.Timer(req["timeout"], os.kill, (proc.pid, signal.SIGKILL))
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        answer = {"t0": t0, "returncode": proc.returncode, "maxrss_kib": usage.ru_maxrss}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
