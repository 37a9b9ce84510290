"""What the API is given: the store, the event hub, the token, and a small view of the agent.

The API reads the state store and the agent's published ``Snapshot``, never a
provider's memory. Writes go through the same durable paths as the CLI; the few
that must happen inside the agent (a backup, a drill, a check now) go through the
``Core`` protocol the agent implements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from paramedic.api.auth import Token
from paramedic.api.events import EventHub
from paramedic.catalog.model import Catalog
from paramedic.store import Store

if TYPE_CHECKING:
    from paramedic.api.metrics import AgentMetrics
    from paramedic.drills.runner import DrillRunner

STALL_AFTER_S = 10.0
"""``/healthz`` answers 503 once the agent's loops have not ticked for this long."""


@dataclass(frozen=True)
class Snapshot:
    """The agent's read-only published figures (nothing here is read from a provider)."""

    agent_id: str
    started_at: datetime
    heartbeat: float
    """``time.monotonic()`` of the watchdog's last tick (the event loop is alive and not blocked)."""
    checks_running: bool
    """The check loop task is still running."""
    scheduler_lag_s: float
    """99th percentile of due-to-start lag of recent checks."""
    checks_in_flight: int
    components: int

    def stalled(self, now: float | None = None) -> str | None:
        """Why the agent counts as stalled, or None while its loops run."""
        if not self.checks_running:
            return "the check loop has stopped"
        idle = (time.monotonic() if now is None else now) - self.heartbeat
        if idle > STALL_AFTER_S:
            return f"the agent's loops have not ticked for {idle:.0f}s"
        return None


class Core(Protocol):
    """What the API may ask of the running agent itself."""

    @property
    def catalog(self) -> Catalog:
        """The catalog in force (it changes on reload)."""
        ...

    def snapshot(self) -> Snapshot:
        """The agent's published figures."""
        ...

    def owner_of(self, name: str) -> str | None:
        """The agent that owns ``name`` now (None: not in the catalog, or no live agent may)."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as one of the agent's tracked tasks (cancelled at shutdown)."""
        ...

    def backing_up(self, name: str) -> bool:
        """True while a backup or verification of ``name`` runs."""
        ...

    def take_backup(self, name: str) -> Coroutine[Any, Any, None]:
        """Take a recovery point of ``name`` now (its outcome is a decision line)."""
        ...

    def drill_runner(self) -> DrillRunner:
        """A drill runner wired to the agent's store, notifier and providers."""
        ...

    def alert(self, name: str, summary: str, recover: bool) -> None:
        """An alert fired for ``name``: check it now; ``recover``: the failure is certain."""
        ...

    def alert_resolved(self, name: str, summary: str) -> None:
        """An alert for ``name`` resolved."""
        ...


@dataclass
class ApiContext:
    """Everything the routes use, built once by the agent (or by a test)."""

    core: Core
    store: Store
    hub: EventHub
    token: Token
    reads_need_token: bool = False
    metrics: AgentMetrics | None = None
    durable: Callable[[], Any] | None = None
    """Returns a ``DurableClient`` (made once, on first use); None: built from the catalog."""
    _client: Any = field(default=None, repr=False)

    def durable_client(self) -> Any:
        """The DBOS client the writes use to reach the workflows (the CLI's path)."""
        if self._client is None:
            if self.durable is not None:
                self._client = self.durable()
            else:
                from paramedic.recovery.durable import DurableClient

                self._client = DurableClient(self.core.catalog.state_url())
        return self._client

    def close(self) -> None:
        """Release the DBOS client, if one was made."""
        if self._client is not None:
            self._client.close()
            self._client = None
