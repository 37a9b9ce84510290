"""replace_instance of an ``aws.ec2`` component: a new instance in place of the failed one.

In order: find the replacement this step launched before (tags
``paramedic:incident`` + ``paramedic:step``) or launch one (ClientToken too)
from the launch template or as a copy of the failed instance; wait until it
runs; stop the failed instance first when a data volume must move; move the
secondary ENI, the Elastic IP and the data volume; register the replacement in
each target group and deregister the failed one; UPSERT the Route 53 record;
stop (or, when the spec says so, terminate) the failed instance; move the
``paramedic:component`` tag to the replacement and tag the failed one with
``paramedic:replaced-by`` and ``paramedic:incident``.

Every move checks where things are before acting, so a repeated step (after an
agent crash) finishes the same replacement instead of launching a second.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from paramedic.errors import ProviderError
from paramedic.providers.aws import elbv2, route53
from paramedic.providers.aws.compute_specs import COMPONENT_TAG
from paramedic.providers.aws.ec2 import (
    change_state,
    current_instance,
    describe_instance,
    find_instances,
    remove_tags,
    set_tags,
    state_of,
    tags_of,
    wait_state,
)
from paramedic.providers.aws.session import call, client, wait_for
from paramedic.providers.base import ActionContext, ActionResult

if TYPE_CHECKING:
    from paramedic.providers.aws.ec2 import Ec2Provider

INCIDENT_TAG = "paramedic:incident"
STEP_TAG = "paramedic:step"
REPLACES_TAG = "paramedic:replaces"
REPLACED_BY_TAG = "paramedic:replaced-by"


async def replace_instance(
    provider: Ec2Provider, ctx: ActionContext, within: timedelta
) -> ActionResult:
    """Replace the component's instance; idempotent for ``(ctx.incident_id, ctx.step_index)``."""
    settings, spec = provider.settings, provider.spec
    done: list[str] = []
    mine = {INCIDENT_TAG: ctx.incident_id, STEP_TAG: str(ctx.step_index)}
    earlier = await find_instances(settings, mine)
    if earlier:
        new_id = str(earlier[0]["InstanceId"])
        old_id = tags_of(earlier[0]).get(REPLACES_TAG) or spec.instance_id
        old = await describe_instance(settings, old_id)
        done.append(f"found replacement {new_id} launched earlier for this step")
    else:
        old_id = await current_instance(settings, provider.name, spec.instance_id)
        old = await describe_instance(settings, old_id)
        new_id = await _launch(provider, ctx, old_id, old, mine)
        done.append(f"launched {new_id} in place of {old_id}")
    new = await wait_state(settings, new_id, {"running"}, within)
    old_state = state_of(old) if old is not None else "missing"
    if spec.data_volume and old_state in ("pending", "running", "stopping"):
        await _retire(provider, old_id, old_state, within, wait=True)
        done.append(f"stopped {old_id} to free data volume {spec.data_volume}")
        old_state = "stopped"
    if spec.network_interface:
        done.append(await _move_eni(provider, spec.network_interface, new_id, within))
    if spec.elastic_ip:
        done.append(await _move_eip(provider, spec.elastic_ip, new_id))
    if spec.data_volume:
        done.append(await _move_volume(provider, spec.data_volume, old_id, new_id, within))
    for arn in spec.target_group_arns:
        done.append(await _repoint_target_group(provider, arn, old_id, new_id))
    new = await describe_instance(settings, new_id) or new
    detail: dict[str, Any] = {
        "old_instance": old_id,
        "new_instance": new_id,
        "private_ip": new.get("PrivateIpAddress"),
        "public_ip": new.get("PublicIpAddress"),
    }
    if spec.route53:
        record = spec.route53
        address = new.get("PublicIpAddress") if record.public else new.get("PrivateIpAddress")
        if not address:
            which = "public" if record.public else "private"
            raise ProviderError(
                f"component {provider.name!r}: replacement {new_id} has no {which} IP address "
                f"for route53 record {record.name}; set route53.public as fits the subnet"
            )
        await route53.upsert_record(
            settings,
            record.zone_id,
            record.name,
            record.type,
            str(address),
            record.ttl,
            within=within,
        )
        done.append(f"UPSERT {record.name} {record.type} {address}")
    await set_tags(settings, [new_id], {COMPONENT_TAG: provider.name})  # before the old loses it
    if old is not None and old_id != new_id:
        if old_state in ("pending", "running", "stopping") or (
            spec.on_replace == "terminate" and old_state == "stopped"
        ):
            await _retire(provider, old_id, old_state, within, wait=False)
            done.append(f"{'terminated' if spec.on_replace == 'terminate' else 'stopped'} {old_id}")
        else:
            done.append(f"{old_id} kept {old_state}")
        await remove_tags(settings, [old_id], [COMPONENT_TAG, STEP_TAG])
        await set_tags(settings, [old_id], {REPLACED_BY_TAG: new_id, INCIDENT_TAG: ctx.incident_id})
    done.append(f"{new_id} now serves {provider.name}")
    return ActionResult(output="replace_instance: " + "; ".join(done), detail=detail)


async def _launch(
    provider: Ec2Provider,
    ctx: ActionContext,
    old_id: str,
    old: dict[str, Any] | None,
    mine: dict[str, str],
) -> str:
    """RunInstances for the replacement, tagged for this step; returns its id."""
    settings, spec = provider.settings, provider.spec
    kept = {
        k: v
        for k, v in (tags_of(old) if old else {}).items()
        if not k.startswith(("aws:", "paramedic:"))
    }
    tags = {**kept, **mine, REPLACES_TAG: old_id}
    kwargs: dict[str, Any] = {
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": client_token(ctx.incident_id, ctx.step_index),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    }
    network = {
        "SubnetId": (old or {}).get("SubnetId"),
        "SecurityGroupIds": [g["GroupId"] for g in (old or {}).get("SecurityGroups", [])],
    }
    if spec.launch_template is not None:
        kwargs["LaunchTemplate"] = spec.launch_template.as_api()
        template = await _template_data(provider)
        if "NetworkInterfaces" not in template:
            if "SubnetId" not in template and network["SubnetId"]:
                kwargs["SubnetId"] = network["SubnetId"]
            if network["SecurityGroupIds"] and not (
                {"SecurityGroupIds", "SecurityGroups"} & template.keys()
            ):
                kwargs["SecurityGroupIds"] = network["SecurityGroupIds"]
    else:
        kwargs.update(await _copied_launch(provider, old_id, old, network))
    answer = await call(client(settings, "ec2"), "RunInstances", provider.name, **kwargs)
    return str(answer["Instances"][0]["InstanceId"])


async def _copied_launch(
    provider: Ec2Provider, old_id: str, old: dict[str, Any] | None, network: dict[str, Any]
) -> dict[str, Any]:
    """RunInstances arguments that copy the failed instance."""
    if old is None or not network["SubnetId"]:
        why = (
            "no longer exists"
            if old is None
            else "is terminated and AWS no longer shows its subnet"
        )
        raise ProviderError(
            f"component {provider.name!r}: cannot copy instance {old_id}: it {why}; "
            "give spec.launch_template to launch replacements from"
        )
    kwargs: dict[str, Any] = {
        "ImageId": old["ImageId"],
        "InstanceType": old["InstanceType"],
        "SubnetId": network["SubnetId"],
    }
    if network["SecurityGroupIds"]:
        kwargs["SecurityGroupIds"] = network["SecurityGroupIds"]
    if old.get("KeyName"):
        kwargs["KeyName"] = old["KeyName"]
    profile = old.get("IamInstanceProfile", {}).get("Arn")
    if profile:
        kwargs["IamInstanceProfile"] = {"Arn": profile}
    answer = await call(
        client(provider.settings, "ec2"),
        "DescribeInstanceAttribute",
        old_id,
        InstanceId=old_id,
        Attribute="userData",
    )
    user_data = answer.get("UserData", {}).get("Value")
    if user_data:
        kwargs["UserData"] = base64.b64decode(user_data)
    return kwargs


async def _template_data(provider: Ec2Provider) -> dict[str, Any]:
    """The launch template version's data (to see whether it places the network itself)."""
    ref = provider.spec.launch_template
    assert ref is not None
    by = {"LaunchTemplateId": ref.id} if ref.id else {"LaunchTemplateName": ref.name}
    answer = await call(
        client(provider.settings, "ec2"),
        "DescribeLaunchTemplateVersions",
        ref.id or ref.name or "",
        Versions=[ref.version],
        **by,
    )
    versions = answer.get("LaunchTemplateVersions", [])
    data: dict[str, Any] = versions[0].get("LaunchTemplateData", {}) if versions else {}
    return data


async def _retire(
    provider: Ec2Provider, old_id: str, state: str, within: timedelta, *, wait: bool
) -> None:
    """Stop the failed instance (terminate only when ``on_replace: terminate`` and not waiting)."""
    if provider.spec.on_replace == "terminate" and not wait:
        await change_state(provider.settings, "TerminateInstances", old_id)
        return
    if state in ("pending", "running"):
        await change_state(provider.settings, "StopInstances", old_id)
    if wait:
        await wait_state(provider.settings, old_id, {"stopped"}, within)


async def _move_eni(provider: Ec2Provider, eni_id: str, new_id: str, within: timedelta) -> str:
    """Detach the secondary ENI from wherever it is and attach it to ``new_id`` at device index 1."""
    ec2 = client(provider.settings, "ec2")

    async def attachment() -> dict[str, Any]:
        answer = await call(ec2, "DescribeNetworkInterfaces", eni_id, NetworkInterfaceIds=[eni_id])
        found: dict[str, Any] = answer["NetworkInterfaces"][0].get("Attachment") or {}
        return found

    current = await attachment()
    if current.get("InstanceId") == new_id and current.get("Status") != "detaching":
        return f"ENI {eni_id} already on {new_id}"
    if current.get("AttachmentId") and current.get("Status") in ("attaching", "attached"):
        await call(ec2, "DetachNetworkInterface", eni_id, AttachmentId=current["AttachmentId"])

    async def detached() -> bool | None:
        return True if (await attachment()).get("Status") in (None, "detached") else None

    await wait_for(
        detached, within=within, interval=provider.settings.poll, what=f"ENI {eni_id} to detach"
    )
    await call(
        ec2,
        "AttachNetworkInterface",
        eni_id,
        NetworkInterfaceId=eni_id,
        InstanceId=new_id,
        DeviceIndex=1,
    )
    was = f" from {current['InstanceId']}" if current.get("InstanceId") else ""
    return f"moved ENI {eni_id}{was} to {new_id}"


async def _move_eip(provider: Ec2Provider, allocation_id: str, new_id: str) -> str:
    """Associate the Elastic IP with ``new_id`` (reassociating it away from the failed instance)."""
    ec2 = client(provider.settings, "ec2")
    answer = await call(ec2, "DescribeAddresses", allocation_id, AllocationIds=[allocation_id])
    address = answer["Addresses"][0]
    if address.get("InstanceId") == new_id:
        return f"Elastic IP {address.get('PublicIp')} already on {new_id}"
    await call(
        ec2,
        "AssociateAddress",
        allocation_id,
        AllocationId=allocation_id,
        InstanceId=new_id,
        AllowReassociation=True,
    )
    return f"associated Elastic IP {address.get('PublicIp')} with {new_id}"


async def _move_volume(
    provider: Ec2Provider, volume_id: str, old_id: str, new_id: str, within: timedelta
) -> str:
    """Detach the data volume (its instance is stopped by now) and attach it to ``new_id``."""
    ec2 = client(provider.settings, "ec2")

    async def volume() -> dict[str, Any]:
        answer = await call(ec2, "DescribeVolumes", volume_id, VolumeIds=[volume_id])
        found: dict[str, Any] = answer["Volumes"][0]
        return found

    current = await volume()
    attached = current.get("Attachments") or []
    device = provider.spec.device
    for attachment in attached:
        if attachment.get("InstanceId") == new_id:
            return f"data volume {volume_id} already on {new_id} at {attachment.get('Device')}"
        device = device or attachment.get("Device")
        await call(
            ec2,
            "DetachVolume",
            volume_id,
            VolumeId=volume_id,
            InstanceId=attachment["InstanceId"],
        )

    async def available() -> bool | None:
        return True if (await volume()).get("State") == "available" else None

    await wait_for(
        available,
        within=within,
        interval=provider.settings.poll,
        what=f"volume {volume_id} to detach",
    )
    device = device or "/dev/sdf"
    await call(ec2, "AttachVolume", volume_id, VolumeId=volume_id, InstanceId=new_id, Device=device)

    async def in_use() -> bool | None:
        states = [a.get("State") for a in (await volume()).get("Attachments") or []]
        return True if "attached" in states else None

    await wait_for(
        in_use, within=within, interval=provider.settings.poll, what=f"volume {volume_id} to attach"
    )
    was = f" from {old_id}" if attached else ""
    return f"moved data volume {volume_id}{was} to {new_id} at {device}"


async def _repoint_target_group(provider: Ec2Provider, arn: str, old_id: str, new_id: str) -> str:
    """Register ``new_id`` at the failed instance's port, then deregister the failed instance."""
    settings = provider.settings
    ports = {t.instance_id: t.port for t in await elbv2.target_health(settings, arn)}
    name = f"target group {elbv2.group_name(arn)}"
    done = []
    if new_id not in ports:
        await elbv2.register_target(settings, arn, new_id, ports.get(old_id))
        at = f" at port {ports[old_id]}" if ports.get(old_id) else ""
        done.append(f"registered {new_id} in {name}{at}")
    else:
        done.append(f"{new_id} already in {name}")
    if old_id in ports and old_id != new_id:
        await elbv2.deregister_target(settings, arn, old_id, ports[old_id])
        done.append(f"deregistered {old_id}")
    return ", ".join(done)


def client_token(incident_id: str, step_index: int) -> str:
    """RunInstances' idempotency token for one step: unique per (incident, step), at most 64 characters.

    A digest, not a cut: two long incident ids that share their first 64 characters must not
    share a token (AWS would hand the second incident the first one's instance).
    """
    digest = hashlib.sha256(f"{incident_id}/{step_index}".encode()).hexdigest()[:48]
    return f"paramedic-{digest}"
