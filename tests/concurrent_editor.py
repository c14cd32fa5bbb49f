"""A second workstation, as a separate process: read a patient, wait for the signal, save a change."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import act_as

from rmclinic.app import build_services
from rmclinic.domain.accounts import Role
from rmclinic.domain.errors import ConflictError

url, patient_id, user, phone, go_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5])
svc = build_services(url)
act_as(svc, Role.NURSE, user)
record = svc.patients.get(patient_id)
print("READ", flush=True)
deadline = time.monotonic() + 60
while not go_file.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
try:
    svc.patients.update_demographics(patient_id, record.version, replace(record.data, phone=phone), base=record.data)
    print("SAVED", flush=True)
except ConflictError as e:
    print("REFUSED", e, flush=True)
finally:
    svc.close()
