"""The detector: a pure state machine that turns check results into decisions.

One call, one decision (Patroni's habit): every call returns a ``Decision``
with a human reason, and the agent only carries it out. No I/O, no clock:
times come from the results (``at``, ``duration_s``) and explicit arguments.
Failures move unknown/healthy → suspect → failed (an incident; ``blocked``
instead when a dependency fails) → recovering → healthy or escalated.

Timings follow DESIGN.md: ``failed_at`` is the ``at`` of the first failed check
of the streak; ``detected_at`` is the end (``at + duration_s``) of the check
that brought the streak to ``failures``. Both survive a block, a pause and an
unblock, so an incident opened late still measures from its first failure.

Past the threshold (blocked, paused, escalated) a streak ends only after
``successes`` passes in a row; a failure in between keeps the original
``failed_at``. Below the threshold (suspect) a single pass ends it.

Flapping rule: only opened incidents count (blips that end in
``recovered_by_itself`` never start a recovery, so counting them would only
deny recovery to a component whose real failure follows a few blips). When
an opening would make more than ``flap_limit`` openings within ``flap_window``
(inclusive), the incident is still opened but escalated at once, kind
``flapping``, with no recovery: recovering a flapping component loops. The
limit and window come from the catalog (``flapping.incidents``/``window``).
An operator's ``paramedic reset`` (``reset_circuit``) forgets the openings
before it and watches an escalated component afresh.

Start period (``health.start_period``): after ``started(at)`` (paramedic
started the component's process at ``at``), a failed check that began before
``at + start_period`` is not counted while no incident is open; the first
passed check ends the period early. A certain failure (the process exited)
counts all the same: a process that died is not starting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from paramedic.catalog.base import CheckBase
from paramedic.catalog.duration import format_duration
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.errors import StoreError

SNAPSHOT_VERSION = 1


class HealthState(StrEnum):
    """Where a component stands, as the detector sees it."""

    unknown = "unknown"
    healthy = "healthy"
    suspect = "suspect"
    failed = "failed"
    recovering = "recovering"
    escalated = "escalated"
    blocked = "blocked"


class DecisionKind(StrEnum):
    """What a decision asks of the agent (``nothing``: record it and carry on)."""

    nothing = "nothing"
    became_healthy = "became_healthy"
    suspect = "suspect"
    recovered_by_itself = "recovered_by_itself"
    open_incident = "open_incident"
    blocked = "blocked"
    unblocked = "unblocked"
    recovered = "recovered"
    escalate = "escalate"
    recovered_after_escalation = "recovered_after_escalation"
    suppressed_paused = "suppressed_paused"
    flapping = "flapping"
    circuit_reset = "circuit_reset"


@dataclass(frozen=True)
class Decision:
    """One step's decision: its kind, the state it leaves, and why, in one sentence."""

    kind: DecisionKind
    state: HealthState
    reason: str
    failed_at: datetime | None = None
    detected_at: datetime | None = None
    failure: FailureClass | None = None
    blocked_by: str | None = None
    recovered_at: datetime | None = None
    """For ``recovered`` and ``recovered_after_escalation``: when recovery was proven."""

    @property
    def starts_recovery(self) -> bool:
        """Only ``open_incident`` (``unblocked`` waits for a result; ``flapping`` escalates)."""
        return self.kind is DecisionKind.open_incident

    @property
    def opens_incident(self) -> bool:
        """True when the agent must record a new incident (``open_incident`` or ``flapping``)."""
        return self.kind in (DecisionKind.open_incident, DecisionKind.flapping)


def _count(n: int, in_a_row: bool = True) -> str:
    """``1 check``, ``2 checks in a row``."""
    return "1 check" if n == 1 else f"{n} checks" + (" in a row" if in_a_row else "")


class Detector:
    """The health state machine of one component, driven by its check's results."""

    def __init__(
        self,
        name: str,
        check: CheckBase,
        *,
        flap_window: timedelta = timedelta(minutes=10),
        flap_limit: int = 3,
    ) -> None:
        if flap_limit < 1 or flap_window <= timedelta(0):
            raise ValueError("flap_limit must be at least 1 and flap_window above 0s")
        self.name = name
        self.check = check
        self.flap_window = flap_window
        self.flap_limit = flap_limit
        self._state = HealthState.unknown
        self._failures = 0
        self._certain: str | None = None
        self._successes = 0
        self._failed_at: datetime | None = None
        self._detected_at: datetime | None = None
        self._failure: FailureClass | None = None
        self._detail = ""
        self._blocked_by: str | None = None
        self._incident_open = False
        self._recheck = False
        self._openings: list[datetime] = []
        self._starting_until: datetime | None = None

    # ------------------------------------------------------------ read-only view

    @property
    def state(self) -> HealthState:
        """The current state."""
        return self._state

    @property
    def failed_at(self) -> datetime | None:
        """``at`` of the first failed check of the current streak; None when healthy."""
        return self._failed_at

    @property
    def detected_at(self) -> datetime | None:
        """End of the check that brought the streak to ``failures``; None below it."""
        return self._detected_at

    @property
    def consecutive_failures(self) -> int:
        """Failed checks in a row up to the latest result."""
        return self._failures

    @property
    def consecutive_successes(self) -> int:
        """Passed checks in a row up to the latest result."""
        return self._successes

    @property
    def blocked_by(self) -> str | None:
        """The failing dependency that blocks (or blocked, while re-check is pending) it."""
        return self._blocked_by

    @property
    def incident_open(self) -> bool:
        """True from an opened incident to its recovery (False while a pause suppresses it)."""
        return self._incident_open

    @property
    def recheck_pending(self) -> bool:
        """True after ``dependency_recovered``: the next result decides at once."""
        return self._recheck

    # ------------------------------------------------------------ inputs

    def observe(
        self,
        result: CheckResult,
        *,
        failing_dependency: str | None = None,
        paused: bool = False,
        certain: str | None = None,
    ) -> Decision:
        """Take one result and decide; give ``failing_dependency`` on every call (None: none).

        ``certain`` says why a failure needs no second opinion (the process paramedic
        owns has exited, seen by awaiting it): the streak reaches ``failures`` at once.
        """
        if result.ok:
            self._starting_until = None  # a pass ends the start period early
        elif certain is None and self._starting(result.at):
            assert self._starting_until is not None
            left = format_duration(self._starting_until - result.at)
            what = f"{result.failure} ({result.detail})" if result.detail else str(result.failure)
            reason = (
                f"{self.name} failed a check during its start period ({left} left): {what}; "
                "not counted"
            )
            return self._decide(DecisionKind.nothing, reason)
        prior = self._failures
        self._certain = None if result.ok else certain
        if result.ok:
            self._successes += 1
            self._failures = 0
        else:
            self._successes = 0
            self._failures += 1
            if certain is not None:
                self._failures = max(self._failures, self.check.failures)
            self._failure, self._detail = result.failure, result.detail
            if self._state in (HealthState.unknown, HealthState.healthy):
                self._failed_at = result.at  # a new streak starts
        end = result.at + timedelta(seconds=result.duration_s)
        dep, state, name = failing_dependency, self._state, self.name
        if state in (HealthState.unknown, HealthState.healthy):
            if not result.ok:
                return self._failing(end, dep, paused)
            if state is HealthState.unknown:
                self._state = HealthState.healthy
                return self._decide(DecisionKind.became_healthy, f"{name} passed its first check")
            return self._decide(DecisionKind.nothing, f"{name} is healthy")
        if state is HealthState.suspect:
            return self._on_suspect(result.ok, prior, end, dep, paused)
        if state is HealthState.failed:
            return self._on_failed(result.ok, end, dep, paused)
        if state is HealthState.blocked:
            return self._on_blocked(result.ok, end, dep, paused)
        if state is HealthState.escalated:
            if result.ok:
                kind = DecisionKind.recovered_after_escalation
                return self._held_pass(kind, "after its escalation", end)
            reason = f"{name} is escalated and still fails: {self._what()}; waiting for a human"
            return self._decide(DecisionKind.nothing, reason)
        reason = f"{name} is recovering; the recovery verifies it with its own checks"
        return self._decide(DecisionKind.nothing, reason)

    def started(self, at: datetime) -> Decision:
        """Paramedic started the component's process at ``at``: its start period begins."""
        period = self.check.start_period
        if period <= timedelta(0):
            return self._decide(DecisionKind.nothing, f"{self.name} has no start period")
        self._starting_until = at + period
        reason = (
            f"{self.name} started; failed checks until {self._starting_until.isoformat()} "
            f"do not count (start_period {format_duration(period)}), a passed check ends it"
        )
        return self._decide(DecisionKind.nothing, reason)

    def _starting(self, at: datetime) -> bool:
        """True while a check begun at ``at`` falls in the start period, before any incident."""
        until = self._starting_until
        if until is None or at >= until:
            return False
        return self._state in (HealthState.unknown, HealthState.healthy, HealthState.suspect)

    def recovery_started(self) -> Decision:
        """The recovery workflow has started (automatically or by hand)."""
        if self._state is HealthState.recovering:
            return self._decide(DecisionKind.nothing, f"{self.name} is already recovering")
        self._state, self._incident_open = HealthState.recovering, True
        self._blocked_by, self._recheck = None, False
        return self._decide(DecisionKind.nothing, f"{self.name} is recovering")

    def recovery_finished(self, ok: bool, *, at: datetime, reason: str = "") -> Decision:
        """The workflow ended: ``ok`` (verified at ``at``) → healthy, else escalated."""
        running = self._state is HealthState.recovering
        if not (running or (self._state is HealthState.failed and self._incident_open)):
            reason = f"{self.name} has no recovery running; its outcome is ignored"
            return self._decide(DecisionKind.nothing, reason)
        if ok:
            default = f"{self.name} recovered"
            if self._failed_at is not None:
                default += f" {format_duration(at - self._failed_at)} after its first failed check"
            return self._healthy(DecisionKind.recovered, reason or default, at)
        self._state, self._successes = HealthState.escalated, 0
        default = f"{self.name} was not recovered; escalated to a human"
        return self._decide(DecisionKind.escalate, reason or default)

    def reset_circuit(self, at: datetime) -> Decision:
        """An operator closed the circuit at ``at``: openings before it stop counting.

        An escalated component (flapping, or a recovery that gave up) is watched afresh:
        its state becomes unknown, so its next failed check starts a new streak and opens
        a new incident that recovers. Other states keep their course.
        """
        self._openings = [t for t in self._openings if t > at]
        if self._state is not HealthState.escalated:
            reason = f"{self.name}'s circuit was reset: earlier incidents no longer count"
            return self._decide(DecisionKind.circuit_reset, reason)
        self._state, self._failures, self._successes = HealthState.unknown, 0, 0
        self._failed_at = self._detected_at = None
        self._failure, self._detail, self._incident_open = None, "", False
        return self._decide(
            DecisionKind.circuit_reset,
            f"{self.name}'s circuit was reset: watched afresh, "
            "its next failed check opens a new incident and recovers it",
        )

    def dependency_recovered(self) -> Decision:
        """The blocking dependency recovered: re-check, so the next result decides at once."""
        if self._state is not HealthState.blocked:
            return self._decide(DecisionKind.nothing, f"{self.name} is not blocked")
        self._state, self._recheck = HealthState.suspect, True
        return self._decide(
            DecisionKind.unblocked,
            f"{self._blocked_by} recovered; {self.name} will be re-checked: "
            "a failed check opens an incident at once, a passed check ends the failure",
        )

    def mark_blocked(
        self, blocked_by: str, failed_at: datetime | None, detected_at: datetime | None = None
    ) -> Decision:
        """Put back a blocked incident read from the store after a restart (nothing to notify)."""
        self._state, self._blocked_by, self._recheck = HealthState.blocked, blocked_by, False
        self._failed_at, self._detected_at, self._incident_open = failed_at, detected_at, False
        reason = f"{self.name} is blocked by {blocked_by} again after a restart"
        return self._decide(DecisionKind.nothing, reason)

    # ------------------------------------------------------------ per-state steps

    def _on_suspect(
        self, ok: bool, prior: int, end: datetime, dep: str | None, paused: bool
    ) -> Decision:
        if ok:
            if self._recheck:
                why = f"after {self._blocked_by} recovered"
            else:
                why = f"after {prior} failed check" + ("s" if prior != 1 else "")
            reason = f"{self.name} passed a check {why}; no incident"
            return self._healthy(DecisionKind.recovered_by_itself, reason)
        if self._recheck:
            reason = f"{self.name} still fails after {self._blocked_by} recovered: {self._what()}"
            return self._threshold(end, dep, paused, reason)
        return self._failing(end, dep, paused)

    def _on_failed(self, ok: bool, end: datetime, dep: str | None, paused: bool) -> Decision:
        if self._incident_open:
            if ok:
                reason = f"{self.name} passed a check; its incident stays open until verified"
            else:
                reason = f"{self.name} failed again: {self._what()}; its incident is already open"
            return self._decide(DecisionKind.nothing, reason)
        if ok:
            why, tail = "after failing while paused", "; no incident was opened"
            return self._held_pass(DecisionKind.recovered_by_itself, why, end, tail)
        if paused:
            reason = f"{self.name} still fails but is paused: {self._what()}"
            return self._decide(DecisionKind.nothing, reason)
        reason = f"{self.name} still fails now that it is no longer paused: {self._what()}"
        return self._threshold(end, dep, paused, reason)

    def _on_blocked(self, ok: bool, end: datetime, dep: str | None, paused: bool) -> Decision:
        if ok:
            why = f"while blocked by {self._blocked_by}"
            return self._held_pass(DecisionKind.recovered_by_itself, why, end, "; no incident")
        if dep is None:  # the dependency recovered without dependency_recovered() being called
            reason = (
                f"{self.name} still fails and {self._blocked_by} no longer does: {self._what()}"
            )
            return self._threshold(end, dep, paused, reason)
        if dep != self._blocked_by:
            return self._block(dep)
        return self._decide(DecisionKind.nothing, f"{self.name} is still blocked by {dep}")

    # ------------------------------------------------------------ shared moves

    def _failing(self, end: datetime, dep: str | None, paused: bool) -> Decision:
        """A failure while the streak is below or at the threshold."""
        need = self.check.failures
        if self._failures < need:
            self._state = HealthState.suspect
            reason = f"{self.name} failed {self._failures} of {need} checks: {self._what()}"
            return self._decide(DecisionKind.suspect, reason)
        self._detected_at = end
        if self._certain is not None:
            reason = f"{self.name} failed: {self._what()}; certain at once: {self._certain}"
        else:
            reason = f"{self.name} failed {_count(self._failures)}: {self._what()}"
        return self._threshold(end, dep, paused, reason)

    def _threshold(self, end: datetime, dep: str | None, paused: bool, reason: str) -> Decision:
        """The streak is past ``failures``: block, suppress, or open an incident."""
        self._recheck = False
        if dep is not None:
            return self._block(dep)
        self._blocked_by = None
        if paused:
            self._state, self._incident_open = HealthState.failed, False
            failed = _count(self._failures, in_a_row=False)
            return self._decide(
                DecisionKind.suppressed_paused,
                f"{self.name} would open an incident ({failed} failed: {self._failure}) "
                "but is paused",
            )
        self._openings = [t for t in self._openings if end - t <= self.flap_window] + [end]
        self._incident_open = True
        if len(self._openings) > self.flap_limit:
            self._state = HealthState.escalated
            return self._decide(
                DecisionKind.flapping,
                f"{self.name} is flapping: {len(self._openings)} incidents in "
                f"{format_duration(self.flap_window)}",
            )
        self._state = HealthState.failed
        return self._decide(DecisionKind.open_incident, reason)

    def _block(self, dep: str) -> Decision:
        """A dependency fails: no recovery of its own, no page of its own."""
        self._state, self._blocked_by = HealthState.blocked, dep
        return self._decide(
            DecisionKind.blocked,
            f"{self.name} is blocked by {dep}, which is failing; "
            f"it will be re-checked when {dep} recovers",
        )

    def _held_pass(self, kind: DecisionKind, why: str, end: datetime, tail: str = "") -> Decision:
        """A pass past the threshold: ``successes`` in a row end the failure."""
        need = self.check.successes
        if self._successes < need:
            reason = f"{self.name} passed {self._successes} of {need} checks {why}"
            return self._decide(DecisionKind.nothing, reason)
        recovered_at = end if kind is DecisionKind.recovered_after_escalation else None
        return self._healthy(kind, f"{self.name} passed {_count(need)} {why}{tail}", recovered_at)

    def _healthy(self, kind: DecisionKind, reason: str, at: datetime | None = None) -> Decision:
        """Decide ``kind``, then forget the streak: the component is healthy."""
        self._state = HealthState.healthy
        decision = self._decide(kind, reason, recovered_at=at)
        self._failures, self._failed_at, self._detected_at = 0, None, None
        self._failure, self._detail, self._blocked_by = None, "", None
        self._incident_open = self._recheck = False
        return decision

    def _decide(
        self, kind: DecisionKind, reason: str, recovered_at: datetime | None = None
    ) -> Decision:
        return Decision(
            kind=kind,
            state=self._state,
            reason=reason,
            failed_at=self._failed_at,
            detected_at=self._detected_at,
            failure=self._failure,
            blocked_by=self._blocked_by,
            recovered_at=recovered_at,
        )

    def _what(self) -> str:
        """``refused (connection refused on 127.0.0.1:8080)``."""
        return f"{self._failure} ({self._detail})" if self._detail else str(self._failure)

    # ------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume after a restart, as JSON-ready values."""
        iso = [t.isoformat() for t in self._openings]
        return {
            "version": SNAPSHOT_VERSION,
            "state": str(self._state),
            "consecutive_failures": self._failures,
            "consecutive_successes": self._successes,
            "failed_at": self._failed_at.isoformat() if self._failed_at else None,
            "detected_at": self._detected_at.isoformat() if self._detected_at else None,
            "failure": str(self._failure) if self._failure else None,
            "detail": self._detail,
            "blocked_by": self._blocked_by,
            "incident_open": self._incident_open,
            "recheck_pending": self._recheck,
            "openings": iso,
        }

    @classmethod
    def restore(
        cls,
        name: str,
        check: CheckBase,
        data: dict[str, Any],
        *,
        flap_window: timedelta = timedelta(minutes=10),
        flap_limit: int = 3,
    ) -> Detector:
        """A detector resumed from ``snapshot()``; raise StoreError if ``data`` is unreadable."""
        detector = cls(name, check, flap_window=flap_window, flap_limit=flap_limit)

        def when(key: str) -> datetime | None:
            value = data[key]
            return None if value is None else datetime.fromisoformat(value)

        try:
            if data["version"] != SNAPSHOT_VERSION:
                raise ValueError(f"version {data['version']!r}, expected {SNAPSHOT_VERSION}")
            detector._state = HealthState(data["state"])
            detector._failures = int(data["consecutive_failures"])
            detector._successes = int(data["consecutive_successes"])
            detector._failed_at, detector._detected_at = when("failed_at"), when("detected_at")
            failure = data["failure"]
            detector._failure = None if failure is None else FailureClass(failure)
            detector._detail = str(data["detail"])
            detector._blocked_by = data["blocked_by"]
            detector._incident_open = bool(data["incident_open"])
            detector._recheck = bool(data["recheck_pending"])
            detector._openings = [datetime.fromisoformat(t) for t in data["openings"]]
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise StoreError(
                f"saved detector state of {name!r} is unreadable ({problem}); "
                "remove it from the state store to start the component as unknown"
            ) from exc
        return detector
