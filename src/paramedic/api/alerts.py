"""``POST /api/v1/alerts/alertmanager``: Alertmanager's webhook receiver (payload version 4).

A firing alert that matches a component's ``alerts.matchers`` (default
``paramedic_component="<name>"``) makes the agent check that component at once;
with ``alerts.action: recover`` the failed check is certain, so the incident opens
at the first failure instead of after ``failures`` of them. Recovery is still
verified by the component's own check. Alertmanager re-sends firing alerts at every
``repeat_interval`` and sends each resolution: the receiver remembers each alert's
fingerprint and acts once per firing episode.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from paramedic.api.context import ApiContext
from paramedic.api.deps import caller, context, require_write
from paramedic.api.models import Error

router = APIRouter(
    prefix="/api/v1/alerts",
    tags=["alerts"],
    responses={code: {"model": Error} for code in (400, 401, 422)},
)


class Alert(BaseModel):
    """One alert of the webhook payload."""

    model_config = ConfigDict(extra="allow")
    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    fingerprint: str | None = Field(None, max_length=128)


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    model_config = ConfigDict(extra="allow")
    version: str = Field(pattern="^4$", description='Alertmanager\'s webhook payload version: "4"')
    status: str | None = None
    receiver: str | None = None
    alerts: list[Alert] = Field(max_length=10_000)


class AlertOutcome(BaseModel):
    """What the receiver did with a payload."""

    received: int
    acted: list[str] = Field(description="components checked at once (firing, first time)")
    resolved: list[str]
    repeats: int = Field(description="alerts already acted on (Alertmanager re-sends them)")
    unmatched: int


class AlertIntake:
    """The firing alerts acted on, by fingerprint: one action per firing episode."""

    def __init__(self) -> None:
        self._firing: dict[str, str] = {}
        self._lock = threading.Lock()

    def take(self, ctx: ApiContext, payload: WebhookPayload) -> AlertOutcome:
        """Match every alert to components and act on the new firing ones and the resolutions."""
        catalog = ctx.core.catalog
        acted: list[str] = []
        resolved: list[str] = []
        repeats = unmatched = 0
        for alert in payload.alerts:
            names = [n for n, c in catalog.components.items() if c.alerts.matches(n, alert.labels)]
            if not names:
                unmatched += 1
                continue
            key = alert.fingerprint or _fingerprint(alert.labels)
            summary = _summary(alert)
            for name in names:
                episode = f"{key}/{name}"
                with self._lock:
                    seen = episode in self._firing
                    if alert.status == "firing":
                        self._firing[episode] = alert.startsAt or ""
                    else:
                        self._firing.pop(episode, None)
                if alert.status == "firing" and not seen:
                    acted.append(name)
                    recover = catalog.components[name].alerts.action == "recover"
                    ctx.core.alert(name, summary, recover)
                elif alert.status == "firing":
                    repeats += 1
                elif seen:
                    resolved.append(name)
                    ctx.core.alert_resolved(name, summary)
                else:
                    repeats += 1
        if ctx.metrics is not None:
            for alert in payload.alerts:
                ctx.metrics.alerts.labels(alert.status).inc()
        return AlertOutcome(
            received=len(payload.alerts),
            acted=acted,
            resolved=resolved,
            repeats=repeats,
            unmatched=unmatched,
        )


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _summary(alert: Alert) -> str:
    name = alert.labels.get("alertname", "alert")
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return f"Alertmanager: {name} {alert.status}" + (f": {text}" if text else "")


@router.post("/alertmanager", response_model=AlertOutcome, dependencies=[Depends(require_write)])
def alertmanager(
    ctx: Annotated[ApiContext, Depends(context)], request: Request, payload: WebhookPayload
) -> AlertOutcome:
    """Alertmanager's webhook (``http_config.authorization`` carries the token)."""
    intake: AlertIntake = request.app.state.alerts
    outcome = intake.take(ctx, payload)
    if outcome.acted or outcome.resolved:
        ctx.store.audit(
            actor=caller(request),
            action="api.alert",
            subject=",".join(sorted({*outcome.acted, *outcome.resolved})),
            detail={"acted": outcome.acted, "resolved": outcome.resolved},
        )
    return outcome
