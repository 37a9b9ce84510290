"""How long an agent's claim on a recovery holds (``agent.claims``)."""

from __future__ import annotations

from datetime import timedelta

from paramedic.agent import claim_lease
from tests.unit.test_recovery_actions import _catalog


def test_a_claim_lasts_the_whole_ladder_when_it_is_longer_than_twice_the_rto() -> None:
    short = _catalog([{"strategy": "restart_service", "timeout": "10s"}]).components["cache"]
    assert claim_lease(short) == timedelta(hours=2)  # rto 1h: twice the RTO
    long = _catalog(
        [
            {"strategy": "restart_service", "timeout": "30m"},
            {"strategy": "restore_from_backup", "timeout": "40m", "approval": "required"},
        ]
    ).components["cache"]
    # 30m + 40m + 40m of approval wait = 110m, with half again for the verification
    assert claim_lease(long) == timedelta(minutes=165)
