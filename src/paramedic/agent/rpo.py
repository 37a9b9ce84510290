"""RPO exposure: ``rpo_at_risk`` once per episode, before a component's RPO is breached."""

from __future__ import annotations

import logging
import math

from paramedic.agent.backups import Backups
from paramedic.agent.parts import AgentParts, Ticking
from paramedic.backup import rpo_exposure
from paramedic.catalog.model import Event
from paramedic.errors import ParamedicError
from paramedic.notify import Notice
from paramedic.providers.base import NativeRecoveryPoints

log = logging.getLogger("paramedic.agent")

EVERY_S = 5.0
"""How often the age of every component's newest recovery point is compared with its RPO."""
NATIVE_WINDOW_EVERY_S = 60.0
"""How often the agent reads a service's own restorable window (RDS) for ``rpo_at_risk``."""


class RpoWatch(Ticking):
    """Compares the newest restorable point of each component with its RPO."""

    name = "rpo-watch"
    label = "RPO watch"
    every_s = EVERY_S

    def __init__(self, parts: AgentParts, backups: Backups) -> None:
        super().__init__()
        self.parts = parts
        self.backups = backups
        self._warned: set[str] = set()
        self._native_checked: dict[str, float] = {}

    async def tick(self) -> None:
        """One pass over the components with an RPO and something to restore from."""
        parts = self.parts
        now = parts.clock.now()
        for name, comp in parts.catalog.components.items():
            if comp.rpo.total_seconds() <= 0 or name in self.backups.busy:
                continue
            watch = parts.watches.get(name)
            if watch is None or watch.provider is None:
                continue
            native = isinstance(watch.provider, NativeRecoveryPoints)
            if comp.backup is None and not native:
                continue
            if comp.backup is None and not self._native_due(name):
                continue
            try:
                if comp.backup is None:
                    assert isinstance(watch.provider, NativeRecoveryPoints)
                    window = await watch.provider.native_window()
                else:
                    window = (await self.backups.service.inventory(name)).window
            except ParamedicError as exc:
                log.warning("RPO exposure of %s: %s", name, exc)
                continue
            exposure = rpo_exposure(name, window.newest, comp.rpo, now)
            if exposure.at_risk and name not in self._warned:
                self._warned.add(name)
                parts.say(name, "rpo_at_risk", exposure.reason, at=now)
                if not watch.paused:
                    await parts.notifier.notify(
                        Notice(
                            event=Event.rpo_at_risk,
                            component=name,
                            incident_id=None,
                            title=f"[paramedic] {name}: RPO at risk",
                            payload={
                                "message": exposure.reason,
                                "age_s": exposure.age_s,
                                "rpo_s": exposure.rpo_s,
                                "breached": exposure.breached,
                            },
                        )
                    )
            elif not exposure.at_risk:
                self._warned.discard(name)

    def _native_due(self, name: str) -> bool:
        """A service's own window is asked for once a minute, not at every tick (API rate limits)."""
        now = self.parts.clock.monotonic()
        if now - self._native_checked.get(name, -math.inf) < NATIVE_WINDOW_EVERY_S:
            return False
        self._native_checked[name] = now
        return True
