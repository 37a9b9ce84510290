"""What the two ``http`` probes share: the accepted statuses, the body limit, decoding."""

from __future__ import annotations

import codecs
from collections.abc import Awaitable, Callable

from paramedic.catalog.model import HttpCheck
from paramedic.checks.probe import Verdict, failed, passed
from paramedic.checks.result import FailureClass

BODY_LIMIT = 1024 * 1024
"""Bytes of body read when looking for ``expect``: a health page is small."""


def accepted(code: int, statuses: list[int]) -> bool:
    """True when ``code`` is one of ``statuses`` (any 2xx or 3xx when the list is empty)."""
    return code in statuses if statuses else 200 <= code < 400


def expected(statuses: list[int]) -> str:
    """The accepted statuses as a detail says them: ``200, 204`` or ``2xx/3xx``."""
    return ", ".join(str(s) for s in statuses) if statuses else "2xx/3xx"


def decode(body: bytes, charset: str | None) -> str:
    """The body as text in its declared charset (UTF-8 when none or an unknown one)."""
    try:
        codec = codecs.lookup(charset) if charset else codecs.lookup("utf-8")
    except LookupError:
        codec = codecs.lookup("utf-8")
    return body[:BODY_LIMIT].decode(codec.name, errors="replace")


async def judge(
    what: str, code: int, check: HttpCheck, body: Callable[[], Awaitable[str]]
) -> Verdict:
    """The verdict on an answer: its status accepted, and ``expect`` in the body (read only then)."""
    if not accepted(code, check.status):
        return failed(
            FailureClass.bad_response, f"{what} answered {code} (expected {expected(check.status)})"
        )
    if check.expect is not None and check.expect not in await body():
        return failed(
            FailureClass.bad_response,
            f"{what} answered {code} without {check.expect!r} in the body",
        )
    return passed(f"{what} answered {code}")
