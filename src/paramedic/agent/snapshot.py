"""The small read-only view of a running agent that is not in the state store.

Everything else a person sees (CLI, API, dashboard, metrics) is read from the
store. This snapshot holds only what lives in the agent's own loop: who it is,
since when, how late its check scheduler runs, and when its loops last ticked.
It is a frozen value, rebuilt on each call, so a reader can never change the agent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from paramedic.checks.scheduler import SchedulerStats


@dataclass(frozen=True)
class AgentSnapshot:
    """What the running agent says of itself."""

    agent_id: str
    """``host:run dir`` (the identity claims and leases use)."""
    started_at: datetime
    catalog: str
    components: int
    scheduler: SchedulerStats
    """Checks started/finished, in flight, scheduling lag percentiles (seconds)."""
    loop_age_s: float
    """Seconds since the housekeeping loop last ticked (about 1 while the agent's loop runs)."""

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready values."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat().replace("+00:00", "Z")
        return data
