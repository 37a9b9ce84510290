"""``GET /metrics``: Prometheus exposition of the agent and of every component.

Two kinds of series. Counters and histograms are updated as things happen (the
check loop, the decision log, the notifier) and are labelled per check kind,
per strategy or per outcome, never per component. Per-component gauges are read
from the state store at scrape time by ``StoreCollector`` (a handful of series
per component), so they show what the store says, as the CLI does; they are
written as text by ``paramedic.api.series`` after the registry's own families.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import prometheus_client
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from paramedic import __version__
from paramedic.api.deps import require_read
from paramedic.api.series import ComponentGauge

if TYPE_CHECKING:
    from paramedic.api.context import Snapshot
    from paramedic.catalog.model import Catalog
    from paramedic.store import Store

prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # no _created series (issue 10: "_created off")

CHECK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RECOVERY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
SCORE_EVERY_S = 60.0
"""Recoverability scores come from the report, rebuilt at most once a minute."""
STATES = ("unknown", "healthy", "suspect", "failed", "recovering", "escalated", "blocked")

OPENED = frozenset({"open_incident", "flapping"})


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else math.nan


class StoreCollector(Collector):
    """Per-component gauges, read from the store (and the agent's snapshot) at scrape time."""

    def __init__(
        self,
        store: Store,
        catalog: Callable[[], Catalog],
        snapshot: Callable[[], Snapshot],
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._snapshot = snapshot
        self._scores: dict[str, float] = {}
        self._scored_at = -math.inf
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        """Yield the agent's gauges (the components' are ``component_text``)."""
        yield from self._agent()

    def component_text(self) -> str:
        """Every component's gauges, in the text exposition format."""
        return "".join(family.text() for family in self._components())

    def _agent(self) -> Iterator[Metric]:
        snap = self._snapshot()
        info = InfoMetricFamily("paramedic_build", "paramedic version")
        info.add_metric([], {"version": __version__})
        yield info
        yield GaugeMetricFamily(
            "paramedic_agent_start_time_seconds",
            "When the agent started, seconds since the epoch",
            value=snap.started_at.timestamp(),
        )
        yield GaugeMetricFamily(
            "paramedic_scheduler_lag_seconds",
            "99th percentile of the delay from a check's due time to its start",
            value=snap.scheduler_lag_s,
        )
        yield GaugeMetricFamily(
            "paramedic_checks_in_flight", "Checks running now", value=snap.checks_in_flight
        )
        yield GaugeMetricFamily(
            "paramedic_components", "Components the agent watches", value=snap.components
        )

    def _components(self) -> list[ComponentGauge]:
        now = datetime.now(UTC)
        catalog = self._catalog()
        rows = self._store.components()
        open_by = {i.component: i for i in self._store.incidents(open_only=True, limit=100_000)}
        measured = self._last_measured()
        newest = self._newest_points()
        drilled = self._last_good_drill()
        scores = self.recoverability(catalog, now)

        family = ComponentGauge
        state = family(
            "paramedic_component_state", "1 for the component's current health state", "state"
        )
        up = family("paramedic_component_up", "1 when the component is healthy, else 0")
        last_ok = family("paramedic_component_last_check_success", "1 when the last check passed")
        rto = family("paramedic_component_rto_objective_seconds", "The RTO objective")
        rpo = family("paramedic_component_rpo_objective_seconds", "The RPO objective")
        last_rto = family(
            "paramedic_component_last_rto_seconds", "Measured RTO of the last recovery"
        )
        last_rpo = family(
            "paramedic_component_last_rpo_seconds", "Measured RPO of the last recovery"
        )
        exposure = family(
            "paramedic_component_rpo_exposure_seconds", "Age of the newest restorable point"
        )
        score = family("paramedic_component_recoverability_score", "Recoverability score, 0-100")
        incident = family("paramedic_component_open_incident", "1 while an incident is open")
        down = family(
            "paramedic_component_down_seconds",
            "Seconds since the open incident's first failed check",
        )
        drill = family(
            "paramedic_component_last_drill_success_timestamp_seconds",
            "When the last drill within objectives started",
        )
        for row in rows:
            name = row.name
            state.add(name, 1.0, row.state)
            up.add(name, 1.0 if row.state == "healthy" else 0.0)
            if row.last_ok is not None:
                last_ok.add(name, 1.0 if row.last_ok else 0.0)
            rto.add(name, row.rto_s)
            rpo.add(name, row.rpo_s)
            if name in measured:
                m_rto, m_rpo = measured[name]
                if m_rto is not None:
                    last_rto.add(name, m_rto)
                if m_rpo is not None:
                    last_rpo.add(name, m_rpo)
            if name in newest:
                exposure.add(name, max(0.0, (now - newest[name]).total_seconds()))
            if name in scores:
                score.add(name, scores[name])
            opened = open_by.get(name)
            incident.add(name, 1.0 if opened else 0.0)
            down.add(name, max(0.0, (now - opened.failed_at).total_seconds()) if opened else 0.0)
            if name in drilled:
                drill.add(name, drilled[name])
        return [
            state,
            up,
            last_ok,
            rto,
            rpo,
            last_rto,
            last_rpo,
            exposure,
            score,
            incident,
            down,
            drill,
        ]

    def _last_measured(self) -> dict[str, tuple[float | None, float | None]]:
        out: dict[str, tuple[float | None, float | None]] = {}
        for row in self._store.incidents(limit=100_000):  # newest first: the first one wins
            if row.state == "recovered" and row.component not in out:
                out[row.component] = (row.measured_rto_s, row.measured_rpo_s)
        return out

    def _newest_points(self) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for point in self._store.recovery_points():
            if point.component not in out or point.taken_at > out[point.component]:
                out[point.component] = point.taken_at
        return out

    def _last_good_drill(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for row in self._store.drills():
            if row.verdict == "met":
                out[row.component] = max(out.get(row.component, 0.0), row.started_at.timestamp())
        return out

    def stale(self) -> None:
        """Rescore at the next read (a recovery or an escalation added evidence)."""
        self._scored_at = -math.inf

    def recoverability(self, catalog: Catalog, now: datetime) -> dict[str, float]:
        """Score per component from the report, rebuilt at most every ``SCORE_EVERY_S``."""
        with self._lock:
            if time.monotonic() - self._scored_at >= SCORE_EVERY_S:
                from paramedic.report.model import build_report

                report = build_report(catalog, self._store, now, stale_after=timedelta(days=30))
                self._scores = {c.name: float(c.score.score) for c in report.components}
                self._scored_at = time.monotonic()
            return dict(self._scores)


class AgentMetrics:
    """The agent's registry: event-driven counters and histograms, plus the store collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector: StoreCollector | None = None
        r = self.registry
        self.checks = Counter(
            "paramedic_checks", "Checks run, by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.check_duration = Histogram(
            "paramedic_check_duration_seconds",
            "How long checks take, by kind",
            ["kind"],
            buckets=CHECK_BUCKETS,
            registry=r,
        )
        self.recovery_duration = Histogram(
            "paramedic_recovery_duration_seconds",
            "From detection to verified recovery, by the strategy that recovered",
            ["strategy"],
            buckets=RECOVERY_BUCKETS,
            registry=r,
        )
        self.opened = Counter("paramedic_incidents_opened", "Incidents opened", registry=r)
        self.recovered = Counter("paramedic_incidents_recovered", "Incidents recovered", registry=r)
        self.escalated = Counter("paramedic_incidents_escalated", "Incidents escalated", registry=r)
        self.sent = Counter("paramedic_notifications_sent", "Notifications delivered", registry=r)
        self.failed = Counter(
            "paramedic_notifications_failed", "Notifications given up on", registry=r
        )
        self.alerts = Counter(
            "paramedic_alerts_received",
            "Alertmanager alerts received, by status",
            ["status"],
            registry=r,
        )

    def watch_store(
        self, store: Store, catalog: Callable[[], Catalog], snapshot: Callable[[], Snapshot]
    ) -> None:
        """Add the per-component gauges read from ``store`` at scrape time."""
        self._collector = StoreCollector(store, catalog, snapshot)
        self.registry.register(self._collector)

    def scores(self, catalog: Catalog, now: datetime) -> dict[str, float]:
        """Recoverability score per component (rebuilt at most once a minute)."""
        collector = self._collector
        return {} if collector is None else collector.recoverability(catalog, now)

    def observe_check(self, kind: str, ok: bool, duration_s: float) -> None:
        """Count one check and its duration."""
        self.checks.labels(kind, "success" if ok else "failure").inc()
        self.check_duration.labels(kind).observe(max(0.0, duration_s))

    def observe_recovery(self, strategy: str, seconds: float) -> None:
        """One verified recovery and how long it took."""
        self.recovery_duration.labels(strategy).observe(max(0.0, seconds))

    def notification(self, status: str) -> None:
        """One notification finished: delivered or given up on."""
        (self.sent if status in ("sent", "delivered") else self.failed).inc()

    def on_decision(self, record: dict[str, Any]) -> None:
        """A decision-log listener: incidents opened, recovered, escalated."""
        decision = record.get("decision")
        if decision in ("recovered", "escalate") and self._collector is not None:
            self._collector.stale()  # new evidence: the next scrape rescores
        if decision in OPENED:
            self.opened.inc()
        elif decision == "recovered":
            self.recovered.inc()
        elif decision == "escalate":
            self.escalated.inc()

    def exposition(self) -> bytes:
        """The text exposition of every series."""
        text = prometheus_client.generate_latest(self.registry)
        if self._collector is not None:
            text += self._collector.component_text().encode()
        return text


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[Depends(require_read)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus exposition (``promtool check metrics`` clean)."""
    ctx = request.app.state.ctx
    body = ctx.metrics.exposition() if ctx.metrics is not None else b""
    return Response(body, media_type=prometheus_client.CONTENT_TYPE_LATEST)
