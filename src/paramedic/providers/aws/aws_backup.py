"""The ``aws_backup`` backup engine: recovery points of one AWS resource in an AWS Backup vault.

- The vault is ``backup.repository`` as written (not a path), default ``Default``.
- ``take_backup``: ``StartBackupJob`` (the spec's ``backup_role_arn``), polled with
  ``DescribeBackupJob`` until COMPLETED (FAILED, ABORTED, EXPIRED: a ProviderError with
  AWS's StatusMessage).
- ``recovery_points``: ``ListRecoveryPointsByBackupVault`` filtered by the resource,
  COMPLETED only, oldest first; ``taken_at`` is the point's CreationDate (a snapshot holds
  the data as of its start).
- ``verify_backup``: ``StartRestoreJob`` with the point's restore metadata into a scratch
  identifier derived from the point (so a repeat is the same job), polled with
  ``DescribeRestoreJob``; the created instance must be available; it is tagged
  ``paramedic:verification`` and kept (never deleted by paramedic).
- ``prune``: ``DeleteRecoveryPoint`` for points older than ``keep``, never the newest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.errors import ProviderError
from paramedic.providers.aws import session
from paramedic.providers.aws.data_common import (
    TAG_VERIFICATION,
    derived_id,
    iso,
    short_id,
    tag_list,
    utc,
)
from paramedic.providers.base import BackupContext, RecoveryPoint, RestorableWindow, Verification

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "backup:aws_backup": (
        "backup:StartBackupJob",
        "backup:DescribeBackupJob",
        "backup:ListRecoveryPointsByBackupVault",
        "backup:GetRecoveryPointRestoreMetadata",
        "backup:StartRestoreJob",
        "backup:DescribeRestoreJob",
        "backup:DeleteRecoveryPoint",
        "iam:PassRole",
        "rds:DescribeDBInstances",
        "rds:DescribeDBInstanceAutomatedBackups",
        "rds:AddTagsToResource",
    ),
}
"""IAM actions of the engine (the role passed to AWS Backup needs its own service policy)."""

ENGINE = "aws_backup"
DEFAULT_VAULT = "Default"
_JOB_WAIT = timedelta(hours=2)
_FAILED = frozenset({"FAILED", "ABORTED", "EXPIRED"})


@dataclass(frozen=True)
class AwsBackupEngine:
    """AWS Backup for one resource (``resource_arn``) in one vault."""

    settings: AwsSettings
    vault: str
    resource_arn: str
    role_arn: str | None

    @classmethod
    def for_component(
        cls, ctx: BackupContext, settings: AwsSettings, resource_arn: str, role_arn: str | None
    ) -> AwsBackupEngine:
        """The engine of a component: its vault is ``backup.repository`` raw, else ``Default``."""
        backup = ctx.component.backup
        vault = (backup.repository if backup is not None else None) or DEFAULT_VAULT
        return cls(settings, vault, resource_arn, role_arn)

    @property
    def client(self) -> Any:
        """The AWS Backup client."""
        return session.client(self.settings, "backup")

    def _role(self, what: str) -> str:
        if not self.role_arn:
            raise ProviderError(
                f"AWS Backup needs an IAM role to {what}; set spec.backup_role_arn "
                "(a role AWS Backup can assume, e.g. AWSBackupDefaultServiceRole)"
            )
        return self.role_arn

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """Start a backup job and wait until it is COMPLETED."""
        started = await session.call(
            self.client,
            "StartBackupJob",
            self.resource_arn,
            BackupVaultName=self.vault,
            ResourceArn=self.resource_arn,
            IamRoleArn=self._role("take a backup"),
        )
        job_id = str(started["BackupJobId"])
        ctx.log(f"{ctx.component_name}: AWS Backup job {job_id} started in vault {self.vault}")

        job = await self._finished(
            "DescribeBackupJob",
            {"BackupJobId": job_id},
            "State",
            f"AWS Backup job {job_id} of {self.resource_arn}",
            f"backup job {job_id}",
            lambda done: ctx.progress(done, f"backup job {job_id}"),
        )
        taken = utc(job.get("CreationDate")) or utc(started.get("CreationDate"))
        return RecoveryPoint(
            taken_at=taken or datetime.now(UTC),
            location=str(job.get("RecoveryPointArn") or started["RecoveryPointArn"]),
            engine=ENGINE,
            size_bytes=job.get("BackupSizeInBytes"),
            detail={"vault": self.vault, "backup_job_id": job_id},
        )

    async def _listed(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"NextToken": token} if token else {}
            page = await session.call(
                self.client,
                "ListRecoveryPointsByBackupVault",
                self.vault,
                BackupVaultName=self.vault,
                ByResourceArn=self.resource_arn,
                **kwargs,
            )
            found.extend(page.get("RecoveryPoints", []))
            token = page.get("NextToken")
            if not token:
                return found

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """COMPLETED points of the resource in the vault, oldest first."""
        points = [
            RecoveryPoint(
                taken_at=utc(p["CreationDate"]) or datetime.now(UTC),
                location=str(p["RecoveryPointArn"]),
                engine=ENGINE,
                size_bytes=p.get("BackupSizeInBytes"),
                detail={"vault": self.vault, "status": p.get("Status")},
            )
            for p in await self._listed()
            if p.get("Status") == "COMPLETED"
            and p.get("ResourceArn", self.resource_arn) == self.resource_arn
        ]
        return sorted(points, key=lambda p: p.taken_at)

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """Oldest and newest recovery point."""
        points = await self.recovery_points(ctx)
        if not points:
            return RestorableWindow(None, None)
        return RestorableWindow(points[0].taken_at, points[-1].taken_at)

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Restore ``point`` into a scratch DB instance, check it is available, tag and keep it."""
        source = self.resource_arn.rsplit(":", 1)[-1]
        scratch = derived_id(source, f"v{short_id(point.location)}", 63)
        meta = await session.call(
            self.client,
            "GetRecoveryPointRestoreMetadata",
            point.location,
            BackupVaultName=self.vault,
            RecoveryPointArn=point.location,
        )
        metadata = {str(k): str(v) for k, v in (meta.get("RestoreMetadata") or {}).items()}
        metadata["DBInstanceIdentifier"] = scratch
        started = await session.call(
            self.client,
            "StartRestoreJob",
            point.location,
            RecoveryPointArn=point.location,
            Metadata=metadata,
            IamRoleArn=self._role("restore a recovery point"),
            IdempotencyToken=scratch,
        )
        job_id = str(started["RestoreJobId"])

        job = await self._finished(
            "DescribeRestoreJob",
            {"RestoreJobId": job_id},
            "Status",
            f"AWS Backup restore job {job_id} of {point.location}",
            f"restore job {job_id}",
        )
        created = str(job.get("CreatedResourceArn") or "")
        return await self._check_restored(created or f"db:{scratch}", point)

    async def _finished(
        self,
        operation: str,
        job: dict[str, str],
        state_key: str,
        subject: str,
        what: str,
        progress: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a backup or restore job until COMPLETED; ProviderError when it ends otherwise."""
        job_id = next(iter(job.values()))

        async def done() -> dict[str, Any] | None:
            answer: dict[str, Any] = await session.call(self.client, operation, job_id, **job)
            state = answer.get(state_key)
            if state in _FAILED:
                raise ProviderError(
                    f"{subject} ended {state}: {answer.get('StatusMessage', 'no message')}"
                )
            if progress is not None and answer.get("PercentDone"):
                progress(float(answer["PercentDone"]) / 100)
            return answer if state == "COMPLETED" else None

        found: dict[str, Any] = await session.wait_for(
            done, within=_JOB_WAIT, interval=self.settings.poll, what=what
        )
        return found

    async def _check_restored(self, created_arn: str, point: RecoveryPoint) -> Verification:
        from paramedic.providers.aws.rds_instances import rds, wait_available

        identifier = created_arn.rsplit(":", 1)[-1]
        try:
            instance = await wait_available(self.settings, identifier, timedelta(minutes=30))
        except ProviderError as exc:
            return Verification(False, f"restored {point.location} into {identifier}: {exc}")
        await session.call(
            rds(self.settings),
            "AddTagsToResource",
            identifier,
            ResourceName=instance["DBInstanceArn"],
            Tags=tag_list(
                {TAG_VERIFICATION: point.location, "paramedic:verified-at": iso(datetime.now(UTC))}
            ),
        )
        return Verification(
            True,
            f"restored {point.location} into DB instance {identifier} "
            f"({instance.get('Engine', '?')} {instance.get('DBInstanceClass', '?')}), available; "
            "kept and tagged paramedic:verification",
        )

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """Delete points older than ``keep``; the newest is always kept."""
        points = await self.recovery_points(ctx)
        cutoff = datetime.now(UTC) - keep
        removed = []
        for point in points[:-1]:
            if point.taken_at >= cutoff:
                continue
            await session.call(
                self.client,
                "DeleteRecoveryPoint",
                point.location,
                BackupVaultName=self.vault,
                RecoveryPointArn=point.location,
            )
            removed.append(point.location)
        return removed
