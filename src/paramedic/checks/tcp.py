"""The ``tcp`` check: a connection that must be accepted (then closed at once)."""

from __future__ import annotations

import asyncio
import contextlib

from paramedic.catalog.model import TcpCheck
from paramedic.checks.probe import ProbeContext, Verdict, connect_failure, passed


async def probe_tcp(check: TcpCheck, ctx: ProbeContext) -> Verdict:
    """Open a connection to ``host:port`` and close it."""
    try:
        async with asyncio.timeout(ctx.timeout_s):
            _reader, writer = await asyncio.open_connection(check.host, check.port)
    except OSError as exc:  # TimeoutError is an OSError: connect_failure tells them apart
        return connect_failure(exc, check.host, check.port, ctx.timeout_s)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return passed(f"connected to {check.host}:{check.port}")
