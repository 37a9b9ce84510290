"""ELBv2 target groups: register and deregister an instance, read its target health.

The re-pointing step of EC2 recoveries and the ``aws.target_health`` check use
these; every call goes through ``session.call`` (errors are ``AwsError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws.session import call, client

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "repoint:target_group": (
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DeregisterTargets",
    ),
    "check:aws.target_health": ("elasticloadbalancing:DescribeTargetHealth",),
}


@dataclass(frozen=True)
class TargetHealth:
    """One target's health in a target group (``state``: healthy, unhealthy, draining, unused, …)."""

    instance_id: str
    port: int | None
    state: str
    reason: str = ""
    description: str = ""

    @property
    def healthy(self) -> bool:
        """True when the load balancer sends it traffic."""
        return self.state == "healthy"

    def summary(self) -> str:
        """``unhealthy (Target.ResponseCodeMismatch: Health checks failed)``."""
        why = ": ".join(part for part in (self.reason, self.description) if part)
        return f"{self.state} ({why})" if why else self.state


def group_name(tg_arn: str) -> str:
    """``web`` of ``arn:aws:elasticloadbalancing:…:targetgroup/web/50dc6c495c0c9188``."""
    _, _, path = tg_arn.partition(":targetgroup/")
    return path.split("/", 1)[0] if path else tg_arn


def _target(instance_id: str, port: int | None) -> dict[str, Any]:
    return {"Id": instance_id} if port is None else {"Id": instance_id, "Port": port}


async def register_target(
    settings: AwsSettings, tg_arn: str, instance_id: str, port: int | None = None
) -> None:
    """Register ``instance_id`` in target group ``tg_arn`` (at ``port``, else the group's port)."""
    elbv2 = client(settings, "elbv2")
    await call(
        elbv2,
        "RegisterTargets",
        tg_arn,
        TargetGroupArn=tg_arn,
        Targets=[_target(instance_id, port)],
    )


async def deregister_target(
    settings: AwsSettings, tg_arn: str, instance_id: str, port: int | None = None
) -> None:
    """Deregister ``instance_id`` from ``tg_arn`` (a target that is not registered is no error)."""
    elbv2 = client(settings, "elbv2")
    await call(
        elbv2,
        "DeregisterTargets",
        tg_arn,
        TargetGroupArn=tg_arn,
        Targets=[_target(instance_id, port)],
    )


async def target_health(
    settings: AwsSettings, tg_arn: str, instance_id: str | None = None, port: int | None = None
) -> list[TargetHealth]:
    """Health of the registered targets of ``tg_arn``, or of ``instance_id`` alone.

    Asked about one instance, AWS answers even when it is not registered
    (``unused``, ``Target.NotRegistered``).
    """
    elbv2 = client(settings, "elbv2")
    kwargs: dict[str, Any] = {"TargetGroupArn": tg_arn}
    if instance_id is not None:
        kwargs["Targets"] = [_target(instance_id, port)]
    answer = await call(elbv2, "DescribeTargetHealth", tg_arn, **kwargs)
    found: list[TargetHealth] = []
    for item in answer.get("TargetHealthDescriptions", []):
        target = item.get("Target", {})
        health = item.get("TargetHealth", {})
        found.append(
            TargetHealth(
                instance_id=str(target.get("Id", "")),
                port=target.get("Port"),
                state=str(health.get("State", "unknown")),
                reason=str(health.get("Reason", "")),
                description=str(health.get("Description", "")),
            )
        )
    return found
