"""The boundary between the engine and the code that acts on components.

A provider carries out, for one kind of component, the strategies it can
(restart_service, replace_instance, ...), the backups it can take and the
faults it can inject. The engine never knows how: it asks the provider.

Each provider module declares a ``ProviderInfo`` (its name, the component
types it suits, its capabilities, the pydantic model of its ``spec``) and,
once built, an implementation class satisfying ``Provider``. Registration is
by name in ``paramedic.providers.registry``.

Contract for implementations:

- ``carry_out`` is idempotent for one ``(incident_id, step_index)``: the
  durable workflow may call it again after the agent crashed mid-step, and it
  must then finish the same action rather than repeat it (for example: not
  start a second process when the first one started for this incident is
  alive).
- A recovery never deletes data: damaged data is moved aside under a name
  carrying the incident id.
- Foreign exceptions are translated into ``ProviderError`` at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from paramedic.catalog.model import BackupEngine, ComponentType, StrategyName

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Component, Strategy


class SpecModel(BaseModel):
    """Base of every provider's ``spec`` model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider is and can do; read by the catalog loader and by ``plan``."""

    name: str
    summary: str
    types: frozenset[ComponentType]
    strategies: frozenset[StrategyName]
    spec_model: type[SpecModel]
    backup_engines: frozenset[BackupEngine] = frozenset()
    faults: tuple[str, ...] = ()
    checks: frozenset[str] = frozenset()
    """Check kinds that only make sense with this provider (``process``)."""
    implementation: str | None = None
    """``module:Class`` of the implementation; None while it is not built yet."""
    requires: tuple[str, ...] = ()
    """Python modules the implementation imports, checked to report it unavailable."""
    native_backups: str | None = None
    """The service keeps recovery points of its own that ``restore_from_backup`` uses
    (RDS automated backups): a component without ``backup:`` is then not without a backup."""
    host_bound: bool = False
    """It drives something on the host the agent runs on (a process, a data directory, a
    server it spawns, local files): several agents keep it on that host (``agent/ownership``)."""


@dataclass(frozen=True)
class ActionContext:
    """Everything a provider needs to carry out one strategy step."""

    incident_id: str
    step_index: int
    component_name: str
    component: Component
    catalog: Catalog
    failed_at: datetime | None = None
    dry_run: bool = False
    log: Callable[[str], None] = field(default=lambda _line: None)


@dataclass(frozen=True)
class ActionResult:
    """What a step did: text for the journal and, for data recoveries, the recovery point used."""

    output: str = ""
    recovery_point_at: datetime | None = None
    """Time of the newest data that survived (for the measured RPO)."""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackupContext:
    """Everything a provider needs to take, list, verify or prune recovery points of one component."""

    component_name: str
    component: Component
    catalog: Catalog
    repository: Path
    """Where recovery points live (``backup.repository`` resolved, else ``var/backups/COMPONENT``)."""
    scratch: Path
    """A folder the provider may use for verification restores (emptied by the caller afterwards)."""
    log: Callable[[str], None] = field(default=lambda _line: None)
    progress: Callable[[float, str], None] = field(default=lambda _fraction, _what: None)
    """Long restores and backups report progress (0.0–1.0) for the CLI's progress bar."""


@dataclass(frozen=True)
class RecoveryPoint:
    """A backup, snapshot or archived log position that data can be restored to."""

    taken_at: datetime
    """Time of the newest data the point holds (for a base backup: the backup's end)."""
    location: str
    engine: str
    size_bytes: int | None = None
    checksum: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RestorableWindow:
    """What can be restored now: the oldest point, and the newest moment data can be brought back to."""

    oldest: datetime | None
    newest: datetime | None
    """For PostgreSQL: the newest archived WAL, not only the last base backup."""


@dataclass(frozen=True)
class Verification:
    """The outcome of restoring a recovery point into a scratch place and checking it."""

    ok: bool
    detail: str


@runtime_checkable
class BackupCapable(Protocol):
    """A provider that keeps recovery points (``ProviderInfo.backup_engines`` not empty).

    ``restore_from_backup`` itself is a strategy carried out by ``carry_out``: the
    provider picks the newest point at or before the step's target, moves the
    damaged data aside (never deletes it), restores, and returns the point's time
    as ``ActionResult.recovery_point_at`` (the measured RPO follows from it).
    """

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        """Take a recovery point now (idempotent enough to retry after a failure)."""
        ...

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        """The points present in the repository, oldest first (the repository is the truth)."""
        ...

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        """Oldest restorable point and newest restorable time."""
        ...

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        """Restore ``point`` into ``ctx.scratch`` (a scratch server or folder) and check it."""
        ...

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        """Remove recovery points older than ``keep`` (never the newest); returns what was removed."""
        ...


@runtime_checkable
class NativeRecoveryPoints(Protocol):
    """A provider whose service keeps recovery points by itself (``ProviderInfo.native_backups``)."""

    async def native_window(self) -> RestorableWindow:
        """What the service's own recovery points can restore (for ``rpo_at_risk``)."""
        ...


@dataclass(frozen=True)
class FaultContext:
    """Everything a provider needs to inject one fault on purpose (a drill)."""

    drill_id: str
    component_name: str
    component: Component
    catalog: Catalog
    log: Callable[[str], None] = field(default=lambda _line: None)


@dataclass(frozen=True)
class InjectedFault:
    """What was done, when, and what ``undo`` needs to take it back."""

    fault: str
    injected_at: datetime
    """The moment the fault took effect: a drill's ``failed_at``."""
    description: str
    undo: dict[str, Any] = field(default_factory=dict)
    """JSON-able state for ``undo_fault`` (pids, paths, ports); kept in the drill record."""


@runtime_checkable
class FaultCapable(Protocol):
    """A provider that can inject the faults its ``ProviderInfo.faults`` lists.

    ``undo_fault`` is called in a ``finally`` whatever happened (recovered,
    aborted, crashed): it must be idempotent and safe when there is nothing
    left to undo (the recovery already replaced the process), and it must
    never delete data (a fault that moved data away leaves it where the drill
    record says).
    """

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` now; ProviderError names the faults offered when it is unknown."""
        ...

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Take the fault back where it can be (resume a stopped process, free a squatted port)."""
        ...


@runtime_checkable
class Provider(Protocol):
    """One instance per component; built by the registry from the component's catalog entry."""

    info: ProviderInfo
    start_if_down: bool
    """What ``start()`` does with a server it finds stopped: start it (True, an agent starting
    on its own host) or leave it (False, taken over from another agent: adopt only; its check
    then opens an incident and the recovery ladder acts, fenced)."""

    async def start(self) -> None:
        """Take charge of the component when the agent starts: adopt what runs, else start it
        when ``start_if_down``."""

    async def close(self, stop_owned: bool) -> None:
        """Release resources when the agent stops; stop owned processes when ``stop_owned``."""

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; idempotent for ``(ctx.incident_id, ctx.step_index)``."""
        ...

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out`` would do, for ``--dry-run`` and approvals."""
        ...


def resolve_target(target: str, failed_at: datetime | None) -> datetime | None:
    """The moment a restore aims at: None for ``latest``; ``failed_at`` for ``before_failure``; else the timestamp.

    A timestamp without a zone is taken as UTC. ``before_failure`` without a failure
    time (a manual restore) means ``latest``.
    """
    from datetime import UTC

    if target == "latest":
        return None
    if target == "before_failure":
        return failed_at
    moment = datetime.fromisoformat(target.replace("Z", "+00:00").replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def default_repository(catalog: Catalog, component_name: str) -> Path:
    """``backup.repository`` resolved against the catalog, else ``var/backups/COMPONENT`` beside it."""
    component = catalog.components[component_name]
    if component.backup is not None and component.backup.repository:
        return catalog.resolve_path(component.backup.repository)
    return catalog.resolve_path(f"var/backups/{component_name}")
