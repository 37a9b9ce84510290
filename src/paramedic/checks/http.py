"""The ``http`` check: a request that must answer an accepted status (and a body substring)."""

from __future__ import annotations

import ssl

import httpx

from paramedic.catalog.model import HttpCheck
from paramedic.checks.probe import (
    ProbeContext,
    Verdict,
    causes,
    connect_failure,
    failed,
    first_line,
    passed,
    timeout_detail,
)
from paramedic.checks.result import FailureClass
from paramedic.redact import redact

BODY_LIMIT = 1024 * 1024
"""Bytes of body read when looking for ``expect``: a health page is small."""


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


async def probe_http(check: HttpCheck, ctx: ProbeContext) -> Verdict:
    """Send the request; the status must be accepted and the body must hold ``expect`` if given.

    ``ctx.http`` is used when given (it must verify TLS as ``check.verify_tls`` says);
    otherwise a client is made for this one request.
    """
    if ctx.http is not None:
        return await _send(ctx.http, check, ctx.timeout_s)
    async with new_http_client(verify=check.verify_tls) as client:
        return await _send(client, check, ctx.timeout_s)


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
            code = response.status_code
            if not _accepted(code, check.status):
                return failed(
                    FailureClass.bad_response,
                    f"{what} answered {code} (expected {_expected(check.status)})",
                )
            if check.expect is not None and check.expect not in await _body(response):
                return failed(
                    FailureClass.bad_response,
                    f"{what} answered {code} without {check.expect!r} in the body",
                )
            return passed(f"{what} answered {code}")
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


def _accepted(code: int, statuses: list[int]) -> bool:
    return code in statuses if statuses else 200 <= code < 400


def _expected(statuses: list[int]) -> str:
    return ", ".join(str(s) for s in statuses) if statuses else "2xx/3xx"


async def _body(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= BODY_LIMIT:
            break
    return b"".join(chunks)[:BODY_LIMIT].decode(response.encoding or "utf-8", errors="replace")
