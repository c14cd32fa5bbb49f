"""Printed by `make test` before pytest: say plainly whether the PostgreSQL tests will run."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pgserver import REQUIRE_ENV, find_bin_dir, required

bin_dir = find_bin_dir()
if bin_dir:
    print(f"PostgreSQL tests: will run (server binaries in {bin_dir})")
elif required():
    print(f"PostgreSQL tests: server binaries not found but {REQUIRE_ENV}=1: failing", file=sys.stderr)
    sys.exit(1)
else:
    print("PostgreSQL tests: SKIPPED - no PostgreSQL server binaries installed (apt-get install postgresql)")
