"""How each strategy fares in the journal, and when a component's ladder should change order.

A step counts as an attempt when it ran and ended: ``succeeded`` is a
success; ``failed``, ``timed_out`` and ``unverified`` are failures. Dry runs,
steps still running, and steps skipped, denied or cancelled say nothing about
the strategy and are left out.

A ladder tries its strategies in order, so a later strategy only runs when
the earlier ones failed. When an earlier strategy rarely succeeds (under
``RARELY`` of at least ``MIN_ATTEMPTS`` attempts) and a later one usually does
(``USUALLY`` or more of at least ``MIN_ATTEMPTS``), each incident pays for the
failed attempt first: the report recommends trying the later one first
(``reorder``). When that later strategy loses data (``restore_from_backup``)
or waits for an operator, putting it first would trade data or a human for
speed, so the report asks to find why the earlier one fails (``investigate``).
A strategy that never succeeds in ``MIN_ATTEMPTS`` or more is flagged too.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from paramedic.catalog.duration import format_duration
from paramedic.plan import StrategyPlan
from paramedic.store import StepRow, StepStatus

MIN_ATTEMPTS = 3
"""Fewer attempts than this say too little to recommend anything."""
RARELY = 0.5
"""A success rate under this is "rarely succeeds"."""
USUALLY = 0.8
"""A success rate at or over this is "usually succeeds"."""
LOSES_DATA = frozenset({"restore_from_backup"})
"""Strategies that bring data back to a recovery point: never recommended first."""

_FAILED = frozenset({StepStatus.failed, StepStatus.timed_out, StepStatus.unverified})


@dataclass(frozen=True)
class StrategyStats:
    """How one strategy fared: attempts, successes and how long an attempt took."""

    strategy: str
    attempts: int
    succeeded: int
    median_s: float | None
    """Median duration of every attempt (successful or not)."""
    median_success_s: float | None
    """Median duration of the successful attempts."""

    @property
    def success_rate(self) -> float | None:
        """``succeeded / attempts``; None without attempts."""
        return None if self.attempts == 0 else self.succeeded / self.attempts

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of these figures."""
        return {
            "strategy": self.strategy,
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "success_rate": self.success_rate,
            "median_s": self.median_s,
            "median_success_s": self.median_success_s,
        }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def strategy_stats(steps: Iterable[StepRow], order: Sequence[str] = ()) -> list[StrategyStats]:
    """Figures per strategy from journal steps: those named in ``order`` first, then by name."""
    durations: dict[str, list[float]] = {}
    successes: dict[str, list[float]] = {}
    for step in steps:
        if step.dry_run or step.duration_s is None:
            continue
        status = StepStatus(step.status)
        if status is StepStatus.succeeded:
            successes.setdefault(step.strategy, []).append(step.duration_s)
        elif status not in _FAILED:
            continue
        durations.setdefault(step.strategy, []).append(step.duration_s)
    names = [s for s in order if s in durations]
    names += sorted(s for s in durations if s not in names)
    return [
        StrategyStats(
            strategy=name,
            attempts=len(durations[name]),
            succeeded=len(successes.get(name, [])),
            median_s=_median(durations[name]),
            median_success_s=_median(successes.get(name, [])),
        )
        for name in names
    ]


@dataclass(frozen=True)
class Recommendation:
    """A change to a component's ladder that its own journal argues for."""

    component: str
    kind: Literal["reorder", "investigate"]
    strategy: str
    """The strategy that rarely succeeds."""
    instead: str | None
    """The later strategy that usually does, if any."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this recommendation."""
        return {
            "component": self.component,
            "kind": self.kind,
            "strategy": self.strategy,
            "instead": self.instead,
            "reason": self.reason,
        }


def _record(stats: StrategyStats) -> str:
    median = format_duration(stats.median_s)
    return f"{stats.succeeded} of {stats.attempts} attempts (median {median})"


def recommend(
    component: str, ladder: Sequence[StrategyPlan], stats: Mapping[str, StrategyStats]
) -> list[Recommendation]:
    """What the journal says about the order of ``component``'s ladder (see the module doc)."""
    found: list[Recommendation] = []
    for index, rung in enumerate(ladder):
        weak = stats.get(rung.strategy)
        if weak is None or weak.attempts < MIN_ATTEMPTS or (weak.success_rate or 0.0) >= RARELY:
            continue
        better = next(
            (
                (later, stats[later.strategy])
                for later in ladder[index + 1 :]
                if later.strategy in stats
                and stats[later.strategy].attempts >= MIN_ATTEMPTS
                and (stats[later.strategy].success_rate or 0.0) >= USUALLY
            ),
            None,
        )
        if better is None:
            if weak.succeeded == 0:
                found.append(
                    Recommendation(
                        component,
                        "investigate",
                        rung.strategy,
                        None,
                        f"{rung.strategy} never succeeded in {weak.attempts} attempts"
                        f" (median {format_duration(weak.median_s)} each): fix it or remove it",
                    )
                )
            continue
        later, figures = better
        said = (
            f"{rung.strategy} succeeded in {_record(weak)};"
            f" {later.strategy}, later in the ladder, in {_record(figures)}"
        )
        if later.strategy in LOSES_DATA or later.approval:
            why = "loses data" if later.strategy in LOSES_DATA else "waits for an operator"
            found.append(
                Recommendation(
                    component,
                    "investigate",
                    rung.strategy,
                    later.strategy,
                    f"{said}; {later.strategy} {why}, so find why {rung.strategy} fails"
                    " rather than reorder",
                )
            )
        else:
            found.append(
                Recommendation(
                    component,
                    "reorder",
                    rung.strategy,
                    later.strategy,
                    f"try {later.strategy} before {rung.strategy}: {said}",
                )
            )
    return found
