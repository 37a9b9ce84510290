"""The ``postgres`` provider: one PostgreSQL cluster paramedic manages (``spec.data_dir``).

Cluster control (programs as ``spec.user``, start, stop, SQL) is ``postgres_cluster``; the
backup engines are ``postgres_backup`` (pg_basebackup) and ``postgres_pgbackrest``. The cluster
outlives the agent: ``close`` never stops it.

Strategies:

- ``restart_service``: ``pg_ctl stop -m fast`` (then ``immediate`` when fast does not finish
  within 60 s) and ``pg_ctl start -w`` with a generous wait, so crash recovery may finish
  (not ``pg_ctl restart``, whose one ``-t`` would bound both); a cluster that is down is
  started.
- ``restore_from_backup``: pick the newest base backup that ends before the target, stop what
  is left (``immediate``), move the damaged data directory aside to
  ``<data_dir>.damaged-<incident id>`` (never deleted), restore the backup into ``data_dir``
  (owned by ``spec.user``, mode 0700) with recovery settings (``restore_command`` from the
  archive, ``recovery_target_time`` with ``recovery_target_inclusive = off`` so a transaction
  committed at the target itself is left out, ``recovery_target_action = promote``, timeline
  ``latest``) and ``recovery.signal``, start, wait until ``pg_is_in_recovery()`` is false,
  then remove the recovery settings (``ALTER SYSTEM RESET``).
- ``failover_to_standby``: ``postgres_failover.failover_to_standby``.
- ``run``: the user's command, as the process provider runs it.

``recovery_point_at`` of a restore (the measured RPO is ``failed_at`` minus it) is read on the
promoted server: ``pg_last_xact_replay_timestamp()``, the commit time of the last transaction
replayed from the archive, or the base backup's end when that is later (nothing replayed
after the backup). It is the newest data that survived, not the target: a restore to a target
on an idle database reports the last commit before the target.

Idempotency: a marker per ``(incident, step)`` in ``<run_dir>/<component>/steps/`` records how
far a restore got (``begun`` with the backup chosen → ``moved`` → ``restored`` → ``done``).
A repeat call resumes from there: once the damaged directory is moved aside it is never moved
again, so a freshly restored directory is never taken for a damaged one; a finished step
returns its recorded result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

from paramedic.catalog.model import (
    BackupEngine,
    FailoverToStandby,
    RestartService,
    RestoreFromBackup,
    Run,
)
from paramedic.clock import RealClock
from paramedic.errors import ProviderError
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
    default_repository,
    resolve_target,
)
from paramedic.providers.local import (
    postgres_backup,
    postgres_faults,
    postgres_pgbackrest,
    postgres_verify,
)
from paramedic.providers.local.commands import ComponentCommand, shown
from paramedic.providers.local.data_specs import POSTGRES
from paramedic.providers.local.postgres_cluster import POLL_S, STOP_WAIT_S, PostgresCluster
from paramedic.providers.local.step_marker import StepMarker

if TYPE_CHECKING:
    from datetime import timedelta

    from paramedic.catalog.model import Strategy

_RECOVERY_SETTINGS = (
    "restore_command",
    "recovery_target",
    "recovery_target_time",
    "recovery_target_inclusive",
    "recovery_target_action",
    "recovery_target_timeline",
)


class PostgresProvider(PostgresCluster):
    """Restarts, backs up, restores and fails over one PostgreSQL cluster."""

    info: ProviderInfo = POSTGRES

    # ------------------------------------------------------------ Provider

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release: the cluster outlives the agent, whatever ``stop_owned`` says."""

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        where = f"{self.name} ({self.data_dir}, port {self.spec.port})"
        if isinstance(step, RestartService):
            return (
                f"restart PostgreSQL {where}: pg_ctl stop -m fast (immediate after "
                f"{STOP_WAIT_S}s), then pg_ctl start letting crash recovery finish; start it "
                "when it is down"
            )
        if isinstance(step, RestoreFromBackup):
            return self._describe_restore(step, where)
        if isinstance(step, FailoverToStandby):
            from paramedic.providers.local.postgres_failover import describe_failover

            return describe_failover(self, step)
        if isinstance(step, Run) and step.command is not None:
            return (
                f"run `{shown(step.command)}` in {self.catalog.base_dir} "
                "with PARAMEDIC_INCIDENT and PARAMEDIC_COMPONENT set"
            )
        return f"nothing: the postgres provider cannot carry out {step.strategy} this way"

    def _describe_restore(self, step: RestoreFromBackup, where: str) -> str:
        backup = self.catalog.components[self.name].backup
        if backup is None:
            return f"nothing: {self.name} has no backup section to restore from"
        aim = {
            "latest": "the newest archived WAL",
            "before_failure": "the moment of the failure",
        }.get(step.target, step.target)
        repository = default_repository(self.catalog, self.name)
        return (
            f"stop {where} (immediate), move {self.data_dir} aside to "
            f"{self.data_dir.name}.damaged-<incident id>, restore the newest {backup.engine} "
            f"backup from {repository} that ends before {aim}, replay archived WAL up to "
            f"{aim} and promote"
        )

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if isinstance(step, FailoverToStandby):
            from paramedic.providers.local import postgres_failover

            return await postgres_failover.failover_to_standby(self, step, ctx)
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        marker = StepMarker.of(self.run_dir, ctx)
        if isinstance(step, RestoreFromBackup):
            return await self._restore(step, ctx, marker)
        if marker.phase == "done":
            return await self._repeated(marker, ctx)
        if isinstance(step, RestartService):
            said = await self.restart()
            output = (
                f"restart_service of {self.name}: {said}; postmaster pid {self.postmaster_pid()}"
            )
            return marker.finish(ActionResult(output=output, detail={"how": said}), started=[])
        if isinstance(step, Run) and step.command is not None:
            return marker.finish(await self._run(step, ctx), started=[])
        raise ProviderError(
            f"component {self.name!r}: the postgres provider cannot carry out {step.strategy}; "
            "use restart_service, restore_from_backup, failover_to_standby or run with a command"
        )

    async def _repeated(self, marker: StepMarker, ctx: ActionContext) -> ActionResult:
        """The recorded result of a finished step; the cluster is started if it went down since."""
        await self.start_server()
        detail = dict(marker.data.get("detail") or {}, repeated=True)
        recorded = detail.get("recovery_point_at")
        point = datetime.fromisoformat(recorded) if isinstance(recorded, str) else None
        note = f"already done for incident {ctx.incident_id} step {ctx.step_index}; not repeated"
        output = f"{marker.data.get('output', '')} ({note})"
        return ActionResult(output=output, recovery_point_at=point, detail=detail)

    async def _run(self, step: Run, ctx: ActionContext) -> ActionResult:
        assert step.command is not None
        argv = ["/bin/sh", "-c", " ".join(step.command)] if step.shell else list(step.command)
        command = ComponentCommand(self.name, argv, f"recovery[{ctx.step_index}].command", "run")
        env = dict(os.environ, PARAMEDIC_INCIDENT=ctx.incident_id, PARAMEDIC_COMPONENT=self.name)
        output = await command.run(cwd=self.catalog.base_dir, env=env)
        return ActionResult(output=output, detail={"exit_code": 0})

    # ------------------------------------------------------------ restore_from_backup

    async def _restore(
        self, step: RestoreFromBackup, ctx: ActionContext, marker: StepMarker
    ) -> ActionResult:
        if marker.phase == "done":
            return await self._repeated(marker, ctx)
        engine = self.engine()
        if marker.phase is None:
            plan = await engine.plan(resolve_target(step.target, ctx.failed_at))
            marker.advance(
                "begun",
                point=postgres_backup.point_to_json(plan.point),
                stop_at=plan.stop_at.isoformat() if plan.stop_at else None,
                plan=plan.reason,
                aside=None,
            )
        point = postgres_backup.point_from_json(marker.data["point"])
        stop_at_text = marker.data.get("stop_at")
        stop_at = datetime.fromisoformat(stop_at_text) if stop_at_text else None
        ctx.log(f"restore plan: backup {point.location}; {marker.data.get('plan')}")
        if marker.phase == "begun":
            await self.stop("immediate")
            if self.data_dir.exists():
                recorded = marker.data.get("aside")
                aside = Path(recorded) if recorded else None
                if aside is None or aside.exists():
                    aside = self._aside_name(ctx.incident_id)
                    marker.advance("begun", aside=str(aside))
                self._rename_aside(aside)
                ctx.log(f"moved the damaged data directory aside to {aside}")
            marker.advance("moved")
        if marker.phase == "moved":
            await engine.restore(point, self.data_dir, stop_at, f"incident {ctx.incident_id}")
            marker.advance("restored")
            ctx.log(f"restored {point.location} into {self.data_dir}")
        await self.start_server()
        await self._await_promotion()
        replayed = (await self.query("SELECT pg_last_xact_replay_timestamp()"))[0][0]
        await self._forget_recovery_settings()
        return self._restored(marker, point, stop_at, replayed)

    def _restored(
        self,
        marker: StepMarker,
        point: RecoveryPoint,
        stop_at: datetime | None,
        replayed: datetime | None,
    ) -> ActionResult:
        recovered_to = point.taken_at
        source = "the base backup's end (no transaction replayed after it)"
        if isinstance(replayed, datetime) and replayed > point.taken_at:
            recovered_to, source = replayed, "the last transaction replayed from the archive"
        aside = marker.data.get("aside")
        reach = f"up to {stop_at.isoformat()}" if stop_at else "to the end of the archive"
        output = (
            f"restore_from_backup of {self.name}: restored backup {point.location} "
            f"(ended {point.taken_at.isoformat()}), replayed archived WAL {reach} and promoted; "
            f"newest data: {recovered_to.isoformat()} ({source}); "
            + (f"damaged data directory kept at {aside}" if aside else "no data directory was left")
        )
        detail: dict[str, Any] = {
            "backup": point.location,
            "engine": point.engine,
            "stop_at": stop_at.isoformat() if stop_at else None,
            "recovery_point_at": recovered_to.isoformat(),
            "recovery_point_source": source,
            "moved_aside": aside,
        }
        marker.advance("done", output=output, detail=detail, pids=[])
        return ActionResult(output=output, recovery_point_at=recovered_to, detail=detail)

    async def _await_promotion(self) -> None:
        """Wait until the restored server leaves recovery; ProviderError when it dies instead."""
        while True:
            with contextlib.suppress(ProviderError):
                if (await self.query("SELECT pg_is_in_recovery()"))[0][0] is False:
                    return
            if not self.is_running():
                raise ProviderError(
                    f"component {self.name!r}: the restored cluster stopped during recovery: "
                    f"{self.log_tail()}; see the server log {self.log_path}"
                )
            await asyncio.sleep(POLL_S)

    async def _forget_recovery_settings(self) -> None:
        """Remove the restore's settings from postgresql.auto.conf (they no longer apply)."""
        for name in _RECOVERY_SETTINGS:
            await self.query(sql.SQL("ALTER SYSTEM RESET {}").format(sql.SQL(name)))
        await self.query("SELECT pg_reload_conf()")

    # ------------------------------------------------------------ FaultCapable

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` (kill-postmaster, delete-data, corrupt-relation, stop); a drill."""
        return await postgres_faults.inject(self, fault, ctx, RealClock())

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Nothing is put back; says where moved or copied data stays."""
        return await postgres_faults.undo(self, injected, ctx)

    # ------------------------------------------------------------ BackupCapable

    def engine(self, repository: Path | None = None) -> postgres_backup.WalEngine:
        """The backup engine of the component's ``backup`` section, over ``repository``."""
        backup = self.catalog.components[self.name].backup
        if backup is None:
            raise ProviderError(
                f"component {self.name!r} has no backup section; add backup: {{engine: "
                "pg_basebackup, schedule: ...}} to take and restore backups"
            )
        repo = repository or default_repository(self.catalog, self.name)
        if backup.engine == BackupEngine.pgbackrest:
            return postgres_pgbackrest.PgBackRestEngine(self, repo, backup)
        if backup.engine == BackupEngine.pg_basebackup:
            return postgres_backup.BaseBackupEngine(self, repo, backup)
        raise ProviderError(
            f"component {self.name!r}: backup.engine {backup.engine} is not a PostgreSQL engine; "
            "use pg_basebackup or pgbackrest"
        )

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """Turn WAL archiving on if needed (restarting once), then take a base backup."""
        return await self.engine(ctx.repository).take(ctx)

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """The base backups in the repository, oldest first."""
        return await self.engine(ctx.repository).points()

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """Oldest base backup's end → newest archived commit (or newest backup's end)."""
        return await self.engine(ctx.repository).window()

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Check the backup's files, restore it as a scratch cluster in ``ctx.scratch``, query it."""
        return await postgres_verify.verify_in_scratch(
            self, self.engine(ctx.repository), ctx, point
        )

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """Remove backups older than ``keep`` (never the newest) and the WAL only they needed."""
        return await self.engine(ctx.repository).prune(keep)


__all__ = ["PostgresProvider"]
