"""Which agent owns which component: rendezvous hashing over the live agents.

Pure functions, no I/O. Every agent computes the same division from the same
inputs (the lease table and the open incidents, both read from the store), so
no agent ever hands a component over explicitly: each one takes what the
division gives it and drops the rest.

- Rendezvous (highest random weight) hashing: a component goes to the eligible
  agent with the highest hash of (component, agent name). An agent joining or
  leaving moves only the components it wins or held, about 1/N of them.
- Eligibility: a component with ``agent_tags`` goes only to agents carrying all
  of them. A host-bound component (every local provider: process, postgres,
  redis, haproxy, files drive something on this host) can only be driven on
  the host that runs it: without a ``host:`` tag of its own it stays on the
  host recorded in the store (``components.host``, written when an agent takes
  charge of it) while an eligible agent of that host lives; only then, or when
  none is recorded, is a host chosen by rendezvous over the live hosts. Agents
  of one host share it; another host never takes it while one of them lives.
- Sticky recoveries: a component whose open incident is being recovered by a
  live agent stays with that agent until the incident closes, so a membership
  change mid-recovery never puts two agents on one recovery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Component

HOST_TAG = "host:"
"""Prefix of the tag every agent carries for its host (``host:HOSTNAME``)."""


@dataclass(frozen=True)
class Member:
    """One live agent as the division sees it."""

    name: str
    host: str
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def all_tags(self) -> frozenset[str]:
        """Its own tags and ``host:HOSTNAME``."""
        return self.tags | {f"{HOST_TAG}{self.host}"}


@dataclass(frozen=True)
class Placement:
    """What the division needs to know of one component."""

    tags: frozenset[str] = field(default_factory=frozenset)
    host_bound: bool = False
    """Its provider drives something on one host, so only that host's agents may drive it."""


def placement_of(component: Component) -> Placement:
    """A catalog component's placement: its ``agent_tags``; host-bound when its provider is."""
    from paramedic.providers.registry import PROVIDERS

    info = PROVIDERS.get(component.provider)
    return Placement(frozenset(component.agent_tags), info is not None and info.host_bound)


def placements(catalog: Catalog) -> dict[str, Placement]:
    """Every component's placement."""
    return {name: placement_of(c) for name, c in catalog.components.items()}


def weight(component: str, agent: str) -> int:
    """The rendezvous weight of ``agent`` for ``component`` (stable across processes and hosts)."""
    digest = hashlib.blake2b(f"{component}\0{agent}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def highest(component: str, names: Iterable[str]) -> str | None:
    """The name with the highest weight for ``component``; None when there is none."""
    best: tuple[int, str] | None = None
    for name in names:
        key = (weight(component, name), name)
        if best is None or key > best:
            best = key
    return None if best is None else best[1]


def eligible(placement: Placement, members: Sequence[Member]) -> list[Member]:
    """The members that may own a component placed so."""
    return [m for m in members if placement.tags <= m.all_tags]


def owner(
    component: str,
    placement: Placement,
    members: Sequence[Member],
    recovering: str | None = None,
    host: str | None = None,
) -> str | None:
    """The agent that owns ``component``; None when no live agent may.

    ``recovering`` is the agent running the component's open recovery: it keeps the
    component while it lives. ``host`` is the host recorded as running a host-bound
    component: it keeps the component while an eligible agent of it lives.
    """
    live = {m.name for m in members}
    if recovering is not None and recovering in live:
        return recovering
    candidates = eligible(placement, members)
    pinned = any(t.startswith(HOST_TAG) for t in placement.tags)
    if placement.host_bound and not pinned and candidates:
        hosts = {m.host for m in candidates}
        if host not in hosts:
            host = highest(component, sorted(hosts))
        candidates = [m for m in candidates if m.host == host]
    return highest(component, (m.name for m in candidates))


def divide(
    placements: Mapping[str, Placement],
    members: Sequence[Member],
    recovering: Mapping[str, str] | None = None,
    hosts: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """Every component's owner (None: no live agent may own it).

    ``recovering``: component → agent running its open recovery; ``hosts``: component →
    host recorded as running it (``Store.component_hosts``).
    """
    running = recovering or {}
    where = hosts or {}
    return {
        name: owner(name, placement, members, running.get(name), where.get(name))
        for name, placement in placements.items()
    }


def shares(division: Mapping[str, str | None]) -> dict[str, int]:
    """How many components each agent owns."""
    counts: dict[str, int] = {}
    for agent in division.values():
        if agent is not None:
            counts[agent] = counts.get(agent, 0) + 1
    return counts
