"""Blast radius of discovered components: what depends on each, and which single point matters most.

The ranking is by criticality first (a critical database before an important
cache), then by how many findings depend on it, directly or not, then by
name. It runs over every finding, catalogued or not, so a load balancer
with no provider still counts in the radius of the instances behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paramedic.catalog.model import Criticality
from paramedic.discover.finding import Finding
from paramedic.graph import DependencyGraph


@dataclass(frozen=True)
class Impact:
    """One finding's place in the ranking."""

    name: str
    rank: int
    """1 for the single point of failure that matters most."""
    criticality: str
    dependents: list[str]
    """Every finding that depends on it, directly or not."""

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {
            "name": self.name,
            "rank": self.rank,
            "criticality": self.criticality,
            "dependents": list(self.dependents),
        }

    def line(self) -> str:
        """``1. orders-db (critical): 3 depend on it: web-1, web-2, nlb``."""
        n = len(self.dependents)
        verb = "depends" if n == 1 else "depend"
        them = f"{n} {verb} on it: {', '.join(self.dependents)}" if n else "nothing depends on it"
        return f"{self.rank}. {self.name} ({self.criticality}): {them}"


def rank(findings: list[Finding]) -> list[Impact]:
    """Every finding with its blast radius, most important first."""
    graph = DependencyGraph({f.name: f.depends_on for f in findings})
    rows = [(f, graph.dependents(f.name)) for f in findings]
    rows.sort(key=lambda r: (-Criticality(r[0].criticality).rank, -len(r[1]), r[0].name))
    return [
        Impact(f.name, index, f.criticality, dependents)
        for index, (f, dependents) in enumerate(rows, start=1)
    ]
