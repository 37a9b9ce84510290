"""The recovery engine: the effects behind each step of the durable workflow.

Each public coroutine here is one durable step (see ``workflow.py``): it reads
and writes the store, asks a provider, runs the component's own health check,
and notifies. Each returns a small JSON-able dict, because DBOS checkpoints
step results. Steps may run again after a crash; every effect here is
idempotent for one incident (the store's ``start_step`` returns the existing
row, providers honour ``(incident_id, step_index)``).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Catalog, Event
from paramedic.checks.result import CheckResult
from paramedic.clock import Clock
from paramedic.errors import Fenced, ParamedicError, ProviderError
from paramedic.notify import Notice
from paramedic.providers.base import ActionContext, Provider
from paramedic.recovery import actions
from paramedic.recovery.budget import check_budget
from paramedic.recovery.fencing import Fence, fence_args, not_mine, stand_down, standing
from paramedic.recovery.ladder import (
    KEEPS_DATA_IN_PLACE,
    backoff_before,
    measure,
    plan_ladder,
    start_wait,
    verification_spacing,
)
from paramedic.redact import redact
from paramedic.store import Store

log = logging.getLogger("paramedic.recovery")


class RecoveryHooks(Protocol):
    """What the agent wants to hear from a recovery (to move its detector)."""

    def recovery_started(self, component: str) -> None:
        """A recovery of ``component`` began acting."""

    def recovery_finished(self, component: str, ok: bool, reason: str) -> None:
        """A recovery of ``component`` ended: recovered (``ok``) or escalated."""


class NoticeSink(Protocol):
    """Anything with the Notifier's ``notify`` (the real one, or RecordingNotifier in tests)."""

    async def notify(self, notice: Notice) -> None:
        """Hand a notice over for delivery; returns at once."""


@dataclass
class RecoveryEngine:
    """The live objects a recovery workflow acts through, installed once per process."""

    catalog: Catalog
    store: Store
    clock: Clock
    providers: Mapping[str, Provider]
    check: Callable[[str], Awaitable[CheckResult]]
    """Runs a component's own health check now."""
    notifier: NoticeSink
    hooks: RecoveryHooks | None = None
    actor: str = "agent"
    fence: Fence | None = None
    """Several agents: every step first checks this agent may still act on the incident."""
    _logs: dict[str, list[str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ steps

    async def begin(
        self, incident_id: str, only: str | None, force: bool = False
    ) -> dict[str, Any]:
        """Plan the ladder and check the budget; mark the incident recovering.

        ``force`` (``recover --force``) bypasses an open circuit, audited as such.
        """
        incident = self.store.incident(incident_id)
        name = incident.component
        if incident.state in ("recovered", "escalated", "cancelled"):
            return {"done": incident.state}
        refusal = not_mine(self.fence, self.store, incident_id, name)
        if refusal is not None:
            return refusal
        standing(self.fence, self.store, incident_id, claim=True)
        component = self.catalog.components[name]
        try:
            ladder = plan_ladder(name, component, only)
        except ParamedicError as exc:
            return {"refused": str(exc)}
        now = self.clock.now()
        starts = self.store.recovery_starts(
            now - component.budget.window, component=name, exclude=incident_id
        ).get(name, [])
        reset_at = self.store.component(name).circuit_reset_at
        verdict = check_budget(name, component.budget, starts, now, reset_at)
        if not verdict.allowed and not force:
            return {"refused": verdict.reason}
        if not verdict.allowed:
            self.store.audit(
                actor=self.actor,
                action="incident.circuit_bypassed",
                subject=incident_id,
                detail={"component": name, "circuit": verdict.reason},
            )
            verdict = replace(
                verdict,
                reason=f"forced past an open circuit ({verdict.used} "
                f"recoveries in {format_duration(component.budget.window)})",
            )
        self.store.update_incident(incident_id, state="recovering")
        if self.hooks:
            self.hooks.recovery_started(name)
        await self._notify(
            Event.recovery_started, incident_id, f"recovery started ({verdict.reason})"
        )
        steps = []
        for attempt, planned in enumerate(ladder, start=1):
            strategy = planned.strategy
            steps.append(
                {
                    "seq": planned.seq,
                    "index": planned.index,
                    "strategy": planned.name,
                    "approval": strategy.needs_approval,
                    "approval_timeout_s": (
                        strategy.approval_timeout or strategy.timeout
                    ).total_seconds(),
                    "timeout_s": strategy.timeout.total_seconds(),
                    "backoff_s": backoff_before(attempt, component.budget).total_seconds(),
                }
            )
        return {"steps": steps}

    async def ask_approval(self, incident_id: str, step: Mapping[str, Any]) -> None:
        """Journal that a destructive step waits for an operator, and page for it."""
        incident = self.store.incident(incident_id)
        provider = self._provider_of(incident.component)
        strategy = self._strategy(incident.component, step["index"])
        summary = actions.describe(provider, strategy)
        self.store.request_approval(
            incident_id,
            seq=step["seq"],
            strategy=step["strategy"],
            at=self.clock.now(),
            summary=summary,
        )
        self.store.update_incident(incident_id, state="awaiting_approval")
        wait = format_duration(step["approval_timeout_s"])
        await self._notify(
            Event.approval_needed,
            incident_id,
            f"{step['strategy']} needs approval within {wait}: {summary}. "
            f"Run `paramedic approve {incident_id}` or `paramedic deny {incident_id}`",
        )

    async def answer_approval(self, incident_id: str, step: Mapping[str, Any], answer: Any) -> str:
        """Record the operator's answer (or its absence): ``approved``, ``denied`` or ``timed_out``."""
        now = self.clock.now()
        seq = step["seq"]
        if answer is None:
            self.store.start_step(incident_id, seq=seq, strategy=step["strategy"], started_at=now)
            wait = format_duration(step["approval_timeout_s"])
            self.store.finish_step(
                incident_id,
                seq,
                ended_at=now,
                status="timed_out",
                error=f"nobody approved {step['strategy']} within {wait}",
            )
            return "timed_out"
        approved = bool(answer.get("approved")) if isinstance(answer, dict) else False
        self.store.update_incident(incident_id, state="recovering")
        if approved:
            return "approved"
        actor = answer.get("actor", "operator") if isinstance(answer, dict) else "operator"
        self.store.start_step(incident_id, seq=seq, strategy=step["strategy"], started_at=now)
        self.store.finish_step(
            incident_id, seq, ended_at=now, status="denied", error=f"denied by {actor}"
        )
        return "denied"

    async def attempt(
        self, incident_id: str, step: Mapping[str, Any], *, target: str | None = None
    ) -> dict[str, Any]:
        """Carry out one strategy, then prove it with the component's own health check.

        ``target`` overrides a restore's target (``paramedic restore --to``).
        """
        incident = self.store.incident(incident_id)
        name = incident.component
        component = self.catalog.components[name]
        strategy = self._strategy(name, step["index"])
        if target is not None and strategy.strategy == "restore_from_backup":
            strategy = strategy.model_copy(update={"target": target})
        seq = step["seq"]
        started = self.clock.now()
        standing(self.fence, self.store, incident_id)
        try:
            row = self.store.start_step(
                incident_id,
                seq=seq,
                strategy=step["strategy"],
                started_at=started,
                fence=fence_args(self.fence),
            )
        except Fenced as exc:
            stand_down(self.fence, str(exc))
        if row.ended_at is not None:  # finished before a crash: do not act twice
            replay: dict[str, Any] = {
                "ok": row.status == "succeeded",
                "status": row.status,
                "error": row.error,
            }
            replay.update(
                recovered_at=row.ended_at.isoformat(),
                recovery_point_at=None,
                strategy=step["strategy"],
            )
            return replay
        deadline = self.clock.monotonic() + strategy.timeout.total_seconds()
        lines: list[str] = []
        ctx = ActionContext(
            incident_id=incident_id,
            step_index=step["index"],
            component_name=name,
            component=component,
            catalog=self.catalog,
            failed_at=incident.failed_at,
            log=lines.append,
        )
        output = ""
        point: datetime | None = None
        try:
            provider = self._provider_of(name)
            async with asyncio.timeout(strategy.timeout.total_seconds()):
                result = await actions.carry_out(provider, strategy, ctx)
            output = result.output
            point = result.recovery_point_at
        except TimeoutError:
            return self._finish(
                incident_id,
                seq,
                "timed_out",
                lines,
                "",
                f"{step['strategy']} did not finish within {format_duration(strategy.timeout)}",
            )
        except ParamedicError as exc:
            return self._finish(incident_id, seq, "failed", lines, output, str(exc))
        except Exception as exc:  # a provider bug must fail the step, not the workflow
            detail = "".join(traceback.format_exception(exc)).strip()
            log.warning("strategy %s of %s raised: %s", step["strategy"], name, exc)
            return self._finish(
                incident_id, seq, "failed", lines, output, f"internal error: {exc}\n{detail}"
            )
        # A component started again may fail its checks for its start period: wait it out.
        waits = start_wait(component.health, strategy.strategy).total_seconds()
        deadline = max(deadline, self.clock.monotonic() + waits) if waits else deadline
        verified, checks, last = await self._verify(name, deadline)
        lines.append(checks)
        if not verified:
            return self._finish(incident_id, seq, "unverified", lines, output, checks)
        assert last is not None
        recovered_at = last.at + timedelta(seconds=last.duration_s)
        outcome = self._finish(incident_id, seq, "succeeded", lines, output, "")
        outcome.update(
            recovered_at=recovered_at.isoformat(),
            recovery_point_at=point.isoformat() if point else None,
            strategy=step["strategy"],
        )
        return outcome

    async def close(self, incident_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
        """The incident is recovered: measure RTO/RPO against the targets and tell everyone."""
        standing(self.fence, self.store, incident_id)
        incident = self.store.incident(incident_id)
        if incident.state == "recovered":
            return incident.to_json()
        recovered_at = datetime.fromisoformat(outcome["recovered_at"])
        point = (
            datetime.fromisoformat(outcome["recovery_point_at"])
            if outcome.get("recovery_point_at")
            else None
        )
        strategy = str(outcome["strategy"])
        measured = measure(
            incident.failed_at,
            incident.detected_at,
            recovered_at,
            point,
            data_kept_in_place=strategy in KEEPS_DATA_IN_PLACE,
        )
        try:  # fenced in the transaction that closes it, as a step's start is
            updated = self.store.update_incident(
                incident_id,
                fence=fence_args(self.fence),
                state="recovered",
                recovered_at=recovered_at,
                strategy=strategy,
                measured_rto_s=measured.rto_s,
                measured_rpo_s=measured.rpo_s,
                recovery_point_at=point,
            )
        except Fenced as exc:
            stand_down(self.fence, str(exc))
        if self.hooks:
            self.hooks.recovery_finished(incident.component, True, f"recovered by {strategy}")
        rto = format_duration(measured.rto_s)
        await self._notify(
            Event.recovery_succeeded,
            incident_id,
            f"recovered by {strategy} in {rto}",
            outlived_rto=bool(measured.rto_s and measured.rto_s > incident.target_rto_s),
        )
        return updated.to_json()

    async def escalate(self, incident_id: str, reason: str) -> dict[str, Any]:
        """Nothing worked (or the budget is spent): hand the incident to a human."""
        standing(self.fence, self.store, incident_id)
        incident = self.store.incident(incident_id)
        if incident.state == "escalated":
            return incident.to_json()
        try:
            updated = self.store.update_incident(
                incident_id,
                fence=fence_args(self.fence),
                state="escalated",
                escalated_at=self.clock.now(),
                reason=reason,
            )
        except Fenced as exc:
            stand_down(self.fence, str(exc))
        if self.hooks:
            self.hooks.recovery_finished(incident.component, False, reason)
        await self._notify(Event.recovery_failed, incident_id, reason, ladder_exhausted=True)
        await self._notify(Event.escalated, incident_id, reason, ladder_exhausted=True)
        return updated.to_json()

    # ------------------------------------------------------------------ helpers

    def _provider_of(self, component: str) -> Provider:
        """The provider this agent drives ``component`` through; a clear error when it has none
        (another agent owns it, or its provider could not be built here)."""
        provider = self.providers.get(component)
        if provider is None:
            agent = self.fence.agent if self.fence is not None and self.fence.shared else "agent"
            raise ProviderError(
                f"{agent} is not in charge of {component} (no provider built for it here); "
                f"`paramedic agents` shows which agent owns it"
            )
        return provider

    def _strategy(self, component: str, index: int) -> Any:
        return self.catalog.components[component].recovery[index]

    def _finish(
        self, incident_id: str, seq: int, status: str, lines: list[str], output: str, error: str
    ) -> dict[str, Any]:
        text = "\n".join([*([output] if output else []), *lines]).strip()
        self.store.finish_step(
            incident_id,
            seq,
            ended_at=self.clock.now(),
            status=status,
            output=redact(text),
            error=redact(error),
        )
        return {"ok": status == "succeeded", "status": status, "error": redact(error)}

    async def _verify(self, name: str, deadline: float) -> tuple[bool, str, CheckResult | None]:
        """Run the component's check until it passes ``successes`` times in a row, or the deadline."""
        health = self.catalog.components[name].health
        spacing = verification_spacing(health.interval)
        passed = 0
        tries = 0
        last: CheckResult | None = None
        while True:
            result = await self.check(name)
            tries += 1
            last = result
            passed = passed + 1 if result.ok else 0
            if passed >= health.successes:
                return (
                    True,
                    f"verified: {passed} check(s) passed in a row after {tries} tries",
                    result,
                )
            if self.clock.monotonic() + spacing > deadline:
                need = health.successes
                return (
                    False,
                    (
                        f"not verified: the {health.check} check did not pass {need} time(s) in a row "
                        f"before the step's timeout ({tries} tries, last: {result.summary})"
                    ),
                    last,
                )
            await self.clock.sleep(spacing)

    async def _notify(
        self,
        event: Event,
        incident_id: str,
        message: str,
        *,
        ladder_exhausted: bool = False,
        outlived_rto: bool = False,
    ) -> None:
        incident = self.store.incident(incident_id)
        payload = incident.to_json()
        payload["steps"] = [s.to_json() for s in self.store.steps(incident_id)]
        payload["message"] = message
        notice = Notice(
            event=event,
            component=incident.component,
            incident_id=incident_id,
            title=f"[paramedic] {incident.component}: {event.value.replace('_', ' ')}: {message}",
            payload=payload,
            ladder_exhausted=ladder_exhausted,
            outlived_rto=outlived_rto,
        )
        try:
            await self.notifier.notify(notice)
        except Exception as exc:  # a notifier never breaks a recovery
            log.warning("notification %s for %s failed: %s", event.value, incident_id, exc)
