"""The agent's decision log: one line per decision, as text or JSON, also handed to listeners."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

log = logging.getLogger("paramedic.decisions")

Listener = Callable[[dict[str, Any]], None]
"""Receives each decision as its JSON record (the API's event stream, the metrics)."""


class DecisionLog:
    """One line per decision, as text or JSON; every listener gets the JSON record too."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self.listeners: list[Listener] = []

    def line(self, at: datetime, component: str, decision: str, reason: str, **extra: Any) -> None:
        """Write one decision and hand it to the listeners."""
        record = {
            "at": at.isoformat().replace("+00:00", "Z"),
            "component": component,
            "decision": decision,
            "reason": reason,
            **extra,
        }
        if self.fmt == "json":
            self.stream.write(json.dumps(record, default=str) + "\n")
        else:
            tail = "".join(f" {k}={v}" for k, v in extra.items() if v is not None)
            self.stream.write(
                f"{at:%Y-%m-%dT%H:%M:%S}Z {component:<16} {decision:<22} {reason}{tail}\n"
            )
        self.stream.flush()
        for listener in self.listeners:
            try:
                listener(record)
            except Exception as exc:  # an observer never breaks the agent's work
                log.warning("decision listener %r: %s: %s", listener, type(exc).__name__, exc)
