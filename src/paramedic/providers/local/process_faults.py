"""Faults of the ``process`` provider, for drills: kill, hang, exit, port-squat.

They act on the owned primary process as its pid file records it (``run_dir/<component>/
primary.pid``): a drill runs in its own process while the agent owns the component. None of
them goes through ``OwnedProcess.stop``: the agent must see every one as a failure.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from paramedic.errors import ProviderError
from paramedic.providers.base import FaultContext, InjectedFault
from paramedic.providers.local.faults import (
    PortSquatter,
    check_fault,
    end_squatter,
    send_signal,
    wait_gone,
)
from paramedic.providers.local.supervise import ProcessRecord

if TYPE_CHECKING:
    from paramedic.providers.local.process import ProcessProvider


def _primary(provider: ProcessProvider, fault: str) -> ProcessRecord:
    """The record of the running owned primary; ProviderError when there is none."""
    if not provider.owned:
        raise ProviderError(
            f"component {provider.name!r}: fault {fault!r} needs spec.command (a process "
            "paramedic runs itself); drill a component paramedic owns"
        )
    record = ProcessRecord.load(provider._primary_path)
    if record is None or not record.is_running():
        raise ProviderError(
            f"component {provider.name!r}: no running process to inject {fault!r} into; "
            "start the agent (paramedic run) first"
        )
    return record


async def inject(provider: ProcessProvider, fault: str, ctx: FaultContext) -> InjectedFault:
    """Inject ``fault`` into the component's primary process."""
    check_fault(provider.info, fault)
    record = _primary(provider, fault)
    pid, start = record.pid, record.start_time
    undo: dict[str, object] = {"pid": pid, "start_time": start}
    clock = provider._clock
    if fault == "kill":
        _deliver(provider, record, signal.SIGKILL)
        description = f"pid {pid} killed with SIGKILL"
    elif fault == "hang":
        _deliver(provider, record, signal.SIGSTOP)
        description = f"pid {pid} stopped with SIGSTOP (hung); undo resumes it with SIGCONT"
    elif fault == "exit":
        sig = provider._stop_signal
        _deliver(provider, record, sig)
        description = f"pid {pid} asked to exit with {sig.name} (not a paramedic stop)"
    else:
        return await _port_squat(provider, record, ctx)
    injected_at = clock.now()
    ctx.log(f"{provider.name}: {description}")
    return InjectedFault(fault, injected_at, description, undo)


def _deliver(provider: ProcessProvider, record: ProcessRecord, sig: signal.Signals) -> None:
    if not send_signal(record.pid, record.start_time, sig, group=True):
        raise ProviderError(
            f"component {provider.name!r}: pid {record.pid} exited before {sig.name} reached it; "
            "run the drill again once the agent has restarted it"
        )


async def _port_squat(
    provider: ProcessProvider, record: ProcessRecord, ctx: FaultContext
) -> InjectedFault:
    """Kill the process and hold its port with a squatter that is not the service."""
    port = provider.spec.port
    if port is None:
        raise ProviderError(
            f"component {provider.name!r}: fault 'port-squat' needs spec.port (the port to hold); "
            "give spec.port"
        )
    squatter = PortSquatter(port)
    squatter.begin()  # already trying to bind: it beats a restart by the agent
    try:
        _deliver(provider, record, signal.SIGKILL)
    except ProviderError:
        squatter.abandon()
        raise
    injected_at = provider._clock.now()
    await wait_gone(record.pid, record.start_time)
    held = await squatter.held()
    description = (
        f"pid {record.pid} killed with SIGKILL; port {port} held by squatter pid {held['pid']}, "
        "which answers but is not the service"
    )
    ctx.log(f"{provider.name}: {description}")
    undo: dict[str, object] = {
        "pid": record.pid,
        "start_time": record.start_time,
        "port": port,
        "squatter_pid": held["pid"],
        "squatter_start_time": held["start_time"],
    }
    return InjectedFault("port-squat", injected_at, description, undo)


async def undo(provider: ProcessProvider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Take back what can be: resume a hung process, free a squatted port; idempotent."""
    state = injected.undo
    pid, start = state.get("pid"), state.get("start_time")
    if injected.fault == "hang":
        if not isinstance(pid, int) or not isinstance(start, int):
            return "nothing to resume: no process recorded"
        if send_signal(pid, start, signal.SIGCONT, group=True):
            return f"pid {pid} resumed with SIGCONT"
        return f"nothing to resume: pid {pid} is gone (the recovery replaced it)"
    if injected.fault == "port-squat":
        return await end_squatter(state)
    return f"nothing to undo for {injected.fault!r}: the recovery starts the process again"
