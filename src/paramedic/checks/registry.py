"""Check kinds by name, and ``run_check``: one probe, timed, bounded, never raising.

Probes whose module imports a client library (psycopg, redis, boto3 through the AWS
session, aiohttp or httpx) are registered by ``module:function`` and imported when a check
of their kind first runs, so an agent loads only what its catalog uses.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from paramedic.catalog.base import CheckBase
from paramedic.checks.http import probe_http
from paramedic.checks.probe import ProbeContext, Verdict, failed, timeout_detail
from paramedic.checks.process import probe_process
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.checks.tcp import probe_tcp
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.catalog.model import HealthCheck
    from paramedic.checks.probe import HttpClient
    from paramedic.checks.process import ProcessProbe
    from paramedic.clock import Clock

log = logging.getLogger(__name__)

C = TypeVar("C", bound=CheckBase)
Probe = Callable[[Any, ProbeContext], Awaitable[Verdict]]
"""An async function ``(check, context) -> Verdict`` for one check kind."""

PROBES: dict[str, Probe] = {}
"""The runners imported so far (and those registered as functions)."""

LAZY: dict[str, str] = {
    "command": "paramedic.checks.command:probe_command",
    "postgres": "paramedic.checks.postgres:probe_postgres",
    "redis": "paramedic.checks.redis:probe_redis",
    "haproxy": "paramedic.checks.haproxy:probe_haproxy",
}
"""Runners by ``module:function``, imported when a check of their kind first runs."""

_AWS_MODULES = (
    "paramedic.checks.aws_compute",
    "paramedic.checks.aws_data",
    "paramedic.checks.aws_cloudwatch",
)
"""Modules with a ``PROBES`` map of ``aws.*`` kinds, imported when such a check first runs."""


def register(kind: str, probe: Callable[[C, ProbeContext], Awaitable[Verdict]]) -> None:
    """Make ``probe`` the runner of checks whose ``check`` field is ``kind`` (replaces any)."""
    LAZY.pop(kind, None)
    PROBES[kind] = probe


def probe_for(kind: str) -> Probe | None:
    """The runner of ``kind`` (imported now if it was not yet), or None when none is known."""
    probe = PROBES.get(kind)
    if probe is not None:
        return probe
    if kind in LAZY:
        module_name, _, function = LAZY.pop(kind).partition(":")
        loaded: Probe = getattr(importlib.import_module(module_name), function)
        PROBES[kind] = loaded
        return loaded
    if kind.startswith("aws."):
        for module_name in _AWS_MODULES:
            for aws_kind, aws_probe in importlib.import_module(module_name).PROBES.items():
                PROBES.setdefault(aws_kind, aws_probe)
        return PROBES.get(kind)
    return None


register("http", probe_http)
register("tcp", probe_tcp)
register("process", probe_process)


async def run_check(
    check: HealthCheck,
    *,
    clock: Clock,
    process_probe: ProcessProbe | None = None,
    http: HttpClient | None = None,
) -> CheckResult:
    """Run one check within its timeout and return its result; never raises (but cancellation).

    A probe that overruns ``check.timeout`` is cancelled (``timeout``); a probe that raises
    is reported as ``error`` with the exception. ``http`` is a shared client for http checks
    (an aiohttp session for ``http://``, or an httpx client that verifies TLS as the check
    asks); None makes one per check.
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
    probe = probe_for(kind)
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
