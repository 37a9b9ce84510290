"""The ``redis`` check: a PING through redis.asyncio that must answer PONG."""

from __future__ import annotations

import errno
import re
from urllib.parse import urlsplit

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from paramedic.catalog.model import RedisCheck
from paramedic.checks.probe import (
    ProbeContext,
    Verdict,
    failed,
    first_line,
    is_refused,
    passed,
    timeout_detail,
)
from paramedic.checks.result import FailureClass
from paramedic.redact import redact

_REFUSED_TEXT = (f"Error {errno.ECONNREFUSED} ", "Connection refused", "Connect call failed")
_AUTH_TEXT = ("NOAUTH", "WRONGPASS", "NOPERM")
_RESOLVE_FAILED = re.compile(r"Error -\d+ connecting to \S+ (.+?)\.?$")


async def probe_redis(check: RedisCheck, ctx: ProbeContext) -> Verdict:
    """Connect (socket timeouts set from the check, no retries), PING, close."""
    client = redis.asyncio.Redis.from_url(
        check.url,
        socket_connect_timeout=ctx.timeout_s,
        socket_timeout=ctx.timeout_s,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
    )
    try:
        reply = await client.ping()
    except redis.exceptions.TimeoutError:
        return failed(FailureClass.timeout, timeout_detail(ctx.timeout_s))
    except redis.exceptions.AuthenticationError as exc:
        return failed(FailureClass.error, f"authentication failed: {redact(first_line(exc))}")
    except redis.exceptions.ConnectionError as exc:
        text = str(exc)
        if is_refused(exc) or any(marker in text for marker in _REFUSED_TEXT):
            return failed(FailureClass.refused, f"connection refused on {_where(check.url)}")
        resolve = _RESOLVE_FAILED.search(text)
        if resolve is not None:  # redis-py words a failed getaddrinfo as a negative error code
            host = _where(check.url).rsplit(":", 1)[0]
            return failed(FailureClass.error, f"cannot resolve {host}: {resolve[1]}")
        return failed(FailureClass.error, f"cannot connect to {_where(check.url)}: {redact(text)}")
    except redis.exceptions.ResponseError as exc:
        text = redact(first_line(exc))
        if text.startswith(_AUTH_TEXT):
            return failed(FailureClass.error, f"authentication failed: {text}")
        return failed(FailureClass.bad_response, f"PING answered an error: {text}")
    except redis.exceptions.RedisError as exc:
        return failed(FailureClass.error, f"PING failed: {redact(first_line(exc))}")
    finally:
        await client.aclose()
    if reply is not True:
        return failed(FailureClass.bad_response, f"PING answered {reply!r} (expected PONG)")
    return passed("PING answered PONG")


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
