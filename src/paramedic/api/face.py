"""The agent's face: builds the API's context from a running agent, serves it, stops it.

``AgentFace`` is the one object ``paramedic run --listen`` adds to the agent: it
implements the API's ``Core`` protocol over the agent, publishes the agent's
``Snapshot`` (heartbeat, scheduler lag, checks in flight) from a small task of
its own (the small read-only view of the agent that is not in the store), feeds the event hub and the metrics from the decision log, and owns the
uvicorn server. The agent only constructs, starts and stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramedic.api.auth import agent_token
from paramedic.api.context import ApiContext, Snapshot
from paramedic.api.events import EventHub
from paramedic.api.listen import Listen
from paramedic.api.metrics import AgentMetrics
from paramedic.catalog.model import Catalog

if TYPE_CHECKING:
    from paramedic.agent import Agent
    from paramedic.drills.runner import DrillRunner

HEARTBEAT_S = 1.0
LAG_WINDOW = 1000
"""The scheduler-lag gauge is the p99 of this many most recent checks."""


def _p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class AgentFace:
    """The HTTP API, dashboard, /metrics and alert intake of one running agent."""

    def __init__(self, agent: Agent, listen: Listen, *, reads_need_token: bool) -> None:
        self.agent = agent
        self.listen = listen
        self.reads_need_token = reads_need_token
        self.hub = EventHub()
        self.metrics = AgentMetrics()
        self._snapshot = Snapshot(
            agent_id="",
            started_at=agent.parts.clock.now(),
            heartbeat=time.monotonic(),
            checks_running=True,
            scheduler_lag_s=0.0,
            checks_in_flight=0,
            components=0,
        )
        self._server: Any = None
        self._beat: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url_file: Path | None = None
        agent.parts.decisions.listeners.extend(
            [self.hub.publish, self.metrics.on_decision, self._recovered]
        )
        agent.watching.listeners.append(self.observe_check)
        agent.paging.listeners.append(lambda record: self.metrics.notification(str(record.status)))

    # ------------------------------------------------------------ the Core protocol

    @property
    def catalog(self) -> Catalog:
        """The agent's catalog in force."""
        return self.agent.catalog

    def owner_of(self, name: str) -> str | None:
        """The agent that owns ``name`` now (this one, alone; the division, with several)."""
        membership = self.agent.membership
        if name not in self.agent.catalog.components:
            return None
        if not membership.shared:
            return self._snapshot.agent_id
        return membership.division.get(name)

    def snapshot(self) -> Snapshot:
        """The agent's published figures."""
        return self._snapshot

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """One of the agent's tracked tasks."""
        self.agent.parts.spawn(coro)

    def backing_up(self, name: str) -> bool:
        """True while a backup or verification of ``name`` runs."""
        backups = self.agent.backups
        return backups is not None and name in backups.busy

    def take_backup(self, name: str) -> Coroutine[Any, Any, None]:
        """The agent's own backup of ``name`` (its outcome is a decision line)."""
        backups = self.agent.backups
        assert backups is not None, "backups are taken once the agent runs"
        return backups.take(name)

    def drill_runner(self) -> DrillRunner:
        """A drill runner on the agent's store, notifier and providers."""
        from paramedic.drills import DrillRunner

        parts = self.agent.parts
        return DrillRunner(
            parts.catalog,
            parts.store,
            clock=parts.clock,
            notifier=parts.notifier,
            providers=parts.providers,
        )

    def alert(self, name: str, summary: str, recover: bool) -> None:
        """A firing alert: check ``name`` now; with ``recover`` a failed check is certain."""
        self._on_loop(self._alert(name, summary, recover))

    def alert_resolved(self, name: str, summary: str) -> None:
        """A resolved alert: say so and check ``name`` now."""
        self._on_loop(self._alert(name, summary, None))

    async def _alert(self, name: str, summary: str, recover: bool | None) -> None:
        parts = self.agent.parts
        watch = parts.watches.get(name)
        if watch is None or parts.stopping.is_set():
            return
        parts.say(name, "alert_resolved" if recover is None else "alert_fired", summary)
        if recover:
            watch.event = summary  # like an AWS event: the next failed check is certain
        parts.spawn(parts.scheduler.check_now(name))

    def _on_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        # Called from a request thread: the agent's state is only touched on its loop.
        loop = self._loop
        assert loop is not None, "alerts arrive only once the API serves"
        loop.call_soon_threadsafe(lambda: self.agent.parts.spawn(coro))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Serve the API; returns its URL."""
        from paramedic.api.server import ApiServer

        agent = self.agent
        parts = agent.parts
        self._loop = asyncio.get_running_loop()
        catalog = agent.catalog
        run_dir = catalog.resolve_path(catalog.agent.run_dir)
        self._snapshot = replace(
            self._snapshot,
            agent_id=agent.me.name,
            components=len(agent.watches),
        )
        self.metrics.watch_store(parts.store, lambda: self.agent.catalog, self.snapshot)
        ctx = ApiContext(
            core=self,
            store=parts.store,
            hub=self.hub,
            token=agent_token(catalog),
            reads_need_token=self.reads_need_token,
            metrics=self.metrics,
        )
        api = catalog.api
        self._server = ApiServer(
            ctx,
            self.listen,
            tls_cert=catalog.resolve_path(api.tls_cert) if api.tls_cert else None,
            tls_key=catalog.resolve_path(api.tls_key) if api.tls_key else None,
        )
        await self._server.start()
        self._beat = asyncio.create_task(self._heartbeat(), name="api-heartbeat")
        url: str = self._server.url
        # how `paramedic status --watch` finds the API; a named agent (several on one run
        # dir) writes its own, so one stopping never removes another's
        name = getattr(agent, "name", None)
        self._url_file = run_dir / (f"api-url.{name}" if name else "api-url")
        self._url_file.parent.mkdir(parents=True, exist_ok=True)
        self._url_file.write_text(url + "\n")
        parts.say("-", "api_listening", f"{url}/ (token from {ctx.token.source})")
        return url

    async def stop(self) -> None:
        """Stop serving (event streams end first)."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self._url_file is not None:
            self._url_file.unlink(missing_ok=True)
        if self._server is not None:
            await self._server.stop()

    async def _heartbeat(self) -> None:
        """Publish the snapshot every second: proof that the agent's loop is not blocked."""
        while True:
            scheduler = self.agent.scheduler
            lag = in_flight = 0.0
            if scheduler is not None:
                lag = _p99(scheduler.lag_samples()[-LAG_WINDOW:])
                in_flight = scheduler.stats().in_flight
            task = self.agent.checks_task
            self._snapshot = replace(
                self._snapshot,
                heartbeat=time.monotonic(),
                checks_running=task is None or not task.done(),
                scheduler_lag_s=lag,
                checks_in_flight=int(in_flight),
                components=len(self.agent.watches),
            )
            await asyncio.sleep(HEARTBEAT_S)

    # ------------------------------------------------------------ hooks

    def observe_check(self, name: str, ok: bool, duration_s: float) -> None:
        """The check loop: one check of ``name`` finished."""
        comp = self.agent.catalog.components.get(name)
        if comp is not None:
            self.metrics.observe_check(comp.health.check, ok, duration_s)

    def _recovered(self, record: dict[str, Any]) -> None:
        """A ``recovered`` decision: time the recovery by its strategy (store read off the loop)."""
        if record.get("decision") != "recovered" or not hasattr(self.agent.parts, "store"):
            return
        name = str(record.get("component"))
        store = self.agent.parts.store

        def measure() -> None:
            latest = store.incidents(name, limit=1)
            incident = latest[0] if latest else None
            if incident is not None and incident.recovered_at is not None:
                took = (incident.recovered_at - incident.detected_at).total_seconds()
                self.metrics.observe_recovery(incident.strategy or "unknown", took)

        with contextlib.suppress(RuntimeError):  # no running loop: nothing to time
            self.agent.parts.spawn(asyncio.to_thread(measure))
