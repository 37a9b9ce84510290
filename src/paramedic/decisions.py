"""The agent's decision log: one line per decision, as text or JSON."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TextIO


class DecisionLog:
    """One line per decision, as text or JSON."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def line(self, at: datetime, component: str, decision: str, reason: str, **extra: Any) -> None:
        """Write one decision."""
        if self.fmt == "json":
            record = {
                "at": at.isoformat().replace("+00:00", "Z"),
                "component": component,
                "decision": decision,
                "reason": reason,
                **extra,
            }
            self.stream.write(json.dumps(record, default=str) + "\n")
        else:
            tail = "".join(f" {k}={v}" for k, v in extra.items() if v is not None)
            self.stream.write(
                f"{at:%Y-%m-%dT%H:%M:%S}Z {component:<16} {decision:<22} {reason}{tail}\n"
            )
        self.stream.flush()
