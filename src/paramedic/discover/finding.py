"""What discovery found: single-location resources (``Finding``), what it left out and why.

A finding is a draft component: the catalog keys it will have, and for each
inferred value the place it came from (``sources``), which the draft writer
turns into YAML comments. A finding without a ``provider`` is a resource
paramedic cannot recover yet (a load balancer, a NAT gateway): it is reported,
counted in the blast radius, and written as a comment rather than a component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from paramedic.catalog.duration import format_duration

CRITICALITY_TAGS = ("paramedic:criticality", "criticality")
"""Tags read for a resource's criticality, first found wins."""


@dataclass
class Finding:
    """One resource bound to one location, as a draft component."""

    name: str
    kind: str
    """What was found: ``ec2_instance``, ``rds_instance``, ``local_postgres``, …"""
    resource: str
    """The resource's identity, the key drift compares on (instance id, DB identifier, tcp:PORT)."""
    type: str
    location: str
    constraint: str
    provider: str | None
    spec: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    recovery: list[dict[str, Any]] = field(default_factory=list)
    backup: dict[str, Any] | None = None
    rpo: timedelta = timedelta(0)
    criticality: str = "important"
    depends_on: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """Catalog key (``rpo``, ``spec.data_dir``, ``depends_on.orders-db``) → where its value came from."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What drift compares besides presence: ``single_location``, ``backup_retention_days``, …"""
    tags: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    """Security groups (AWS), for inferring dependencies."""
    unsupported: str = ""
    """Why no component is drafted for it (``provider`` None)."""
    region: str = ""
    """The AWS region it lives in (AWS findings)."""

    @property
    def catalogued(self) -> bool:
        """Whether the draft holds a component for it (paramedic has a provider for its kind)."""
        return self.provider is not None

    def depend_on(self, other: str, why: str) -> None:
        """Add a dependency on ``other`` with the evidence, once."""
        if other != self.name and other not in self.depends_on:
            self.depends_on.append(other)
            self.sources[f"depends_on.{other}"] = why

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this finding (``discover --json``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "resource": self.resource,
            "type": self.type,
            "location": self.location,
            "constraint": self.constraint,
            "criticality": self.criticality,
            "provider": self.provider,
            "catalogued": self.catalogued,
            "unsupported": self.unsupported or None,
            "rpo": format_duration(self.rpo),
            "depends_on": list(self.depends_on),
            "sources": dict(self.sources),
        }


@dataclass(frozen=True)
class LeftOut:
    """A resource seen and left out (not single-location), with the reason."""

    kind: str
    resource: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """Stable JSON shape."""
        return {"kind": self.kind, "resource": self.resource, "reason": self.reason}


@dataclass
class Discovery:
    """Everything one ``discover`` run saw: findings, what it left out, and what it could not see."""

    scope: str
    """``aws us-east-1`` or ``local HOST``: the default location of the draft."""
    findings: list[Finding] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What discovery could not see and why (unreadable /proc entries, a service it cannot list)."""
    aws: dict[str, Any] = field(default_factory=dict)
    """The ``aws:`` block of the draft (region, endpoint_url) when discovered on AWS."""

    @property
    def seen(self) -> int:
        """How many resources were looked at."""
        return len(self.findings) + len(self.left_out)

    def by_name(self) -> dict[str, Finding]:
        """Findings by component name."""
        return {f.name: f for f in self.findings}

    def summary(self) -> str:
        """One line: ``saw 9 resources: 5 single-location, 4 left out (multi-AZ)``."""
        reasons = sorted({o.reason.split(":")[0] for o in self.left_out})
        why = f" ({'; '.join(reasons)})" if reasons else ""
        return (
            f"saw {self.seen} resources: {len(self.findings)} single-location, "
            f"{len(self.left_out)} left out{why}"
        )

    def add(self, finding: Finding) -> Finding:
        """Add ``finding`` under a name no other finding has (``web``, ``web-2``)."""
        taken = {f.name for f in self.findings}
        base, n = finding.name, 2
        while finding.name in taken:
            finding.name = f"{base}-{n}"
            n += 1
        self.findings.append(finding)
        return finding


def component_name(preferred: str | None, fallback: str) -> str:
    """A valid component name from a Name tag (``Orders DB`` → ``orders-db``), else ``fallback``."""
    for raw in (preferred, fallback):
        if not raw:
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw.strip()).strip("-._").lower()[:63]
        if name:
            return name
    return "component"


def criticality_of(tags: dict[str, str], sources: dict[str, str]) -> str:
    """``critical``/``important``/``standard`` from a tag, else ``important`` (said in ``sources``)."""
    for key in CRITICALITY_TAGS:
        value = tags.get(key, "").strip().lower()
        if value in ("critical", "important", "standard"):
            sources["criticality"] = f"tag {key}={tags[key]}"
            return value
    sources["criticality"] = (
        "no criticality tag: important assumed; set it, or tag the resource criticality=…"
    )
    return "important"


def tag_dict(items: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS ``[{Key, Value}]`` tags as a dict."""
    return {t["Key"]: t.get("Value", "") for t in items or []}
