"""Recovery points: schedules, taking and pruning backups, verification, RPO exposure."""

from paramedic.backup.schedule import RpoExposure, next_run, rpo_exposure, verify_due
from paramedic.backup.service import BackupService

__all__ = ["BackupService", "RpoExposure", "next_run", "rpo_exposure", "verify_due"]
