"""The agent, ``paramedic run``: watch, detect, recover, notify.

It wires the parts together and decides nothing itself: check results go to
each component's detector, and the agent carries out the detector's decision
(open an incident and start its durable recovery, mark it blocked, record a
transition). One structured log line per decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from paramedic import eventloop
from paramedic.agent_aws import AwsSide
from paramedic.backup import BackupService, next_run, rpo_exposure, verify_due
from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog, Component, Event
from paramedic.checks import CheckScheduler
from paramedic.checks.result import CheckResult
from paramedic.clock import Clock, RealClock
from paramedic.decisions import DecisionLog
from paramedic.detect import DecisionKind, Detector, HealthState
from paramedic.drills.schedule import DrillSchedule
from paramedic.errors import NotBuiltYet, ParamedicError, ProviderUnavailable
from paramedic.graph import DependencyGraph
from paramedic.lock import agent_lock
from paramedic.notify import Notice, Notifier
from paramedic.providers.base import NativeRecoveryPoints, Provider
from paramedic.providers.registry import build_provider
from paramedic.recovery import durable, workflow
from paramedic.recovery.engine import RecoveryEngine
from paramedic.register import register_components
from paramedic.store import Store
from paramedic.store.components import CheckTally, Transition

log = logging.getLogger("paramedic.agent")

FAILING = frozenset(
    {
        HealthState.suspect,
        HealthState.failed,
        HealthState.recovering,
        HealthState.escalated,
        HealthState.blocked,
    }
)
"""States in which a component counts as failing for its dependents."""


# ---------------------------------------------------------------- the agent


NATIVE_WINDOW_EVERY_S = 60.0
"""How often the agent reads a service's own restorable window (RDS) for ``rpo_at_risk``."""

CLAIMED_BY = "agent "
"""``blocked_by`` of an incident another agent claimed (``agent HOST:RUN_DIR``)."""


def claim_lease(component: Component) -> timedelta:
    """How long a recovery claim holds: twice the RTO, or the whole ladder when that is longer.

    The ladder's length counts every step's timeout and approval wait, so a slow but
    healthy recovery is never taken over by another agent half-way.
    """
    ladder = timedelta(0)
    for step in component.recovery:
        ladder += step.timeout
        if step.needs_approval:
            ladder += step.approval_timeout or step.timeout
    return max(component.rto * 2, ladder * 1.5)


@dataclass
class _Watch:
    """What the agent keeps per component."""

    detector: Detector
    provider: Provider | None
    paused_until: datetime | None = None
    paused: bool = False
    event: str | None = None
    """An AWS event just said this component failed: the next failed check is certain."""
    claimed: tuple[str, datetime] | None = None
    """Another agent holds the claim on this component's recovery (``blocked_by``, until)."""


class Agent:
    """The long-running process: one per catalog (its run dir holds a lock)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock | None = None,
        log_format: str = "text",
        decision_stream: TextIO | None = None,
    ) -> None:
        self.catalog = catalog
        self.clock = clock or RealClock()
        self.decisions = DecisionLog(log_format, decision_stream)
        self.store: Store | None = None
        self.notifier: Notifier | None = None
        self.scheduler: CheckScheduler | None = None
        self.watches: dict[str, _Watch] = {}
        self.graph = DependencyGraph({n: c.depends_on for n, c in catalog.components.items()})
        self._stop = asyncio.Event()
        self._reload_requested = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.backups: BackupService | None = None
        self.providers: dict[str, Provider] = {}
        """One map shared by the recovery engine and the backup service (reload updates it)."""
        self._backup_due: dict[str, datetime] = {}
        self._backing_up: set[str] = set()
        self._rpo_warned: set[str] = set()
        self._drill_schedule = DrillSchedule()
        self._checks: dict[str, CheckTally] = {}
        self._transitions: list[Transition] = []
        self._native_checked: dict[str, float] = {}
        self.aws = AwsSide(catalog, self.decisions, self.clock, self._spawn)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        with agent_lock(self.catalog.resolve_path(self.catalog.agent.run_dir)):
            await self._start()
            try:
                self._install_signals()
                scheduler = self.scheduler
                assert scheduler is not None
                runner = asyncio.create_task(scheduler.run(), name="checks")
                watchdog = asyncio.create_task(self._watchdog(), name="watchdog")
                backups = asyncio.create_task(self._backup_loop(), name="backups")
                side = self._aws_tasks()
                await self._stop.wait()
                scheduler.stop()
                for task in (watchdog, backups, *side):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await runner
            finally:
                await self._shutdown()
        return 0

    def stop(self) -> None:
        """Ask the agent to stop (what SIGTERM and SIGINT do)."""
        self._stop.set()

    def _aws_tasks(self) -> list[asyncio.Task[None]]:
        """The AWS side's loops the catalog asks for (events queue, metrics)."""
        tasks = []
        if self.aws.events_on:
            tasks.append(
                asyncio.create_task(self.aws.consume_events(self._aws_event), name="aws-events")
            )
        if self.aws.metrics_on:
            tasks.append(asyncio.create_task(self.aws.publish_metrics(), name="aws-metrics"))
        return tasks

    async def _start(self) -> None:
        catalog = self.catalog
        self.store = Store.open(catalog.state_url())
        store = self.store
        register_components(store, catalog)
        self.notifier = Notifier(
            catalog.notify, clock=self.clock, record=self._record_notification, aws=catalog.aws
        )
        await self.aws.start()
        for name, comp in catalog.components.items():
            self.watches[name] = _Watch(Detector(name, comp.health), self._provider(name))
        self._refresh_pauses()
        self.scheduler = CheckScheduler(
            self.clock,
            catalog.agent.check_concurrency,
            on_result=self._on_result,
            probe_for=self._probe_for,
        )
        self.providers = {n: w.provider for n, w in self.watches.items() if w.provider is not None}
        engine = RecoveryEngine(
            catalog=catalog,
            store=store,
            clock=self.clock,
            providers=self.providers,
            check=self._verification_check,
            notifier=self.notifier,
            hooks=self,
        )
        workflow.install(engine)
        self.backups = BackupService(
            catalog,
            store,
            self.clock,
            notifier=self.notifier,
            providers=self.providers,
        )
        for name, watch in self.watches.items():
            if watch.provider is not None:
                watch.provider.on_exit = self._on_exit  # type: ignore[attr-defined]
                await self._start_provider(name, watch.provider)
            self.scheduler.set(name, catalog.components[name].health)
        await durable.launch(catalog.state_url())  # resumes recoveries a crash interrupted
        for incident in store.incidents(open_only=True):
            if incident.component not in self.watches:
                continue
            if incident.state == "blocked":
                self.watches[incident.component].detector.mark_blocked(
                    incident.blocked_by or "?", incident.failed_at
                )
                continue
            self.watches[incident.component].detector.recovery_started()
            await self._start_workflow(incident.id)
        self.decisions.line(
            self.clock.now(),
            "-",
            "agent_started",
            f"watching {len(self.watches)} components from {catalog.source}",
        )

    async def _shutdown(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.aclose()
        await self._flush_checks()
        for task in list(self._tasks):
            task.cancel()
        if self.notifier is not None:
            await self.notifier.drain(5.0)
            await self.notifier.aclose()
        stop_owned = self.catalog.agent.stop_processes_on_exit
        for watch in self.watches.values():
            if watch.provider is not None:
                try:
                    await watch.provider.close(stop_owned)
                except ParamedicError as exc:
                    log.warning("closing provider: %s", exc)
        durable.shutdown()
        workflow.install(None)
        if self.store is not None:
            self.store.close()
        self.decisions.line(self.clock.now(), "-", "agent_stopped", "stopped cleanly")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))

    async def _start_provider(self, name: str, provider: Provider) -> None:
        """Take charge of a component; if it cannot start, its health check opens the incident."""
        try:
            await provider.start()
        except ParamedicError as exc:
            self.decisions.line(
                self.clock.now(), name, "start_failed", f"{exc}; its checks will decide"
            )

    def _provider(self, name: str) -> Provider | None:
        try:
            return build_provider(self.catalog, name)
        except (NotBuiltYet, ProviderUnavailable) as exc:
            self.decisions.line(
                self.clock.now(), name, "watch_only", f"{exc}; it is watched, not recovered"
            )
            return None

    async def _verification_check(self, name: str) -> CheckResult:
        """The component's own check, run for the recovery workflow (its result stays in the workflow)."""
        scheduler = self.scheduler
        assert scheduler is not None
        return await scheduler.check_now(name, deliver=False)

    def _probe_for(self, name: str) -> Any:
        watch = self.watches.get(name)
        return watch.provider if watch else None

    def _spawn(self, coro: Any) -> None:
        # A fresh context: callbacks may fire from tasks born inside a DBOS step (a provider's
        # exit watcher), and DBOS's workflow context must not leak into the agent's own work.
        task = asyncio.create_task(coro, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ checks → decisions

    def _failing_dependencies(self, name: str) -> set[str]:
        """Which of ``name``'s own (transitive) dependencies are failing: a few lookups, not a scan."""
        return {
            d
            for d in self.graph.ancestors(name)
            if d in self.watches and self.watches[d].detector.state in FAILING
        }

    async def _on_result(self, name: str, result: CheckResult) -> None:
        watch = self.watches.get(name)
        store = self.store
        if watch is None or store is None:
            return
        before = watch.detector.state
        failing_dep = (
            None
            if result.ok
            else self._claimed_by(watch)
            or self.graph.failing_root(name, self._failing_dependencies(name))
        )
        certain = self._exited(watch) or (None if result.ok else watch.event)
        watch.event = None
        if result.ok:
            watch.claimed = None
        decision = watch.detector.observe(
            result, failing_dependency=failing_dep, paused=watch.paused, certain=certain
        )
        after = watch.detector.state
        self._tally(name, result)
        self.aws.observe(name, result.ok)
        if after != before:  # written with the next flush, not on the event loop now
            self._transitions.append(
                Transition(name, result.at, before.value, after.value, decision.reason)
            )
        if decision.kind == DecisionKind.nothing:
            return
        self.decisions.line(result.at, name, decision.kind.value, decision.reason)
        await self._carry_out(name, decision)
        if after == HealthState.healthy and before != HealthState.healthy:
            await self._dependency_recovered(name)

    def _open_failure(self, name: str, decision: Any) -> Any:
        """Record the incident a detector decision opens, with the decision's timings."""
        store = self.store
        assert store is not None
        comp = self.catalog.components[name]
        return store.open_incident(
            component=name,
            kind="failure",
            failed_at=decision.failed_at,
            detected_at=decision.detected_at,
            failure=decision.failure.value if decision.failure else None,
            reason=decision.reason,
            target_rto_s=comp.rto.total_seconds(),
            target_rpo_s=comp.rpo.total_seconds(),
        )

    def _claimed_by(self, watch: _Watch) -> str | None:
        """``agent HOST:RUN_DIR`` while another agent's claim on this recovery holds.

        The detector treats it like a failing dependency: the failure stays blocked, with no
        incident reopened at every check, until the claim's lease runs out (then this agent
        tries to claim it again) or a check passes (recovered elsewhere).
        """
        if watch.claimed is None:
            return None
        blocked_by, until = watch.claimed
        if self.clock.now() >= until:
            watch.claimed = None
            return None
        return blocked_by

    @staticmethod
    def _exited(watch: _Watch) -> str | None:
        """Why a failure is certain: the process paramedic owns for the component is not running."""
        probe = getattr(watch.provider, "process_state", None)
        if probe is None or not getattr(watch.provider, "owned", False):
            return None
        alive, detail = probe()
        return None if alive else f"its process {detail}"

    def _tally(self, name: str, result: CheckResult) -> None:
        """Count a check for the next flush (one store transaction a second, not one per check)."""
        old = self._checks.get(name)
        self._checks[name] = CheckTally(
            name=name,
            checks=(old.checks if old else 0) + 1,
            failures=(old.failures if old else 0) + (0 if result.ok else 1),
            at=result.at,
            ok=result.ok,
            detail=result.summary,
        )

    async def _flush_checks(self) -> None:
        """Write the tallied checks and the queued transitions, off the event loop."""
        if (not self._checks and not self._transitions) or self.store is None:
            return
        batch, self._checks = list(self._checks.values()), {}
        transitions, self._transitions = self._transitions, []
        store = self.store

        def write() -> None:
            store.record_transitions(transitions)
            store.record_checks(batch)

        await asyncio.to_thread(write)

    async def _carry_out(self, name: str, decision: Any) -> None:
        store = self.store
        assert store is not None
        kind = decision.kind
        if kind in (DecisionKind.open_incident, DecisionKind.flapping):
            previous = store.open_incident_of(name)
            if decision.starts_recovery and await self._claimed_elsewhere(name, previous, decision):
                return
            if previous is None:
                incident = self._open_failure(name, decision)
            else:  # a blocked incident whose dependency came back: the same incident, now recovered
                incident = store.update_incident(previous.id, state="open", reason=decision.reason)
            await self._notify(Event.failure_detected, incident.id, name, decision.reason)
            self.aws.incident_opened(name)
            if not decision.starts_recovery:
                await self._spawn_escalation(incident.id, decision.reason)
                return
            if self.watches[name].provider is None:
                await self._spawn_escalation(
                    incident.id, f"{name} has no provider built to recover it"
                )
                return
            self.watches[name].detector.recovery_started()
            self._spawn(self.aws.mirror(incident.to_json()))
            await self._start_workflow(incident.id)
        elif kind == DecisionKind.blocked:
            if store.open_incident_of(name) is None:
                incident = self._open_failure(name, decision)
                store.update_incident(incident.id, state="blocked", blocked_by=decision.blocked_by)
                await self._notify(Event.blocked, incident.id, name, decision.reason)
        elif kind in (DecisionKind.recovered_by_itself, DecisionKind.recovered_after_escalation):
            incident = store.open_incident_of(name)
            if incident is not None and incident.state == "blocked":
                elsewhere = (incident.blocked_by or "").startswith(CLAIMED_BY)
                store.update_incident(
                    incident.id,
                    state="recovered",
                    recovered_at=self.clock.now(),
                    strategy="recovered_elsewhere" if elsewhere else "dependency_recovered",
                    reason=decision.reason,
                )

    async def _claimed_elsewhere(self, name: str, previous: Any, decision: Any) -> bool:
        """True when another agent holds the claim on ``name``'s recovery (``agent.claims``).

        This agent then records the failure as blocked by that agent, pages nobody (the
        winner does), and closes it as ``recovered_elsewhere`` once its own check passes.
        """
        store = self.store
        assert store is not None
        held = await self.aws.claim(name, claim_lease(self.catalog.components[name]))
        if held is None:
            return False
        holder, until = held
        blocked_by = f"{CLAIMED_BY}{holder}"
        watch = self.watches[name]
        watch.claimed = (blocked_by, until)
        watch.detector.mark_blocked(blocked_by, decision.failed_at, decision.detected_at)
        if previous is not None and previous.blocked_by == blocked_by:
            return True  # its lease ran out while it still recovers: said once already
        incident = previous if previous is not None else self._open_failure(name, decision)
        store.update_incident(incident.id, state="blocked", blocked_by=blocked_by)
        self.decisions.line(
            self.clock.now(), name, "claimed_elsewhere", f"{blocked_by} recovers it"
        )
        return True

    async def _spawn_escalation(self, incident_id: str, reason: str) -> None:
        engine = workflow.engine()
        await engine.escalate(incident_id, reason)

    async def _start_workflow(self, incident_id: str) -> None:
        """Start (or find running) the durable recovery whose workflow id is the incident id."""
        from dbos import DBOS, SetWorkflowID

        async def start() -> None:
            with SetWorkflowID(incident_id):
                await DBOS.start_workflow_async(workflow.recovery_workflow, incident_id, None)

        await asyncio.create_task(start(), context=contextvars.Context())

    async def _dependency_recovered(self, name: str) -> None:
        scheduler = self.scheduler
        assert scheduler is not None
        for dependent in self.graph.dependents(name):
            watch = self.watches[dependent]
            if watch.detector.state == HealthState.blocked:
                decision = watch.detector.dependency_recovered()
                self.decisions.line(
                    self.clock.now(), dependent, decision.kind.value, decision.reason
                )
                self._spawn(scheduler.check_now(dependent))

    async def _aws_event(self, name: str, summary: str) -> None:
        """An AWS event says ``name`` failed: check it now; a failed check is then certain."""
        watch = self.watches.get(name)
        if watch is None or self.scheduler is None or self._stop.is_set():
            return
        self.decisions.line(self.clock.now(), name, "aws_event", summary)
        watch.event = f"AWS reported it: {summary}"
        self._spawn(self.scheduler.check_now(name))

    def _on_exit(self, name: str, returncode: int | None) -> None:
        """An owned process exited: check it now instead of at the next interval."""
        if self.scheduler is not None and not self._stop.is_set():
            self._spawn(self.scheduler.check_now(name))

    # ------------------------------------------------------------ hooks from the recovery engine

    def recovery_started(self, component: str) -> None:
        """The workflow began acting on ``component``."""
        watch = self.watches.get(component)
        if watch is not None and watch.detector.state != HealthState.recovering:
            watch.detector.recovery_started()

    def recovery_finished(self, component: str, ok: bool, reason: str) -> None:
        """The workflow ended; move the detector and, on success, release blocked dependents."""
        watch = self.watches.get(component)
        if watch is None:
            return
        before = watch.detector.state
        decision = watch.detector.recovery_finished(ok, at=self.clock.now(), reason=reason)
        self.decisions.line(self.clock.now(), component, decision.kind.value, decision.reason)
        if decision.state != before:  # queued after the checks' own, so the order holds
            self._transitions.append(
                Transition(
                    component, self.clock.now(), before.value, decision.state.value, decision.reason
                )
            )
        if ok:
            self._spawn(self._dependency_recovered(component))
        if self.aws.follows_recoveries:
            self._spawn(self._aws_recovery_finished(component, ok))

    async def _aws_recovery_finished(self, component: str, ok: bool) -> None:
        """Metrics of the finished recovery and the release of its claim (when configured)."""
        if self.store is None:
            return
        latest = self.store.incidents(component, limit=1)
        if not latest:
            return
        incident = latest[0]
        self.aws.recovery_measured(
            component,
            incident.measured_rto_s,
            incident.measured_rpo_s,
            "recovered" if ok else "escalated",
        )
        await self.aws.release(component, incident.to_json())

    # ------------------------------------------------------------ housekeeping

    def _refresh_pauses(self) -> None:
        store = self.store
        if store is None:
            return
        now = self.clock.now()
        paused_now = {row.name for row in store.paused_components() if row.is_paused(now)}
        for name, watch in self.watches.items():
            paused = name in paused_now
            if watch.paused and not paused:
                self.decisions.line(
                    now, name, "resumed", "maintenance over: recovering and paging again"
                )
            watch.paused = paused

    async def _watchdog(self) -> None:
        """Every second: pauses that expired, incidents that outlived their RTO."""
        escalated_rto: set[str] = set()
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._flush_checks()
                self._refresh_pauses()
                await self._rto_watch(escalated_rto)
                if self._reload_requested:
                    self._reload_requested = False
            except ParamedicError as exc:
                log.warning("watchdog: %s", exc)

    async def _rto_watch(self, done: set[str]) -> None:
        store = self.store
        assert store is not None
        now = self.clock.now()
        for incident in store.incidents(open_only=True):
            if incident.id in done or incident.state == "blocked":
                continue
            if (now - incident.failed_at).total_seconds() > incident.target_rto_s:
                done.add(incident.id)
                await self._notify(
                    Event.escalated,
                    incident.id,
                    incident.component,
                    f"open for longer than its RTO of {incident.target_rto_s:g}s",
                    outlived_rto=True,
                )

    async def _backup_loop(self) -> None:
        """Scheduled backups and verifications, and the RPO exposure of every component with backups."""
        last_exposure = 0.0
        while True:
            await asyncio.sleep(1.0)
            try:
                last_exposure = await self._backup_tick(last_exposure)
            except Exception as exc:  # the loop must outlive one bad tick
                log.warning("backup loop: %s: %s", type(exc).__name__, exc)

    async def _backup_tick(self, last_exposure: float) -> float:
        """One pass: due drills, due backups and verifications; every 5 s, the RPO exposure."""
        now = self.clock.now()
        self._start_due_drill(now)
        for name, comp in self.catalog.components.items():
            backup = comp.backup
            if (
                backup is None
                or self.watches.get(name) is None
                or self.watches[name].provider is None
            ):
                continue
            due = self._backup_due.setdefault(name, next_run(backup.schedule, now))
            if now >= due and name not in self._backing_up:
                self._backup_due[name] = next_run(backup.schedule, now)
                self._spawn(self._backup(name))
            elif name not in self._backing_up and self.store is not None:
                points = self.store.recovery_points(name)
                verified = [p.verified_at for p in points if p.verified_at is not None]
                if points and verify_due(backup.verify, max(verified, default=None), now):
                    self._spawn(self._verify(name))
        if self.clock.monotonic() - last_exposure >= 5.0:
            last_exposure = self.clock.monotonic()
            await self._rpo_watch()
        return last_exposure

    def _start_due_drill(self, now: datetime) -> None:
        """A scheduled drill (``drills.schedule``) whose time has come: run it through DrillRunner."""
        due = self._drill_schedule.due(self.catalog, now)
        for name, why in self._drill_schedule.skipped:
            self.decisions.line(now, name, "drill_skipped", why)
        self._drill_schedule.skipped.clear()
        if due is None or self.store is None:
            return
        from paramedic.drills import DrillRunner

        runner = DrillRunner(
            self.catalog,
            self.store,
            clock=self.clock,
            notifier=self.notifier,
            providers=self.providers,
            progress=lambda line: log.info("drill: %s", line),
        )

        def say(kind: str, text: str) -> None:
            self.decisions.line(self.clock.now(), due.component, kind, text)

        say("drill_started", f"scheduled drill: fault {due.fault}")
        self._spawn(self._drill_schedule.run(due, runner, say))

    async def _backup(self, name: str) -> None:
        assert self.backups is not None
        self._backing_up.add(name)
        try:
            row = await self.backups.take(name)
            self.decisions.line(
                self.clock.now(),
                name,
                "backup_taken",
                f"recovery point of {row.taken_at:%H:%M:%S}Z at {row.location}",
            )
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), name, "backup_failed", str(exc))
        finally:
            self._backing_up.discard(name)

    async def _verify(self, name: str) -> None:
        assert self.backups is not None
        self._backing_up.add(name)
        try:
            result = await self.backups.verify(name)
            kind = "backup_verified" if result.ok else "verification_failed"
            self.decisions.line(self.clock.now(), name, kind, result.detail)
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), name, "verification_failed", str(exc))
        finally:
            self._backing_up.discard(name)

    async def _rpo_watch(self) -> None:
        """Emit ``rpo_at_risk`` once per episode, before the RPO is breached."""
        assert self.backups is not None
        now = self.clock.now()
        for name, comp in self.catalog.components.items():
            if comp.rpo.total_seconds() <= 0 or name in self._backing_up:
                continue
            watch = self.watches.get(name)
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
                    window = (await self.backups.inventory(name)).window
            except ParamedicError as exc:
                log.warning("RPO exposure of %s: %s", name, exc)
                continue
            exposure = rpo_exposure(name, window.newest, comp.rpo, now)
            if exposure.at_risk and name not in self._rpo_warned:
                self._rpo_warned.add(name)
                self.decisions.line(now, name, "rpo_at_risk", exposure.reason)
                if self.notifier is not None and not watch.paused:
                    await self.notifier.notify(
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
                self._rpo_warned.discard(name)

    def _native_due(self, name: str) -> bool:
        """A service's own window is asked for once a minute, not at every tick (API rate limits)."""
        now = self.clock.monotonic()
        if now - self._native_checked.get(name, -math.inf) < NATIVE_WINDOW_EVERY_S:
            return False
        self._native_checked[name] = now
        return True

    async def reload(self) -> None:
        """SIGHUP: re-read the catalog; add, change and remove watches without dropping incidents."""
        try:
            fresh = load_catalog(self.catalog.source)
        except ParamedicError as exc:
            self.decisions.line(
                self.clock.now(), "-", "reload_refused", f"{exc}; keeping the running catalog"
            )
            return
        scheduler = self.scheduler
        assert scheduler is not None
        for name in set(self.watches) - set(fresh.components):
            scheduler.remove(name)
            watch = self.watches.pop(name)
            self.providers.pop(name, None)
            if watch.provider is not None:
                await watch.provider.close(False)  # no longer watched: left running as it is
        self.catalog = fresh
        assert self.store is not None
        register_components(self.store, fresh)
        for name, comp in fresh.components.items():
            old = self.watches.get(name)
            if old is None:  # a new component: its provider is built and started now
                provider = self._provider(name)
                self.watches[name] = _Watch(Detector(name, comp.health), provider)
                if provider is not None:
                    self.providers[name] = provider
                    provider.on_exit = self._on_exit  # type: ignore[attr-defined]
                    await self._start_provider(name, provider)
                scheduler.set(name, comp.health)
            elif old.detector.check != comp.health:
                # a new check: a fresh detector, unless an incident is under way
                if old.detector.state in (HealthState.healthy, HealthState.unknown):
                    old.detector = Detector(name, comp.health)
                scheduler.set(name, comp.health)
        self.graph = DependencyGraph({n: c.depends_on for n, c in fresh.components.items()})
        engine = workflow.engine()
        engine.catalog = fresh
        if self.backups is not None:
            self.backups.catalog = fresh
        self.decisions.line(
            self.clock.now(),
            "-",
            "reloaded",
            f"catalog reloaded: {len(fresh.components)} components",
        )

    # ------------------------------------------------------------ notifications

    async def _notify(
        self,
        event: Event,
        incident_id: str,
        component: str,
        message: str,
        outlived_rto: bool = False,
    ) -> None:
        if self.notifier is None or self.store is None:
            return
        watch = self.watches.get(component)
        if watch is not None and watch.paused:
            self.decisions.line(
                self.clock.now(), component, "page_suppressed", f"paused: {event.value} not sent"
            )
            return
        incident = self.store.incident(incident_id)
        payload = incident.to_json()
        payload["message"] = message
        title = f"[paramedic] {component}: {event.value.replace('_', ' ')}: {message}"
        await self.notifier.notify(
            Notice(
                event=event,
                component=component,
                incident_id=incident_id,
                title=title,
                payload=payload,
                outlived_rto=outlived_rto,
            )
        )

    def _record_notification(self, record: Any) -> None:
        if self.store is not None:
            self.store.record_notification(
                incident_id=record.incident_id,
                route=record.route,
                event=str(record.event),
                at=record.at,
                status=str(record.status),
                attempts=record.attempts,
                error=record.error or "",
            )


def run_agent(catalog_path: str, *, log_format: str = "text") -> int:
    """``paramedic run``: load the catalog and run the agent until a signal stops it."""
    catalog = load_catalog(catalog_path)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    agent = Agent(catalog, log_format=log_format)
    return eventloop.run(agent.run())
