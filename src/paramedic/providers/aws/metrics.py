"""The agent's own CloudWatch metrics (``agent.metrics_namespace``).

Every datum carries the dimension ``Component``. Metric names:

| metric | unit | when |
|---|---|---|
| ``Healthy`` | None (0 or 1) | after each check of a component |
| ``IncidentsOpened`` | Count | an incident opens |
| ``MeasuredRTO`` / ``MeasuredRPO`` | Seconds | a recovery ends with measured figures |
| ``RecoveriesSucceeded`` / ``RecoveriesFailed`` | Count | a recovery ends (``outcome``) |

Data are buffered and sent by ``flush`` with ``PutMetricData``, at most 1,000 datums per
call (the API's limit); the buffer also flushes itself when it holds that many (a refusal then is logged, not
raised, and at most 10,000 datums are kept).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.errors import ParamedicError
from paramedic.providers.aws import session

log = logging.getLogger(__name__)

IAM_ACTIONS: dict[str, tuple[str, ...]] = {"agent:metrics_namespace": ("cloudwatch:PutMetricData",)}
"""Feature -> the IAM actions it calls."""

BATCH = 1000
"""Datums per PutMetricData call (CloudWatch's limit)."""

_KEPT = 10 * BATCH
_SUCCEEDED = frozenset({"recovered", "succeeded", "success", "ok", "recovery_succeeded"})


class MetricsPublisher:
    """Buffers the agent's metrics for one namespace and sends them in batches."""

    def __init__(self, settings: AwsSettings, namespace: str) -> None:
        self.settings = settings
        self.namespace = namespace
        self._buffer: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Datums buffered and not sent yet."""
        return len(self._buffer)

    async def component_health(self, component: str, ok: bool) -> None:
        """``Healthy`` = 1 when the component's check passed, else 0."""
        await self._add(component, "Healthy", 1.0 if ok else 0.0, "None")

    async def incident_opened(self, component: str) -> None:
        """``IncidentsOpened`` += 1."""
        await self._add(component, "IncidentsOpened", 1.0, "Count")

    async def recovery_measured(
        self, component: str, rto_s: float | None, rpo_s: float | None, outcome: str
    ) -> None:
        """The end of a recovery: measured RTO/RPO (when known) and its outcome.

        ``outcome`` ``recovered`` (or ``succeeded``) counts in ``RecoveriesSucceeded``;
        anything else (``failed``, ``escalated``) in ``RecoveriesFailed``.
        """
        if rto_s is not None:
            await self._add(component, "MeasuredRTO", rto_s, "Seconds")
        if rpo_s is not None:
            await self._add(component, "MeasuredRPO", rpo_s, "Seconds")
        name = "RecoveriesSucceeded" if outcome.lower() in _SUCCEEDED else "RecoveriesFailed"
        await self._add(component, name, 1.0, "Count")

    async def flush(self) -> int:
        """Send everything buffered; returns the number of datums sent (AwsError on refusal).

        Datums of a refused batch stay buffered for the next flush.
        """
        async with self._lock:
            sent = 0
            cloudwatch = session.client(self.settings, "cloudwatch")
            while self._buffer:
                batch = self._buffer[:BATCH]
                await session.call(
                    cloudwatch,
                    "PutMetricData",
                    self.namespace,
                    Namespace=self.namespace,
                    MetricData=batch,
                )
                del self._buffer[: len(batch)]
                sent += len(batch)
            return sent

    async def _add(self, component: str, metric: str, value: float, unit: str) -> None:
        self._buffer.append(
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "Component", "Value": component}],
                "Timestamp": datetime.now(UTC),
                "Value": float(value),
                "Unit": unit,
            }
        )
        if len(self._buffer) > _KEPT:  # AWS has refused for long: keep the newest only
            del self._buffer[: len(self._buffer) - _KEPT]
        if len(self._buffer) >= BATCH and not self._lock.locked():
            try:
                await self.flush()
            except ParamedicError as exc:  # an observer never breaks the agent
                log.warning(
                    "CloudWatch metrics %s: not sent, kept for later: %s", self.namespace, exc
                )
