"""The ``http`` check: a request that must answer an accepted status (and a body substring).

Which client serves which URL: plain ``http://`` goes through the lean aiohttp probe
(``http_plain``); ``https://`` through httpx (``http_tls``: TLS verification and its
errors); a caller that hands in an httpx client gets httpx for both. Each client is
imported only when a check first needs it.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, cast

from paramedic.catalog.model import HttpCheck
from paramedic.checks.probe import ProbeContext, Verdict

if TYPE_CHECKING:
    import aiohttp
    import httpx


def is_plain(check: HttpCheck) -> bool:
    """True when the lean probe serves this check (a plain ``http://`` URL)."""
    return not check.url[:8].lower().startswith("https://")


def load_client(check: HttpCheck) -> None:
    """Import the client library that will serve ``check`` (done when it is scheduled)."""
    module = "paramedic.checks.http_plain" if is_plain(check) else "paramedic.checks.http_tls"
    if module not in sys.modules:  # 10,000 checks scheduled: one import, not 10,000 look-ups
        importlib.import_module(module)


async def probe_http(check: HttpCheck, ctx: ProbeContext) -> Verdict:
    """Send the request; the status must be accepted and the body must hold ``expect`` if given.

    ``ctx.http`` is used when it suits the URL: an aiohttp session for ``http://``, an
    httpx client (which must verify TLS as ``check.verify_tls`` says) for either;
    otherwise a client is made for this one request.
    """
    session = _aiohttp_session(ctx.http)
    if is_plain(check) and (ctx.http is None or session is not None):
        from paramedic.checks.http_plain import probe_plain

        return await probe_plain(check, ctx.timeout_s, session)
    from paramedic.checks.http_tls import probe_tls

    # not an aiohttp session, so an httpx client (or None)
    client = None if session is not None else cast("httpx.AsyncClient | None", ctx.http)
    return await probe_tls(check, ctx.timeout_s, client)


def _aiohttp_session(client: object) -> aiohttp.ClientSession | None:
    # without aiohttp imported, the client cannot be one of its sessions (and is not loaded)
    module = sys.modules.get("aiohttp")
    if module is not None and isinstance(client, module.ClientSession):
        return cast("aiohttp.ClientSession", client)
    return None
