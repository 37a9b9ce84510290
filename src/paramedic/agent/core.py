"""The agent, ``paramedic run``: one small core that wires the services and runs them.

The core decides nothing itself. It opens the store, builds a watch (detector +
provider) per component, starts the check scheduler whose results go to
``Watching`` (checks → detector → decisions → recovery), and starts the
long-running services, each an object with ``start()``/``stop()``:

- ``Watching``: the detector's decisions carried out; the recovery engine's hooks
- ``Housekeeping``: tallied checks to the store, pauses, incidents past their RTO
- ``Backups``: scheduled backups and verifications
- ``RpoWatch``: ``rpo_at_risk`` before an RPO is breached
- ``ScheduledDrills``: drills whose time has come
- ``Reload``: SIGHUP re-reads the catalog
- ``AwsSide``: EventBridge events, CloudWatch metrics, DynamoDB claims (when configured)
- ``Membership``: the lease, the division of components between agents, takeovers

Only the components this agent owns have a watch, a started provider and a
scheduled check; a new division adds and removes them (``_redivide``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from paramedic import eventloop
from paramedic.agent.aws import AwsSide
from paramedic.agent.backups import Backups
from paramedic.agent.drills import ScheduledDrills
from paramedic.agent.housekeeping import Housekeeping
from paramedic.agent.membership import Identity, Membership, identity_for
from paramedic.agent.paging import Paging
from paramedic.agent.parts import AgentParts, Loop, Watch, detector_for
from paramedic.agent.reload import Reload
from paramedic.agent.rpo import RpoWatch
from paramedic.agent.watching import Watching
from paramedic.backup import BackupService
from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog
from paramedic.checks import CheckScheduler
from paramedic.checks.result import CheckResult
from paramedic.clock import Clock, RealClock
from paramedic.decisions import DecisionLog
from paramedic.discover.watch import DriftWatch
from paramedic.errors import NotBuiltYet, ParamedicError, ProviderUnavailable
from paramedic.lock import agent_lock, named_agent_lock
from paramedic.notify import Notifier
from paramedic.providers.base import Provider
from paramedic.providers.registry import build_provider
from paramedic.recovery import durable, workflow
from paramedic.recovery.engine import RecoveryEngine
from paramedic.register import register_components
from paramedic.store import Store

if TYPE_CHECKING:
    from paramedic.api.face import AgentFace
    from paramedic.api.listen import Listen

log = logging.getLogger("paramedic.agent")


class Agent:
    """The long-running process: one per catalog (its run dir holds a lock)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock | None = None,
        log_format: str = "text",
        decision_stream: TextIO | None = None,
        listen: Listen | None = None,
        reads_need_token: bool = False,
        name: str | None = None,
        restart_on_fence: bool = True,
    ) -> None:
        """``name``: one of several agents of this catalog on one host (``run --name``)."""
        self.parts = AgentParts(
            catalog=catalog,
            clock=clock or RealClock(),
            decisions=DecisionLog(log_format, decision_stream),
        )
        self.aws = AwsSide(catalog, self.parts.decisions, self.parts.clock, self.parts.spawn)
        self.paging = Paging(self.parts)
        self.watching = Watching(self.parts, self.paging, self.aws)
        self.started_at = self.parts.clock.now()
        self._services: list[Loop | DriftWatch] = []
        self._housekeeping: Housekeeping | None = None
        self.backups: Backups | None = None
        self.checks_task: asyncio.Task[None] | None = None
        self.name = name
        run_dir = str(catalog.resolve_path(catalog.agent.run_dir))
        self.me: Identity = identity_for(
            run_dir,
            self.started_at,
            catalog.agent.tags,
            f"{socket.gethostname()}:{name}" if name else None,
        )
        self.membership = Membership(
            self.parts,
            self.me,
            redivide=self._redivide,
            resume=self.watching.resume,
            restart_on_fence=restart_on_fence,
        )
        self.watching.membership = self.membership
        self.face: AgentFace | None = None
        """The HTTP API, dashboard and /metrics (``--listen``); None when not serving."""
        if listen is not None:  # the API's imports (FastAPI, prometheus-client) only when served
            from paramedic.api.face import AgentFace

            self.face = AgentFace(self, listen, reads_need_token=reads_need_token)

    @property
    def catalog(self) -> Catalog:
        """The catalog the agent runs now (a reload replaces it)."""
        return self.parts.catalog

    @property
    def scheduler(self) -> CheckScheduler | None:
        """The check scheduler, once the agent has started."""
        return getattr(self.parts, "scheduler", None)

    @property
    def watches(self) -> dict[str, Watch]:
        """The per-component watches (detector and provider)."""
        return self.parts.watches

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        run_dir = self.catalog.resolve_path(self.catalog.agent.run_dir)
        # the catalog is noted: a bare `paramedic status` run from this folder finds it
        lock = (
            named_agent_lock(run_dir, self.name)
            if self.name
            else agent_lock(run_dir, self.catalog.source)
        )
        with lock:
            started = False
            try:
                # inside the try: a start that fails half-way still releases what it took
                # (the lease, started providers, DBOS), so other agents need not wait a ttl
                await self._start()
                started = True
                self._install_signals()
                scheduler = self.parts.scheduler
                runner = self.checks_task = asyncio.create_task(scheduler.run(), name="checks")
                for service in self._services:
                    service.start()
                if self.face is not None:
                    await self.face.start()
                side = self._aws_tasks()
                await self.parts.stopping.wait()
                scheduler.stop()
                for service in reversed(self._services):
                    await service.stop()
                for task in side:
                    task.cancel()
                await asyncio.gather(*side, return_exceptions=True)
                await runner
            finally:
                if self.face is not None:
                    await self.face.stop()
                await self._shutdown(said=started)
        return 0

    def stop(self) -> None:
        """Ask the agent to stop (what SIGTERM and SIGINT do)."""
        self.parts.stopping.set()

    def _aws_tasks(self) -> list[asyncio.Task[None]]:
        """The AWS side's loops the catalog asks for (events queue, metrics)."""
        tasks = []
        if self.aws.events_on:
            tasks.append(
                asyncio.create_task(
                    self.aws.consume_events(self.watching.aws_event), name="aws-events"
                )
            )
        if self.aws.metrics_on:
            tasks.append(asyncio.create_task(self.aws.publish_metrics(), name="aws-metrics"))
        return tasks

    async def _start(self) -> None:
        parts = self.parts
        catalog = parts.catalog
        parts.store = Store.open(catalog.state_url())
        register_components(parts.store, catalog)
        parts.notifier = Notifier(
            catalog.notify, clock=parts.clock, record=self.paging.record, aws=catalog.aws
        )
        await self.aws.start()
        owned = await self.membership.join()  # SQLite refuses a second agent here
        hosts = self.membership.hosts
        for name, comp in catalog.components.items():
            if name in owned:
                provider = self._provider(name)
                moved = hosts.get(name, self.me.host) != self.me.host
                if provider is not None and self.membership.shared and moved:
                    provider.start_if_down = False  # another host ran it: taken over
                parts.watches[name] = Watch(detector_for(name, comp), provider)
        self._housekeeping = Housekeeping(parts, self.watching, self.paging)
        self._housekeeping.refresh_pauses()
        self._housekeeping.resets = parts.store.circuit_resets()  # a fresh detector forgets all
        parts.scheduler = CheckScheduler(
            parts.clock,
            catalog.agent.check_concurrency,
            on_result=self.watching.on_result,
            probe_for=self._probe_for,
        )
        parts.providers.update(
            {n: w.provider for n, w in parts.watches.items() if w.provider is not None}
        )
        engine = RecoveryEngine(
            catalog=catalog,
            store=parts.store,
            clock=parts.clock,
            providers=parts.providers,
            check=self._verification_check,
            notifier=parts.notifier,
            hooks=self.watching,
            fence=self.membership,
        )
        workflow.install(engine)
        backup_service = BackupService(
            catalog, parts.store, parts.clock, notifier=parts.notifier, providers=parts.providers
        )
        backups = self.backups = Backups(parts, backup_service)
        self._services = [
            self.membership,
            self._housekeeping,
            backups,
            RpoWatch(parts, backups),
            ScheduledDrills(parts),
        ]
        # agent.drift_check: discovery against this catalog on a schedule (a no-op when unset)
        drift = DriftWatch(
            catalog, clock=parts.clock, decisions=parts.decisions, notifier=parts.notifier
        )
        self._services.append(drift)
        self.reload = Reload(
            parts,
            [backup_service, drift, self.aws],  # each keeps the catalog it was given
            self._take_charge,
            shared=lambda: self.membership.shared,
        )
        for name, watch in parts.watches.items():
            if watch.provider is not None:
                watch.provider.on_exit = self.watching.on_exit  # type: ignore[attr-defined]
                await self._start_provider(name, watch.provider)
            parts.scheduler.set(name, catalog.components[name].health)
        await self._record_host(parts.watches)
        executor = self.me.executor_id if self.membership.shared else "local"
        await durable.launch(catalog.state_url(), executor)  # resumes what a crash interrupted
        await self.watching.resume_open_incidents()
        count = len(parts.watches)
        of = (
            f" of {len(catalog.components)} (agent {self.me.name})"
            if self.membership.shared
            else ""
        )
        counted = len(catalog.components) if self.membership.shared else count
        word = "component" if counted == 1 else "components"
        parts.say(
            "-",
            "agent_started",
            f"watching {count}{of} {word} from {catalog.source}",
        )

    async def _shutdown(self, *, said: bool = True) -> None:
        """Release what the agent holds; ``said``: the stop gets its decision line (a start
        that failed is said once, by its own error)."""
        parts = self.parts
        if hasattr(parts, "scheduler"):
            await parts.scheduler.aclose()
        if hasattr(parts, "store"):
            await self.watching.flush_checks()
        await parts.cancel_spawned()
        if hasattr(parts, "notifier"):
            await parts.notifier.drain(5.0)
            await parts.notifier.aclose()
        stop_owned = parts.catalog.agent.stop_processes_on_exit
        for watch in parts.watches.values():
            if watch.provider is not None:
                try:
                    await watch.provider.close(stop_owned)
                except ParamedicError as exc:
                    log.warning("closing provider: %s", exc)
        await self.membership.stop_renewing()  # renewed while the providers closed
        durable.shutdown()
        workflow.install(None)
        if hasattr(parts, "store"):
            # last: while the lease stands no other agent takes over a recovery this one
            # was still finishing (a rolling restart mid-step)
            self.membership.leave()
            parts.store.close()
        if said:
            parts.say("-", "agent_stopped", "stopped cleanly")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.parts.spawn(self.reload()))

    # ------------------------------------------------------------ components

    async def _redivide(self, gained: set[str], lost: set[str]) -> None:
        """A new division: take charge of what this agent gained, let go of what it lost.

        A component let go keeps running (its provider is closed without stopping it):
        the agent that gained it adopts it.
        """
        parts = self.parts
        if not hasattr(parts, "scheduler"):
            return  # at start: the core builds the owned watches itself
        for name in sorted(lost):
            parts.scheduler.remove(name)
            watch = parts.watches.pop(name, None)
            parts.providers.pop(name, None)
            if watch is not None and watch.provider is not None:
                try:
                    await watch.provider.close(False)
                except ParamedicError as exc:
                    log.warning("closing provider: %s", exc)
        gained_here = sorted(
            n for n in gained if n in parts.catalog.components and n not in parts.watches
        )
        if gained_here:  # never inside the membership loop: a provider's start may be slow
            parts.spawn(self._take_charge_of_gained(gained_here))
        parts.say(
            "-",
            "redivided",
            f"owns {len(parts.watches)} of {len(parts.catalog.components)} components "
            f"among {len(self.membership.members)} agents (+{len(gained)} −{len(lost)})",
        )

    async def _take_charge_of_gained(self, names: list[str]) -> None:
        """Components a new division gave this agent: each adopted (never started), its open
        incident taken over, then its checks scheduled."""
        parts = self.parts
        for name in names:
            if not self.membership.owns(name) or name in parts.watches:
                continue  # lost again meanwhile, or already in charge
            await self._take_charge(name, taken_over=True)
            if not self.membership.owns(name):  # lost while its provider started
                watch = parts.watches.pop(name, None)
                parts.providers.pop(name, None)
                if watch is not None and watch.provider is not None:
                    await watch.provider.close(False)
                continue
            try:
                await self.membership.take_over_open_incident(name)
            except ParamedicError as exc:
                log.warning("taking over %s's open incident: %s", name, exc)
            parts.scheduler.set(name, parts.catalog.components[name].health)

    async def _take_charge(self, name: str, *, taken_over: bool = False) -> Watch:
        """A component new to the agent (a reload, or ``taken_over`` from another agent): its
        watch, and its provider started (a taken-over process is adopted, never started)."""
        parts = self.parts
        provider = self._provider(name)
        if taken_over and provider is not None:
            provider.start_if_down = False
        watch = parts.watches[name] = Watch(
            detector_for(name, parts.catalog.components[name]), provider
        )
        if provider is not None:
            parts.providers[name] = provider
            provider.on_exit = self.watching.on_exit  # type: ignore[attr-defined]
            await self._start_provider(name, provider)
            await self._record_host([name])
        return watch

    async def _record_host(self, names: Iterable[str]) -> None:
        """Record this host as running the host-bound ones of ``names`` (several agents keep
        each on the host that runs it while an agent of that host lives)."""
        bound = [
            n
            for n in names
            if (w := self.parts.watches.get(n)) is not None
            and w.provider is not None
            and w.provider.info.host_bound
            and self.membership.hosts.get(n) != self.me.host
        ]
        if bound:
            await asyncio.to_thread(self.parts.store.record_hosts, bound, self.me.host)
            self.membership.hosts.update(dict.fromkeys(bound, self.me.host))

    async def _start_provider(self, name: str, provider: Provider) -> None:
        """Take charge of a component; if it cannot start, its health check opens the incident."""
        try:
            await provider.start()
        except ParamedicError as exc:
            self.parts.say(name, "start_failed", f"{exc}; its checks will decide")
            return
        # An owned process just started (or adopted while still starting): its start period.
        started = getattr(provider, "started_at", None)
        watch = self.parts.watches.get(name)
        if isinstance(started, datetime) and watch is not None:
            decision = watch.detector.started(started)
            until = started + watch.detector.check.start_period
            if until > self.parts.clock.now():
                self.parts.say(name, "start_period", decision.reason)

    def _provider(self, name: str) -> Provider | None:
        try:
            return build_provider(self.parts.catalog, name)
        except (NotBuiltYet, ProviderUnavailable) as exc:
            self.parts.say(name, "watch_only", f"{exc}; it is watched, not recovered")
            return None

    async def _verification_check(self, name: str) -> CheckResult:
        """The component's own check, run for the recovery workflow (its result stays in the workflow)."""
        return await self.parts.scheduler.check_now(name, deliver=False)

    def _probe_for(self, name: str) -> Any:
        watch = self.parts.watches.get(name)
        return watch.provider if watch else None


def run_agent(
    catalog_path: str,
    *,
    log_format: str = "text",
    listen: str | None = None,
    insecure_listen: bool = False,
    name: str | None = None,
    restart_on_fence: bool = True,
) -> int:
    """``paramedic run``: load the catalog and run the agent until a signal stops it."""
    from paramedic.api.listen import check_exposure, parse_listen

    catalog = load_catalog(catalog_path)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    where = None
    if listen or catalog.api.listen:
        try:
            where = parse_listen(listen or catalog.api.listen or "")
        except ValueError as exc:
            raise ParamedicError(f"--listen: {exc}") from None
        check_exposure(where, tls=catalog.api.tls_cert is not None, insecure=insecure_listen)
    agent = Agent(
        catalog,
        log_format=log_format,
        listen=where,
        reads_need_token=where is not None and not where.loopback,
        name=name,
        restart_on_fence=restart_on_fence,
    )
    return eventloop.run(agent.run())
