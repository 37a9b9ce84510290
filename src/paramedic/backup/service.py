"""Taking, listing, verifying and pruning recovery points through a component's provider.

The provider's repository is the truth about which points exist; the store
mirrors them (with their verification results) so the CLI, reports and the
RPO exposure read one place. A failed verification is an incident of its own
kind (``verification``), opened escalated — a bad backup needs a human, and it
must not block the recovery of a real failure — and it notifies.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paramedic.catalog.model import BackupEngine, Catalog, Event
from paramedic.clock import Clock
from paramedic.errors import NotFound, ProviderError, Refused
from paramedic.notify import Notice
from paramedic.providers.base import (
    BackupCapable,
    BackupContext,
    Provider,
    RecoveryPoint,
    RestorableWindow,
    Verification,
    default_repository,
)
from paramedic.providers.registry import build_provider
from paramedic.recovery.engine import NoticeSink
from paramedic.register import register_components
from paramedic.store import RecoveryPointRow, Store


@dataclass(frozen=True)
class Inventory:
    """The recovery points of one component and its restorable window."""

    component: str
    engine: str
    repository: str
    points: list[RecoveryPointRow]
    window: RestorableWindow


class BackupService:
    """Backups of the catalog's components, carried out by their providers."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        *,
        notifier: NoticeSink | None = None,
        providers: dict[str, Provider] | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self._providers = providers if providers is not None else {}
        self._progress = progress

    # ------------------------------------------------------------ plumbing

    def _capable(self, name: str) -> BackupCapable:
        if name not in self.catalog.components:
            known = ", ".join(sorted(self.catalog.components))
            raise NotFound(f"no component {name!r} in {self.catalog.source}; known: {known}")
        component = self.catalog.components[name]
        if component.backup is None:
            raise Refused(
                f"component {name!r} has no backup configured; add components.{name}.backup "
                "(engine, schedule, keep)"
            )
        provider = self._providers.get(name)
        if provider is None:
            provider = build_provider(self.catalog, name)
            self._providers[name] = provider
        if not isinstance(provider, BackupCapable):
            raise Refused(f"provider {component.provider!r} of {name!r} cannot take backups")
        return provider

    def _context(self, name: str, scratch: Path) -> BackupContext:
        repository = default_repository(self.catalog, name)
        backup = self.catalog.components[name].backup
        if backup is None or backup.engine != BackupEngine.aws_backup:  # a vault, not a folder
            repository.mkdir(parents=True, exist_ok=True)
        return BackupContext(
            component_name=name,
            component=self.catalog.components[name],
            catalog=self.catalog,
            repository=repository,
            scratch=scratch,
            progress=self._progress or (lambda _f, _w: None),
        )

    def _ensure_component(self, name: str) -> None:
        register_components(self.store, self.catalog, [name])

    def _mirror(self, name: str, point: RecoveryPoint) -> RecoveryPointRow:
        for row in self.store.recovery_points(name):
            if row.location == point.location:
                return row
        return self.store.add_recovery_point(
            component=name,
            engine=point.engine,
            taken_at=point.taken_at,
            location=point.location,
            size_bytes=point.size_bytes,
            checksum=point.checksum,
            detail=point.detail,
        )

    # ------------------------------------------------------------ operations

    async def take(self, name: str) -> RecoveryPointRow:
        """Take a backup now, record it, prune past ``keep``, verify when ``verify: after_backup``."""
        provider = self._capable(name)
        self._ensure_component(name)
        backup = self.catalog.components[name].backup
        assert backup is not None
        with _scratch() as scratch:
            ctx = self._context(name, scratch)
            try:
                point = await provider.take_backup(ctx)
            except ProviderError as exc:
                await self._notify(Event.backup_failed, name, f"backup of {name} failed: {exc}")
                raise
            row = self._mirror(name, point)
            await provider.prune(ctx, backup.keep)
        if backup.verify == "after_backup":
            await self.verify(name)
        return row

    async def inventory(self, name: str) -> Inventory:
        """The repository's points (mirrored into the store) and the restorable window."""
        provider = self._capable(name)
        self._ensure_component(name)
        backup = self.catalog.components[name].backup
        assert backup is not None
        with _scratch() as scratch:
            ctx = self._context(name, scratch)
            present = await provider.recovery_points(ctx)
            window = await provider.restorable_window(ctx)
        rows = [self._mirror(name, point) for point in present]
        return Inventory(name, backup.engine.value, str(ctx.repository), rows, window)

    async def verify(self, name: str) -> Verification:
        """Restore the newest point into a scratch place and check it; a failure opens an incident."""
        provider = self._capable(name)
        self._ensure_component(name)
        with _scratch() as scratch:
            ctx = self._context(name, scratch)
            points = await provider.recovery_points(ctx)
            if not points:
                result = Verification(False, f"{name} has no recovery point to verify")
                row = None
            else:
                newest = points[-1]
                row = self._mirror(name, newest)
                try:
                    result = await provider.verify_backup(ctx, newest)
                except ProviderError as exc:
                    result = Verification(False, str(exc))
        now = self.clock.now()
        if row is not None:
            self.store.mark_verified(row.id, at=now, ok=result.ok, detail=result.detail)
        if not result.ok:
            comp = self.catalog.components[name]
            incident = (
                self.store.open_incident(
                    component=name,
                    kind="verification",
                    failed_at=now,
                    detected_at=now,
                    failure="bad_response",
                    reason=f"backup verification failed: {result.detail}",
                    target_rto_s=comp.rto.total_seconds(),
                    target_rpo_s=comp.rpo.total_seconds(),
                )
                if self.store.open_incident_of(name) is None
                else None
            )
            if incident is not None:
                self.store.update_incident(incident.id, state="escalated", escalated_at=now)
            await self._notify(
                Event.verification_failed,
                name,
                f"backup verification of {name} failed: {result.detail}",
                incident.id if incident else None,
            )
        return result

    async def _notify(
        self, event: Event, name: str, message: str, incident_id: str | None = None
    ) -> None:
        if self.notifier is None:
            return
        await self.notifier.notify(
            Notice(
                event=event,
                component=name,
                incident_id=incident_id,
                title=f"[paramedic] {name}: {event.value.replace('_', ' ')}",
                payload={"message": message, "component": name},
            )
        )


class _scratch:
    """A scratch folder readable by an unprivileged server user, removed afterwards."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="paramedic-scratch-"))
        self.path.chmod(0o755)
        return self.path

    def __exit__(self, *_exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
