"""The lean probe of plain ``http://`` checks, on aiohttp.

httpx's async pool scans every pooled connection and queued request on each request
(quadratic in the checks in flight), which capped one agent near 136 checks/s; aiohttp's
connector does not. The semantics are the ``http`` check's: a fresh connection per check
(``force_close``: a kept-alive connection would hide a restarted or replaced server), no
redirects, no proxies from the environment, and the same failure classes and details as
the httpx probe (``paramedic.checks.http_tls``), which keeps ``https://``.

aiohttp is imported with this module, so a catalog without ``http://`` checks never loads it.
"""

from __future__ import annotations

import socket

import aiohttp
from yarl import URL

from paramedic.catalog.model import HttpCheck
from paramedic.checks.http_common import BODY_LIMIT, decode, judge
from paramedic.checks.probe import (
    Verdict,
    connect_failure,
    failed,
    first_line,
    timeout_detail,
)
from paramedic.checks.result import FailureClass
from paramedic.redact import redact

DISCONNECTED = "Server disconnected without sending a response."
"""The detail of a server that closed the connection before answering (httpx's words)."""


def new_plain_session() -> aiohttp.ClientSession:
    """A session for thousands of concurrent checks: no connection limit, none kept alive.

    The scheduler's semaphore bounds how many checks run at once, so the connector
    must not queue them a second time (``limit=0``); ``force_close`` closes every
    connection after its one request. No cookies, no environment proxies, and no
    session-wide timeout: each check passes its own.
    """
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
        force_close=True,
        ttl_dns_cache=10,  # a name resolved once per 10 s, not once per check
        family=socket.AF_UNSPEC,
    )
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def probe_plain(
    check: HttpCheck, timeout_s: float, session: aiohttp.ClientSession | None
) -> Verdict:
    """Send the check's request through ``session`` (or a session made for this one check)."""
    if session is not None:
        return await _send(session, check, timeout_s)
    async with new_plain_session() as own:
        return await _send(own, check, timeout_s)


async def _send(session: aiohttp.ClientSession, check: HttpCheck, timeout_s: float) -> Verdict:
    what = f"{check.method} {redact(check.url)}"
    try:
        async with session.request(
            check.method,
            check.url,
            headers=check.headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            return await judge(what, response.status, check, lambda: _body(response))
    except TimeoutError:  # aiohttp's own timeouts (connect, read, total) are TimeoutErrors
        return failed(FailureClass.timeout, timeout_detail(timeout_s))
    except aiohttp.ClientConnectorError as exc:
        url = URL(check.url)
        return connect_failure(exc, url.host or "", url.port or 80, timeout_s)
    except aiohttp.ServerDisconnectedError:
        return failed(FailureClass.bad_response, f"{what}: {DISCONNECTED}")
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        return failed(FailureClass.bad_response, f"{what}: {redact(_reason(exc))}")
    except (aiohttp.ClientError, OSError) as exc:  # a reset, a broken pipe, an invalid URL
        return failed(FailureClass.error, f"{what} failed: {redact(first_line(exc))}")


def _reason(exc: aiohttp.ClientError) -> str:
    """aiohttp's own words on one line, without its wrapping and its caret line.

    ``Bad status line: Expected HTTP/, RTSP/ or ICE/: b'HELLO'`` rather than a multi-line
    message; a payload error's reason comes from the parser error behind it.
    """
    for candidate in (exc, exc.__cause__):
        message = getattr(candidate, "message", None)
        if isinstance(message, str) and message.strip():
            lines = (line.strip() for line in message.splitlines())
            return " ".join(line for line in lines if line and line.strip("^ "))
    return first_line(exc)


async def _body(response: aiohttp.ClientResponse) -> str:
    data = await response.content.read(BODY_LIMIT)
    # read(n) returns what has arrived up to n bytes; keep reading to the limit or the end
    chunks, size = [data], len(data)
    while data and size < BODY_LIMIT:
        data = await response.content.read(BODY_LIMIT - size)
        chunks.append(data)
        size += len(data)
    return decode(b"".join(chunks), response.charset)
