"""What every probe shares: its verdict, its context, and how a failed connection is told apart.

A probe (one per check kind) returns a ``Verdict``; ``run_check`` in
``paramedic.checks.registry`` adds the timing and turns it into a ``CheckResult``.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from paramedic.catalog.duration import format_duration
from paramedic.checks.result import FailureClass

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from paramedic.checks.process import ProcessProbe

HttpClient: TypeAlias = "httpx.AsyncClient | aiohttp.ClientSession"
"""What a shared HTTP client may be (see ``paramedic.checks.http``)."""

_REFUSED_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENOENT})


@dataclass(frozen=True)
class Verdict:
    """What one probe found: passed (``failure`` None) or failed with a class, plus a detail."""

    failure: FailureClass | None
    detail: str
    output: str = ""

    @property
    def ok(self) -> bool:
        """True when the probe passed."""
        return self.failure is None


def passed(detail: str, output: str = "") -> Verdict:
    """A passed probe, with what it saw (``GET … answered 200``)."""
    return Verdict(None, detail, output)


def failed(failure: FailureClass, detail: str, output: str = "") -> Verdict:
    """A failed probe with its class and a detail a human can act on."""
    return Verdict(failure, detail, output)


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may use besides its check: the timeout, the process probe, a shared client."""

    timeout_s: float
    process_probe: ProcessProbe | None = None
    http: HttpClient | None = None
    """A shared client: an aiohttp session (plain ``http://``) or an httpx client (either)."""


def timeout_detail(seconds: float) -> str:
    """``no answer within 500ms``: the one detail every timed-out probe reports."""
    return f"no answer within {format_duration(seconds)}"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, group members)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)


def is_refused(exc: BaseException) -> bool:
    """True when nothing listens: a connection refused (or a missing unix socket) behind ``exc``."""
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return True
        if isinstance(cause, OSError) and cause.errno in _REFUSED_ERRNOS:
            return True
        if isinstance(cause, OSError) and "Connection refused" in str(cause):
            return True
    return False


def is_timeout(exc: BaseException) -> bool:
    """True when a timeout (the socket's or the library's own) is behind ``exc``."""
    return any(isinstance(cause, TimeoutError) for cause in causes(exc))


def resolve_error(exc: BaseException) -> socket.gaierror | None:
    """The name-resolution error behind ``exc``, if that is what failed."""
    for cause in causes(exc):
        if isinstance(cause, socket.gaierror):
            return cause
    return None


def connect_failure(exc: BaseException, host: str, port: int | None, timeout_s: float) -> Verdict:
    """Classify a failed connection to ``host:port``: refused, timeout, or error (DNS, …)."""
    where = f"{host}:{port}" if port is not None else host
    if is_refused(exc):
        return failed(FailureClass.refused, f"connection refused on {where}")
    if is_timeout(exc):
        return failed(FailureClass.timeout, timeout_detail(timeout_s))
    gai = resolve_error(exc)
    if gai is not None:
        return failed(FailureClass.error, f"cannot resolve {host}: {gai.strerror or gai}")
    return failed(FailureClass.error, f"cannot connect to {where}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name when it has none)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
