"""The outcome of one health check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FailureClass(StrEnum):
    """Why a check failed, in the words an operator reads at 3 a.m."""

    refused = "refused"
    """Nothing listens: connection refused, no such socket."""
    timeout = "timeout"
    """No answer within the check's timeout (a hung process, a black hole)."""
    bad_response = "bad_response"
    """An answer, but the wrong one: status, body, exit code, query result."""
    exited = "exited"
    """The owned process is not running."""
    error = "error"
    """Anything else: DNS, TLS, authentication, a bug in the probe."""


@dataclass(frozen=True)
class CheckResult:
    """One probe: passed or failed with a class and a detail a human can act on."""

    ok: bool
    at: datetime
    """Wall time the probe started."""
    duration_s: float
    failure: FailureClass | None = None
    detail: str = ""
    output: str = ""
    """What the probe printed (command checks: the last 2,000 characters of stdout+stderr)."""

    def __post_init__(self) -> None:
        if self.ok and self.failure is not None:
            raise ValueError("a passed check has no failure class")
        if not self.ok and self.failure is None:
            raise ValueError("a failed check needs a failure class")

    @property
    def summary(self) -> str:
        """``ok`` or ``refused: connection refused on 127.0.0.1:8080``."""
        if self.ok:
            return "ok"
        return f"{self.failure}: {self.detail}" if self.detail else str(self.failure)
