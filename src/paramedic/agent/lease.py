"""An agent's own standing: may it act, by its monotonic clock? Pure arithmetic, no I/O.

Other agents judge a lease by the database's clock (``now() - renewed_at``, see
``store/leases.py``), so host clocks never matter between agents. The agent
judges itself by its own clock since boot (``CLOCK_BOOTTIME``, ``Clock.since_boot``):
it stops acting once no renewal has succeeded for ``ttl − heartbeat``, one
heartbeat before anyone else may think its lease dead. That clock keeps
running while a process is SIGSTOPped and while the machine is suspended
(``time.monotonic`` stops during a suspend), so an agent woken after a long
stop knows at once that it slept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Standing:
    """When this agent last renewed its lease, and what that allows."""

    heartbeat_s: float
    ttl_s: float
    renewed_at: float | None = None
    """Monotonic time of the last successful renewal; None before the first."""

    @property
    def margin_s(self) -> float:
        """How long after a renewal the agent may still act: ``ttl − heartbeat``."""
        return self.ttl_s - self.heartbeat_s

    def renewed(self, at: float) -> None:
        """A renewal succeeded at monotonic time ``at`` (its request was sent then)."""
        self.renewed_at = at

    def may_act(self, now: float) -> bool:
        """True while the last renewal is younger than ``ttl − heartbeat``."""
        return self.renewed_at is not None and now - self.renewed_at < self.margin_s

    def lapsed(self, now: float) -> float | None:
        """Seconds since the last renewal when past the margin (the agent must stand down), else None."""
        if self.renewed_at is None:
            return None
        gap = now - self.renewed_at
        return gap if gap >= self.margin_s else None


def is_live(age_s: float, ttl_s: float) -> bool:
    """A lease renewed ``age_s`` ago (by the database's clock) is live while younger than the ttl."""
    return age_s < ttl_s
