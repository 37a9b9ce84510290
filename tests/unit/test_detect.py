"""The detector's state machine, driven by check results timed by a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from paramedic.catalog.model import HttpCheck
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.clock import FakeClock
from paramedic.detect import Decision, DecisionKind, Detector, HealthState
from paramedic.errors import StoreError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REFUSED = "refused (connection refused on 127.0.0.1:8080)"
DB = "orders-db"
K, S = DecisionKind, HealthState


def seconds(n: float) -> timedelta:
    """A timedelta of ``n`` seconds."""
    return timedelta(seconds=n)


class Probe:
    """Check results stamped with the fake clock's time; each one advances it by the interval."""

    def __init__(self, clock: FakeClock, interval: float = 1.0, duration: float = 0.25) -> None:
        self.clock, self.interval, self.duration = clock, interval, duration

    def _result(self, failure: FailureClass | None, detail: str) -> CheckResult:
        at = self.clock.now()
        self.clock.advance(self.interval)
        return CheckResult(failure is None, at, self.duration, failure, detail)

    def fail(
        self,
        failure: FailureClass = FailureClass.refused,
        detail: str = "connection refused on 127.0.0.1:8080",
    ) -> CheckResult:
        """A failed check now."""
        return self._result(failure, detail)

    def ok(self) -> CheckResult:
        """A passed check now."""
        return self._result(None, "")


def detector(
    failures: int = 2,
    successes: int = 1,
    flap_window: timedelta = timedelta(minutes=10),
    flap_limit: int = 3,
) -> Detector:
    """A detector for ``web`` with an HTTP check."""
    check = HttpCheck(
        check="http", url="http://127.0.0.1:8080/", failures=failures, successes=successes
    )
    return Detector("web", check, flap_window=flap_window, flap_limit=flap_limit)


@pytest.fixture
def probe(fake_clock: FakeClock) -> Probe:
    """Results one second apart, each taking 250ms, from T0."""
    return Probe(fake_clock)


# ---------------------------------------------------------------- reaching each state


def reach(start: str, probe: Probe, successes: int = 1) -> Detector:
    """A detector (failures=2) brought to ``start`` through its public API."""
    d = detector(successes=successes)
    if start == "unknown":
        return d
    d.observe(probe.ok())
    steps: dict[str, Callable[[], object]] = {
        "healthy": lambda: None,
        "suspect": lambda: d.observe(probe.fail()),
        "failed": lambda: [d.observe(probe.fail()) for _ in range(2)],
        "suppressed": lambda: [d.observe(probe.fail(), paused=True) for _ in range(2)],
        "blocked": lambda: [d.observe(probe.fail(), failing_dependency=DB) for _ in range(2)],
    }
    steps["recheck"] = lambda: (steps["blocked"](), d.dependency_recovered())
    steps["recovering"] = lambda: (steps["failed"](), d.recovery_started())
    steps["escalated"] = lambda: (
        steps["recovering"](),
        d.recovery_finished(False, at=probe.clock.now()),
    )
    steps[start]()
    return d


STARTS = [
    "unknown",
    "healthy",
    "suspect",
    "recheck",
    "failed",
    "suppressed",
    "recovering",
    "escalated",
    "blocked",
]
START_STATE = {
    "unknown": S.unknown,
    "healthy": S.healthy,
    "suspect": S.suspect,
    "recheck": S.suspect,
    "failed": S.failed,
    "suppressed": S.failed,
    "recovering": S.recovering,
    "escalated": S.escalated,
    "blocked": S.blocked,
}


def apply(d: Detector, event: str, probe: Probe) -> Decision:
    """Carry out one named event on ``d``."""
    events: dict[str, Callable[[], Decision]] = {
        "pass": lambda: d.observe(probe.ok()),
        "fail": lambda: d.observe(probe.fail()),
        "fail_dep": lambda: d.observe(probe.fail(), failing_dependency=DB),
        "fail_paused": lambda: d.observe(probe.fail(), paused=True),
        "started": d.recovery_started,
        "ok": lambda: d.recovery_finished(True, at=probe.clock.now()),
        "bad": lambda: d.recovery_finished(False, at=probe.clock.now()),
        "dep_recovered": d.dependency_recovered,
    }
    return events[event]()


def _same(start: str) -> tuple[DecisionKind, HealthState]:
    return K.nothing, START_STATE[start]


_n = (K.nothing, S.recovering)
TABLE: dict[str, dict[str, tuple[DecisionKind, HealthState]]] = {
    # start:      {event: (kind, state after)}
    "pass": {
        "unknown": (K.became_healthy, S.healthy),
        "healthy": (K.nothing, S.healthy),
        "suspect": (K.recovered_by_itself, S.healthy),
        "recheck": (K.recovered_by_itself, S.healthy),
        "failed": (K.nothing, S.failed),
        "suppressed": (K.recovered_by_itself, S.healthy),
        "recovering": _n,
        "escalated": (K.recovered_after_escalation, S.healthy),
        "blocked": (K.recovered_by_itself, S.healthy),
    },
    "fail": {
        "unknown": (K.suspect, S.suspect),
        "healthy": (K.suspect, S.suspect),
        "suspect": (K.open_incident, S.failed),
        "recheck": (K.open_incident, S.failed),
        "failed": (K.nothing, S.failed),
        "suppressed": (K.open_incident, S.failed),
        "recovering": _n,
        "escalated": (K.nothing, S.escalated),
        "blocked": (K.open_incident, S.failed),  # no failing dependency given any more
    },
    "fail_dep": {
        "unknown": (K.suspect, S.suspect),
        "healthy": (K.suspect, S.suspect),
        "suspect": (K.blocked, S.blocked),
        "recheck": (K.blocked, S.blocked),
        "failed": (K.nothing, S.failed),
        "suppressed": (K.blocked, S.blocked),
        "recovering": _n,
        "escalated": (K.nothing, S.escalated),
        "blocked": (K.nothing, S.blocked),
    },
    "fail_paused": {
        "unknown": (K.suspect, S.suspect),
        "healthy": (K.suspect, S.suspect),
        "suspect": (K.suppressed_paused, S.failed),
        "recheck": (K.suppressed_paused, S.failed),
        "failed": (K.nothing, S.failed),
        "suppressed": (K.nothing, S.failed),
        "recovering": _n,
        "escalated": (K.nothing, S.escalated),
        "blocked": (K.suppressed_paused, S.failed),
    },
    "started": {start: _n for start in STARTS},
    "ok": {start: _same(start) for start in STARTS}
    | {"failed": (K.recovered, S.healthy), "recovering": (K.recovered, S.healthy)},
    "bad": {start: _same(start) for start in STARTS}
    | {"failed": (K.escalate, S.escalated), "recovering": (K.escalate, S.escalated)},
    "dep_recovered": {start: _same(start) for start in STARTS}
    | {"blocked": (K.unblocked, S.suspect)},
}
CASES = [(start, event, *TABLE[event][start]) for event in TABLE for start in STARTS]


@pytest.mark.parametrize(("start", "event", "kind", "state"), CASES)
def test_transition_table(
    probe: Probe, start: str, event: str, kind: DecisionKind, state: HealthState
) -> None:
    d = reach(start, probe)
    assert d.state is START_STATE[start]
    decision = apply(d, event, probe)
    assert (decision.kind, decision.state, d.state) == (kind, state, state)
    assert decision.starts_recovery is (kind is K.open_incident)
    assert decision.reason.startswith(("web ", "orders-db recovered; web "))


# ---------------------------------------------------------------- thresholds and timings


def test_first_failure_is_suspect_with_its_class_and_detail(probe: Probe) -> None:
    d = detector()
    decision = d.observe(probe.fail())
    assert decision.reason == f"web failed 1 of 2 checks: {REFUSED}"
    assert (decision.kind, decision.failure, decision.failed_at) == (K.suspect, "refused", T0)
    assert decision.detected_at is None
    assert (d.consecutive_failures, d.consecutive_successes) == (1, 0)


def test_streak_reaching_failures_opens_incident_with_exact_timings(probe: Probe) -> None:
    d = detector()
    d.observe(probe.ok())
    d.observe(probe.fail())
    decision = d.observe(probe.fail(FailureClass.timeout, "no answer within 500ms"))
    assert decision.kind is K.open_incident and decision.starts_recovery
    assert decision.reason == "web failed 2 checks in a row: timeout (no answer within 500ms)"
    assert decision.failure is FailureClass.timeout  # the latest class
    assert decision.failed_at == T0 + seconds(1)  # at of the first failed check
    assert decision.detected_at == T0 + seconds(2.25)  # end of the second failed check
    assert (d.failed_at, d.detected_at) == (decision.failed_at, decision.detected_at)
    assert d.incident_open


def test_threshold_of_one_opens_at_the_first_failure(probe: Probe) -> None:
    d = detector(failures=1)
    decision = d.observe(probe.fail())
    assert (decision.kind, decision.state) == (K.open_incident, S.failed)
    assert decision.reason == f"web failed 1 check: {REFUSED}"
    assert (decision.failed_at, decision.detected_at) == (T0, T0 + seconds(0.25))


def test_threshold_of_three_counts_and_a_pass_restarts_the_streak(probe: Probe) -> None:
    d = detector(failures=3)
    assert d.observe(probe.fail()).reason == f"web failed 1 of 3 checks: {REFUSED}"
    assert d.observe(probe.fail(FailureClass.exited, "")).reason == (
        "web failed 2 of 3 checks: exited"
    )
    passed = d.observe(probe.ok())
    assert passed.kind is K.recovered_by_itself
    assert passed.reason == "web passed a check after 2 failed checks; no incident"
    assert (d.failed_at, d.consecutive_failures) == (None, 0)
    reasons = [d.observe(probe.fail()).reason for _ in range(3)]
    assert reasons == [
        f"web failed 1 of 3 checks: {REFUSED}",
        f"web failed 2 of 3 checks: {REFUSED}",
        f"web failed 3 checks in a row: {REFUSED}",
    ]
    assert (d.failed_at, d.detected_at) == (T0 + seconds(3), T0 + seconds(5.25))


def test_suspect_then_pass_is_no_incident(probe: Probe) -> None:
    d = detector()
    d.observe(probe.fail())
    decision = d.observe(probe.ok())
    assert decision.reason == "web passed a check after 1 failed check; no incident"
    assert decision.failed_at == T0 and decision.failure is FailureClass.refused
    assert d.failed_at is None


def test_healthy_reasons(probe: Probe) -> None:
    d = detector()
    assert d.observe(probe.ok()).reason == "web passed its first check"
    decision = d.observe(probe.ok())
    assert (decision.kind, decision.reason) == (K.nothing, "web is healthy")
    assert d.consecutive_successes == 2


def test_open_incident_ignores_further_results(probe: Probe) -> None:
    d = reach("failed", probe)
    assert d.observe(probe.fail()).reason == (
        f"web failed again: {REFUSED}; its incident is already open"
    )
    assert d.observe(probe.ok()).reason == (
        "web passed a check; its incident stays open until verified"
    )
    assert d.failed_at == T0 + seconds(1)


# ---------------------------------------------------------------- blocked by a dependency


def test_blocked_then_dependency_recovers_then_fails_opens_with_original_times(
    probe: Probe,
) -> None:
    d = detector()
    d.observe(probe.fail(), failing_dependency=DB)  # below the threshold: suspect as usual
    blocked = d.observe(probe.fail(), failing_dependency=DB)
    assert (blocked.kind, blocked.state, blocked.blocked_by) == (K.blocked, S.blocked, DB)
    assert blocked.reason == (
        "web is blocked by orders-db, which is failing; "
        "it will be re-checked when orders-db recovers"
    )
    assert not blocked.starts_recovery and not d.incident_open
    still = d.observe(probe.fail(), failing_dependency=DB)
    assert (still.kind, still.reason) == (K.nothing, "web is still blocked by orders-db")
    unblocked = d.dependency_recovered()
    assert (unblocked.kind, unblocked.state, unblocked.blocked_by) == (K.unblocked, S.suspect, DB)
    assert unblocked.reason == (
        "orders-db recovered; web will be re-checked: a failed check opens an incident at once, "
        "a passed check ends the failure"
    )
    assert not unblocked.starts_recovery and d.recheck_pending
    opened = d.observe(probe.fail())
    assert (opened.kind, opened.state) == (K.open_incident, S.failed) and opened.starts_recovery
    assert opened.reason == f"web still fails after orders-db recovered: {REFUSED}"
    assert (opened.failed_at, opened.detected_at) == (T0, T0 + seconds(1.25))
    assert opened.blocked_by is None and not d.recheck_pending


def test_recheck_that_passes_ends_the_failure(probe: Probe) -> None:
    d = reach("recheck", probe)
    decision = d.observe(probe.ok())
    assert (decision.kind, decision.state) == (K.recovered_by_itself, S.healthy)
    assert decision.reason == "web passed a check after orders-db recovered; no incident"
    assert d.blocked_by is None and d.failed_at is None


def test_blocked_needs_successes_in_a_row_and_keeps_failed_at(probe: Probe) -> None:
    d = reach("blocked", probe, successes=2)
    first = d.observe(probe.ok())
    assert (first.kind, first.state) == (K.nothing, S.blocked)
    assert first.reason == "web passed 1 of 2 checks while blocked by orders-db"
    d.observe(probe.fail(), failing_dependency=DB)
    d.observe(probe.ok())
    done = d.observe(probe.ok())
    assert (done.kind, done.state) == (K.recovered_by_itself, S.healthy)
    assert done.reason == "web passed 2 checks in a row while blocked by orders-db; no incident"
    assert done.failed_at == T0 + seconds(1)


def test_blocked_by_another_dependency_is_a_new_blocked_decision(probe: Probe) -> None:
    d = reach("blocked", probe)
    decision = d.observe(probe.fail(), failing_dependency="cache")
    assert (decision.kind, decision.blocked_by, d.blocked_by) == (K.blocked, "cache", "cache")
    assert decision.reason.startswith("web is blocked by cache, which is failing")


def test_blocked_without_failing_dependency_opens_at_once(probe: Probe) -> None:
    d = reach("blocked", probe)
    decision = d.observe(probe.fail())
    assert decision.reason == f"web still fails and orders-db no longer does: {REFUSED}"
    assert decision.failed_at == T0 + seconds(1)
    assert decision.detected_at == T0 + seconds(2.25)


def test_mark_blocked_after_a_restart_keeps_the_original_failed_at(probe: Probe) -> None:
    d = detector()
    failed_at = T0 - timedelta(minutes=3)
    marked = d.mark_blocked(DB, failed_at)
    assert (marked.kind, marked.state, marked.blocked_by) == (K.nothing, S.blocked, DB)
    assert marked.reason == "web is blocked by orders-db again after a restart"
    assert d.observe(probe.fail(), failing_dependency=DB).kind is K.nothing
    d.dependency_recovered()
    opened = d.observe(probe.fail())
    assert (opened.kind, opened.failed_at) == (K.open_incident, failed_at)


# ---------------------------------------------------------------- pause


def test_paused_suppresses_then_resume_opens_with_original_streak(probe: Probe) -> None:
    d = detector()
    d.observe(probe.fail(), paused=True)
    suppressed = d.observe(probe.fail(), paused=True)
    assert (suppressed.kind, suppressed.state) == (K.suppressed_paused, S.failed)
    assert (
        suppressed.reason == "web would open an incident (2 checks failed: refused) but is paused"
    )
    assert not suppressed.starts_recovery and not suppressed.opens_incident
    assert not d.incident_open
    again = d.observe(probe.fail(), paused=True)
    assert (again.kind, again.reason) == (K.nothing, f"web still fails but is paused: {REFUSED}")
    resumed = d.observe(probe.fail())
    assert (resumed.kind, resumed.state) == (K.open_incident, S.failed)
    assert resumed.reason == f"web still fails now that it is no longer paused: {REFUSED}"
    assert (resumed.failed_at, resumed.detected_at) == (T0, T0 + seconds(1.25))
    assert d.incident_open


def test_paused_single_failure_wording(probe: Probe) -> None:
    decision = detector(failures=1).observe(probe.fail(), paused=True)
    assert decision.reason == "web would open an incident (1 check failed: refused) but is paused"


def test_paused_failure_that_passes_again_opens_nothing(probe: Probe) -> None:
    d = reach("suppressed", probe)
    decision = d.observe(probe.ok())
    assert (decision.kind, decision.state) == (K.recovered_by_itself, S.healthy)
    assert (
        decision.reason == "web passed 1 check after failing while paused; no incident was opened"
    )


# ---------------------------------------------------------------- recovery and escalation


def test_recovery_records_results_and_finishes_with_measured_time(probe: Probe) -> None:
    d = reach("failed", probe)
    assert d.recovery_started().reason == "web is recovering"
    assert d.recovery_started().reason == "web is already recovering"
    during = d.observe(probe.fail())
    assert during.reason == "web is recovering; the recovery verifies it with its own checks"
    assert d.consecutive_failures == 3
    d.observe(probe.ok())
    assert (d.consecutive_failures, d.consecutive_successes) == (0, 1)
    recovered_at = T0 + seconds(42)
    done = d.recovery_finished(True, at=recovered_at)
    assert (done.kind, done.state, done.recovered_at) == (K.recovered, S.healthy, recovered_at)
    assert done.reason == "web recovered 41s after its first failed check"
    assert (done.failed_at, done.detected_at) == (T0 + seconds(1), T0 + seconds(2.25))
    assert (d.failed_at, d.detected_at, d.incident_open) == (None, None, False)
    assert d.recovery_finished(True, at=recovered_at).reason == (
        "web has no recovery running; its outcome is ignored"
    )


def test_recovery_resumed_after_a_restart_without_a_streak(probe: Probe) -> None:
    d = detector()  # a fresh detector; the store says a recovery was running
    assert (d.recovery_started().state, d.incident_open) == (S.recovering, True)
    done = d.recovery_finished(True, at=T0)
    assert (done.kind, done.reason, done.failed_at) == (K.recovered, "web recovered", None)


def test_recovery_reason_given_by_caller_wins(probe: Probe) -> None:
    d = reach("recovering", probe)
    done = d.recovery_finished(True, at=probe.clock.now(), reason="restart_service verified")
    assert done.reason == "restart_service verified"


def test_escalated_until_successes_passes_in_a_row(probe: Probe) -> None:
    d = reach("recovering", probe, successes=2)
    d.observe(probe.ok())  # a pass seen during the recovery does not count after it
    escalated = d.recovery_finished(False, at=probe.clock.now())
    assert (escalated.kind, escalated.state) == (K.escalate, S.escalated)
    assert escalated.reason == "web was not recovered; escalated to a human"
    assert d.consecutive_successes == 0
    assert d.observe(probe.ok()).reason == "web passed 1 of 2 checks after its escalation"
    assert d.observe(probe.fail()).reason == (
        f"web is escalated and still fails: {REFUSED}; waiting for a human"
    )
    assert d.observe(probe.ok()).reason == "web passed 1 of 2 checks after its escalation"
    last = probe.ok()
    done = d.observe(last)
    assert (done.kind, done.state) == (K.recovered_after_escalation, S.healthy)
    assert done.reason == "web passed 2 checks in a row after its escalation"
    assert done.failed_at == T0 + seconds(1)
    assert done.recovered_at == last.at + seconds(0.25)


def test_escalation_reason_given_by_caller(probe: Probe) -> None:
    d = reach("recovering", probe)
    reason = "web: every strategy failed (restart_service, restore_from_backup)"
    assert d.recovery_finished(False, at=probe.clock.now(), reason=reason).reason == reason


def test_calls_that_do_not_apply_say_so(probe: Probe) -> None:
    d = reach("healthy", probe)
    assert d.dependency_recovered().reason == "web is not blocked"
    assert d.recovery_finished(False, at=T0).reason == (
        "web has no recovery running; its outcome is ignored"
    )
    assert d.state is S.healthy


# ---------------------------------------------------------------- flapping


def incident_and_recovery(d: Detector, probe: Probe) -> Decision:
    """Two failures (an opening), then a verified recovery; return the opening decision."""
    d.observe(probe.fail())
    opening = d.observe(probe.fail())
    if opening.kind is K.open_incident:
        d.recovery_started()
        d.recovery_finished(True, at=probe.clock.now())
    return opening


def test_fourth_incident_in_the_window_is_flapping_and_escalates(probe: Probe) -> None:
    d = detector()
    kinds = [incident_and_recovery(d, probe).kind for _ in range(3)]
    assert kinds == [K.open_incident] * 3
    flapping = incident_and_recovery(d, probe)
    assert (flapping.kind, flapping.state) == (K.flapping, S.escalated)
    assert flapping.reason == "web is flapping: 4 incidents in 10m"
    assert flapping.opens_incident and not flapping.starts_recovery
    assert flapping.failed_at == probe.clock.now() - seconds(2)
    assert d.incident_open
    d.observe(probe.ok())  # back to healthy after its escalation
    assert incident_and_recovery(d, probe).reason == "web is flapping: 5 incidents in 10m"


def test_flap_window_is_inclusive_and_slides(fake_clock: FakeClock) -> None:
    # an incident starting at t opens at t+1.25s (end of its second failed check) and
    # leaves the clock at t+2s
    probe = Probe(fake_clock)
    d = detector(flap_window=timedelta(minutes=10), flap_limit=2)
    first = incident_and_recovery(d, probe)
    assert (first.kind, first.detected_at) == (K.open_incident, T0 + seconds(1.25))
    fake_clock.advance(timedelta(minutes=5) - seconds(2))
    assert incident_and_recovery(d, probe).kind is K.open_incident  # opens at T0+5m+1.25s
    fake_clock.advance(timedelta(minutes=5) - seconds(2))
    third = incident_and_recovery(d, probe)  # T0+10m+1.25s: exactly 10m after the first
    assert third.detected_at == T0 + timedelta(minutes=10, seconds=1.25)
    assert (third.kind, third.reason) == (K.flapping, "web is flapping: 3 incidents in 10m")
    d.observe(probe.ok())  # healthy again; the clock is at T0+10m+3s
    fake_clock.advance(timedelta(minutes=5) - seconds(3) + seconds(0.001))
    fourth = incident_and_recovery(d, probe)  # 10m and 1ms after the second: it has left
    assert fourth.detected_at == T0 + timedelta(minutes=15, seconds=1.251)
    assert (fourth.kind, fourth.state) == (K.open_incident, S.failed)


def test_blips_without_incident_do_not_count_towards_flapping(probe: Probe) -> None:
    d = detector(flap_limit=1)
    for _ in range(5):
        d.observe(probe.fail())
        assert d.observe(probe.ok()).kind is K.recovered_by_itself
    assert incident_and_recovery(d, probe).kind is K.open_incident
    assert incident_and_recovery(d, probe).kind is K.flapping


def test_flapping_is_not_counted_while_paused(probe: Probe) -> None:
    d = detector(flap_limit=1)
    assert incident_and_recovery(d, probe).kind is K.open_incident
    d.observe(probe.fail(), paused=True)
    assert d.observe(probe.fail(), paused=True).kind is K.suppressed_paused
    assert d.observe(probe.fail()).kind is K.flapping


def test_a_reset_circuit_watches_a_flapping_component_afresh(probe: Probe) -> None:
    d = detector(flap_limit=1)
    assert incident_and_recovery(d, probe).kind is K.open_incident
    assert incident_and_recovery(d, probe).kind is K.flapping
    assert d.observe(probe.fail()).kind is K.nothing  # escalated: no recovery, still down
    reset = d.reset_circuit(probe.clock.now())
    assert (reset.kind, reset.state) == (K.circuit_reset, S.unknown)
    assert reset.reason == (
        "web's circuit was reset: watched afresh, "
        "its next failed check opens a new incident and recovers it"
    )
    assert not d.incident_open and d.failed_at is None
    at = probe.clock.now()
    assert d.observe(probe.fail()).kind is K.suspect  # a new streak, from this check
    opened = d.observe(probe.fail())
    assert (opened.kind, opened.failed_at) == (K.open_incident, at)
    assert opened.starts_recovery


def test_a_reset_forgets_the_openings_before_it_only(probe: Probe) -> None:
    d = detector(flap_limit=1)
    assert incident_and_recovery(d, probe).kind is K.open_incident
    reset = d.reset_circuit(probe.clock.now())
    assert (reset.kind, reset.state) == (K.circuit_reset, S.healthy)
    assert reset.reason == "web's circuit was reset: earlier incidents no longer count"
    assert incident_and_recovery(d, probe).kind is K.open_incident  # the first after the reset
    assert incident_and_recovery(d, probe).kind is K.flapping


def test_a_reset_does_not_disturb_a_running_recovery(probe: Probe) -> None:
    d = detector()
    d.observe(probe.fail())
    d.observe(probe.fail())
    d.recovery_started()
    assert d.reset_circuit(probe.clock.now()).state is S.recovering
    assert d.recovery_finished(True, at=probe.clock.now()).kind is K.recovered


def test_bad_flap_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="flap_limit must be at least 1"):
        detector(flap_limit=0)


# ---------------------------------------------------------------- snapshot and restore


@pytest.mark.parametrize("event", list(TABLE))
@pytest.mark.parametrize("start", STARTS)
def test_snapshot_round_trip_behaves_the_same(
    fake_clock: FakeClock, start: str, event: str
) -> None:
    probe = Probe(fake_clock)
    d = reach(start, probe)
    saved = json.loads(json.dumps(d.snapshot()))
    restored = Detector.restore("web", d.check, saved)
    assert restored.snapshot() == d.snapshot()
    assert restored.state is d.state
    assert (restored.failed_at, restored.detected_at) == (d.failed_at, d.detected_at)
    assert (restored.blocked_by, restored.recheck_pending) == (d.blocked_by, d.recheck_pending)
    twin = Probe(FakeClock(fake_clock.now()))
    assert apply(restored, event, twin) == apply(d, event, probe)
    assert restored.snapshot() == d.snapshot()


def test_restore_keeps_the_flapping_history(probe: Probe) -> None:
    d = detector()
    for _ in range(3):
        incident_and_recovery(d, probe)
    restored = Detector.restore("web", d.check, json.loads(json.dumps(d.snapshot())))
    assert incident_and_recovery(restored, probe).kind is K.flapping


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"state": None}, "missing 'state'"),
        ({"state": "sick"}, "'sick' is not a valid HealthState"),
        ({"version": 7}, "version 7, expected 1"),
        ({"failed_at": "yesterday"}, "Invalid isoformat string: 'yesterday'"),
    ],
)
def test_restore_of_unreadable_state_names_component_and_fix(
    probe: Probe, change: dict[str, object], problem: str
) -> None:
    data = reach("failed", probe).snapshot()
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    with pytest.raises(StoreError) as exc:
        Detector.restore("web", detector().check, data)
    assert str(exc.value) == (
        f"saved detector state of 'web' is unreadable ({problem}); "
        "remove it from the state store to start the component as unknown"
    )


def test_a_certain_failure_opens_the_incident_at_once(probe: Probe) -> None:
    d = detector(failures=3)
    assert d.observe(probe.ok()).kind is K.became_healthy
    failed = probe.fail()
    decision = d.observe(failed, certain="its process pid 42 exited with code -9 (SIGKILL)")
    assert decision.kind is K.open_incident and decision.starts_recovery
    assert decision.reason == (
        f"web failed: {REFUSED}; certain at once: its process pid 42 exited with code -9 (SIGKILL)"
    )
    assert decision.failed_at == failed.at
    assert decision.detected_at == failed.at + seconds(0.25)


def test_certain_is_ignored_for_a_passing_check_and_does_not_stick(probe: Probe) -> None:
    d = detector(failures=2)
    d.observe(probe.ok(), certain="its process exited")
    assert d.state is S.healthy
    assert d.observe(probe.fail()).kind is K.suspect  # the next uncertain failure counts as one


# ---------------------------------------------------------------- start period


def starting(start_period: float, failures: int = 2) -> Detector:
    """A detector whose check has ``start_period`` seconds of grace after a start."""
    check = HttpCheck(
        check="http",
        url="http://127.0.0.1:8080/",
        failures=failures,
        start_period=seconds(start_period),
    )
    return Detector("web", check)


def test_failures_in_the_start_period_do_not_count_then_counting_resumes(probe: Probe) -> None:
    d = starting(3.5)
    began = d.started(probe.clock.now())
    assert began.reason == (
        "web started; failed checks until 2026-01-01T00:00:03.500000+00:00 do not count "
        "(start_period 3.5s), a passed check ends it"
    )
    kinds = [d.observe(probe.fail()) for _ in range(4)]  # at 0s, 1s, 2s, 3s: all in the period
    assert [k.kind for k in kinds] == [K.nothing] * 4
    assert (
        kinds[0].reason
        == f"web failed a check during its start period (3.5s left): {REFUSED}; not counted"
    )
    assert d.state is S.unknown and d.consecutive_failures == 0
    first = probe.fail()  # at 4s: past the period, a streak begins
    assert d.observe(first).kind is K.suspect
    opened = d.observe(probe.fail())
    assert opened.kind is K.open_incident and opened.failed_at == first.at


def test_a_pass_ends_the_start_period_early(probe: Probe) -> None:
    d = starting(60)
    d.started(probe.clock.now())
    assert d.observe(probe.fail()).kind is K.nothing
    assert d.observe(probe.ok()).kind is K.became_healthy
    assert d.observe(probe.fail()).kind is K.suspect  # counted: the period is over
    assert d.observe(probe.fail()).kind is K.open_incident


def test_a_certain_failure_counts_during_the_start_period(probe: Probe) -> None:
    d = starting(60)
    d.started(probe.clock.now())
    decision = d.observe(probe.fail(), certain="its process pid 42 exited with code 1")
    assert decision.kind is K.open_incident


def test_a_start_period_of_zero_changes_nothing(probe: Probe) -> None:
    d = starting(0)
    assert d.started(probe.clock.now()).reason == "web has no start period"
    assert d.observe(probe.fail()).kind is K.suspect


def test_a_start_long_ago_has_no_period_left(probe: Probe) -> None:
    d = starting(5)
    d.started(probe.clock.now() - seconds(10))  # an adopted process that started long ago
    assert d.observe(probe.fail()).kind is K.suspect


def test_the_start_period_does_not_hide_failures_once_an_incident_is_open(probe: Probe) -> None:
    d = starting(2)
    d.observe(probe.ok())
    d.observe(probe.fail())
    d.observe(probe.fail())
    assert d.state is S.failed
    d.started(probe.clock.now())
    assert d.observe(probe.fail()).reason == (
        f"web failed again: {REFUSED}; its incident is already open"
    )
