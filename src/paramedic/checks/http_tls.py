"""The httpx probe of ``http`` checks: every ``https://`` URL (TLS verification, its errors).

Plain ``http://`` goes through the lean aiohttp probe (``paramedic.checks.http_plain``)
unless a caller hands in an httpx client. httpx is imported with this module, so a catalog
without ``https://`` checks never loads it (nor the CLI helpers httpx imports with itself).
"""

from __future__ import annotations

import ssl

import httpx

from paramedic.catalog.model import HttpCheck
from paramedic.checks.http_common import BODY_LIMIT, decode, judge
from paramedic.checks.probe import (
    Verdict,
    causes,
    connect_failure,
    failed,
    first_line,
    timeout_detail,
)
from paramedic.checks.result import FailureClass
from paramedic.redact import redact


def new_http_client(*, verify: bool = True) -> httpx.AsyncClient:
    """A client for health checks: a fresh connection per request, no redirects, no proxies.

    Keep-alive is off on purpose: a pooled connection would hide a server that was
    restarted or replaced. The scheduler's semaphore bounds concurrency, so the pool does not.
    """
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
    )


async def probe_tls(
    check: HttpCheck, timeout_s: float, client: httpx.AsyncClient | None
) -> Verdict:
    """Send the check's request through ``client`` (it must verify TLS as the check asks),
    or through a client made for this one request."""
    if client is not None:
        return await _send(client, check, timeout_s)
    async with new_http_client(verify=check.verify_tls) as own:
        return await _send(own, check, timeout_s)


async def _send(client: httpx.AsyncClient, check: HttpCheck, timeout_s: float) -> Verdict:
    what = f"{check.method} {redact(check.url)}"
    try:
        async with client.stream(
            check.method,
            check.url,
            headers=check.headers,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        ) as response:
            return await judge(what, response.status_code, check, lambda: _body(response))
    except httpx.TimeoutException:
        return failed(FailureClass.timeout, timeout_detail(timeout_s))
    except httpx.ConnectError as exc:
        url = httpx.URL(check.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        tls = next((c for c in causes(exc) if isinstance(c, ssl.SSLError)), None)
        if isinstance(tls, ssl.SSLCertVerificationError):
            return failed(
                FailureClass.error,
                f"TLS certificate of {url.host}:{port} not accepted: {tls.verify_message}",
            )
        if tls is not None:
            reason = tls.reason or first_line(tls)
            return failed(FailureClass.error, f"TLS error with {url.host}:{port}: {reason}")
        return connect_failure(exc, url.host, port, timeout_s)
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        return failed(FailureClass.bad_response, f"{what}: {redact(first_line(exc))}")
    except httpx.HTTPError as exc:
        return failed(FailureClass.error, f"{what} failed: {redact(first_line(exc))}")


async def _body(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= BODY_LIMIT:
            break
    return decode(b"".join(chunks), response.charset_encoding)
