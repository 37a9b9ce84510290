"""The circuit of one component: its recovery budget, flapping, and the way out (pure).

DESIGN.md's safety rule: past ``budget.recoveries`` recoveries in ``budget.window``
the circuit opens and the next incident is escalated instead of looping. Only
recoveries that ran a strategy count (the store's ``recovery_starts``), and an
operator may close the circuit on purpose (``paramedic reset``): nothing before
the reset counts any more. ``paramedic recover --force`` bypasses an open
circuit once.

Nothing here does I/O: the engine asks ``check_budget`` before a recovery,
``paramedic status`` asks ``circuit_of`` to say what state a component is in
and the one command that gets it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Budget

CIRCUIT_OPEN = "circuit open:"
"""How the reason of an incident the budget refused begins."""

FLAPPING = " is flapping: "
"""What the detector's reason of a flapping incident says (``web is flapping: 4 incidents in 10m``)."""


class CircuitState(StrEnum):
    """Whether a component's next failure is recovered (closed) or escalated (open, flapping)."""

    closed = "closed"
    open = "open"
    flapping = "flapping"


def escape_command(name: str) -> str:
    """The one command that closes ``name``'s circuit."""
    return f"paramedic reset {name}"


def _hhmm(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M}Z"


def _recoveries(n: int) -> str:
    return f"{n} recover{'y' if n == 1 else 'ies'}"


@dataclass(frozen=True)
class BudgetVerdict:
    """Whether one more recovery fits in the component's budget, and why."""

    allowed: bool
    used: int
    reason: str
    until: datetime | None = None
    """When refused: when the oldest counted recovery leaves the window (the circuit closes)."""


def counted(
    budget: Budget, recovery_starts: Iterable[datetime], now: datetime, reset_at: datetime | None
) -> list[datetime]:
    """The recovery starts that count now: inside the window and after the last reset, oldest first."""
    since = now - budget.window
    if reset_at is not None and reset_at > since:
        since = reset_at
    return sorted(s for s in recovery_starts if s >= since)


def check_budget(
    component_name: str,
    budget: Budget,
    recovery_starts: Iterable[datetime],
    now: datetime,
    reset_at: datetime | None = None,
) -> BudgetVerdict:
    """Count recoveries that ran in the window since the last reset (this one excluded).

    At ``budget.recoveries`` the circuit is open: the reason names when it closes by
    itself and the commands that close or bypass it.
    """
    starts = counted(budget, recovery_starts, now, reset_at)
    used = len(starts)
    window = format_duration(budget.window)
    if used >= budget.recoveries:
        until = starts[used - budget.recoveries] + budget.window
        return BudgetVerdict(
            False,
            used,
            f"{CIRCUIT_OPEN} {component_name} already had {_recoveries(used)} in the last "
            f"{window} (budget {budget.recoveries}) and stays open until {_hhmm(until)}; "
            f"escalating instead of looping: `{escape_command(component_name)}` closes it, "
            f"`paramedic recover {component_name} --force` bypasses it once",
            until,
        )
    return BudgetVerdict(True, used, f"{used + 1} of {budget.recoveries} recoveries in {window}")


def escalation_cause(reason: str) -> CircuitState | None:
    """``open`` or ``flapping`` when an escalated incident's reason says the circuit refused it."""
    if reason.startswith(CIRCUIT_OPEN):
        return CircuitState.open
    if FLAPPING in reason:
        return CircuitState.flapping
    return None


@dataclass(frozen=True)
class Circuit:
    """What ``paramedic status`` says about a component's circuit."""

    state: CircuitState
    reason: str
    """One line for people; empty when closed."""
    until: datetime | None = None
    recoveries: int = 0
    """Recoveries that ran and still count (since the window start or the last reset)."""
    budget: int | None = None
    window_s: float | None = None
    reset_at: datetime | None = None

    def escape(self, name: str) -> str | None:
        """The command that gets the component out; None when the circuit is closed."""
        return None if self.state is CircuitState.closed else escape_command(name)

    def to_json(self, name: str) -> dict[str, Any]:
        """Stable ``--json`` shape (times as ISO ``Z`` strings)."""
        from paramedic.store.rows import iso_utc

        return {
            "state": self.state.value,
            "reason": self.reason,
            "until": iso_utc(self.until) if self.until else None,
            "recoveries": self.recoveries,
            "budget": self.budget,
            "window_s": self.window_s,
            "reset_at": iso_utc(self.reset_at) if self.reset_at else None,
            "escape": self.escape(name),
        }


def circuit_of(
    name: str,
    *,
    budget: Budget | None,
    recovery_starts: Iterable[datetime],
    now: datetime,
    reset_at: datetime | None,
    escalated: tuple[datetime, str] | None,
) -> Circuit:
    """The circuit of ``name`` now.

    ``budget`` None (status from ``--state`` alone, without the catalog): only what the
    store says is judged. ``escalated``: when and why its newest incident was escalated,
    while the component is still escalated; a flapping or refused escalation after the
    last reset keeps the circuit open until a reset.
    """
    used = 0
    until = None
    window = None
    if budget is not None:
        verdict = check_budget(name, budget, recovery_starts, now, reset_at)
        used, window = verdict.used, budget.window.total_seconds()
        if not verdict.allowed:
            until = verdict.until
    facts: dict[str, Any] = {
        "recoveries": used,
        "budget": budget.recoveries if budget else None,
        "window_s": window,
        "reset_at": reset_at,
    }
    if escalated is not None and (reset_at is None or escalated[0] > reset_at):
        cause = escalation_cause(escalated[1])
        if cause is CircuitState.flapping:
            reason = "flapping: " + escalated[1].split(FLAPPING, 1)[1]
            return Circuit(CircuitState.flapping, reason, until=until, **facts)
        if cause is CircuitState.open and budget is None:
            reason = "circuit open: its last incident was refused by the recovery budget"
            return Circuit(CircuitState.open, reason, **facts)
    if until is not None and budget is not None:
        span = format_duration(budget.window)
        reason = f"circuit open until {_hhmm(until)} ({_recoveries(used)} in {span})"
        return Circuit(CircuitState.open, reason, until=until, **facts)
    return Circuit(CircuitState.closed, "", **facts)


def window_start(budgets: Iterable[Budget], now: datetime) -> datetime:
    """The earliest start of any of ``budgets``' windows: one store query covers them all."""
    longest = max((b.window for b in budgets), default=timedelta(0))
    return now - longest
