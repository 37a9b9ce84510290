"""SIGHUP: re-read the catalog and add, change and remove watches without dropping incidents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from paramedic.agent.parts import AgentParts, Watch, dependency_graph, detector_for
from paramedic.catalog.loader import load_catalog
from paramedic.detect import HealthState
from paramedic.errors import ParamedicError
from paramedic.recovery import workflow
from paramedic.register import register_components


class Reload:
    """Applies a re-read catalog to the running agent; a broken catalog is refused, the old one kept."""

    def __init__(
        self,
        parts: AgentParts,
        followers: Sequence[Any],
        take_charge: Callable[[str], Awaitable[Watch]],
        shared: Callable[[], bool] = lambda: False,
    ) -> None:
        """``followers`` keep a ``catalog`` of their own that a reload replaces (the backup
        service, the drift watch); ``take_charge(name)`` builds a new component's watch and
        starts its provider; ``shared()`` is True while several agents divide the catalog
        (a new component is then taken by its owner at the next division, not by whoever
        was sent SIGHUP)."""
        self.parts = parts
        self.followers = followers
        self.shared = shared
        self.take_charge = take_charge

    async def __call__(self) -> None:
        """Reload now."""
        parts = self.parts
        try:
            fresh = load_catalog(parts.catalog.source)
        except ParamedicError as exc:
            parts.say("-", "reload_refused", f"{exc}; keeping the running catalog")
            return
        scheduler = parts.scheduler
        for name in set(parts.watches) - set(fresh.components):
            scheduler.remove(name)
            watch = parts.watches.pop(name)
            parts.providers.pop(name, None)
            if watch.provider is not None:
                await watch.provider.close(False)  # no longer watched: left running as it is
        parts.catalog = fresh
        register_components(parts.store, fresh)
        for name, comp in fresh.components.items():
            old = parts.watches.get(name)
            if old is None:  # a new component: its provider is built and started now
                if self.shared():
                    continue  # the next division gives it to its owner, which takes charge
                await self.take_charge(name)
                scheduler.set(name, comp.health)
            elif old.detector.check != comp.health:
                # a new check: a fresh detector, unless an incident is under way
                if old.detector.state in (HealthState.healthy, HealthState.unknown):
                    old.detector = detector_for(name, comp)
                scheduler.set(name, comp.health)
            detector = parts.watches[name].detector  # a changed flapping limit applies at once
            detector.flap_window = comp.flapping.window
            detector.flap_limit = comp.flapping.incidents
        parts.graph = dependency_graph(fresh)
        workflow.engine().catalog = fresh
        for follower in self.followers:
            follower.catalog = fresh
        parts.say("-", "reloaded", f"catalog reloaded: {len(fresh.components)} components")
