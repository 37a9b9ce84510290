"""Scheduled backups and verifications of every component with ``backup:``."""

from __future__ import annotations

from datetime import datetime

from paramedic.agent.parts import AgentParts, Ticking
from paramedic.backup import BackupService, next_run, verify_due
from paramedic.errors import ParamedicError


class Backups(Ticking):
    """Takes each component's backup when its schedule says, and verifies when ``verify`` says."""

    name = "backups"
    label = "backup loop"

    def __init__(self, parts: AgentParts, service: BackupService) -> None:
        super().__init__()
        self.parts = parts
        self.service = service
        self.busy: set[str] = set()
        """Components whose backup or verification runs now (the RPO watch leaves them alone)."""
        self._due: dict[str, datetime] = {}

    async def tick(self) -> None:
        """Start the backups and verifications that are due."""
        parts = self.parts
        now = parts.clock.now()
        for name, comp in parts.catalog.components.items():
            backup = comp.backup
            watch = parts.watches.get(name)
            if backup is None or watch is None or watch.provider is None:
                continue
            due = self._due.setdefault(name, next_run(backup.schedule, now))
            if now >= due and name not in self.busy:
                self._due[name] = next_run(backup.schedule, now)
                parts.spawn(self.take(name))
            elif name not in self.busy:
                points = parts.store.recovery_points(name)
                verified = [p.verified_at for p in points if p.verified_at is not None]
                if points and verify_due(backup.verify, max(verified, default=None), now):
                    parts.spawn(self._verify(name))

    async def take(self, name: str) -> None:
        """Take ``name``'s backup now; its outcome is a decision line."""
        self.busy.add(name)
        try:
            row = await self.service.take(name)
            self.parts.say(
                name,
                "backup_taken",
                f"recovery point of {row.taken_at:%H:%M:%S}Z at {row.location}",
            )
        except ParamedicError as exc:
            self.parts.say(name, "backup_failed", str(exc))
        finally:
            self.busy.discard(name)

    async def _verify(self, name: str) -> None:
        self.busy.add(name)
        try:
            result = await self.service.verify(name)
            self.parts.say(
                name, "backup_verified" if result.ok else "verification_failed", result.detail
            )
        except ParamedicError as exc:
            self.parts.say(name, "verification_failed", str(exc))
        finally:
            self.busy.discard(name)
