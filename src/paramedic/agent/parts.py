"""What the agent's services share: the catalog, the store, the watches, a way to spawn work.

Each long-running concern of the agent (watching, backups, RPO exposure, drills,
housekeeping, reload, the API) is an object built with an ``AgentParts`` and
started and stopped by the core. ``AgentParts`` holds references, not logic, so
that a reload that swaps the catalog is seen by every service at once.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paramedic.detect import Detector, HealthState
from paramedic.graph import DependencyGraph

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Component
    from paramedic.checks import CheckScheduler
    from paramedic.clock import Clock
    from paramedic.decisions import DecisionLog
    from paramedic.notify import Notifier
    from paramedic.providers.base import Provider
    from paramedic.store import Store

log = logging.getLogger("paramedic.agent")

FAILING = frozenset(
    {
        HealthState.suspect,
        HealthState.failed,
        HealthState.recovering,
        HealthState.escalated,
        HealthState.blocked,
    }
)
"""States in which a component counts as failing for its dependents."""


@dataclass
class Watch:
    """What the agent keeps per component."""

    detector: Detector
    provider: Provider | None
    paused_until: datetime | None = None
    paused: bool = False
    event: str | None = None
    """An AWS event or a firing alert just said this component failed: the next failed check is certain."""
    claimed: tuple[str, datetime] | None = None
    """Another agent holds the claim on this component's recovery (``blocked_by``, until)."""


def detector_for(name: str, component: Component) -> Detector:
    """A fresh detector with the component's check and flapping limit from the catalog."""
    flapping = component.flapping
    return Detector(
        name, component.health, flap_window=flapping.window, flap_limit=flapping.incidents
    )


def dependency_graph(catalog: Catalog) -> DependencyGraph:
    """The catalog's dependency graph."""
    return DependencyGraph({n: c.depends_on for n, c in catalog.components.items()})


@dataclass
class AgentParts:
    """The references every service of one agent shares (set up by the core at start)."""

    catalog: Catalog
    clock: Clock
    decisions: DecisionLog
    store: Store = field(init=False)
    notifier: Notifier = field(init=False)
    scheduler: CheckScheduler = field(init=False)
    watches: dict[str, Watch] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    """One map shared by the recovery engine, the backup service and the drills (reload updates it)."""
    graph: DependencyGraph = field(init=False)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.graph = dependency_graph(self.catalog)

    def say(self, component: str, decision: str, reason: str, at: datetime | None = None) -> None:
        """One decision line, now unless ``at`` is given."""
        self.decisions.line(at or self.clock.now(), component, decision, reason)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background as one of the agent's own tasks (cancelled at shutdown)."""
        # A fresh context: callbacks may fire from tasks born inside a DBOS step (a provider's
        # exit watcher), and DBOS's workflow context must not leak into the agent's own work.
        task = asyncio.create_task(coro, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_spawned(self, grace_s: float = 5.0) -> None:
        """Cancel what ``spawn`` started and give it ``grace_s`` to end (a drill undoes its fault)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)


class Loop(abc.ABC):
    """A service that runs one background task: ``start()`` creates it, ``stop()`` cancels it."""

    name = "loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the service's task."""
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    @abc.abstractmethod
    async def run(self) -> None:
        """The service's loop."""


class Ticking(Loop):
    """A ``Loop`` that calls ``tick()`` every ``every_s`` seconds until cancelled; a tick that
    fails is one warning naming ``label``, and the loop goes on."""

    every_s = 1.0
    label = "loop"

    async def run(self) -> None:
        """Tick until cancelled; the loop outlives one bad tick."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.tick()
            except Exception as exc:  # the loop must outlive one bad tick
                log.warning("%s: %s: %s", self.label, type(exc).__name__, exc)

    @abc.abstractmethod
    async def tick(self) -> None:
        """One pass."""
