"""The circuit: the recovery budget counted over a fake clock, resets, flapping, what status says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paramedic.catalog.model import Budget, HttpCheck
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.clock import FakeClock
from paramedic.detect import DecisionKind, Detector
from paramedic.recovery.budget import (
    CircuitState,
    check_budget,
    circuit_of,
    counted,
    escalation_cause,
    window_start,
)

T0 = datetime(2026, 11, 25, 14, 22, tzinfo=UTC)
BUDGET = Budget(recoveries=3, window=timedelta(minutes=10))


def minutes(n: float) -> timedelta:
    """A timedelta of ``n`` minutes."""
    return timedelta(minutes=n)


def test_budget_counts_only_recoveries_inside_the_window() -> None:
    budget = Budget(recoveries=2, window=minutes(10))
    clock = FakeClock(T0)
    old = clock.now() - minutes(11)
    recent = clock.now() - minutes(3)
    ok = check_budget("web", budget, [old, recent], clock.now())
    assert ok.allowed and ok.used == 1 and ok.reason == "2 of 2 recoveries in 10m"
    spent = check_budget("web", budget, [recent, recent], clock.now())
    assert not spent.allowed and spent.until == recent + minutes(10)
    assert spent.reason == (
        "circuit open: web already had 2 recoveries in the last 10m (budget 2) and stays open"
        " until 14:29Z; escalating instead of looping: `paramedic reset web` closes it,"
        " `paramedic recover web --force` bypasses it once"
    )
    clock.advance(minutes(7) - timedelta(seconds=1))
    assert check_budget("web", budget, [recent, recent], clock.now()).allowed is False
    clock.advance(timedelta(seconds=2))  # past `until`: both have left the window
    later = check_budget("web", budget, [recent, recent], clock.now())
    assert later.allowed and later.used == 0


def test_the_circuit_closes_when_the_oldest_counted_recovery_leaves_the_window() -> None:
    starts = [T0 - minutes(9), T0 - minutes(5), T0 - minutes(1)]
    verdict = check_budget("web", BUDGET, starts, T0)
    assert not verdict.allowed and verdict.until == T0 + minutes(1)
    assert not check_budget("web", BUDGET, starts, T0 + minutes(1)).allowed  # inclusive
    assert check_budget("web", BUDGET, starts, T0 + minutes(1) + timedelta(milliseconds=1)).allowed
    # four counted against a budget of three: it closes when two of them have left
    four = [T0 - minutes(9), T0 - minutes(8), T0 - minutes(5), T0 - minutes(1)]
    assert check_budget("web", BUDGET, four, T0).until == T0 + minutes(2)


def test_a_reset_stops_counting_what_came_before_it() -> None:
    starts = [T0 - minutes(9), T0 - minutes(5), T0 - minutes(1)]
    assert not check_budget("web", BUDGET, starts, T0).allowed
    reset = check_budget("web", BUDGET, starts, T0, reset_at=T0 - minutes(2))
    assert reset.allowed and reset.used == 1
    assert counted(BUDGET, starts, T0, T0 - minutes(6)) == starts[1:]
    # a reset older than the window changes nothing
    assert counted(BUDGET, starts, T0, T0 - minutes(30)) == starts


def test_the_refusal_and_the_detectors_flapping_reason_are_recognised() -> None:
    refused = check_budget("web", BUDGET, [T0] * 3, T0).reason
    assert escalation_cause(refused) is CircuitState.open
    clock = FakeClock(T0)
    detector = Detector("web", HttpCheck(check="http", url="http://127.0.0.1:1/"), flap_limit=1)
    decisions = []
    for _ in range(2):
        for _ in range(2):
            at = clock.now()
            clock.advance(1.0)
            result = CheckResult(False, at, 0.1, FailureClass.refused, "refused")
            decisions.append(detector.observe(result))
        detector.recovery_started()
        detector.recovery_finished(True, at=clock.now())
    flapping = decisions[-1]
    assert flapping.kind is DecisionKind.flapping
    assert escalation_cause(flapping.reason) is CircuitState.flapping
    assert escalation_cause("every strategy failed (restart_service: timed_out)") is None


def test_status_says_open_with_its_end_and_the_way_out() -> None:
    starts = [T0 - minutes(9), T0 - minutes(5), T0 - minutes(1)]
    circuit = circuit_of(
        "demo-web", budget=BUDGET, recovery_starts=starts, now=T0, reset_at=None, escalated=None
    )
    assert circuit.state is CircuitState.open
    assert circuit.reason == "circuit open until 14:23Z (3 recoveries in 10m)"
    assert circuit.escape("demo-web") == "paramedic reset demo-web"
    assert circuit.to_json("demo-web") == {
        "state": "open",
        "reason": "circuit open until 14:23Z (3 recoveries in 10m)",
        "until": "2026-11-25T14:23:00.000Z",
        "recoveries": 3,
        "budget": 3,
        "window_s": 600.0,
        "reset_at": None,
        "escape": "paramedic reset demo-web",
    }


def test_status_says_flapping_until_a_reset() -> None:
    reason = "demo-web is flapping: 4 incidents in 10m"
    escalated = (T0 - minutes(1), reason)
    circuit = circuit_of(
        "demo-web", budget=BUDGET, recovery_starts=[], now=T0, reset_at=None, escalated=escalated
    )
    assert (circuit.state, circuit.reason) == (
        CircuitState.flapping,
        "flapping: 4 incidents in 10m",
    )
    assert circuit.escape("demo-web") == "paramedic reset demo-web"
    # still flapping an hour later: a flapping component waits for a human
    later = circuit_of(
        "demo-web",
        budget=BUDGET,
        recovery_starts=[],
        now=T0 + minutes(60),
        reset_at=None,
        escalated=escalated,
    )
    assert later.state is CircuitState.flapping
    after_reset = circuit_of(
        "demo-web", budget=BUDGET, recovery_starts=[], now=T0, reset_at=T0, escalated=escalated
    )
    assert after_reset.state is CircuitState.closed and after_reset.escape("demo-web") is None
    assert after_reset.to_json("demo-web")["reset_at"] == "2026-11-25T14:22:00.000Z"


def test_status_without_the_catalog_judges_the_store_alone() -> None:
    refused = check_budget("web", BUDGET, [T0] * 3, T0).reason
    circuit = circuit_of(
        "web", budget=None, recovery_starts=[], now=T0, reset_at=None, escalated=(T0, refused)
    )
    assert circuit.state is CircuitState.open
    assert circuit.reason == "circuit open: its last incident was refused by the recovery budget"
    assert circuit.to_json("web")["budget"] is None
    closed = circuit_of(
        "web", budget=None, recovery_starts=[T0] * 9, now=T0, reset_at=None, escalated=None
    )
    assert closed.state is CircuitState.closed


def test_a_closed_circuit_counts_what_is_used() -> None:
    circuit = circuit_of(
        "web", budget=BUDGET, recovery_starts=[T0], now=T0, reset_at=None, escalated=None
    )
    assert (circuit.state, circuit.recoveries, circuit.reason) == (CircuitState.closed, 1, "")


def test_one_query_covers_the_longest_window() -> None:
    budgets = [Budget(window=minutes(10)), Budget(window=minutes(60))]
    assert window_start(budgets, T0) == T0 - minutes(60)
    assert window_start([], T0) == T0
