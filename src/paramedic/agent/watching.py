"""Checks → detector → decisions: the agent's main path.

Every check result goes to its component's detector; the detector decides and
this module carries the decision out (open an incident and start its durable
recovery, mark it blocked by a dependency or another agent's claim, close a
blocked incident, release dependents). It decides nothing itself. Nothing runs
here per check beyond the detector and a tally: the store sees one batch a
second (``flush_checks``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from paramedic.agent.parts import FAILING, AgentParts, Watch
from paramedic.catalog.model import Component, Event
from paramedic.detect import DecisionKind, HealthState
from paramedic.recovery import workflow
from paramedic.store.components import CheckTally, Transition

if TYPE_CHECKING:
    from paramedic.agent.aws import AwsSide
    from paramedic.agent.membership import Membership
    from paramedic.agent.paging import Paging
    from paramedic.checks.result import CheckResult
    from paramedic.store import IncidentRow

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


class Watching:
    """Turns check results into decisions and carries them out; the recovery engine's hooks."""

    def __init__(self, parts: AgentParts, paging: Paging, aws: AwsSide) -> None:
        self.parts = parts
        self.paging = paging
        self.aws = aws
        self._checks: dict[str, CheckTally] = {}
        self._transitions: list[Transition] = []
        self.listeners: list[Callable[[str, bool, float], None]] = []
        """Called with (component, ok, duration) after each check (the API's metrics)."""
        self.membership: Membership | None = None
        """Set by the core: the lease, the division, standing down."""

    # ------------------------------------------------------------ checks → decisions

    def failing_dependencies(self, name: str) -> set[str]:
        """Which of ``name``'s own (transitive) dependencies are failing: a few lookups, not a scan."""
        watches = self.parts.watches
        return {
            d
            for d in self.parts.graph.ancestors(name)
            if d in watches and watches[d].detector.state in FAILING
        }

    async def on_result(self, name: str, result: CheckResult) -> None:
        """A check finished: the detector decides, and the decision is carried out."""
        parts = self.parts
        watch = parts.watches.get(name)
        if watch is None:
            return
        if self.membership is not None and not self.membership.may_act():
            self.membership.check_standing()  # a stall (SIGSTOP): nothing of this run acts again
            return
        before = watch.detector.state
        failing_dep = (
            None
            if result.ok
            else self._claimed_by(watch)
            or parts.graph.failing_root(name, self.failing_dependencies(name))
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
        for listener in self.listeners:
            listener(name, result.ok, result.duration_s)
        if after != before:  # written with the next flush, not on the event loop now
            self._transitions.append(
                Transition(name, result.at, before.value, after.value, decision.reason)
            )
        if decision.kind == DecisionKind.nothing:
            return
        parts.say(name, decision.kind.value, decision.reason, at=result.at)
        await self._carry_out(name, decision)
        if after == HealthState.healthy and before != HealthState.healthy:
            await self.dependency_recovered(name)

    def _open_failure(self, name: str, decision: Any) -> Any:
        """Record the incident a detector decision opens, with the decision's timings."""
        comp = self.parts.catalog.components[name]
        return self.parts.store.open_incident(
            component=name,
            kind="failure",
            failed_at=decision.failed_at,
            detected_at=decision.detected_at,
            failure=decision.failure.value if decision.failure else None,
            reason=decision.reason,
            target_rto_s=comp.rto.total_seconds(),
            target_rpo_s=comp.rpo.total_seconds(),
        )

    def _claimed_by(self, watch: Watch) -> str | None:
        """``agent HOST:RUN_DIR`` while another agent's claim on this recovery holds.

        The detector treats it like a failing dependency: the failure stays blocked, with no
        incident reopened at every check, until the claim's lease runs out (then this agent
        tries to claim it again) or a check passes (recovered elsewhere).
        """
        if watch.claimed is None:
            return None
        blocked_by, until = watch.claimed
        if self.parts.clock.now() >= until:
            watch.claimed = None
            return None
        return blocked_by

    @staticmethod
    def _exited(watch: Watch) -> str | None:
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

    async def flush_checks(self) -> None:
        """Write the tallied checks and the queued transitions, off the event loop."""
        if not self._checks and not self._transitions:
            return
        batch, self._checks = list(self._checks.values()), {}
        transitions, self._transitions = self._transitions, []
        store = self.parts.store

        def write() -> None:
            store.record_transitions(transitions)
            store.record_checks(batch)

        await asyncio.to_thread(write)
        if self.membership is not None and self.membership.shared:
            await asyncio.to_thread(self.parts.store.count_checks, self.membership.agent, batch)

    async def _carry_out(self, name: str, decision: Any) -> None:
        store = self.parts.store
        kind = decision.kind
        if kind in (DecisionKind.open_incident, DecisionKind.flapping):
            previous = store.open_incident_of(name)
            if previous is not None and previous.state != "blocked":
                await self._carry_on(previous)
                return
            if decision.starts_recovery and await self._claimed_elsewhere(name, previous, decision):
                return
            if previous is None:
                incident = self._open_failure(name, decision)
            else:  # a blocked incident whose dependency came back: the same incident, now recovered
                incident = store.update_incident(previous.id, state="open", reason=decision.reason)
            await self.paging.notify(Event.failure_detected, incident.id, name, decision.reason)
            self.aws.incident_opened(name)
            if not decision.starts_recovery:
                await self.escalate(incident.id, decision.reason)
                return
            if self.parts.watches[name].provider is None:
                await self.escalate(incident.id, f"{name} has no provider built to recover it")
                return
            self.parts.watches[name].detector.recovery_started()
            self.parts.spawn(self.aws.mirror(incident.to_json()))
            self._run_by_me(incident.id)
            await self.start_workflow(incident.id)
        elif kind == DecisionKind.blocked:
            if store.open_incident_of(name) is None:
                incident = self._open_failure(name, decision)
                store.update_incident(incident.id, state="blocked", blocked_by=decision.blocked_by)
                await self.paging.notify(Event.blocked, incident.id, name, decision.reason)
        elif kind in (DecisionKind.recovered_by_itself, DecisionKind.recovered_after_escalation):
            incident = store.open_incident_of(name)
            if incident is not None and incident.state == "blocked":
                elsewhere = (incident.blocked_by or "").startswith(CLAIMED_BY)
                store.update_incident(
                    incident.id,
                    state="recovered",
                    recovered_at=self.parts.clock.now(),
                    strategy="recovered_elsewhere" if elsewhere else "dependency_recovered",
                    reason=decision.reason,
                )

    async def _carry_on(self, previous: IncidentRow) -> None:
        """A failure while the component's incident is already being recovered (a takeover, or
        the previous owner's watch still running): never rewritten, paged or restarted here;
        resumed through the takeover path unless a live agent runs it."""
        membership = self.membership
        if membership is not None and membership.shared:
            live = {m.name for m in membership.members} - {membership.agent}
            if previous.agent in live:
                return  # another live agent's recovery; this detector waits for the outcome
            store = self.parts.store
            if not await asyncio.to_thread(
                store.take_over, previous.id, membership.agent, membership.ttl_s
            ):
                return
        await self.resume(previous)

    async def _claimed_elsewhere(self, name: str, previous: Any, decision: Any) -> bool:
        """True when another agent holds the claim on ``name``'s recovery (``agent.claims``).

        This agent then records the failure as blocked by that agent, pages nobody (the
        winner does), and closes it as ``recovered_elsewhere`` once its own check passes.
        """
        store = self.parts.store
        held = await self.aws.claim(name, claim_lease(self.parts.catalog.components[name]))
        if held is None:
            return False
        holder, until = held
        blocked_by = f"{CLAIMED_BY}{holder}"
        watch = self.parts.watches[name]
        watch.claimed = (blocked_by, until)
        watch.detector.mark_blocked(blocked_by, decision.failed_at, decision.detected_at)
        if previous is not None and previous.blocked_by == blocked_by:
            return True  # its lease ran out while it still recovers: said once already
        incident = previous if previous is not None else self._open_failure(name, decision)
        store.update_incident(incident.id, state="blocked", blocked_by=blocked_by)
        self.parts.say(name, "claimed_elsewhere", f"{blocked_by} recovers it")
        return True

    async def escalate(self, incident_id: str, reason: str) -> None:
        """Escalate an incident without running its ladder (flapping, no provider)."""
        await workflow.engine().escalate(incident_id, reason)

    async def start_workflow(self, incident_id: str) -> None:
        """Start (or find running) the durable recovery whose workflow id is the incident id."""
        from dbos import DBOS, SetWorkflowID

        async def start() -> None:
            with SetWorkflowID(incident_id):
                await DBOS.start_workflow_async(workflow.recovery_workflow, incident_id, None)

        await asyncio.create_task(start(), context=contextvars.Context())

    def _run_by_me(self, incident_id: str) -> None:
        """Record this agent as the one running the incident's recovery (several agents)."""
        membership = self.membership
        if membership is not None and membership.shared:
            self.parts.store.take_over(incident_id, membership.agent, membership.ttl_s)

    async def resume_open_incidents(self) -> None:
        """At start: open incidents of the components this agent owns, run by it or by nobody
        alive (its previous run, a dead agent), are resumed here."""
        for incident in self.parts.store.incidents(open_only=True, limit=100_000):
            if incident.component not in self.parts.watches:
                continue
            membership = self.membership
            if membership is not None and membership.shared:
                taken = self.parts.store.take_over(incident.id, membership.agent, membership.ttl_s)
                if not taken:
                    continue  # another live agent runs it
            await self.resume(incident)

    async def resume(self, incident: IncidentRow) -> None:
        """Carry on with an open incident: a blocked one goes back to its detector, the others'
        recovery workflow runs here (resumed from its recorded steps when another run began it)."""
        watch = self.parts.watches.get(incident.component)
        if watch is None:
            return
        if incident.state == "blocked":
            watch.detector.mark_blocked(incident.blocked_by or "?", incident.failed_at)
            return
        watch.detector.recovery_started()
        membership = self.membership
        if membership is None or not membership.shared:
            await self.start_workflow(incident.id)
            return
        from paramedic.recovery import durable

        async def hand_over() -> str:
            return await durable.resume(incident.id, membership.me.executor_id)

        done = await asyncio.create_task(hand_over(), context=contextvars.Context())
        self.parts.say(incident.component, "recovery_resumed", f"{incident.id}: {done}")

    async def dependency_recovered(self, name: str) -> None:
        """``name`` is healthy again: its blocked dependents are checked now."""
        for dependent in self.parts.graph.dependents(name):
            watch = self.parts.watches[dependent]
            if watch.detector.state == HealthState.blocked:
                decision = watch.detector.dependency_recovered()
                if decision.kind != DecisionKind.nothing:  # a no-op is not a decision line
                    self.parts.say(dependent, decision.kind.value, decision.reason)
                self.parts.spawn(self.parts.scheduler.check_now(dependent))

    def failure_reported(self, name: str, decision: str, summary: str, why: str) -> None:
        """Something outside the checks says ``name`` failed: check it now; a failure is then certain.

        ``decision`` names the line (``aws_event``), ``why`` is what the detector is told.
        """
        watch = self.parts.watches.get(name)
        if watch is None or self.parts.stopping.is_set():
            return
        self.parts.say(name, decision, summary)
        watch.event = why
        self.parts.spawn(self.parts.scheduler.check_now(name))

    async def aws_event(self, name: str, summary: str) -> None:
        """An AWS event says ``name`` failed."""
        self.failure_reported(name, "aws_event", summary, f"AWS reported it: {summary}")

    def on_exit(self, name: str, returncode: int | None) -> None:
        """An owned process exited: check it now instead of at the next interval."""
        if not self.parts.stopping.is_set():
            self.parts.spawn(self.parts.scheduler.check_now(name))

    # ------------------------------------------------------------ hooks from the recovery engine

    def recovery_started(self, component: str) -> None:
        """The workflow began acting on ``component``."""
        watch = self.parts.watches.get(component)
        if watch is not None and watch.detector.state != HealthState.recovering:
            watch.detector.recovery_started()

    def recovery_finished(self, component: str, ok: bool, reason: str) -> None:
        """The workflow ended; move the detector and, on success, release blocked dependents."""
        parts = self.parts
        watch = parts.watches.get(component)
        if watch is None:
            return
        before = watch.detector.state
        now = parts.clock.now()
        decision = watch.detector.recovery_finished(ok, at=now, reason=reason)
        if decision.kind != DecisionKind.nothing:  # e.g. an incident opened escalated: said once
            parts.say(component, decision.kind.value, decision.reason, at=now)
        if decision.state != before:  # queued after the checks' own, so the order holds
            self._transitions.append(
                Transition(component, now, before.value, decision.state.value, decision.reason)
            )
        if ok:
            parts.spawn(self.dependency_recovered(component))
        if self.aws.follows_recoveries:
            parts.spawn(self._aws_recovery_finished(component, ok))

    async def _aws_recovery_finished(self, component: str, ok: bool) -> None:
        """Metrics of the finished recovery and the release of its claim (when configured)."""
        latest = self.parts.store.incidents(component, limit=1)
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
