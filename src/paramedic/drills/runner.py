"""The drill runner: inject a fault on purpose, let the RUNNING agent recover, measure it.

    guards → canary writes (~1 s) → fault injected through the provider → the agent's
    incident is detected and closed (recovered or escalated), or ``abort_after`` passes
    → in a ``finally``: the fault is undone and the canary stopped, whatever happened
    (fail closed: a drill never leaves a fault behind) → canaries read back and removed
    → the drill record (phases, measured RTO/RPO, verdict) and ``drill_finished``.

The verdict and the measured figures are defined in ``paramedic.drills.verdict``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Catalog, Event
from paramedic.clock import Clock, RealClock
from paramedic.drills.canary import (
    CanaryRecord,
    CanaryReport,
    CanaryWriter,
    canary_for,
    measure_canaries,
)
from paramedic.drills.guards import (
    DrillRequest,
    Refusal,
    first_refusal,
    open_incidents,
    transitive_dependencies,
)
from paramedic.drills.verdict import (
    AgentOutcome,
    agent_phases,
    canary_summary,
    fault_moment,
    judge,
    phase,
)
from paramedic.errors import NotFound, ParamedicError, ProviderError, Refused
from paramedic.lock import agent_running, held_lock
from paramedic.notify import Notice, NotifierLike
from paramedic.objectives import stateless_recovery
from paramedic.providers.base import FaultCapable, FaultContext, InjectedFault, Provider
from paramedic.providers.registry import build_provider, provider_info
from paramedic.redact import redact
from paramedic.store import DrillRow, IncidentRow, Store, iso_utc

WARMUP_S = 1.0
"""How long the canary writes before the fault is injected."""
POLL_S = 0.2
"""How often the store is read while waiting for the agent's incident."""


class DrillRefused(Refused):
    """A guard refused the drill; ``guard`` names it (the message names the fix)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.guard = refusal.guard


@dataclass(frozen=True)
class DrillResult:
    """A finished drill: its stored record, the verdict's reason and the canary's evidence."""

    row: DrillRow
    reason: str
    fault_description: str
    undone: str
    canary: CanaryReport | None

    @property
    def verdict(self) -> str:
        """``met``, ``missed`` or ``aborted``."""
        return self.row.verdict

    @property
    def met(self) -> bool:
        """True when both objectives were met."""
        return self.row.verdict == "met"

    def to_json(self) -> dict[str, Any]:
        """The drill record (``DrillRow.to_json``) with the reason, the fault, the undo and canary."""
        out = self.row.to_json()
        out.update(
            reason=redact(self.reason),
            fault_description=redact(self.fault_description),
            undone=redact(self.undone),
            canary=self.canary.to_json() if self.canary else None,
        )
        return out


def drill_lock(run_dir: Path, component: str) -> contextlib.AbstractContextManager[Path]:
    """One drill of a component at a time (a lock file in the run dir); Refused otherwise."""
    return held_lock(
        run_dir / f"drill-{component}.lock",
        lambda holder: (
            f"a drill of {component} is already running (pid {holder}); wait for it to finish"
        ),
    )


class DrillRunner:
    """Runs drills against the running agent of one catalog, recording them in its store."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        *,
        clock: Clock | None = None,
        notifier: NotifierLike | None = None,
        providers: Mapping[str, Provider] | None = None,
        warmup_s: float = WARMUP_S,
        canary_every_s: float = 0.1,
        poll_s: float = POLL_S,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock or RealClock()
        self.notifier = notifier
        self.providers = providers or {}
        self.warmup_s = warmup_s
        self.canary_every_s = canary_every_s
        self.poll_s = poll_s
        self._progress = progress or (lambda _line: None)
        self._run_dir = catalog.resolve_path(catalog.agent.run_dir)

    # ------------------------------------------------------------ guards

    def refusal(self, name: str, fault: str, *, yes: bool = False) -> Refusal | None:
        """The first guard that refuses this drill now, or None (reads the store and the lock)."""
        component = self._component(name)
        row = next((c for c in self.store.components() if c.name == name), None)
        paused = None
        if row is not None and row.is_paused(self.clock.now()):
            paused = (
                f"until {row.paused_until:%Y-%m-%d %H:%M}Z" if row.paused_until else "until resumed"
            )
        request = DrillRequest(
            name=name,
            component=component,
            fault=fault,
            offered=provider_info(component.provider).faults,
            yes=yes,
            local_now=self.clock.now().astimezone(),
            agent_running=agent_running(self._run_dir),
            run_dir=str(self._run_dir),
            open_incidents=open_incidents(self.store.incidents(open_only=True, limit=1000)),
            dependencies=transitive_dependencies(
                name, {n: c.depends_on for n, c in self.catalog.components.items()}
            ),
            paused=paused,
        )
        return first_refusal(request)

    def _component(self, name: str) -> Any:
        try:
            return self.catalog.components[name]
        except KeyError:
            known = ", ".join(sorted(self.catalog.components))
            raise NotFound(f"unknown component {name!r}; the catalog has: {known}") from None

    def _provider(self, name: str) -> FaultCapable:
        provider: Any = self.providers.get(name) or build_provider(self.catalog, name)
        if not isinstance(provider, FaultCapable):
            kind = self.catalog.components[name].provider
            raise Refused(f"{name}: the {kind} provider cannot inject faults in this version")
        return provider

    # ------------------------------------------------------------ the drill

    async def run(self, name: str, fault: str, *, yes: bool = False) -> DrillResult:
        """Guards, canary, fault, wait for the agent, undo, measure, record, notify."""
        component = self._component(name)
        refusal = await asyncio.to_thread(self.refusal, name, fault, yes=yes)
        if refusal is not None:
            raise DrillRefused(refusal)
        provider = self._provider(name)
        abort_after = component.drills.abort_after or component.rto * 2
        with drill_lock(self._run_dir, name):
            return await self._run(name, fault, provider, abort_after)

    async def _run(
        self, name: str, fault: str, provider: FaultCapable, abort_after: timedelta
    ) -> DrillResult:
        component = self.catalog.components[name]
        started_at = self.clock.now()
        phases = [
            phase(
                "started", started_at, f"fault {fault}, abort after {format_duration(abort_after)}"
            )
        ]
        ctx = FaultContext(
            drill_id=f"{name}-{started_at:%Y%m%dT%H%M%S}",
            component_name=name,
            component=component,
            catalog=self.catalog,
            log=self._progress,
        )
        canary = canary_for(self.catalog, name, every=self.canary_every_s)
        injected: InjectedFault | None = None
        outcome = AgentOutcome()
        undone = ""
        found: list[CanaryRecord] | None = None
        read_error: str | None = None
        removal = ""
        started_canary = False
        try:
            if canary is not None:
                await asyncio.to_thread(canary.start)
                started_canary = True
                phases.append(phase("canary_started", self.clock.now(), canary.where))
                self._progress(f"{name}: canary writing to {canary.where}")
                await self.clock.sleep(self.warmup_s)
            try:
                known = {i.id for i in await asyncio.to_thread(self.store.incidents, name)}
                asked_at = self.clock.now()
                injected = await provider.inject_fault(fault, ctx)
                outcome = await self._await_agent(name, known, abort_after)
            finally:
                undone = await self._undo(provider, injected, ctx)
                if canary is not None:
                    await asyncio.to_thread(canary.stop)
            if canary is not None:
                try:
                    found = await asyncio.to_thread(canary.read_back)
                except ProviderError as exc:
                    read_error = str(exc)
        finally:
            if canary is not None and started_canary:
                removal = await asyncio.to_thread(canary.remove)
        assert injected is not None
        fault_at = fault_moment(asked_at, injected.injected_at, outcome.incident)
        more = (
            {}
            if fault_at == injected.injected_at
            else {"reported_at": iso_utc(injected.injected_at)}
        )
        phases.append(phase("fault_injected", fault_at, injected.description, **more))
        steps = (
            await asyncio.to_thread(self.store.steps, outcome.incident.id)
            if outcome.incident
            else []
        )
        phases.extend(agent_phases(outcome, steps))
        if undone:
            phases.append(phase("fault_undone", self.clock.now(), undone))
        report = self._canary_report(canary, found, read_error, removal, fault_at)
        if report is not None:
            phases.append(phase("canary_read", self.clock.now(), canary_summary(report)))
        return await self._record(
            name, fault, started_at, fault_at, injected, outcome, report, undone, phases
        )

    async def _await_agent(
        self, name: str, known: set[str], abort_after: timedelta
    ) -> AgentOutcome:
        """Poll the store for the agent's incident opened after the fault, until it closes."""
        deadline = self.clock.monotonic() + abort_after.total_seconds()
        seen: IncidentRow | None = None
        while True:
            fresh = [
                i
                for i in await asyncio.to_thread(self.store.incidents, name, limit=20)
                if i.id not in known
            ]
            incident = fresh[-1] if fresh else None  # the oldest new one: the fault's
            if incident is not None and seen is None:
                self._progress(f"{name}: the agent opened {incident.id}: {incident.reason}")
            seen = incident or seen
            if incident is not None and not incident.is_open:
                return AgentOutcome(incident)
            if self.clock.monotonic() >= deadline:
                return AgentOutcome(seen, aborted=True, aborted_at=self.clock.now())
            await self.clock.sleep(self.poll_s)

    async def _undo(
        self, provider: FaultCapable, injected: InjectedFault | None, ctx: FaultContext
    ) -> str:
        """Undo the fault, always; a failure is reported, never raised over the drill's own end."""
        if injected is None:
            return ""
        try:
            done = await asyncio.shield(provider.undo_fault(injected, ctx))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the drill record must still say the undo failed
            done = f"undo FAILED: {redact(str(exc))}"
        self._progress(f"{ctx.component_name}: {done}")
        return done

    def _canary_report(
        self,
        canary: CanaryWriter | None,
        found: list[CanaryRecord] | None,
        read_error: str | None,
        removal: str,
        fault_at: datetime,
    ) -> CanaryReport | None:
        if canary is None:
            return None
        written = list(canary.written)
        measure = measure_canaries(written, found, fault_at) if found is not None else None
        return CanaryReport(
            kind=canary.kind,
            where=canary.where,
            every_s=canary.every,
            measure=measure,
            read_error=read_error,
            removal=removal,
            failed_writes=canary.failures,
            first_at=written[0].at if written else None,
            last_at=written[-1].at if written else None,
        )

    # ------------------------------------------------------------ the verdict and the record

    async def _record(
        self,
        name: str,
        fault: str,
        started_at: datetime,
        fault_at: datetime,
        injected: InjectedFault,
        outcome: AgentOutcome,
        report: CanaryReport | None,
        undone: str,
        phases: list[dict[str, Any]],
    ) -> DrillResult:
        component = self.catalog.components[name]
        target_rto = component.rto.total_seconds()
        target_rpo = component.rpo.total_seconds()
        steps = (
            await asyncio.to_thread(self.store.steps, outcome.incident.id)
            if outcome.incident is not None
            else []
        )
        verdict, reason, rto, rpo = judge(
            outcome.incident,
            aborted=outcome.aborted,
            injected_at=fault_at,
            report=report,
            target_rto_s=target_rto,
            target_rpo_s=target_rpo,
            abort_after=component.drills.abort_after or component.rto * 2,
            stateless=stateless_recovery(component, outcome.incident, steps),
        )
        phases.append(phase("finished", self.clock.now(), reason, verdict=verdict))
        incident = outcome.incident
        row = await asyncio.to_thread(
            self.store.add_drill,
            component=name,
            fault=fault,
            started_at=started_at,
            incident_id=incident.id if incident else None,
            phases=phases,
            verdict=verdict,
            measured_rto_s=rto,
            measured_rpo_s=rpo,
            target_rto_s=target_rto,
            target_rpo_s=target_rpo,
        )
        result = DrillResult(row, reason, injected.description, undone, report)
        self._progress(f"{name}: drill {verdict}: {reason}")
        if outcome.aborted:
            await self._notify(
                Event.escalated,
                name,
                incident.id if incident else None,
                f"[paramedic] {name}: escalated: drill of fault {fault} aborted: {reason}",
                {"message": reason, "drill": result.to_json()},
            )
        await self._notify(
            Event.drill_finished,
            name,
            incident.id if incident else None,
            f"[paramedic] {name}: drill finished: {fault} {verdict}: {reason}",
            result.to_json(),
        )
        return result

    async def _notify(
        self,
        event: Event,
        name: str,
        incident_id: str | None,
        title: str,
        payload: dict[str, Any],
    ) -> None:
        if self.notifier is None:
            return
        try:
            await self.notifier.notify(
                Notice(
                    event=event,
                    component=name,
                    incident_id=incident_id,
                    title=title,
                    payload=payload,
                )
            )
        except ParamedicError as exc:  # a notifier never breaks a drill's record
            self._progress(f"{name}: {event.value} not sent: {exc}")
