"""``discover --against CATALOG``: how the catalog and what really runs have drifted apart.

Drift kinds (``Drift.kind``, stable identifiers):

``new``
    A single-location resource paramedic can recover that no component names.
``gone``
    A component whose resource was not seen at all (deleted, terminated).
``no_longer_single_location``
    A component whose resource was seen and left out: it is spread now (an
    RDS instance turned Multi-AZ).
``objective_unmet``
    The resource can no longer meet the component's objectives (automated
    backups switched off under an RPO that needs them).

Only components of the side that was discovered are compared: ``discover
aws`` looks at ``aws.*`` components, ``discover local`` at the local ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Catalog, Component
from paramedic.discover.finding import Discovery

SPEC_KEYS = {
    "aws.ec2": "instance_id",
    "aws.asg": "group",
    "aws.rds": "db_instance_identifier",
    "aws.elasticache": "cache_cluster_id",
}


@dataclass(frozen=True)
class Drift:
    """One difference between the catalog and what was discovered."""

    kind: str
    component: str | None
    resource: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape (``discover --against --json``)."""
        return {
            "kind": self.kind,
            "component": self.component,
            "resource": self.resource,
            "reason": self.reason,
        }

    def line(self) -> str:
        """One line for people."""
        who = self.component or self.resource
        return f"{self.kind:<26} {who}: {self.reason}"


def resource_of(component: Component) -> str | None:
    """The identity discovery gives this component's resource (None: it cannot tell)."""
    key = SPEC_KEYS.get(component.provider)
    if key is not None:
        value = component.spec.get(key)
        return str(value) if value else None
    if component.provider == "haproxy":
        return f"haproxy:{component.spec.get('stats_socket')}"
    port = component.spec.get("port") if component.provider in ("postgres", "redis") else None
    if port is None:
        port = _health_port(component)
    if port is None and component.provider == "postgres":
        port = 5432
    if port is None and component.provider == "redis":
        port = 6379
    return f"tcp:{port}" if port is not None else None


def _health_port(component: Component) -> int | None:
    health: Any = component.health
    if getattr(health, "port", None):
        return int(health.port)
    for attr in ("url", "dsn"):
        value = getattr(health, attr, None)
        if isinstance(value, str):
            parts = urlsplit(value)
            if parts.port:
                return parts.port
            query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
            if query.get("port", "").isdigit():
                return int(query["port"])
    return None


def _side(component: Component, aws: bool) -> bool:
    return component.provider.startswith("aws.") == aws


def find_drift(catalog: Catalog, discovery: Discovery, *, aws: bool) -> list[Drift]:
    """Every drift between ``catalog`` and ``discovery``, in a stable order."""
    drifts: list[Drift] = []
    found = {f.resource: f for f in discovery.findings if f.catalogued}
    left = {o.resource: o for o in discovery.left_out}
    named: set[str] = set()
    for name, component in catalog.components.items():
        if not _side(component, aws):
            continue
        resource = resource_of(component)
        if resource is None:
            continue
        named.add(resource)
        if resource in found:
            drifts.extend(_objectives(name, component, found[resource].facts, resource))
        elif resource in left:
            reason = f"{left[resource].kind} {resource} is not single-location any more: {left[resource].reason}"
            drifts.append(Drift("no_longer_single_location", name, resource, reason))
        else:
            drifts.append(Drift("gone", name, resource, f"{resource} was not found"))
    for resource, finding in found.items():
        if resource not in named:
            reason = f"{finding.kind} in {finding.location}, in no component: {finding.constraint}"
            drifts.append(Drift("new", None, resource, reason))
    order = {"gone": 0, "no_longer_single_location": 1, "objective_unmet": 2, "new": 3}
    drifts.sort(key=lambda d: (order[d.kind], d.component or "", d.resource))
    return drifts


def _objectives(
    name: str, component: Component, facts: dict[str, Any], resource: str
) -> list[Drift]:
    rpo = component.rpo.total_seconds()
    if rpo <= 0 or component.backup is not None:
        return []
    if facts.get("backup_retention_days") == 0:
        reason = (
            f"automated backups of {resource} are off (BackupRetentionPeriod 0): nothing restores "
            f"within the RPO of {format_duration(component.rpo)}; set a retention above 0"
        )
        return [Drift("objective_unmet", name, resource, reason)]
    if facts.get("snapshot_retention") == 0:
        reason = (
            f"automatic snapshots of {resource} are off (SnapshotRetentionLimit 0): nothing "
            "restores within the RPO; set SnapshotRetentionLimit above 0"
        )
        return [Drift("objective_unmet", name, resource, reason)]
    return []


def drift_json(drifts: list[Drift], catalog: Catalog) -> dict[str, Any]:
    """The ``--against --json`` shape: ``{catalog, drift: [...], counts: {kind: n}}``."""
    counts: dict[str, int] = {}
    for d in drifts:
        counts[d.kind] = counts.get(d.kind, 0) + 1
    return {"catalog": catalog.source, "drift": [d.to_json() for d in drifts], "counts": counts}
