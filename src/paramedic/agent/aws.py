"""The agent's AWS side: event-driven detection, CloudWatch metrics, recovery claims.

Each part is switched on by its key under ``agent:`` in the catalog and does
nothing otherwise:

- ``events_queue``: an SQS queue that EventBridge rules feed (``paramedic aws
  wire-events``). A failing event (an EC2 instance stopping, an RDS instance
  deleted, an alarm in ALARM) makes the agent check the component at once and
  treat a failed check as certain, instead of waiting for the next interval
  and a second failed check.
- ``metrics_namespace``: health (0/1 per component), incidents opened,
  measured RTO/RPO and outcomes published with ``put_metric_data``.
- ``claims``: ``dynamodb://PREFIX``: before a recovery starts, the agent
  claims the component in DynamoDB with a conditional write; an agent that
  loses the race leaves that recovery to the winner.

AWS trouble here never stops the agent: it is logged as one decision line and
retried at the next poll.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from paramedic.errors import ParamedicError

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog
    from paramedic.decisions import DecisionLog

METRICS_PERIOD_S = 10.0
"""How often buffered metrics are sent (CloudWatch keeps 1-minute resolution by default)."""
EVENTS_WAIT_S = 2.0
"""Long-poll wait of one SQS receive."""


def agent_id(run_dir: str) -> str:
    """This agent's identity in claims: ``host:run dir`` (one agent per run dir, kept across restarts).

    An agent restarted after a crash is the same agent: it re-claims its own claim and resumes.
    """
    return f"{socket.gethostname()}:{run_dir}"


class AwsSide:
    """What the agent does through AWS besides checking and recovering components."""

    def __init__(
        self,
        catalog: Catalog,
        decisions: DecisionLog,
        clock: Any,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        """``spawn`` runs a coroutine in the background as one of the agent's own tasks."""
        self.catalog = catalog
        self.decisions = decisions
        self.clock = clock
        self._spawn_task = spawn
        self.agent_id = agent_id(str(catalog.resolve_path(catalog.agent.run_dir)))
        self._metrics: Any = None
        self._claims: Any = None
        self._health: dict[str, bool] = {}

    @property
    def events_on(self) -> bool:
        """True when the agent consumes an EventBridge queue."""
        return self.catalog.agent.events_queue is not None

    @property
    def metrics_on(self) -> bool:
        """True when the agent publishes CloudWatch metrics."""
        return self.catalog.agent.metrics_namespace is not None

    @property
    def follows_recoveries(self) -> bool:
        """True when a finished recovery concerns AWS (its metrics, or its claim to release)."""
        return self.metrics_on or self.catalog.agent.claims is not None

    async def start(self) -> None:
        """Build the metrics publisher and the claim table (creating its tables) when configured."""
        settings = self.catalog.aws
        if self.catalog.agent.metrics_namespace:
            from paramedic.providers.aws.metrics import MetricsPublisher

            self._metrics = MetricsPublisher(settings, self.catalog.agent.metrics_namespace)
        if self.catalog.agent.claims:
            from paramedic.providers.aws.claims import ClaimTable

            self._claims = ClaimTable.from_url(self.catalog.agent.claims, settings)
            await self._claims.ensure_tables()

    # ------------------------------------------------------------ events

    async def consume_events(self, on_failure: Callable[[str, str], Awaitable[None]]) -> None:
        """Receive EventBridge events until cancelled; ``on_failure(component, summary)`` per failing one."""
        from paramedic.providers.aws.events import components_for, receive_events

        queue = self.catalog.agent.events_queue
        assert queue is not None
        failing_before = False
        while True:
            try:
                events = await receive_events(self.catalog.aws, queue, EVENTS_WAIT_S)
                failing_before = False
            except ParamedicError as exc:
                if not failing_before:  # one line per outage, not one per poll
                    self.decisions.line(self.clock.now(), "-", "aws_events_unreachable", str(exc))
                failing_before = True
                await asyncio.sleep(EVENTS_WAIT_S)
                continue
            for event in events:
                if not event.failing:
                    continue
                try:
                    names = await components_for(event, self.catalog)
                except ParamedicError as exc:
                    self.decisions.line(self.clock.now(), "-", "aws_event_unmatched", str(exc))
                    continue
                for name in names:
                    await on_failure(name, event.summary)

    # ------------------------------------------------------------ metrics

    def observe(self, component: str, ok: bool) -> None:
        """Remember a component's latest health for the next metrics flush."""
        if self._metrics is not None:
            self._health[component] = ok

    def incident_opened(self, component: str) -> None:
        """Count an incident for the next metrics flush."""
        if self._metrics is not None:
            self._spawn(self._metrics.incident_opened(component))

    def recovery_measured(
        self, component: str, rto_s: float | None, rpo_s: float | None, outcome: str
    ) -> None:
        """Record a finished recovery's measured RTO/RPO for the next flush."""
        if self._metrics is not None:
            self._spawn(self._metrics.recovery_measured(component, rto_s, rpo_s, outcome))

    async def publish_metrics(self) -> None:
        """Flush health and counters every ``METRICS_PERIOD_S`` until cancelled."""
        assert self._metrics is not None
        try:
            while True:
                await asyncio.sleep(METRICS_PERIOD_S)
                await self.flush_metrics()
        finally:
            await self.flush_metrics()

    async def flush_metrics(self) -> None:
        """Send what is buffered now; an AWS error is one decision line, the data kept for later."""
        if self._metrics is None:
            return
        health, self._health = self._health, {}
        try:
            for component, ok in health.items():
                await self._metrics.component_health(component, ok)
            await self._metrics.flush()
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), "-", "aws_metrics_failed", str(exc))

    # ------------------------------------------------------------ claims

    async def claim(self, component: str, lease: timedelta) -> tuple[str, datetime] | None:
        """None when this agent may recover ``component`` now; else who holds the claim, until when.

        The claim is on the component, not the incident: agents with stores of their own open
        incidents of their own, and one recovery at a time per component is the rule whichever
        agent runs it. When DynamoDB cannot be reached the agent recovers anyway (one decision
        line says so): a claim table outage must not stop recoveries at three in the morning.
        """
        if self._claims is None:
            return None
        try:
            claim = await self._claims.claim(_claim_key(component), component, self.agent_id, lease)
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), component, "aws_claim_failed", str(exc))
            return None
        return None if claim.won else (str(claim.holder), claim.expires_at)

    async def mirror(self, incident: dict[str, Any]) -> None:
        """Copy an incident into the claims' incident table (when claims are configured)."""
        if self._claims is None:
            return
        try:
            await self._claims.record_incident(incident)
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), "-", "aws_mirror_failed", str(exc))

    async def release(self, component: str, incident: dict[str, Any]) -> None:
        """Mirror the finished incident and give up this agent's claim on the component."""
        if self._claims is not None:
            try:
                await self.mirror(incident)
                await self._claims.release(_claim_key(component), self.agent_id)
            except ParamedicError as exc:
                self.decisions.line(self.clock.now(), "-", "aws_claim_release_failed", str(exc))

    # ------------------------------------------------------------ plumbing

    def _spawn(self, coro: Awaitable[Any]) -> None:
        self._spawn_task(self._quietly(coro))

    async def _quietly(self, coro: Awaitable[Any]) -> None:
        """A metrics call that fails is one decision line, never an unretrieved task error."""
        try:
            await coro
        except ParamedicError as exc:
            self.decisions.line(self.clock.now(), "-", "aws_metrics_failed", str(exc))


def _claim_key(component: str) -> str:
    return f"component/{component}"
