"""The guards a drill passes before any fault is injected: pure functions, one refusal each.

A drill injects a real fault into a real component, so it is refused unless every guard
lets it through; each refusal is one line naming the guard and the fix:

- **allowed**: ``drills.allowed: true``, or the operator passes ``--yes``;
- **fault offered**: the provider offers the fault (``ProviderInfo.faults``);
- **fault listed**: when ``drills.faults`` is not empty, the fault is in it (``--yes`` does
  not lift this one: the list is the owner's statement of what may be done);
- **window**: inside ``drills.window`` when one is set (agent local time), unless ``--yes``;
- **agent running**: the agent of the catalog is running, since a drill measures its recovery;
- **not paused**: a component paused for maintenance is not recovered, so it is not drilled;
- **no open incident**: neither the component nor any of its dependencies, direct or not,
  has an open incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from paramedic.catalog.model import Component
from paramedic.drills.window import describe_moment, parse_window
from paramedic.store.rows import IncidentRow


@dataclass(frozen=True)
class OpenIncident:
    """The little a guard needs of an open incident."""

    id: str
    component: str
    state: str


@dataclass(frozen=True)
class DrillRequest:
    """One drill asked for, with the facts the guards judge it by (gathered by the caller)."""

    name: str
    component: Component
    fault: str
    offered: Sequence[str]
    """The faults the component's provider offers (``ProviderInfo.faults``)."""
    yes: bool
    local_now: datetime
    """The agent's local time now (its wall-clock reading is what windows are read in)."""
    agent_running: bool
    run_dir: str
    open_incidents: Sequence[OpenIncident]
    dependencies: Sequence[str]
    """Every component this one depends on, directly or not."""
    paused: str | None = None
    """How long the component is paused for maintenance (``until resumed``...); None if not."""


@dataclass(frozen=True)
class Refusal:
    """A guard that refused a drill, and its one-line message."""

    guard: str
    message: str


def _words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" or {items[-1]}"


def transitive_dependencies(name: str, depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Every component ``name`` depends on, directly or not, sorted (cycles are tolerated)."""
    seen: set[str] = set()
    stack = list(depends_on.get(name, []))
    while stack:
        current = stack.pop()
        if current in seen or current == name:
            continue
        seen.add(current)
        stack.extend(depends_on.get(current, []))
    return sorted(seen)


def check_allowed(request: DrillRequest) -> Refusal | None:
    """``drills.allowed`` or ``--yes``."""
    if request.component.drills.allowed or request.yes:
        return None
    name = request.name
    return Refusal(
        "allowed",
        f"{name} is not allowed to be drilled: set components.{name}.drills.allowed: true "
        "or pass --yes",
    )


def check_fault_offered(request: DrillRequest) -> Refusal | None:
    """The provider offers the fault."""
    if request.fault in request.offered:
        return None
    provider = request.component.provider
    if not request.offered:
        return Refusal(
            "fault_offered",
            f"{request.name}: the {provider} provider offers no faults, so it cannot be drilled",
        )
    return Refusal(
        "fault_offered",
        f"{request.name}: the {provider} provider offers no fault {request.fault!r}: "
        f"use --fault {_words(list(request.offered))}",
    )


def check_fault_listed(request: DrillRequest) -> Refusal | None:
    """When ``drills.faults`` is not empty, the fault is listed there."""
    listed = request.component.drills.faults
    if not listed or request.fault in listed:
        return None
    name = request.name
    return Refusal(
        "fault_listed",
        f"{name}: fault {request.fault!r} is not in components.{name}.drills.faults "
        f"({', '.join(listed)}): add it there or use --fault {_words(listed)}",
    )


def check_window(request: DrillRequest) -> Refusal | None:
    """Inside ``drills.window`` (agent local time), unless ``--yes``."""
    text = request.component.drills.window
    if text is None or request.yes:
        return None
    try:
        window = parse_window(text)
    except ValueError as exc:
        return Refusal(
            "window",
            f"{request.name}: components.{request.name}.drills.window {text!r} {exc}",
        )
    if window.contains(request.local_now):
        return None
    return Refusal(
        "window",
        f"{request.name} is outside its drill window {window.text!r} (agent local time now "
        f"{describe_moment(request.local_now)}): wait for the window or pass --yes",
    )


def check_agent(request: DrillRequest) -> Refusal | None:
    """The catalog's agent is running: the drill measures the agent's recovery."""
    if request.agent_running:
        return None
    return Refusal(
        "agent_running",
        f"no paramedic agent is running for this catalog (no lock held in {request.run_dir}): "
        "start `paramedic run` first; a drill measures the agent's recovery",
    )


def check_no_open_incident(request: DrillRequest) -> Refusal | None:
    """Neither the component nor any of its dependencies has an open incident."""
    by_component = {i.component: i for i in request.open_incidents}
    own = by_component.get(request.name)
    if own is not None:
        return Refusal(
            "open_incident",
            f"{request.name} has an open incident {own.id} ({own.state}): wait for it to "
            f"close before drilling {request.name}",
        )
    for dependency in request.dependencies:
        found = by_component.get(dependency)
        if found is not None:
            return Refusal(
                "open_incident",
                f"{dependency}, a dependency of {request.name}, has an open incident "
                f"{found.id} ({found.state}): wait for it to close before drilling "
                f"{request.name}",
            )
    return None


def check_not_paused(request: DrillRequest) -> Refusal | None:
    """Not paused for maintenance: a paused component is checked but not recovered."""
    if request.paused is None:
        return None
    name = request.name
    return Refusal(
        "paused",
        f"{name} is paused for maintenance ({request.paused}): run `paramedic resume {name}` "
        "first; a paused component is not recovered",
    )


GUARDS = (
    check_fault_offered,
    check_allowed,
    check_fault_listed,
    check_window,
    check_agent,
    check_not_paused,
    check_no_open_incident,
)
"""In the order they are asked: the first refusal is the one reported."""


def first_refusal(request: DrillRequest) -> Refusal | None:
    """The first guard that refuses ``request``, or None when every guard lets it through."""
    for guard in GUARDS:
        refusal = guard(request)
        if refusal is not None:
            return refusal
    return None


def open_incidents(rows: Iterable[IncidentRow]) -> list[OpenIncident]:
    """``OpenIncident`` of each open incident row of the store."""
    return [OpenIncident(r.id, r.component, r.state) for r in rows]
