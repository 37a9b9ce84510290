"""The ``aws.rds`` provider: one RDS DB instance, rebooted, restored to a point in time, drilled.

- ``restart_service``: ``RebootDBInstance`` (not again when it is already rebooting), then
  wait for ``available``.
- ``restore_from_backup``: see ``rds_restore`` (a new instance, then the cut-over).
- Backups (``backup.engine: aws_backup``): see ``aws_backup``; the restorable window also
  reads the instance's own LatestRestorableTime and its automated backups' RestoreWindow.
- Faults: ``reboot-db``; ``delete-db-instance`` deletes with a final snapshot
  ``<id>-drill-<drill id>`` and keeps the automated backups, so no data is lost.

``start`` remembers the instance's placement (subnet group, security groups, parameter
group, class, tags) so that a restore after the instance was deleted out of band still
places the new one where the old one was (the spec's keys serve when nothing is known).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paramedic.catalog.model import RestartService, RestoreFromBackup
from paramedic.errors import ProviderError
from paramedic.providers.aws import session
from paramedic.providers.aws.aws_backup import AwsBackupEngine
from paramedic.providers.aws.data_common import safe_name, utc
from paramedic.providers.aws.data_specs import RDS, RdsSpec
from paramedic.providers.aws.iam import actions_of, calls
from paramedic.providers.aws.rds_instances import (
    current_identifier,
    describe_instance,
    latest_restorable,
    rds,
    wait_available,
)
from paramedic.providers.aws.rds_restore import aside_name, restore, restored_name
from paramedic.providers.base import (
    ActionContext,
    ActionResult,
    BackupContext,
    FaultContext,
    InjectedFault,
    ProviderInfo,
    RecoveryPoint,
    RestorableWindow,
    Verification,
)
from paramedic.providers.local.datafiles import load_spec
from paramedic.providers.local.faults import check_fault

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

log = logging.getLogger(__name__)


class RdsProvider:
    """Reboots, restores and drills one RDS DB instance; backs it up through AWS Backup."""

    info: ProviderInfo = RDS
    start_if_down: bool = True
    """Ignored: an AWS resource is never started by taking charge of it."""

    def __init__(self, *, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        self.spec: RdsSpec = load_spec(RdsSpec, catalog, name)
        self.settings = catalog.aws_for(name)
        self.remembered: dict[str, Any] | None = None
        """The instance as last seen by ``start`` (placement for a restore after a deletion)."""

    # ------------------------------------------------------------ Provider

    @calls(uses=(current_identifier, describe_instance))
    async def start(self) -> None:
        """Remember the instance's placement; an unreachable API is logged, not fatal."""
        try:
            found = await describe_instance(
                self.settings, await current_identifier(self.settings, self.spec)
            )
        except ProviderError as exc:
            log.warning("%s: cannot read the DB instance at start: %s", self.name, exc)
            return
        if found is not None:
            self.remembered = found

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release: the instance lives in AWS."""

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        ident = self.spec.db_instance_identifier
        if isinstance(step, RestartService):
            return f"reboot RDS DB instance {ident} and wait until it is available"
        if isinstance(step, RestoreFromBackup):
            aim = {"latest": "its latest restorable time", "before_failure": "the failure time"}
            when = aim.get(step.target, step.target)
            new = restored_name(ident, "<incident>")
            if self.spec.cutover == "route53" and self.spec.route53 is not None:
                cut = f"point Route 53 {self.spec.route53.name} at it (CNAME)"
            else:
                cut = (
                    f"rename {ident} aside to {aside_name(ident, '<incident>')} (kept) and "
                    f"the restored instance to {ident}"
                )
            return (
                f"restore {ident} to {when} into a new instance {new} with its subnet group, "
                f"security groups and parameter group (from its retained backups or newest "
                f"snapshot when it was deleted), wait until available, then {cut}"
            )
        return f"nothing: the aws.rds provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; idempotent for the incident."""
        if ctx.dry_run:
            return ActionResult(output=f"dry run: would {self.describe(step)}")
        if isinstance(step, RestartService):
            return await self._reboot(step.timeout, ctx)
        if isinstance(step, RestoreFromBackup):
            return await restore(self, step, ctx)
        raise ProviderError(f"provider 'aws.rds' cannot carry out {step.strategy}")

    @calls("rds:RebootDBInstance", uses=(current_identifier, describe_instance, wait_available))
    async def _reboot(self, within: timedelta, ctx: ActionContext) -> ActionResult:
        ident = await current_identifier(self.settings, self.spec)
        instance = await describe_instance(self.settings, ident)
        if instance is None:
            raise ProviderError(
                f"DB instance {ident} does not exist: a reboot cannot bring it back "
                "(restore_from_backup can)"
            )
        status = instance.get("DBInstanceStatus")
        if status != "rebooting":
            await session.call(
                rds(self.settings), "RebootDBInstance", ident, DBInstanceIdentifier=ident
            )
            ctx.log(f"{self.name}: rebooting {ident} (was {status})")
        await wait_available(self.settings, ident, within)
        return ActionResult(output=f"rebooted DB instance {ident}; it is available")

    # ------------------------------------------------------------ faults

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """``reboot-db`` or ``delete-db-instance`` (final snapshot taken, backups kept)."""
        check_fault(self.info, fault)
        if fault == "reboot-db":
            return await self._reboot_fault()
        return await self._delete_fault(ctx)

    @calls("rds:RebootDBInstance", uses=(current_identifier,))
    async def _reboot_fault(self) -> InjectedFault:
        ident = await current_identifier(self.settings, self.spec)
        await session.call(
            rds(self.settings), "RebootDBInstance", ident, DBInstanceIdentifier=ident
        )
        return InjectedFault(
            "reboot-db", datetime.now(UTC), f"rebooted DB instance {ident}", {"identifier": ident}
        )

    # a final snapshot needs rds:CreateDBSnapshot besides rds:DeleteDBInstance
    @calls(
        "rds:DeleteDBInstance",
        "rds:CreateDBSnapshot",
        uses=(current_identifier, describe_instance),
    )
    async def _delete_fault(self, ctx: FaultContext) -> InjectedFault:
        fault = "delete-db-instance"
        ident = await current_identifier(self.settings, self.spec)
        client = rds(self.settings)
        instance = await describe_instance(self.settings, ident)
        if instance is not None:
            self.remembered = instance
        snapshot = f"{ident}-drill-{safe_name(ctx.drill_id)}"[:255].rstrip("-")
        await session.call(
            client,
            "DeleteDBInstance",
            ident,
            DBInstanceIdentifier=ident,
            SkipFinalSnapshot=False,
            FinalDBSnapshotIdentifier=snapshot,
            DeleteAutomatedBackups=False,
        )
        description = (
            f"deleted DB instance {ident} with a final snapshot {snapshot}; "
            "automated backups retained"
        )
        ctx.log(f"{self.name}: {description}")
        return InjectedFault(
            fault, datetime.now(UTC), description, {"identifier": ident, "snapshot": snapshot}
        )

    @calls(uses=(describe_instance,))
    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Nothing to take back for a reboot; after a deletion, say whether the instance is back."""
        if injected.fault == "reboot-db":
            return "nothing to undo: a reboot ends by itself"
        ident = str(injected.undo.get("identifier", self.spec.db_instance_identifier))
        snapshot = injected.undo.get("snapshot")
        if await describe_instance(self.settings, ident) is not None:
            return f"nothing left to undo: {ident} is back; the final snapshot {snapshot} is kept"
        return (
            f"{ident} is still gone; restore it with `paramedic restore {self.name}` "
            f"(its final snapshot {snapshot} is kept)"
        )

    # ------------------------------------------------------------ backups (AWS Backup)

    async def _engine(self, ctx: BackupContext) -> AwsBackupEngine:
        ident = await current_identifier(self.settings, self.spec)
        instance = await describe_instance(self.settings, ident)
        if instance is None:
            raise ProviderError(f"DB instance {ident} does not exist: nothing to back up")
        return AwsBackupEngine.for_component(
            ctx, self.settings, str(instance["DBInstanceArn"]), self.spec.backup_role_arn
        )

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """An AWS Backup job of the instance, waited for until COMPLETED."""
        return await (await self._engine(ctx)).take_backup(ctx)

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """The vault's recovery points of the instance, oldest first."""
        return await (await self._engine(ctx)).recovery_points(ctx)

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """From the recovery points, widened by the instance's own point-in-time window."""
        engine = await self._engine(ctx)
        window = await engine.restorable_window(ctx)
        return await self.native_window(window)

    @calls("rds:DescribeDBInstanceAutomatedBackups", uses=(current_identifier, describe_instance))
    async def native_window(self, window: RestorableWindow | None = None) -> RestorableWindow:
        """RDS's own point-in-time window (automated backups), widening ``window``.

        The agent watches its newest end against the RPO (``rpo_at_risk``) also for an
        instance without ``backup:``, whose only recovery points are RDS's own.
        """
        ident = await current_identifier(self.settings, self.spec)
        instance = await describe_instance(self.settings, ident)
        if instance is not None:
            self.remembered = instance  # the DbiResourceId of what serves now, for a deletion
        newest = latest_restorable(instance) if instance else None
        # by DbiResourceId: DBInstanceIdentifier must name an existing instance, and a name
        # reused after a rename cut-over would mix in another instance's backups
        resource_id = (instance or self.remembered or {}).get("DbiResourceId")
        backups: list[dict[str, Any]] = []
        if resource_id:
            found = await session.call(
                rds(self.settings),
                "DescribeDBInstanceAutomatedBackups",
                ident,
                DbiResourceId=str(resource_id),
            )
            backups = found.get("DBInstanceAutomatedBackups", [])
        earliest = [utc((b.get("RestoreWindow") or {}).get("EarliestTime")) for b in backups]
        points = window or RestorableWindow(None, None)
        oldest_candidates = [t for t in [points.oldest, *earliest] if t is not None]
        newest_candidates = [t for t in (points.newest, newest) if t is not None]
        return RestorableWindow(
            oldest=min(oldest_candidates) if oldest_candidates else None,
            newest=max(newest_candidates) if newest_candidates else None,
        )

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Restore ``point`` into a scratch instance (kept, tagged) and check it is available."""
        return await (await self._engine(ctx)).verify_backup(ctx, point)

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """Delete recovery points older than ``keep``, never the newest."""
        return await (await self._engine(ctx)).prune(ctx, keep)


IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "start:aws.rds": actions_of(RdsProvider.start),
    "rpo_watch:aws.rds": actions_of(RdsProvider.native_window),
    "aws.rds:restart_service": actions_of(RdsProvider._reboot),
    "aws.rds:restore_from_backup": actions_of(restore),
    "fault:aws.rds:reboot-db": actions_of(RdsProvider._reboot_fault),
    "fault:aws.rds:delete-db-instance": actions_of(
        RdsProvider._delete_fault, RdsProvider.undo_fault
    ),
}
"""Feature -> IAM actions, summed from the ``@calls`` declarations of the code carrying it out."""
