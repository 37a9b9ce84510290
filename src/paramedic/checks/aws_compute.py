"""Probes of the AWS compute check kinds: EC2 status, ELBv2 target health, Route 53 health checks.

Verdicts:

- ``aws.ec2_status``: passes when the instance is running and both status
  checks (instance, system) are ``ok`` (``insufficient-data`` passes, saying
  so). A state other than running fails as ``exited`` ("instance i-… is
  stopped"); ``impaired`` or ``initializing`` status fails as ``bad_response``.
- ``aws.target_health``: the instance is ``healthy`` in the target group; any
  other state fails as ``bad_response`` with AWS's reason code. Without an
  instance (an Auto Scaling group), every registered target but draining ones
  must be healthy.
- ``aws.route53_health``: most of the health check's checkers report success.

The instance is the check's ``instance_id``, else the component's current one
(``paramedic:component`` tag, else ``spec.instance_id``). An API error is a
failed verdict (``error``) with the ``AwsError`` line; a probe never raises.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from paramedic.catalog.aws import Ec2StatusCheck, Route53HealthCheck, TargetHealthCheck
from paramedic.checks.probe import ProbeContext, Verdict, failed, passed
from paramedic.checks.result import FailureClass
from paramedic.errors import ProviderError


async def _instance_of(check: Ec2StatusCheck | TargetHealthCheck) -> str | None:
    """The instance the check watches: its own ``instance_id``, else the component's current one."""
    from paramedic.providers.aws.ec2 import current_instance

    if check.instance_id:
        return check.instance_id
    spec_id = check.spec.get("instance_id")
    if not isinstance(spec_id, str):
        return None
    return await current_instance(check.settings, check.component, spec_id)


async def probe_ec2_status(check: Ec2StatusCheck, ctx: ProbeContext) -> Verdict:
    """Instance state running and both status checks passing."""
    from paramedic.providers.aws.session import call, client

    try:
        instance_id = await _instance_of(check)
        if instance_id is None:
            return failed(
                FailureClass.error,
                f"aws.ec2_status of {check.component} needs instance_id "
                "(the component's spec has none)",
            )
        answer = await call(
            client(check.settings, "ec2"),
            "DescribeInstanceStatus",
            instance_id,
            InstanceIds=[instance_id],
            IncludeAllInstances=True,
        )
    except ProviderError as exc:
        return failed(FailureClass.error, str(exc))
    statuses = answer.get("InstanceStatuses", [])
    if not statuses:
        return failed(FailureClass.exited, f"instance {instance_id} is not found")
    status = statuses[0]
    state = str(status.get("InstanceState", {}).get("Name", "unknown"))
    if state != "running":
        return failed(FailureClass.exited, f"instance {instance_id} is {state}")
    instance = str(status.get("InstanceStatus", {}).get("Status", "not-applicable"))
    system = str(status.get("SystemStatus", {}).get("Status", "not-applicable"))
    seen = f"instance {instance_id} running, instance status {instance}, system status {system}"
    if "impaired" in (instance, system) or "initializing" in (instance, system):
        return failed(FailureClass.bad_response, seen)
    if instance == system == "ok":
        return passed(f"instance {instance_id} running, status checks ok")
    return passed(seen)


async def probe_target_health(check: TargetHealthCheck, ctx: ProbeContext) -> Verdict:
    """The instance (or, for a group, every registered target) is healthy in the target group."""
    from paramedic.providers.aws.elbv2 import group_name, target_health

    group = f"target group {group_name(check.target_group_arn)}"
    try:
        instance_id = await _instance_of(check)
        targets = await target_health(
            check.settings, check.target_group_arn, instance_id, check.port
        )
    except ProviderError as exc:
        return failed(FailureClass.error, str(exc))
    if instance_id is not None:
        target = next((t for t in targets if t.instance_id == instance_id), None)
        if target is None:
            return failed(FailureClass.bad_response, f"{instance_id} is not a target of {group}")
        if target.healthy:
            return passed(f"{instance_id} healthy in {group}")
        return failed(FailureClass.bad_response, f"{instance_id} is {target.summary()} in {group}")
    counted = [t for t in targets if t.state != "draining"]
    sick = [t for t in counted if not t.healthy]
    if not counted:
        return failed(FailureClass.bad_response, f"{group} has no registered target")
    if sick:
        shown = "; ".join(f"{t.instance_id} {t.summary()}" for t in sick[:3])
        return failed(
            FailureClass.bad_response,
            f"{len(sick)} of {len(counted)} targets of {group} not healthy: {shown}",
        )
    return passed(f"{len(counted)} of {len(counted)} targets healthy in {group}")


async def probe_route53_health(check: Route53HealthCheck, ctx: ProbeContext) -> Verdict:
    """Most Route 53 checkers report success for the health check."""
    from paramedic.providers.aws.route53 import health_check_status

    try:
        status = await health_check_status(check.settings, check.health_check_id)
    except ProviderError as exc:
        return failed(FailureClass.error, str(exc))
    counts = f"{status.healthy_checkers} of {status.checkers} checkers report success"
    where = f"Route 53 health check {check.health_check_id}"
    if status.healthy:
        return passed(f"{where}: {counts}")
    if status.checkers == 0:
        return failed(FailureClass.bad_response, f"{where}: no checker has reported yet")
    return failed(FailureClass.bad_response, f"{where}: {counts}: {status.sample}")


PROBES: dict[str, Callable[[Any, ProbeContext], Awaitable[Verdict]]] = {
    "aws.ec2_status": probe_ec2_status,
    "aws.target_health": probe_target_health,
    "aws.route53_health": probe_route53_health,
}
"""Check kind -> probe; registered by paramedic.checks.registry."""
