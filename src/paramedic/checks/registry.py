"""Check kinds by name, and ``run_check``: one probe, timed, bounded, never raising."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from paramedic.catalog.base import CheckBase
from paramedic.checks import aws_cloudwatch, aws_compute, aws_data
from paramedic.checks.command import probe_command
from paramedic.checks.haproxy import probe_haproxy
from paramedic.checks.http import probe_http
from paramedic.checks.postgres import probe_postgres
from paramedic.checks.probe import ProbeContext, Verdict, failed, timeout_detail
from paramedic.checks.process import probe_process
from paramedic.checks.redis import probe_redis
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.checks.tcp import probe_tcp
from paramedic.redact import redact

if TYPE_CHECKING:
    import httpx

    from paramedic.catalog.model import HealthCheck
    from paramedic.checks.process import ProcessProbe
    from paramedic.clock import Clock

log = logging.getLogger(__name__)

C = TypeVar("C", bound=CheckBase)
Probe = Callable[[Any, ProbeContext], Awaitable[Verdict]]
"""An async function ``(check, context) -> Verdict`` for one check kind."""

PROBES: dict[str, Probe] = {}


def register(kind: str, probe: Callable[[C, ProbeContext], Awaitable[Verdict]]) -> None:
    """Make ``probe`` the runner of checks whose ``check`` field is ``kind`` (replaces any)."""
    PROBES[kind] = probe


def probe_for(kind: str) -> Probe | None:
    """The runner of ``kind``, or None when no runner is registered."""
    return PROBES.get(kind)


register("http", probe_http)
register("tcp", probe_tcp)
register("command", probe_command)
register("process", probe_process)
register("postgres", probe_postgres)
register("redis", probe_redis)
register("haproxy", probe_haproxy)
for _module in (aws_compute, aws_data, aws_cloudwatch):
    for _kind, _aws_probe in _module.PROBES.items():
        register(_kind, _aws_probe)


async def run_check(
    check: HealthCheck,
    *,
    clock: Clock,
    process_probe: ProcessProbe | None = None,
    http: httpx.AsyncClient | None = None,
) -> CheckResult:
    """Run one check within its timeout and return its result; never raises (but cancellation).

    A probe that overruns ``check.timeout`` is cancelled (``timeout``); a probe that raises
    is reported as ``error`` with the exception. ``http`` is a shared client for http checks
    and must verify TLS as the check asks (``verify_tls``); None makes one per check.
    """
    at = clock.now()
    start = clock.monotonic()
    timeout_s = check.timeout.total_seconds()
    verdict = await _probe(check, ProbeContext(timeout_s, process_probe, http))
    return CheckResult(
        ok=verdict.ok,
        at=at,
        duration_s=max(0.0, clock.monotonic() - start),
        failure=verdict.failure,
        detail=redact(verdict.detail),
        output=verdict.output,
    )


async def _probe(check: HealthCheck, ctx: ProbeContext) -> Verdict:
    kind = check.check
    probe = PROBES.get(kind)
    if probe is None:
        return failed(FailureClass.error, f"no runner for check kind {kind!r}")
    try:
        async with asyncio.timeout(ctx.timeout_s):
            return await probe(check, ctx)
    except TimeoutError:
        return failed(FailureClass.timeout, timeout_detail(ctx.timeout_s))
    except Exception as exc:  # a bug in a probe must not stop the watching
        log.warning("%s check failed unexpectedly", kind, exc_info=True)
        return failed(FailureClass.error, f"{kind} check failed: {type(exc).__name__}: {exc}")
