"""The state store: SQLAlchemy tables and queries, SQLite by default, PostgreSQL when shared."""

from paramedic.store.audit import GENESIS_HASH, AuditHead, audit_hash, verify_chain
from paramedic.store.rows import (
    ApprovalRow,
    ApprovalState,
    AuditRow,
    AuditVerdict,
    ComponentRow,
    DrillRow,
    IncidentKind,
    IncidentRow,
    IncidentState,
    LeaseRow,
    NotificationRow,
    RecoveryPointRow,
    StepRow,
    StepStatus,
    TransitionRow,
    iso_utc,
)
from paramedic.store.store import Store

__all__ = [
    "GENESIS_HASH",
    "ApprovalRow",
    "ApprovalState",
    "AuditHead",
    "AuditRow",
    "AuditVerdict",
    "ComponentRow",
    "DrillRow",
    "IncidentKind",
    "IncidentRow",
    "IncidentState",
    "LeaseRow",
    "NotificationRow",
    "RecoveryPointRow",
    "StepRow",
    "StepStatus",
    "Store",
    "TransitionRow",
    "audit_hash",
    "iso_utc",
    "verify_chain",
]
