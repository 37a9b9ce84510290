"""Fencing of recovery steps when several agents share one store.

Every step of a recovery first asks whether this agent may still act: by its
own monotonic clock (its last lease renewal is younger than ``ttl − heartbeat``)
and, for the step that acts through a provider, by the database in the very
transaction that records the step (``Store.start_step(fence=…)``: its lease is
fresh by the database's clock and the incident is still its recovery). An
agent that may not act stands down at once; the step never returns, so DBOS
records nothing and the workflow stays pending for the agent that took it over.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn, Protocol

if TYPE_CHECKING:
    from paramedic.store import Store

log = logging.getLogger("paramedic.recovery")


class Fence(Protocol):
    """This agent's standing among several agents (``agent/membership.py``)."""

    shared: bool
    """False with one agent (SQLite): nothing to fence."""

    @property
    def agent(self) -> str:
        """This agent's name, as recorded on the incidents it recovers."""

    @property
    def ttl_s(self) -> float:
        """The lease's time to live."""

    def may_act(self) -> bool:
        """True while the last lease renewal is younger than ``ttl − heartbeat``."""

    def stand_down(self, why: str) -> NoReturn:
        """Stop acting at once (the process re-executes itself or exits); never returns."""

    def owner_of(self, component: str) -> str | None:
        """The agent owning ``component`` in this agent's current division (None: nobody)."""


def fence_args(fence: Fence | None) -> tuple[str, float] | None:
    """What ``Store.start_step(fence=…)`` checks, or None with one agent."""
    return (fence.agent, fence.ttl_s) if fence is not None and fence.shared else None


def standing(fence: Fence | None, store: Store, incident_id: str, *, claim: bool = False) -> None:
    """Stand down unless this agent may act now and the incident is its recovery.

    ``claim``: the recovery begins here, so it becomes this agent's (a compare and set
    that fails only while another live agent runs it).
    """
    if fence is None or not fence.shared:
        return
    if not fence.may_act():
        stand_down(fence, f"its lease lapsed before a step of {incident_id}")
    if claim and not store.take_over(incident_id, fence.agent, fence.ttl_s):
        held = store.incident(incident_id).agent
        if held not in (None, fence.agent):
            stand_down(fence, f"incident {incident_id} is recovered by agent {held}")


def not_mine(
    fence: Fence | None, store: Store, incident_id: str, component: str
) -> dict[str, str] | None:
    """Why a recovery must not begin on this agent, as the workflow's answer, or None.

    ``{"refused": …}`` when another agent owns the component (a manual recovery that reached
    the wrong agent: escalated with that sentence); ``{"elsewhere": …}`` when a live agent
    already runs this incident (nothing is touched; the process does not stand down).
    """
    if fence is None or not fence.shared:
        return None
    owner = fence.owner_of(component)
    if owner != fence.agent:
        return {"refused": f"{component} is owned by {owner or 'no live agent'}"}
    held = store.incident(incident_id).agent
    if held not in (None, fence.agent) and not store.take_over(
        incident_id, fence.agent, fence.ttl_s
    ):
        return {"elsewhere": f"incident {incident_id} is recovered by agent {held}"}
    return None


def stand_down(fence: Fence | None, why: str) -> NoReturn:
    """Hand over to the fence's stand-down (never returns)."""
    assert fence is not None
    log.warning("fenced: %s", why)
    fence.stand_down(why)
