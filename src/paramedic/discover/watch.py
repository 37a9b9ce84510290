"""The agent's drift check (``agent.drift_check: 1d``): discovery against the running catalog on a
schedule, ``drift_found`` through the notification routes when the catalog no longer matches.

The side discovered follows the catalog: AWS when it has ``aws.*``
components (with the catalog's ``aws:`` settings), this host when it has
local ones. A discovery that fails (AWS unreachable) is a decision line and
the next check tries again; it never stops the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from paramedic.catalog.model import Catalog, Event
from paramedic.clock import Clock
from paramedic.decisions import DecisionLog
from paramedic.discover.drift import Drift, drift_json, find_drift
from paramedic.errors import ParamedicError
from paramedic.notify import Notice, NotifierLike

log = logging.getLogger(__name__)


async def catalog_drift(catalog: Catalog) -> list[Drift]:
    """Discover what the catalog's components live on and compare (AWS and/or this host)."""
    from paramedic.discover.aws import discover_aws
    from paramedic.discover.local import discover_local

    providers = [c.provider for c in catalog.components.values()]
    drifts: list[Drift] = []
    if any(p.startswith("aws.") for p in providers):
        found = await discover_aws(catalog.aws)
        drifts += find_drift(catalog, found, aws=True)
    if any(not p.startswith("aws.") for p in providers):
        here = await asyncio.to_thread(discover_local, backup_dir="/var/backups/paramedic")
        drifts += find_drift(catalog, here, aws=False)
    return drifts


class DriftWatch:
    """Runs the drift check every ``agent.drift_check``; ``start()`` and ``stop()`` from the agent."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock,
        decisions: DecisionLog,
        notifier: NotifierLike | None,
        check: Callable[[Catalog], Awaitable[list[Drift]]] = catalog_drift,
    ) -> None:
        self.catalog = catalog
        self._clock = clock
        self._decisions = decisions
        self._notifier = notifier
        self._check = check
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the schedule when the catalog asks for it (no-op otherwise)."""
        if self.catalog.agent.drift_check is not None and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="drift-check")

    async def stop(self) -> None:
        """Cancel the schedule and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        every = self.catalog.agent.drift_check
        assert every is not None
        while True:
            await self._clock.sleep(every.total_seconds())
            await self.check_once()

    async def check_once(self) -> list[Drift]:
        """One check: a decision line, and ``drift_found`` when anything drifted."""
        now = self._clock.now()
        try:
            drifts = await self._check(self.catalog)
        except ParamedicError as exc:
            self._decisions.line(now, "-", "drift_check_failed", f"{exc}; trying again later")
            return []
        if not drifts:
            self._decisions.line(now, "-", "no_drift", "the catalog matches what runs")
            return []
        summary = f"{len(drifts)} drift{'' if len(drifts) == 1 else 's'}: " + "; ".join(
            d.line().split(None, 1)[0] + " " + (d.component or d.resource) for d in drifts
        )
        self._decisions.line(now, "-", "drift_found", summary)
        if self._notifier is not None:
            payload: dict[str, Any] = {"message": summary, **drift_json(drifts, self.catalog)}
            try:
                await self._notifier.notify(
                    Notice(
                        event=Event.drift_found,
                        component="-",
                        incident_id=None,
                        title=f"[paramedic] drift found: {summary}",
                        payload=payload,
                    )
                )
            except ParamedicError as exc:  # a route must never stop the agent
                log.warning("drift_found notice: %s", exc)
        return drifts
