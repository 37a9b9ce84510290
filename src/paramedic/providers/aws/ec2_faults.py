"""Faults a drill injects into an ``aws.ec2`` component: stop or reboot its instance.

``stop-instance`` stops the instance serving the component (never terminates
it); its undo starts it again only while it is still stopped and still the
component's instance (a recovery that replaced it wins: the stopped one stays
stopped, kept aside). ``reboot-instance`` has nothing to undo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from paramedic.errors import ProviderError
from paramedic.providers.aws.compute_specs import EC2_FAULTS
from paramedic.providers.aws.ec2 import change_state, describe_instance, state_of, wait_state
from paramedic.providers.base import FaultContext, InjectedFault

if TYPE_CHECKING:
    from paramedic.providers.aws.ec2 import Ec2Provider


async def inject(provider: Ec2Provider, fault: str, ctx: FaultContext) -> InjectedFault:
    """Inject ``fault`` into the component's current instance."""
    if fault not in EC2_FAULTS:
        raise ProviderError(
            f"component {ctx.component_name!r}: unknown fault {fault!r} for aws.ec2; "
            f"offered: {', '.join(EC2_FAULTS)}"
        )
    instance_id = await provider.current()
    instance = await describe_instance(provider.settings, instance_id)
    state = state_of(instance) if instance is not None else "missing"
    if state != "running":
        raise ProviderError(
            f"component {ctx.component_name!r}: instance {instance_id} is {state}; "
            f"a drill injects {fault} into a running instance only"
        )
    if fault == "stop-instance":
        await change_state(provider.settings, "StopInstances", instance_id)
        description = f"stopped instance {instance_id}"
    else:
        await change_state(provider.settings, "RebootInstances", instance_id)
        description = f"rebooted instance {instance_id}"
    ctx.log(description)
    return InjectedFault(
        fault=fault,
        injected_at=datetime.now(UTC),
        description=description,
        undo={"instance_id": instance_id},
    )


async def undo(provider: Ec2Provider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Start the stopped instance again when that is still right; says what it did or why not."""
    instance_id = str(injected.undo.get("instance_id", ""))
    if injected.fault != "stop-instance" or not instance_id:
        return "nothing to undo"
    current = await provider.current()
    if current != instance_id:
        return f"instance {instance_id} was replaced by {current}: left as it is"
    instance = await describe_instance(provider.settings, instance_id)
    state = state_of(instance) if instance is not None else "missing"
    if state == "stopping":
        within = provider.catalog.components[ctx.component_name].rto
        await wait_state(provider.settings, instance_id, {"stopped"}, within)
        state = "stopped"
    if state != "stopped":
        return f"instance {instance_id} is {state}: nothing to undo"
    await change_state(provider.settings, "StartInstances", instance_id)
    return f"started instance {instance_id} again"
