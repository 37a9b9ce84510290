"""Checks across the whole catalog, beyond what each model validates on its own.

They run on the plain data, not on the validated models, so they still find
their problems when some component is invalid: every problem is reported at
once. Only what can never work is an error here (an unknown dependency or
provider, a cycle, a check or backup engine the provider cannot use); a
strategy the provider cannot carry out or an RTO the checks cannot meet is a
gap that ``plan`` reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from paramedic.catalog.messages import did_you_mean, validation_problems
from paramedic.catalog.model import CHECK_KINDS, BackupEngine, ComponentType
from paramedic.catalog.source import SourceMap, YamlPath, iter_items, shown
from paramedic.errors import Problem
from paramedic.graph import DependencyGraph

if TYPE_CHECKING:
    from paramedic.providers.base import ProviderInfo

_LIST_KNOWN_UP_TO = 12
_TYPES = frozenset(t.value for t in ComponentType)
_ENGINES = frozenset(e.value for e in BackupEngine)


def document_problems(data: dict[str, Any], source: SourceMap) -> list[Problem]:
    """Every problem across the document: references, providers, specs, cycles, route names."""
    problems = _route_names(data.get("notify"), source)
    components = data.get("components")
    if not isinstance(components, dict):
        return problems
    names = list(components)
    for name, entry in components.items():
        if isinstance(entry, dict):
            problems.extend(_component(name, entry, names, source))
    problems.extend(_cycles(components, source))
    return problems


def _unknown_component(name: str, names: list[str]) -> str:
    hint = did_you_mean(name, names)
    if not hint and len(names) <= _LIST_KNOWN_UP_TO:
        hint = f"; known components: {', '.join(sorted(names))}"
    return f"unknown component {shown(name)}{hint}"


def _component(
    name: str, entry: dict[str, Any], names: list[str], source: SourceMap
) -> list[Problem]:
    here: YamlPath = ("components", name)
    problems: list[Problem] = []
    for index, dep in iter_items(entry.get("depends_on")):
        if dep == name:
            problems.append(
                source.problem((*here, "depends_on", index), "a component cannot depend on itself")
            )
        elif isinstance(dep, str) and dep not in names:
            problems.append(
                source.problem((*here, "depends_on", index), _unknown_component(dep, names))
            )
    for index, step in iter_items(entry.get("recovery")):
        if isinstance(step, dict) and step.get("strategy") == "failover_to_standby":
            problems.extend(
                _standby(
                    name, step.get("standby"), (*here, "recovery", index, "standby"), names, source
                )
            )
    provider = entry.get("provider")
    if isinstance(provider, str):
        problems.extend(_provider(name, provider, entry, names, source))
    return problems


def _standby(
    name: str, standby: Any, path: YamlPath, names: list[str], source: SourceMap
) -> list[Problem]:
    if not isinstance(standby, str):
        return []
    if standby == name:
        return [source.problem(path, "must name another component, not this one")]
    if standby not in names:
        return [source.problem(path, _unknown_component(standby, names))]
    return []


def _provider(
    name: str, provider: str, entry: dict[str, Any], names: list[str], source: SourceMap
) -> list[Problem]:
    # Imported here: the registry imports the catalog models, which import this package.
    from paramedic.providers.registry import PROVIDERS

    here: YamlPath = ("components", name)
    info = PROVIDERS.get(provider)
    if info is None:
        known = ", ".join(sorted(PROVIDERS))
        return [
            source.problem(
                (*here, "provider"), f"unknown provider {shown(provider)}; known providers: {known}"
            )
        ]
    problems = _spec(name, info, entry.get("spec", {}), names, source)
    kind = entry.get("type")
    if isinstance(kind, str) and kind in _TYPES and ComponentType(kind) not in info.types:
        suits = ", ".join(sorted(info.types))
        problems.append(
            source.problem(
                (*here, "type"), f"provider {provider!r} cannot run a {kind}; it runs: {suits}"
            )
        )
    health = entry.get("health")
    check = health.get("check") if isinstance(health, dict) else None
    if isinstance(check, str) and check in CHECK_KINDS:
        owners = sorted(p.name for p in PROVIDERS.values() if check in p.checks)
        if owners and provider not in owners:
            message = f"check {check!r} needs provider {' or '.join(owners)}"
            problems.append(source.problem((*here, "health", "check"), message))
    backup = entry.get("backup")
    engine = backup.get("engine") if isinstance(backup, dict) else None
    usable = sorted(e.value for e in info.backup_engines)
    if isinstance(engine, str) and engine in _ENGINES and engine not in usable:
        can = ", ".join(usable) or "none"
        message = f"provider {provider!r} cannot use backup engine {engine!r}; it can use: {can}"
        problems.append(source.problem((*here, "backup", "engine"), message))
    return problems


def _spec(
    name: str, info: ProviderInfo, spec: Any, names: list[str], source: SourceMap
) -> list[Problem]:
    if not isinstance(spec, dict):
        return []  # the Component model already says it must be a mapping
    path: YamlPath = ("components", name, "spec")
    problems: list[Problem] = []
    try:
        info.spec_model.model_validate(spec)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, info.spec_model, source, path))
    if "standby" in info.spec_model.model_fields:
        problems.extend(_standby(name, spec.get("standby"), (*path, "standby"), names, source))
    return problems


def _cycles(components: dict[str, Any], source: SourceMap) -> list[Problem]:
    """Each dependency cycle once, spelled from its first name: ``a -> b -> c -> a``."""
    edges: dict[str, list[str]] = {}
    for name, entry in components.items():
        deps = entry.get("depends_on") if isinstance(entry, dict) else None
        listed = [
            d for _, d in iter_items(deps) if isinstance(d, str) and d in components and d != name
        ]
        edges[name] = list(dict.fromkeys(listed))
    problems: list[Problem] = []
    while (cycle := DependencyGraph(edges).find_cycle()) is not None:
        ring = cycle[:-1]
        start = ring.index(min(ring))
        ring = ring[start:] + ring[:start]
        first, second = ring[0], ring[1 % len(ring)]
        index = components[first]["depends_on"].index(second)
        text = " -> ".join([*ring, ring[0]])
        problems.append(
            source.problem(("components", first, "depends_on", index), f"dependency cycle: {text}")
        )
        edges[cycle[-2]].remove(cycle[-1])  # break this cycle to look for the next one
    return problems


def _route_names(notify: Any, source: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    first_at: dict[str, int] = {}
    for index, route in iter_items(notify):
        name = route.get("name") if isinstance(route, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_at:
            message = f"route name {name!r} is already used by notify[{first_at[name]}]"
            problems.append(source.problem(("notify", index, "name"), message))
        else:
            first_at[name] = index
    return problems
