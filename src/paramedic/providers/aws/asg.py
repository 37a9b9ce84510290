"""The ``aws.asg`` provider: recover through an Auto Scaling group.

replace_instance marks the group's unhealthy instances (or the one the
component's check names) ``Unhealthy`` with ``SetInstanceHealth`` and waits
until the group has its desired capacity of InService, Healthy instances (and,
when the component's check is ``aws.target_health``, healthy in that target
group). Auto Scaling itself terminates and replaces the marked instances:
paramedic never terminates one. scale_out raises the desired capacity by the
step's count, within the group's maximum; the group is tagged
``paramedic:scale-out=<incident>-<step> FROM->TO`` so a repeated step does not
raise it twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from paramedic.catalog.aws import Ec2StatusCheck, TargetHealthCheck
from paramedic.catalog.model import ReplaceInstance, ScaleOut
from paramedic.errors import ProviderError
from paramedic.providers.aws import elbv2
from paramedic.providers.aws.compute_specs import ASG, AsgSpec
from paramedic.providers.aws.ec2 import spec_of, step_budget
from paramedic.providers.aws.session import call, client, wait_for
from paramedic.providers.base import ActionContext, ActionResult, ProviderInfo

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

SCALE_OUT_TAG = "paramedic:scale-out"

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws.asg:replace_instance": (
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetInstanceHealth",
        "elasticloadbalancing:DescribeTargetHealth",
    ),
    "aws.asg:scale_out": (
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:CreateOrUpdateTags",
    ),
}
"""Feature -> IAM actions (DescribeTargetHealth only with an ``aws.target_health`` check)."""


class AsgProvider:
    """Has an Auto Scaling group replace unhealthy instances or grow."""

    info: ProviderInfo = ASG
    start_if_down: bool = True
    """Ignored: an AWS resource is never started by taking charge of it."""

    def __init__(self, *, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        self.spec: AsgSpec = spec_of(ASG, catalog, name)
        self.settings = catalog.aws_for(name)

    async def start(self) -> None:
        """Nothing to take charge of: the group runs its instances."""

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release."""

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        group = self.spec.group
        if isinstance(step, ReplaceInstance):
            return (
                f"mark the unhealthy instances of Auto Scaling group {group} Unhealthy and wait "
                "until the group has its desired capacity of healthy instances again"
            )
        if isinstance(step, ScaleOut):
            return f"raise the desired capacity of Auto Scaling group {group} by {step.count}, within its max"
        return f"nothing: the aws.asg provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        if isinstance(step, ReplaceInstance):
            return await self._replace(step)
        if isinstance(step, ScaleOut):
            return await self._scale_out(step, ctx)
        raise ProviderError(
            f"component {self.name!r}: the aws.asg provider cannot carry out {step.strategy}; "
            "use replace_instance or scale_out"
        )

    async def group(self) -> dict[str, Any]:
        """The group as DescribeAutoScalingGroups shows it; ProviderError when it does not exist."""
        autoscaling = client(self.settings, "autoscaling")
        answer = await call(
            autoscaling,
            "DescribeAutoScalingGroups",
            self.spec.group,
            AutoScalingGroupNames=[self.spec.group],
        )
        groups = answer.get("AutoScalingGroups", [])
        if not groups:
            raise ProviderError(
                f"component {self.name!r}: Auto Scaling group {self.spec.group!r} does not exist "
                f"in region {self.settings.region or 'default'}; fix spec.group or aws.region"
            )
        found: dict[str, Any] = groups[0]
        return found

    async def healthy_instances(self, group: dict[str, Any]) -> list[str]:
        """Instances InService and Healthy (and healthy in the check's target group, if any)."""
        ids = [
            str(i["InstanceId"])
            for i in group.get("Instances", [])
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
        ]
        check = self.catalog.components[self.name].health
        if isinstance(check, TargetHealthCheck) and ids:
            targets = await elbv2.target_health(self.settings, check.target_group_arn)
            serving = {t.instance_id for t in targets if t.healthy}
            ids = [i for i in ids if i in serving]
        return ids

    async def _sick(self, group: dict[str, Any], in_service: list[str]) -> list[str]:
        """In-service instances that are unhealthy: to Auto Scaling, or in the check's target group.

        A target still registering (``initial``) or not registered yet is starting, not sick; a
        draining one is on its way out.
        """
        health = {str(i["InstanceId"]): i.get("HealthStatus") for i in group.get("Instances", [])}
        sick = [i for i in in_service if health.get(i) != "Healthy"]
        check = self.catalog.components[self.name].health
        if isinstance(check, TargetHealthCheck):
            targets = await elbv2.target_health(self.settings, check.target_group_arn)
            state = {t.instance_id: t.state for t in targets}
            sick += [
                i
                for i in in_service
                if i not in sick
                and state.get(i, "initial") not in ("healthy", "initial", "draining")
            ]
        return sick

    async def _replace(self, step: ReplaceInstance) -> ActionResult:
        within = step_budget(step)
        if self.spec.min_healthy_wait is not None:
            within = min(within, self.spec.min_healthy_wait)
        group = await self.group()
        # Only instances in service may be marked: a Pending one is the replacement Auto Scaling
        # is launching (after a crash, the step runs again while it boots) and a Terminating or
        # Standby one is no longer serving; marking either would have it terminated for nothing.
        in_service = [
            str(i["InstanceId"])
            for i in group.get("Instances", [])
            if i.get("LifecycleState") == "InService"
        ]
        check = self.catalog.components[self.name].health
        named = check.instance_id if isinstance(check, Ec2StatusCheck | TargetHealthCheck) else None
        if named is not None and named in in_service:
            marked = [named]
        else:
            marked = await self._sick(group, in_service)
        autoscaling = client(self.settings, "autoscaling")
        for instance_id in marked:
            await call(
                autoscaling,
                "SetInstanceHealth",
                instance_id,
                InstanceId=instance_id,
                HealthStatus="Unhealthy",
                ShouldRespectGracePeriod=False,
            )
        desired = int(group["DesiredCapacity"])
        serving = await self._wait_healthy(desired, set(marked), within)
        first = (
            f"marked {', '.join(marked)} Unhealthy in {self.spec.group}"
            if marked
            else f"no unhealthy instance in {self.spec.group} to mark"
        )
        output = (
            f"{first}; the group has {len(serving)}/{desired} healthy instances: "
            f"{', '.join(serving) or 'none'}"
        )
        return ActionResult(output, detail={"marked": marked, "healthy": serving})

    async def _wait_healthy(self, desired: int, marked: set[str], within: timedelta) -> list[str]:
        async def enough() -> list[str] | None:
            serving = [
                i for i in await self.healthy_instances(await self.group()) if i not in marked
            ]
            return serving if len(serving) >= desired else None

        return await wait_for(
            enough,
            within=within,
            interval=self.settings.poll,
            what=f"Auto Scaling group {self.spec.group} to have {desired} healthy instances",
        )

    async def _scale_out(self, step: ScaleOut, ctx: ActionContext) -> ActionResult:
        group = await self.group()
        marker = f"{ctx.incident_id}-{ctx.step_index}"
        desired, maximum = int(group["DesiredCapacity"]), int(group["MaxSize"])
        tags = {str(t["Key"]): str(t.get("Value", "")) for t in group.get("Tags", [])}
        done_before = tags.get(SCALE_OUT_TAG, "")
        detail: dict[str, Any] = {"group": self.spec.group, "max": maximum}
        autoscaling = client(self.settings, "autoscaling")
        if done_before.startswith(marker + " "):
            target = int(done_before.rsplit("->", 1)[-1])
            output = f"desired capacity of {self.spec.group} was raised to {target} for this step"
            if desired < target:  # the agent stopped between the tag and SetDesiredCapacity
                await self._set_desired(autoscaling, target)
        else:
            if desired >= maximum:
                raise ProviderError(
                    f"component {self.name!r}: Auto Scaling group {self.spec.group} is already at "
                    f"its maximum size ({desired} of max {maximum}); scale_out cannot add "
                    "instances: raise the group's MaxSize"
                )
            target = min(desired + step.count, maximum)
            # The tag first: a step run again after a crash finds it and does not raise twice.
            await call(
                autoscaling,
                "CreateOrUpdateTags",
                self.spec.group,
                Tags=[
                    {
                        "ResourceId": self.spec.group,
                        "ResourceType": "auto-scaling-group",
                        "Key": SCALE_OUT_TAG,
                        "Value": f"{marker} {desired}->{target}",
                        "PropagateAtLaunch": False,
                    }
                ],
            )
            await self._set_desired(autoscaling, target)
            capped = f" (capped at max {maximum})" if target < desired + step.count else ""
            output = (
                f"raised desired capacity of {self.spec.group} from {desired} to {target}{capped}"
            )
        serving = await self._wait_healthy(target, set(), step_budget(step))
        detail.update(desired=target, healthy=serving)
        return ActionResult(f"{output}; {len(serving)} healthy instances", detail=detail)

    async def _set_desired(self, autoscaling: Any, target: int) -> None:
        await call(
            autoscaling,
            "SetDesiredCapacity",
            self.spec.group,
            AutoScalingGroupName=self.spec.group,
            DesiredCapacity=target,
            HonorCooldown=False,
        )


__all__ = ["IAM_ACTIONS", "AsgProvider"]
