"""The ``process`` check: the process paramedic owns for a component is alive.

Only the process provider knows that process, so the check asks it through a
``ProcessProbe`` instead of looking for a pid itself.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from paramedic.catalog.model import ProcessCheck
from paramedic.checks.probe import ProbeContext, Verdict, failed, passed
from paramedic.checks.result import FailureClass

NO_PROBE = "process check needs the process provider"


@runtime_checkable
class ProcessProbe(Protocol):
    """Answers whether a component's owned process runs; implemented by the process provider."""

    def process_state(self) -> tuple[bool, str]:
        """``(alive, detail)``, e.g. ``(True, "pid 4242 running")`` or
        ``(False, "exited with code -9 (SIGKILL) 0.3s ago")``; must not block."""
        ...


async def probe_process(check: ProcessCheck, ctx: ProbeContext) -> Verdict:
    """Ask the provider's probe; a process that is not running is ``exited``."""
    if ctx.process_probe is None:
        return failed(FailureClass.error, NO_PROBE)
    alive, detail = ctx.process_probe.process_state()
    return passed(detail) if alive else failed(FailureClass.exited, detail)
