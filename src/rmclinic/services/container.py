"""The set of services the UI and CLI are handed (built by ``rmclinic.app``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .alerts import AlertService
from .audit import AuditService
from .auth import AuthService
from .backup import BackupService
from .careplan import CarePlanService
from .demo import DemoService
from .letters import VisitService
from .outcomes import OutcomesService
from .patients import PatientService
from .pregnancy import PregnancyService
from .session import SessionContext
from .settings import SettingsService
from .transfer import TransferService
from .worklist import WorklistService
from .workup import WorkupService


@dataclass
class Services:
    session: SessionContext
    auth: AuthService
    patients: PatientService
    transfer: TransferService
    demo: DemoService
    audit: AuditService
    settings: SettingsService
    backup: BackupService
    workup: WorkupService
    pregnancy: PregnancyService
    worklist: WorklistService
    alerts: AlertService
    careplans: CarePlanService
    visits: VisitService
    outcomes: OutcomesService
    backend: str  # "sqlite" or "postgresql"
    database_label: str  # the URL without its password, for the status bar and messages
    close: Callable[[], None]
