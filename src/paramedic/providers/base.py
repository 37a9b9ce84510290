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
from datetime import datetime
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


@runtime_checkable
class Provider(Protocol):
    """One instance per component; built by the registry from the component's catalog entry."""

    info: ProviderInfo

    async def start(self) -> None:
        """Take charge of the component when the agent starts (start or adopt an owned process)."""

    async def close(self, stop_owned: bool) -> None:
        """Release resources when the agent stops; stop owned processes when ``stop_owned``."""

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; idempotent for ``(ctx.incident_id, ctx.step_index)``."""
        ...

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out`` would do, for ``--dry-run`` and approvals."""
        ...
