"""The fault of the ``haproxy`` provider, for drills: kill (SIGKILL the master).

The master is found through its pid file record (``run_dir/<component>/primary.pid``): a
drill runs in its own process while the agent owns HAProxy. The workers leave with it.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from paramedic.errors import ProviderError
from paramedic.providers.base import FaultContext, InjectedFault
from paramedic.providers.local.faults import check_fault, send_signal
from paramedic.providers.local.supervise import ProcessRecord

if TYPE_CHECKING:
    from paramedic.providers.local.haproxy import HaproxyProvider


async def inject(provider: HaproxyProvider, fault: str, ctx: FaultContext) -> InjectedFault:
    """SIGKILL HAProxy's master process."""
    check_fault(provider.info, fault)
    record = ProcessRecord.load(provider._record_path)
    if record is None or not record.is_running():
        raise ProviderError(
            f"component {provider.name!r}: no HAProxy master paramedic runs; start the agent "
            f"(paramedic run) before injecting {fault!r}"
        )
    if not send_signal(record.pid, record.start_time, signal.SIGKILL, group=False):
        raise ProviderError(
            f"component {provider.name!r}: HAProxy master pid {record.pid} exited before "
            "SIGKILL reached it; run the drill again once it runs"
        )
    injected_at = provider._clock.now()
    description = f"HAProxy master pid {record.pid} killed with SIGKILL"
    ctx.log(f"{provider.name}: {description}")
    undo = {"pid": record.pid, "start_time": record.start_time}
    return InjectedFault(fault, injected_at, description, undo)


async def undo(provider: HaproxyProvider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Nothing to take back: the recovery starts HAProxy again."""
    return f"nothing to undo for {injected.fault!r}: the recovery starts HAProxy again"
