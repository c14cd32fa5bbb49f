"""Writing files that hold patient data: atomically (no half files) and readable by the owner only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private_atomically(path: Path, data: bytes) -> None:
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
