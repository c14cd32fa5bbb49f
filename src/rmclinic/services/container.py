"""The set of services the UI and CLI are handed (built by ``rmclinic.app``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .demo import DemoService
from .patients import PatientService
from .transfer import TransferService


@dataclass
class Services:
    patients: PatientService
    transfer: TransferService
    demo: DemoService
    backend: str  # "sqlite" or "postgresql"
    database_label: str  # the URL without its password, for the status bar and messages
    close: Callable[[], None]
