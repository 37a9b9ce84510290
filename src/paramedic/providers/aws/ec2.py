"""The ``aws.ec2`` provider: one EC2 instance, restarted in place or replaced by a new one.

Which instance serves a component is told by its tag
``paramedic:component=<component>``: ``start`` puts it on ``spec.instance_id``
when no instance carries it, ``replace_instance`` moves it to the replacement.
``current_instance`` reads it; the checks, the EventBridge matcher and the
agent use it, so after a replacement everyone watches the new instance.

restart_service (``spec.restart_by``): ``ssm`` runs ``restart_command`` through
Run Command, ``reboot`` reboots, ``stop_start`` stops and starts (a new host).
An instance found stopped is started instead. Idempotency: the SSM command
carries the comment ``paramedic <incident>-<step>``; a reboot or stop/start
leaves the tag ``paramedic:restarted=<incident>-<step>``. replace_instance:
see ``ec2_replace``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from paramedic.catalog.aws import AwsSettings
from paramedic.catalog.model import ReplaceInstance, RestartService
from paramedic.errors import ProviderError
from paramedic.providers.aws import ssm
from paramedic.providers.aws.compute_specs import COMPONENT_TAG, EC2, Ec2Spec
from paramedic.providers.aws.session import AwsError, call, client, collect, error_code, wait_for
from paramedic.providers.base import (
    ActionContext,
    ActionResult,
    FaultContext,
    InjectedFault,
    ProviderInfo,
)

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

_log = logging.getLogger(__name__)

RESTARTED_TAG = "paramedic:restarted"
LIVE_STATES = ("pending", "running", "stopping", "stopped")

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "start:aws.ec2": ("ec2:DescribeInstances", "ec2:CreateTags"),
    "aws.ec2:restart_service": (
        "ec2:DescribeInstances",
        "ec2:RebootInstances",
        "ec2:StopInstances",
        "ec2:StartInstances",
        "ec2:CreateTags",
        *ssm.ACTIONS,
    ),
    "aws.ec2:replace_instance": (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:RunInstances",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:StopInstances",
        "iam:PassRole",
    ),
    "terminate:aws.ec2": ("ec2:TerminateInstances",),
    "repoint:elastic_ip": ("ec2:DescribeAddresses", "ec2:AssociateAddress"),
    "repoint:network_interface": (
        "ec2:DescribeNetworkInterfaces",
        "ec2:DetachNetworkInterface",
        "ec2:AttachNetworkInterface",
    ),
    "repoint:data_volume": (
        "ec2:DescribeVolumes",
        "ec2:StopInstances",
        "ec2:DetachVolume",
        "ec2:AttachVolume",
    ),
    "check:aws.ec2_status": ("ec2:DescribeInstances", "ec2:DescribeInstanceStatus"),
    "fault:aws.ec2:stop-instance": (
        "ec2:DescribeInstances",
        "ec2:StopInstances",
        "ec2:StartInstances",
    ),
    "fault:aws.ec2:reboot-instance": ("ec2:DescribeInstances", "ec2:RebootInstances"),
}
"""Feature -> IAM actions it calls (``aws.ec2:replace_instance`` needs ``repoint:*`` as the spec asks;
``terminate:aws.ec2`` only with ``on_replace: terminate``; ``iam:PassRole`` is needed only with
an instance profile)."""


# ---------------------------------------------------------------- instances


def tags_of(instance: dict[str, Any]) -> dict[str, str]:
    """An instance's tags as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in instance.get("Tags", [])}


def state_of(instance: dict[str, Any]) -> str:
    """``running``, ``stopped``, …"""
    return str(instance.get("State", {}).get("Name", "unknown"))


async def describe_instance(settings: AwsSettings, instance_id: str) -> dict[str, Any] | None:
    """The instance as DescribeInstances shows it; None when AWS does not know it."""
    ec2 = client(settings, "ec2")
    try:
        answer = await call(ec2, "DescribeInstances", instance_id, InstanceIds=[instance_id])
    except AwsError as exc:
        if error_code(exc) in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            return None
        raise
    for reservation in answer.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            found: dict[str, Any] = instance
            return found
    return None


async def find_instances(settings: AwsSettings, tags: dict[str, str]) -> list[dict[str, Any]]:
    """Instances (not terminated) carrying every tag of ``tags``, newest launch first."""
    ec2 = client(settings, "ec2")
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    filters.append({"Name": "instance-state-name", "Values": list(LIVE_STATES)})
    what = ",".join(f"{k}={v}" for k, v in tags.items())
    reservations = await collect(ec2, "DescribeInstances", "Reservations", what, Filters=filters)
    found = [i for r in reservations for i in r.get("Instances", [])]
    return sorted(found, key=lambda i: str(i.get("LaunchTime", "")), reverse=True)


async def current_instance(settings: AwsSettings, component: str, spec_instance_id: str) -> str:
    """The instance serving ``component`` now: the newest tagged ``paramedic:component``, else the spec's."""
    tagged = await find_instances(settings, {COMPONENT_TAG: component})
    return str(tagged[0]["InstanceId"]) if tagged else spec_instance_id


async def wait_state(
    settings: AwsSettings, instance_id: str, states: set[str], within: timedelta
) -> dict[str, Any]:
    """Wait until the instance is in one of ``states``; returns it as described then."""

    async def probe() -> dict[str, Any] | None:
        instance = await describe_instance(settings, instance_id)
        if instance is None:
            raise ProviderError(f"instance {instance_id} disappeared while paramedic waited for it")
        return instance if state_of(instance) in states else None

    wanted = " or ".join(sorted(states))
    return await wait_for(
        probe, within=within, interval=settings.poll, what=f"instance {instance_id} to be {wanted}"
    )


async def set_tags(settings: AwsSettings, instance_ids: list[str], tags: dict[str, str]) -> None:
    """Put ``tags`` on the instances (CreateTags overwrites a key's value)."""
    ec2 = client(settings, "ec2")
    await call(
        ec2,
        "CreateTags",
        ",".join(instance_ids),
        Resources=instance_ids,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


async def remove_tags(settings: AwsSettings, instance_ids: list[str], keys: list[str]) -> None:
    """Take the tag ``keys`` off the instances."""
    ec2 = client(settings, "ec2")
    await call(
        ec2,
        "DeleteTags",
        ",".join(instance_ids),
        Resources=instance_ids,
        Tags=[{"Key": k} for k in keys],
    )


async def change_state(settings: AwsSettings, operation: str, instance_id: str) -> None:
    """StopInstances / StartInstances / RebootInstances / TerminateInstances of one instance."""
    await call(client(settings, "ec2"), operation, instance_id, InstanceIds=[instance_id])


def spec_of(info: ProviderInfo, catalog: Catalog, name: str) -> Any:
    """The component's ``spec`` validated by ``info.spec_model``; ProviderError names the key."""
    try:
        return info.spec_model.model_validate(catalog.components[name].spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["spec", *(str(part) for part in first["loc"])])
        message = first["msg"].removeprefix("Value error, ")
        raise ProviderError(
            f"component {name!r}: {where}: {message}; fix it in the catalog"
        ) from exc


def step_budget(step: Strategy) -> timedelta:
    """How long a step's waits may take: a little under its timeout, so they fail first, clearly."""
    return step.timeout * 0.9


# ---------------------------------------------------------------- the provider


class Ec2Provider:
    """Restarts one EC2 instance in place, or replaces it and re-points its clients."""

    info: ProviderInfo = EC2
    start_if_down: bool = True
    """Ignored: an AWS resource is never started by taking charge of it."""

    def __init__(self, *, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        self.spec: Ec2Spec = spec_of(EC2, catalog, name)
        self.settings = catalog.aws_for(name)

    async def current(self) -> str:
        """The instance serving the component now."""
        return await current_instance(self.settings, self.name, self.spec.instance_id)

    async def start(self) -> None:
        """Tag ``spec.instance_id`` as the component's instance when no instance carries the tag."""
        if await find_instances(self.settings, {COMPONENT_TAG: self.name}):
            return
        if await describe_instance(self.settings, self.spec.instance_id) is None:
            raise ProviderError(
                f"component {self.name!r}: spec.instance_id {self.spec.instance_id} does not exist "
                f"in region {self.settings.region or 'default'}; fix spec.instance_id or aws.region"
            )
        await set_tags(self.settings, [self.spec.instance_id], {COMPONENT_TAG: self.name})

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release: paramedic owns no process for an EC2 instance."""

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        spec = self.spec
        if isinstance(step, RestartService):
            mode = spec.restart_mode
            if mode == "ssm":
                return (
                    f"run `{spec.restart_line}` on {self.name}'s instance through SSM Run Command"
                )
            if mode == "stop_start":
                return f"stop {self.name}'s instance, wait until stopped, start it again"
            return f"reboot {self.name}'s instance (start it if it is stopped)"
        if isinstance(step, ReplaceInstance):
            source = (
                f"launch template {spec.launch_template.id or spec.launch_template.name} "
                f"({spec.launch_template.version})"
                if spec.launch_template
                else "the failed instance's AMI, type, subnet, security groups and tags"
            )
            moves = [
                f"{what} {ref}"
                for what, ref in (
                    ("ENI", spec.network_interface),
                    ("Elastic IP", spec.elastic_ip),
                    ("data volume", spec.data_volume),
                )
                if ref
            ]
            parts = [f"launch a replacement of {self.name}'s instance from {source}"]
            if moves:
                parts.append("move " + ", ".join(moves) + " to it")
            if spec.target_group_arns:
                parts.append(f"register it in {len(spec.target_group_arns)} target group(s)")
            if spec.route53:
                parts.append(f"UPSERT {spec.route53.name} {spec.route53.type} to its IP")
            parts.append(f"{spec.on_replace} the failed instance and tag it with the incident")
            return ", ".join(parts)
        return f"nothing: the aws.ec2 provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        if isinstance(step, RestartService):
            return await self._restart(step, ctx)
        if isinstance(step, ReplaceInstance):
            from paramedic.providers.aws.ec2_replace import replace_instance

            return await replace_instance(self, ctx, step_budget(step))
        raise ProviderError(
            f"component {self.name!r}: the aws.ec2 provider cannot carry out {step.strategy}; "
            "use restart_service or replace_instance"
        )

    async def _restart(self, step: RestartService, ctx: ActionContext) -> ActionResult:
        within = step_budget(step)
        instance_id = await self.current()
        instance = await describe_instance(self.settings, instance_id)
        if instance is None:
            raise ProviderError(
                f"component {self.name!r}: instance {instance_id} no longer exists; "
                "restart_service cannot bring it back: add replace_instance to the recovery"
            )
        marker = f"{ctx.incident_id}-{ctx.step_index}"
        state = state_of(instance)
        detail: dict[str, Any] = {"instance_id": instance_id, "restart_by": self.spec.restart_mode}
        if tags_of(instance).get(RESTARTED_TAG) == marker:
            return ActionResult(
                f"instance {instance_id} was already restarted for this step", detail=detail
            )
        if state in ("stopping", "stopped"):
            output = await self._start_stopped(instance_id, state, within)
            await set_tags(self.settings, [instance_id], {RESTARTED_TAG: marker})
            return ActionResult(output, detail=detail)
        if state == "pending":
            await wait_state(self.settings, instance_id, {"running"}, within)
        elif state != "running":
            raise ProviderError(
                f"component {self.name!r}: instance {instance_id} is {state}; restart_service "
                "cannot bring it back: add replace_instance to the recovery"
            )
        mode = self.spec.restart_mode
        if mode == "ssm":
            line = self.spec.restart_line or ""
            outcome = await ssm.run_shell(
                client(self.settings, "ssm"),
                instance_id,
                line,
                ssm.step_comment(ctx.incident_id, ctx.step_index),
                within=within,
                interval=self.settings.poll,
            )
            detail["command_id"] = outcome.command_id
            again = "" if outcome.resent else " (sent before this attempt; awaited)"
            shown = " ".join(outcome.stdout.split())[-300:]
            output = f"SSM command {outcome.command_id} on {instance_id}: `{line}` Success{again}"
            return ActionResult(output + (f": {shown}" if shown else ""), detail=detail)
        if mode == "reboot":
            await change_state(self.settings, "RebootInstances", instance_id)
            await wait_state(self.settings, instance_id, {"running"}, within)
            output = f"rebooted instance {instance_id}"
        else:
            await change_state(self.settings, "StopInstances", instance_id)
            await wait_state(self.settings, instance_id, {"stopped"}, within)
            await change_state(self.settings, "StartInstances", instance_id)
            await wait_state(self.settings, instance_id, {"running"}, within)
            output = f"stopped and started instance {instance_id}"
        await set_tags(self.settings, [instance_id], {RESTARTED_TAG: marker})
        return ActionResult(output, detail=detail)

    async def _start_stopped(self, instance_id: str, state: str, within: timedelta) -> str:
        if state == "stopping":
            await wait_state(self.settings, instance_id, {"stopped"}, within)
        await change_state(self.settings, "StartInstances", instance_id)
        await wait_state(self.settings, instance_id, {"running"}, within)
        return f"instance {instance_id} was {state}: started it"

    # ------------------------------------------------------------ faults (drills)

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Stop or reboot the component's instance (see ``ec2_faults``)."""
        from paramedic.providers.aws import ec2_faults

        return await ec2_faults.inject(self, fault, ctx)

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Start a stopped instance again if it is still stopped and still the component's."""
        from paramedic.providers.aws import ec2_faults

        return await ec2_faults.undo(self, injected, ctx)


__all__ = ["IAM_ACTIONS", "Ec2Provider", "current_instance"]
