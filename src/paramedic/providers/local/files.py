"""The ``files`` provider: a folder backed up with restic, restored when it is damaged or gone.

- Backups (``restic``): ``restic backup --json --tag paramedic PATH`` into the component's
  repository (initialized on first use; password: see ``restic``). A snapshot's time is when
  restic started it; files written while it ran may be in it too, so the time understates the
  point a little, never overstates it.
- ``restore_from_backup``: the newest snapshot at or before the target is restored into a
  hidden sibling folder first (``.<name>.restore-<incident id>``); only when restic finished
  without error is the damaged tree moved aside (``<path>.damaged-<incident id>``, never
  deleted) and the restored one renamed into its place, so a failed restore leaves the
  damaged tree untouched and the path is absent only between two renames. restic restores
  the absolute path under its target: the tree is taken from ``<target>/<path>``.
- ``verify_backup``: a restore of the snapshot into the scratch folder (it reads and
  authenticates every blob the snapshot uses, so a damaged pack it needs always fails it),
  whose file count must match the snapshot's; then ``restic check --read-data-subset=10%``
  (the repository's structure, and a random tenth of all its data).
- ``prune``: ``restic forget --prune`` of the snapshots older than ``keep``, never the newest.
  (restic's own ``--keep-within`` counts from the newest snapshot and in whole hours; the
  provider contract counts from now.)
- No process to restart: ``restart_service`` is not offered; ``run`` runs the user's command.

Idempotency: a step's marker (see ``step_marker``) records the chosen snapshot and the moves;
a finished restore is not repeated, an unfinished one is finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from paramedic.catalog.model import RestoreFromBackup, Run
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
from paramedic.providers.local import files_faults
from paramedic.providers.local.commands import shown
from paramedic.providers.local.data_specs import FILES, FilesSpec
from paramedic.providers.local.datafiles import (
    exists,
    expired,
    iso,
    load_spec,
    move_aside,
    moves_text,
    newest_at_or_before,
    no_point_message,
    repeated_result,
    run_step,
)
from paramedic.providers.local.restic import Restic, Snapshot
from paramedic.providers.local.step_marker import StepMarker, safe_name

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

_log = logging.getLogger(__name__)
ENGINE = "restic"
CHECK_SUBSET = "10%"
"""Share of the repository's data ``restic check`` reads on each verification."""


class FilesProvider:
    """Backs up one folder with restic and restores it."""

    info: ProviderInfo = FILES
    start_if_down: bool = True
    """Nothing runs for a folder: ``start()`` does nothing either way."""

    def __init__(self, *, catalog: Catalog, name: str, clock: Clock | None = None) -> None:
        self.catalog = catalog
        self.name = name
        self.spec = load_spec(FilesSpec, catalog, name)
        self.path = catalog.resolve_path(self.spec.path)
        self._run_dir = catalog.resolve_path(catalog.agent.run_dir) / name
        self._clock = clock or RealClock()
        self._lock = asyncio.Lock()

    def restic(self, repository: Path) -> Restic:
        """The restic repository at ``repository``, with this component's password file."""
        password = self.spec.password_file
        return Restic(
            component=self.name,
            binary=shutil.which(self.spec.binary) or self.spec.binary,
            repository=repository,
            password_file=self.catalog.resolve_path(password) if password else None,
        )

    # ------------------------------------------------------------ agent lifecycle

    async def start(self) -> None:
        """Nothing to take charge of: a folder has no process."""

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------ faults (drills)

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` (delete-tree, corrupt-files); see ``files_faults``."""
        return await files_faults.inject(self, fault, ctx)

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Nothing is put back; says where the moved or kept data stays."""
        return await files_faults.undo(self, injected, ctx)

    # ------------------------------------------------------------ strategies

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        if isinstance(step, RestoreFromBackup):
            repository = default_repository(self.catalog, self.name)
            return (
                f"restore the newest restic snapshot of {self.path} at or before {step.target} "
                f"from {repository} beside it, move {self.path} aside to "
                f"{self.path.name}.damaged-<incident id>, and put the restored tree in its place"
            )
        if isinstance(step, Run) and step.command is not None:
            return (
                f"run `{shown(step.command)}` in {self.catalog.base_dir} "
                "with PARAMEDIC_INCIDENT and PARAMEDIC_COMPONENT set"
            )
        return f"nothing: the files provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        marker = StepMarker.of(self._run_dir, ctx)
        repeated = repeated_result(marker, ctx)
        if repeated is not None:
            return repeated
        if isinstance(step, Run):
            return marker.finish(await run_step(self.name, step, ctx), started=[])
        if not isinstance(step, RestoreFromBackup):
            raise ProviderError(
                f"component {self.name!r}: the files provider cannot carry out {step.strategy}; "
                "use restore_from_backup or run"
            )
        async with self._lock:
            return await self._restore(step, ctx, marker)

    async def _restore(
        self, step: RestoreFromBackup, ctx: ActionContext, marker: StepMarker
    ) -> ActionResult:
        restic = self.restic(default_repository(ctx.catalog, self.name))
        if marker.data.get("snapshot") is None:
            chosen = await self._choose(restic, resolve_target(step.target, ctx.failed_at))
            marker.advance(
                "chosen",
                snapshot=chosen.id,
                short_id=chosen.short_id,
                taken_at=iso(chosen.time),
                source=chosen.paths[0] if len(chosen.paths) == 1 else str(self.path),
            )
        snapshot, short = str(marker.data["snapshot"]), str(marker.data["short_id"])
        taken_at = datetime.fromisoformat(str(marker.data["taken_at"]))
        staging = self.path.with_name(f".{self.path.name}.restore-{safe_name(ctx.incident_id)}")
        if marker.phase != "placed":
            await asyncio.to_thread(_clear, staging)  # a restore a crash interrupted: ours
            await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
            ctx.log(f"restic restore {short} into {staging}")
            failed = await restic.restore(snapshot, staging)
            if failed is not None:
                raise ProviderError(
                    f"component {self.name!r}: snapshot {short} could not be restored ({failed}); "
                    f"{self.path} was left as it is; check the repository: "
                    f"restic -r {restic.repository} check --read-data"
                )
            restored = _restored_tree(staging, Path(str(marker.data["source"])))
            if restored is None:
                raise ProviderError(
                    f"component {self.name!r}: snapshot {short} restored into {staging} holds "
                    f"no {marker.data['source']}; is it a snapshot of {self.path}?"
                )
            await asyncio.to_thread(move_aside, [self.path], ctx.incident_id, marker)
            await asyncio.to_thread(restored.rename, self.path)
            marker.advance("placed")
        await asyncio.to_thread(_remove_empty, staging)
        moves = [list(m) for m in marker.data.get("aside") or []]
        count = await asyncio.to_thread(_count_files, self.path)
        output = (
            f"restore_from_backup of {self.name}: snapshot {short} (taken {iso(taken_at)}) "
            f"restored from {restic.repository}; {moves_text(moves)}; {count} files in {self.path}"
        )
        detail = {
            "snapshot": snapshot,
            "moved_aside": moves,
            "files": count,
            "recovery_point_at": iso(taken_at),
        }
        result = ActionResult(output=output, recovery_point_at=taken_at, detail=detail)
        return marker.finish(result, started=[])

    async def _choose(self, restic: Restic, target: datetime | None) -> Snapshot:
        present = await self._snapshots(restic)
        candidates = newest_at_or_before([_point(s, restic) for s in present], target)
        if not candidates:
            raise ProviderError(no_point_message(self.name, target, len(present)))
        return next(s for s in present if s.id == candidates[0].location)

    async def _snapshots(self, restic: Restic) -> list[Snapshot]:
        if not await asyncio.to_thread(lambda: restic.initialized):
            return []
        await asyncio.to_thread(restic.ensure_password)
        return await restic.snapshots(self.path)

    # ------------------------------------------------------------ backups

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """``restic backup`` of the folder (the repository initialized on first use)."""
        if not await asyncio.to_thread(self.path.is_dir):
            raise ProviderError(
                f"component {self.name!r}: spec.path {self.path} is not a folder; nothing to "
                "back up (restore it first, or fix spec.path)"
            )
        restic = self.restic(ctx.repository)
        async with self._lock:
            for note in await restic.ensure_repository():  # once per repository: said loudly
                _log.warning("component %r: %s", self.name, note)
                ctx.log(note)
            summary, complete = await restic.backup(self.path, ctx.progress)
            made = str(summary["snapshot_id"])
            found = [s for s in await restic.snapshots(self.path) if s.id.startswith(made)]
        if not found:
            raise ProviderError(
                f"component {self.name!r}: restic reported snapshot {made} but does not list it; "
                f"check the repository: restic -r {restic.repository} check"
            )
        snapshot = found[0]
        if not complete:
            ctx.log(
                f"restic could not read some files of {self.path}: "
                f"snapshot {snapshot.short_id} lacks them"
            )
        point = _point(snapshot, restic)
        detail = dict(point.detail, complete=complete)
        detail.update(
            {
                k: summary.get(k)
                for k in ("files_new", "files_changed", "data_added", "total_files_processed")
            }
        )
        return RecoveryPoint(
            taken_at=point.taken_at,
            location=point.location,
            engine=ENGINE,
            size_bytes=int(summary.get("total_bytes_processed", 0)),
            detail=detail,
        )

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """The folder's snapshots in the repository, oldest first."""
        restic = self.restic(ctx.repository)
        return [_point(s, restic) for s in await self._snapshots(restic)]

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """Oldest to newest snapshot."""
        present = await self.recovery_points(ctx)
        if not present:
            return RestorableWindow(None, None)
        return RestorableWindow(present[0].taken_at, present[-1].taken_at)

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Content-addressed pack check, then a restore into scratch with files counted; ``restic check``.

        restic names every pack file by the SHA-256 of its bytes, so a pack whose
        bytes no longer hash to its name is damaged. That check comes first: it
        is exact and quick, where restic's own readers retry a damaged pack with
        backoff for minutes.
        """
        restic = self.restic(ctx.repository)
        short = point.location[:8]
        damaged = await asyncio.to_thread(damaged_packs, ctx.repository)
        if damaged:
            listed = ", ".join(d[:10] for d in damaged[:5]) + (" …" if len(damaged) > 5 else "")
            return Verification(
                False,
                f"{len(damaged)} pack file(s) of {ctx.repository} no longer match their content "
                f"hash (truncated or altered): {listed}",
            )
        await asyncio.to_thread(restic.ensure_password)
        target = ctx.scratch / f"restic-verify-{short}"
        await asyncio.to_thread(_clear, target)
        failed = await restic.restore(point.location, target)
        if failed is not None:
            return Verification(False, f"snapshot {short}: restore into scratch failed: {failed}")
        expected = await restic.file_count(point.location)
        restored = await asyncio.to_thread(_count_files, target)
        if restored != expected:
            return Verification(
                False,
                f"snapshot {short}: restore into scratch gave {restored} files, "
                f"the snapshot lists {expected}",
            )
        found = await restic.check(CHECK_SUBSET)
        if found is not None:
            return Verification(False, f"restic check of {restic.repository} found errors: {found}")
        return Verification(
            True,
            f"snapshot {short} (taken {iso(point.taken_at)}): restored {restored} of {expected} "
            f"files into scratch; restic check read {CHECK_SUBSET} of the data without errors",
        )

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """``restic forget --prune`` of the snapshots older than ``keep``; never the newest."""
        restic = self.restic(ctx.repository)
        async with self._lock:
            present = [_point(s, restic) for s in await self._snapshots(restic)]
            old = expired(present, keep, self._clock.now())
            if old:
                await restic.forget([p.location for p in old])
        return [p.location[:8] for p in old]


def damaged_packs(repository: Path) -> list[str]:
    """Names of pack files under ``repository/data`` whose SHA-256 is not their name."""
    damaged = []
    for pack in sorted((repository / "data").glob("*/*")):
        if not pack.is_file() or len(pack.name) != 64:
            continue
        digest = hashlib.sha256()
        with pack.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != pack.name:
            damaged.append(pack.name)
    return damaged


def _point(snapshot: Snapshot, restic: Restic) -> RecoveryPoint:
    return RecoveryPoint(
        taken_at=snapshot.time,
        location=snapshot.id,
        engine=ENGINE,
        detail={
            "short_id": snapshot.short_id,
            "repository": str(restic.repository),
            "paths": snapshot.paths,
            "hostname": snapshot.hostname,
        },
    )


def _restored_tree(staging: Path, source: Path) -> Path | None:
    """Where restic put ``source`` under ``staging``: the absolute path, else its last part."""
    for candidate in (staging / source.relative_to(source.anchor), staging / source.name):
        if exists(candidate):
            return candidate
    return None


def _clear(staging: Path) -> None:
    """Remove a staging folder of ours (restored data, still in the repository)."""
    if exists(staging):
        shutil.rmtree(staging)


def _remove_empty(staging: Path) -> None:
    """Remove the staging folder's empty skeleton (the restored tree was moved out of it)."""
    if not staging.is_dir():
        return
    for folder, _dirs, _files in sorted(os.walk(staging), key=lambda w: -len(w[0])):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty: not ours to remove


def _count_files(root: Path) -> int:
    """Regular files under ``root`` (symbolic links not followed)."""
    return sum(
        1
        for folder, _dirs, files in os.walk(root)
        for name in files
        if os.path.isfile(os.path.join(folder, name))
        and not os.path.islink(os.path.join(folder, name))
    )


__all__ = ["FilesProvider"]
