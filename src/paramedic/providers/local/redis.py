"""The ``redis`` provider: a redis-server paramedic runs, restarts, backs up and restores.

- The server (see ``redis_server``) is started when the agent starts, or adopted when a
  previous agent run left it running; a server paramedic did not start that already answers on
  the port is left alone until a strategy has to stop it (then ``SHUTDOWN SAVE``).
- ``restart_service``: stop keeping the data (``SHUTDOWN SAVE``), start, wait for PING with the
  data loaded.
- Backups (``redis_rdb``, see ``redis_snapshots``): BGSAVE, RDB copied with its SHA-256.
- ``restore_from_backup``: choose the newest snapshot at or before the target whose checksum
  holds (a damaged one is skipped, and said), stop the server (``SHUTDOWN SAVE``: what it held
  is kept in the files moved aside), move the RDB file and the AOF aside as
  ``<name>.damaged-<incident id>``, place the snapshot as the RDB file, start.
  With AOF on, Redis loads the AOF and ignores the RDB (with the AOF moved aside it would
  start empty): so the server is first started with ``--appendonly no`` to load the snapshot,
  ``CONFIG SET appendonly yes`` rebuilds the AOF from memory, and the server is restarted
  with its own configuration. (The AOF copied beside a snapshot is not restored.)

Idempotency: ``(incident, step)`` markers in ``agent.run_dir``/<component>/steps (see
``step_marker``). A finished step is not repeated (its server is only started again if it
has stopped since); an unfinished restore is carried out again from the snapshot it chose:
anything in the way is moved aside again (never deleted) and the snapshot placed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.exceptions

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import RestartService, RestoreFromBackup, Run
from paramedic.clock import Clock, RealClock
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
from paramedic.providers.local import redis_faults
from paramedic.providers.local import redis_snapshots as snapshots
from paramedic.providers.local.commands import shown
from paramedic.providers.local.data_specs import REDIS, RedisSpec
from paramedic.providers.local.datafiles import (
    copy_with_checksum,
    expired,
    give_to_owner_of,
    iso,
    load_spec,
    move_aside,
    moves_text,
    newest_at_or_before,
    no_point_message,
    repeated_result,
    run_step,
)
from paramedic.providers.local.redis_server import (
    POLL_S,
    RedisFiles,
    RedisServer,
    connect,
    files_from_config,
    key_count,
)
from paramedic.providers.local.step_marker import StepMarker, identity, same_process
from paramedic.providers.local.supervise import OwnedProcess

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

_log = logging.getLogger(__name__)


class RedisProvider:
    """Runs one component's redis-server; restarts it, backs it up, restores it."""

    info: ProviderInfo = REDIS
    start_if_down: bool = True
    """False for a server taken over from another agent: adopt it, never start it silently."""

    def __init__(self, *, catalog: Catalog, name: str, clock: Clock | None = None) -> None:
        self.catalog = catalog
        self.name = name
        self.spec = load_spec(RedisSpec, catalog, name)
        self.on_exit: Callable[[str, int | None], None] | None = None
        """Called at once with (component, exit code) when the server exits on its own."""
        self._clock = clock or RealClock()
        self.server = RedisServer(
            name=name, spec=self.spec, catalog=catalog, clock=self._clock, on_exit=self._exited
        )
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """Pid of the server paramedic runs, while it runs."""
        proc = self.server.running
        return proc.pid if proc is not None else None

    # ------------------------------------------------------------ agent lifecycle

    async def start(self) -> None:
        """Adopt the server a previous agent run left, else start it (unless another answers,
        or ``start_if_down`` is False: taken over, its check and recovery decide)."""
        async with self._lock:
            if self.server.running is not None or await self.server.adopt() is not None:
                return
            if not self.start_if_down:
                return
            if await self.server.answers():
                _log.warning(
                    "component %r: a redis-server paramedic did not start answers on %s; "
                    "it is left running and taken over at its first restart",
                    self.name,
                    self.server.where,
                )
                return
            self.server.spawn("agent start")

    async def close(self, stop_owned: bool) -> None:
        """Stop the server (``stop_owned``, keeping its data) or leave it for the next run."""
        async with self._lock:
            proc = self.server.running
            if proc is None:
                return
            if stop_owned:
                await self.server.stop("agent stopping")
            else:
                proc.detach()
                self.server.proc = None

    def _exited(self, returncode: int | None) -> None:
        if self.on_exit is None:
            return
        try:
            self.on_exit(self.name, returncode)
        except Exception:
            _log.warning("on_exit callback for component %r failed", self.name, exc_info=True)

    # ------------------------------------------------------------ faults (drills)

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` (kill, delete-data, hang) into the server; see ``redis_faults``."""
        return await redis_faults.inject(self, fault, ctx)

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Resume a hung server; moved data files stay where the drill record says."""
        return await redis_faults.undo(self, injected, ctx)

    # ------------------------------------------------------------ strategies

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        grace = format_duration(self.spec.stop_grace)
        stop = (
            f"stop {self.name} on {self.server.where} with SHUTDOWN SAVE (signals, SIGKILL after "
            f"{grace}, when it does not answer)"
        )
        if isinstance(step, RestartService):
            return f"{stop} and start `{shown(self.server.argv())}` again"
        if isinstance(step, RestoreFromBackup):
            files = self._configured_files()
            repository = default_repository(self.catalog, self.name)
            aof = ", rebuild the AOF from it" if files.appendonly else ""
            return (
                f"{stop}, move {files.rdb} and {files.aof} aside to *.damaged-<incident id>, "
                f"place the newest snapshot from {repository} at or before {step.target} "
                f"(checksum checked) as {files.rdb}{aof}, start and wait for PING"
            )
        if isinstance(step, Run) and step.command is not None:
            return (
                f"run `{shown(step.command)}` in {self.catalog.base_dir} "
                "with PARAMEDIC_INCIDENT and PARAMEDIC_COMPONENT set"
            )
        return f"nothing: the redis provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        marker = StepMarker.of(self.server.run_dir, ctx)
        repeated = repeated_result(marker, ctx)
        if repeated is not None:
            return repeated
        if isinstance(step, Run):
            return marker.finish(await run_step(self.name, step, ctx), started=[])
        if not isinstance(step, RestartService | RestoreFromBackup):
            raise ProviderError(
                f"component {self.name!r}: the redis provider cannot carry out {step.strategy}; "
                "use restart_service, restore_from_backup or run"
            )
        async with self._lock:
            if marker.phase == "done":  # finished, but its server is gone since: start it again
                return await self._start_again(marker, ctx)
            if isinstance(step, RestartService):
                return await self._restart(ctx, marker)
            return await self._restore(step, ctx, marker)

    async def _restart(self, ctx: ActionContext, marker: StepMarker) -> ActionResult:
        reason = f"restart_service for incident {ctx.incident_id}"
        current = self.server.running
        started = current is not None and not same_process(marker.data.get("before"), current)
        if marker.phase == "spawning" and current is not None and started:
            # The agent stopped after starting it: that start finishes this step.
            info = await self.server.wait_ready(current)
            return self._finish(marker, [f"restart_service of {self.name}: started"], current, info)
        if marker.phase is None:
            marker.advance("begun", before=identity(current))
        stopped = await self.server.stop(reason)
        marker.advance("spawning")
        proc = self.server.spawn(reason)
        info = await self.server.wait_ready(proc)
        return self._finish(marker, [f"restart_service of {self.name}: {stopped}"], proc, info)

    async def _start_again(self, marker: StepMarker, ctx: ActionContext) -> ActionResult:
        """A finished step whose server is gone: start it again (the data is in place)."""
        recorded = dict(marker.data.get("detail") or {})
        point = recorded.get("recovery_point_at")
        current = self.server.running
        if current is not None or await self.server.answers():
            now = (
                f"pid {current.pid}" if current is not None else "a server paramedic did not start"
            )
            note = f"already done for incident {ctx.incident_id} step {ctx.step_index}; {now} runs"
            output = f"{marker.data.get('output', '')} ({note})"
        else:
            proc = self.server.spawn(f"step {ctx.step_index} of incident {ctx.incident_id}, again")
            await self.server.wait_ready(proc)
            output = (
                f"{marker.data.get('output', '')} (its server had stopped since: started again)"
            )
            recorded["pid"] = proc.pid
            marker.finish(ActionResult(output=output, detail=recorded), [identity(proc) or {}])
        return ActionResult(
            output=output,
            recovery_point_at=None if point is None else datetime.fromisoformat(point),
            detail=dict(recorded, repeated=True),
        )

    def _finish(
        self,
        marker: StepMarker,
        parts: list[str],
        proc: OwnedProcess,
        info: dict[str, Any],
        point: RecoveryPoint | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ActionResult:
        """Record the step done with the server it left running; its result."""
        keys = key_count(info)
        parts = [*parts, f"pid {proc.pid} answering on {self.server.where} with {keys} keys"]
        detail: dict[str, Any] = {"pid": proc.pid, "keys": keys, **(extra or {})}
        if point is not None:
            detail["recovery_point_at"] = iso(point.taken_at)
        result = ActionResult(
            output="; ".join(parts),
            recovery_point_at=None if point is None else point.taken_at,
            detail=detail,
        )
        marker.finish(result, [identity(proc) or {}])
        return result

    # ------------------------------------------------------------ restore

    async def _restore(
        self, step: RestoreFromBackup, ctx: ActionContext, marker: StepMarker
    ) -> ActionResult:
        reason = f"restore_from_backup for incident {ctx.incident_id}"
        if not isinstance(marker.data.get("point"), dict):
            repository = default_repository(ctx.catalog, self.name)
            target = resolve_target(step.target, ctx.failed_at)
            point, skipped = await self._choose(repository, target)
            files = await self.server.files()
            marker.advance(
                "chosen",
                point={
                    "location": point.location,
                    "taken_at": iso(point.taken_at),
                    "checksum": point.checksum,
                },
                skipped=skipped,
                files=_files_record(files),
            )
        chosen = RecoveryPoint(
            taken_at=datetime.fromisoformat(marker.data["point"]["taken_at"]),
            location=marker.data["point"]["location"],
            engine=snapshots.ENGINE,
            checksum=marker.data["point"]["checksum"],
        )
        files = _files_from_record(marker.data["files"])
        lines = [f"skipped {s}" for s in marker.data.get("skipped") or []]
        stopped = await self.server.stop(reason)
        moves = await asyncio.to_thread(move_aside, [files.rdb, files.aof], ctx.incident_id, marker)
        lines.append(moves_text(moves))
        lines.append(await self._place(chosen, files))
        marker.advance("placed")
        if files.appendonly:
            lines.append(await self._rebuild_aof(reason))
        proc = self.server.spawn(reason)
        info = await self.server.wait_ready(proc)
        parts = [f"restore_from_backup of {self.name}: {stopped}", *lines]
        extra = {"snapshot": chosen.location, "moved_aside": moves}
        return self._finish(marker, parts, proc, info, chosen, extra)

    async def _choose(
        self, repository: Path, target: datetime | None
    ) -> tuple[RecoveryPoint, list[str]]:
        """The newest snapshot at or before ``target`` whose checksum holds; the ones skipped."""
        present = snapshots.points(repository)
        skipped: list[str] = []
        for point in newest_at_or_before(present, target):
            problem = await asyncio.to_thread(snapshots.checksum_problem, point)
            if problem is None:
                return point, skipped
            skipped.append(problem)
        if skipped:
            raise ProviderError(
                f"component {self.name!r}: no intact snapshot to restore: {'; '.join(skipped)}"
            )
        raise ProviderError(no_point_message(self.name, target, len(present)))

    async def _place(self, point: RecoveryPoint, files: RedisFiles) -> str:
        snapshot = Path(point.location)
        self.server.prepare_folder()
        try:
            size, digest = await asyncio.to_thread(copy_with_checksum, snapshot, files.rdb)
        except OSError as exc:
            raise ProviderError(
                f"component {self.name!r}: cannot copy snapshot {snapshot} to {files.rdb}: "
                f"{exc.strerror or exc}; check the folder (space, permissions)"
            ) from exc
        give_to_owner_of(files.rdb, files.dir)
        if point.checksum is not None and point.checksum != f"sha256:{digest}":
            raise ProviderError(
                f"component {self.name!r}: snapshot {snapshot.name} changed while it was copied "
                f"(checksum mismatch); restore again to choose another"
            )
        taken = iso(point.taken_at)
        return (
            f"snapshot {snapshot.name} (taken {taken}, checksum ok, {size} bytes) "
            f"placed as {files.rdb}"
        )

    async def _rebuild_aof(self, reason: str) -> str:
        """Load the placed RDB with AOF off, turn AOF on (a rewrite from memory), stop."""
        proc = self.server.spawn(f"{reason}: loading the snapshot, AOF off", "--appendonly", "no")
        info = await self.server.wait_ready(proc)
        try:
            async with connect(self.spec.host, self.spec.port, timeout=10.0) as client:
                before = int((await client.info("persistence")).get("aof_rewrites", 0))
                await client.config_set("appendonly", "yes")
                while True:
                    state = await client.info("persistence")
                    busy = int(state["aof_rewrite_in_progress"]) or int(
                        state["aof_rewrite_scheduled"]
                    )
                    if not busy and int(state.get("aof_rewrites", before + 1)) > before:
                        break
                    await asyncio.sleep(POLL_S)
        except redis.exceptions.RedisError as exc:
            raise ProviderError(
                f"component {self.name!r}: rebuilding the AOF from the snapshot failed: {exc}; "
                f"see {self.server.log_path}"
            ) from exc
        if state.get("aof_last_bgrewrite_status") != "ok":
            raise ProviderError(
                f"component {self.name!r}: rebuilding the AOF from the snapshot failed; "
                f"see {self.server.log_path}"
            )
        await self.server.stop(f"{reason}: AOF rebuilt")
        return f"AOF rebuilt from the snapshot ({key_count(info)} keys)"

    def _configured_files(self) -> RedisFiles:
        try:
            return files_from_config(self.server.config, self.server.folder)
        except ProviderError:
            return RedisFiles(dir=self.server.folder)

    # ------------------------------------------------------------ backups

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """BGSAVE and copy the RDB (and the AOF when on) into the repository."""
        async with self._lock:
            ctx.progress(0.0, f"BGSAVE on {self.server.where}")
            point = await snapshots.take(self.server, ctx.repository)
            ctx.progress(1.0, f"snapshot {Path(point.location).name} copied")
        ctx.log(f"snapshot {point.location} taken at {iso(point.taken_at)} ({point.checksum})")
        return point

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """The snapshots in the repository, oldest first."""
        return await asyncio.to_thread(snapshots.points, ctx.repository)

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """Oldest to newest snapshot (Redis has no log to replay between them)."""
        present = await self.recovery_points(ctx)
        if not present:
            return RestorableWindow(None, None)
        return RestorableWindow(present[0].taken_at, present[-1].taken_at)

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Checksum, then load it in a scratch redis-server on a free port: PING, DBSIZE."""
        return await snapshots.verify(
            point, ctx.scratch, self.server.binary, self.spec.user, self.name
        )

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """Remove snapshots older than ``keep`` (never the newest); their names."""
        async with self._lock:
            present = snapshots.points(ctx.repository)
            old = expired(present, keep, self._clock.now())
            return [await asyncio.to_thread(snapshots.remove, point) for point in old]


def _files_record(files: RedisFiles) -> dict[str, Any]:
    return {
        "dir": str(files.dir),
        "dbfilename": files.dbfilename,
        "appendonly": files.appendonly,
        "appenddirname": files.appenddirname,
        "appendfilename": files.appendfilename,
    }


def _files_from_record(data: dict[str, Any]) -> RedisFiles:
    return RedisFiles(
        dir=Path(data["dir"]),
        dbfilename=data["dbfilename"],
        appendonly=bool(data["appendonly"]),
        appenddirname=data.get("appenddirname"),
        appendfilename=data["appendfilename"],
    )


__all__ = ["RedisProvider"]
