"""Pure decisions of a recovery: ladder, backoff, measurement; and command parsing (budget: test_recovery_budget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paramedic.catalog.model import Budget, Catalog, CommandCheck, Component, Run
from paramedic.errors import Refused
from paramedic.recovery.ladder import (
    backoff_before,
    measure,
    plan_ladder,
    verification_spacing,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _component(recovery: list[dict[str, object]]) -> Component:
    catalog = Catalog.model_validate(
        {
            "version": 1,
            "components": {
                "web": {
                    "type": "application_server",
                    "rto": "30s",
                    "rpo": "0s",
                    "provider": "process",
                    "spec": {"command": ["true"]},
                    "health": {"check": "tcp", "port": 8080},
                    "recovery": recovery,
                }
            },
        }
    )
    return catalog.components["web"]


def test_ladder_keeps_catalog_order_and_numbers_steps() -> None:
    web = _component([{"strategy": "restart_service"}, {"strategy": "replace_instance"}])
    steps = plan_ladder("web", web)
    assert [(s.seq, s.index, s.name) for s in steps] == [
        (1, 0, "restart_service"),
        (2, 1, "replace_instance"),
    ]


def test_ladder_narrowed_to_one_strategy() -> None:
    web = _component([{"strategy": "restart_service"}, {"strategy": "replace_instance"}])
    steps = plan_ladder("web", web, only="replace_instance")
    assert [(s.seq, s.index, s.name) for s in steps] == [(1, 1, "replace_instance")]


def test_ladder_refusals_say_what_to_do() -> None:
    web = _component([{"strategy": "restart_service"}])
    with pytest.raises(Refused) as exc:
        plan_ladder("web", web, only="scale_out")
    assert str(exc.value) == (
        "component 'web' has no scale_out strategy in its catalog entry (it has: restart_service)"
    )
    with pytest.raises(Refused) as exc:
        plan_ladder("web", web, only="reboot")
    assert "unknown strategy 'reboot'; expected one of: restart_service" in str(exc.value)
    with pytest.raises(Refused) as exc:
        plan_ladder("web", _component([]))
    assert str(exc.value) == (
        "component 'web' has no recovery strategy; add one under components.web.recovery"
    )


def test_backoff_doubles_up_to_its_cap() -> None:
    budget = Budget(backoff=timedelta(seconds=1), backoff_max=timedelta(seconds=5))
    waits = [backoff_before(n, budget).total_seconds() for n in range(1, 7)]
    assert waits == [0.0, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_measure_follows_the_timing_definitions() -> None:
    failed, detected, recovered = T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=9)
    restart = measure(failed, detected, recovered, None, data_kept_in_place=True)
    assert (restart.rto_s, restart.detect_s, restart.rpo_s) == (9.0, 2.0, 0.0)
    point = T0 - timedelta(seconds=40)
    restore = measure(failed, detected, recovered, point, data_kept_in_place=False)
    assert restore.rpo_s == 40.0
    unknown = measure(failed, detected, recovered, None, data_kept_in_place=False)
    assert unknown.rpo_s is None
    never = measure(failed, detected, None, None, data_kept_in_place=True)
    assert never.rto_s is None and never.rpo_s is None


def test_verification_spacing_is_bounded() -> None:
    assert verification_spacing(timedelta(milliseconds=100)) == 0.1
    assert verification_spacing(timedelta(seconds=2)) == 0.5
    assert verification_spacing(timedelta(minutes=1)) == 1.0


def test_shell_command_string_is_kept_whole() -> None:
    check = CommandCheck.model_validate(
        {"check": "command", "command": "curl -s x | grep ok", "shell": True}
    )
    assert check.command == ["curl -s x | grep ok"]
    split = CommandCheck.model_validate({"check": "command", "command": "pg_isready -p 5432"})
    assert split.command == ["pg_isready", "-p", "5432"]
    run = Run.model_validate(
        {"strategy": "run", "command": "systemctl restart x && echo done", "shell": True}
    )
    assert run.command == ["systemctl restart x && echo done"]
