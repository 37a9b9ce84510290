"""``paramedic plan``: inventory, blast radius, each gap kind with its figures, the rendering."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from paramedic.catalog.model import Catalog, ComponentType, StrategyName
from paramedic.plan import Gap, Plan, Severity, analyze
from paramedic.providers import registry
from paramedic.providers.base import ProviderInfo, SpecModel
from paramedic.views.plan import render_plan


def component(**overrides: Any) -> dict[str, Any]:
    """A component with no gap: process provider, fast check, one quick strategy, a long RTO."""
    base: dict[str, Any] = {
        "type": "application_server",
        "rto": "1h",
        "rpo": "0s",
        "provider": "process",
        "spec": {"command": ["python3", "-m", "http.server"], "stop_grace": "1s"},
        "health": {
            "check": "http",
            "url": "http://127.0.0.1:18080/",
            "interval": "1s",
            "timeout": "1s",
            "failures": 2,
        },
        "recovery": [{"strategy": "restart_service", "timeout": "10s"}],
    }
    base.update(overrides)
    return base


def catalog(state: str | None = None, **components: dict[str, Any]) -> Catalog:
    """A catalog of ``components`` (built in code, as the loader would after validation)."""
    data: dict[str, Any] = {"version": 1, "location": "site-a", "components": components}
    if state is not None:
        data["state"] = state
    return Catalog.model_validate(data)


def gaps(plan: Plan, kind: str) -> list[Gap]:
    """The gaps of one kind."""
    return [gap for gap in plan.gaps if gap.kind == kind]


def only(plan: Plan, kind: str) -> Gap:
    """The one gap of ``kind``."""
    found = gaps(plan, kind)
    assert len(found) == 1, [g.reason for g in plan.gaps]
    return found[0]


@pytest.fixture
def fake_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two providers of our own: one built that can only restart, one not built yet."""

    class NoSpec(SpecModel):
        pass

    for name, implementation in (("lathe", "somewhere:Lathe"), ("tape-library", None)):
        info = ProviderInfo(
            name=name,
            summary="test provider",
            types=frozenset(ComponentType),
            strategies=frozenset({StrategyName.restart_service}),
            spec_model=NoSpec,
            implementation=implementation,
        )
        monkeypatch.setitem(registry.PROVIDERS, name, info)


# ---------------------------------------------------------------- no gaps


def test_a_sound_catalog_has_no_gap() -> None:
    plan = analyze(catalog(web=component()))
    assert plan.gaps == []
    assert plan.summary() == "1 component, 0 gaps (0 high)"


# ---------------------------------------------------------------- rto_unreachable


def slow_check(**overrides: Any) -> dict[str, Any]:
    """12s worst case to detect (4s x 2 + 4s), then 10s + 30s of strategy timeouts."""
    return component(
        health={
            "check": "tcp",
            "port": 18080,
            "interval": "4s",
            "timeout": "4s",
            "failures": 2,
        },
        recovery=[
            {"strategy": "restart_service", "timeout": "10s"},
            {"strategy": "replace_instance", "timeout": "30s"},
        ],
        **overrides,
    )


def test_rto_unreachable_adds_detection_and_every_strategy_timeout() -> None:
    gap = only(analyze(catalog(web=slow_check(rto="30s"))), "rto_unreachable")
    assert gap.severity is Severity.high
    assert gap.reason == (
        "worst case 12s to detect + 40s of strategy timeouts = 52s exceeds the RTO of 30s"
    )
    assert gap.figures == {
        "detect_s": 12.0,
        "strategies_s": 40.0,
        "total_s": 52.0,
        "rto_s": 30.0,
        "first_strategy_s": 10.0,
    }


def test_rto_unreachable_says_when_even_the_first_strategy_overruns() -> None:
    plan = analyze(catalog(web=slow_check(rto="20s")))
    gap = only(plan, "rto_unreachable")
    assert gap.reason == (
        "worst case 12s to detect + 40s of strategy timeouts = 52s exceeds the RTO of 20s;"
        " even detection + the first strategy (restart_service, 10s) = 22s exceeds it"
    )
    assert [g.kind for g in plan.gaps] == ["rto_unreachable"]


def test_rto_met_exactly_is_no_gap() -> None:
    assert gaps(analyze(catalog(web=slow_check(rto="52s"))), "rto_unreachable") == []


# ---------------------------------------------------------------- step_timeout_short


def hang_prone(**overrides: Any) -> dict[str, Any]:
    """The demo as it was: an owned process with the default 10s stop grace, a 3s restart."""
    defaults: dict[str, Any] = {
        "spec": {"command": ["python3", "service.py"]},
        "recovery": [
            {"strategy": "restart_service", "timeout": "3s"},
            {"strategy": "replace_instance", "timeout": "4s"},
        ],
    }
    return component(**(defaults | overrides))


def test_a_step_shorter_than_its_stop_grace_cannot_fix_a_hang() -> None:
    plan = analyze(catalog(web=hang_prone()))
    found = gaps(plan, "step_timeout_short")
    assert [(g.subject, g.severity) for g in found] == [
        ("restart_service", Severity.high),
        ("replace_instance", Severity.high),
    ]
    assert found[0].reason == (
        "step 1, restart_service: its timeout of 3s is shorter than what it must wait for:"
        " 10s stop grace + 1 verification check 250ms apart (250ms) = 10.2s;"
        " a hung process is killed only after the grace, so this step cannot fix a hang"
    )
    assert found[0].figures == {
        "step": 1,
        "timeout_s": 3.0,
        "stop_grace_s": 10.0,
        "start_period_s": 0.0,
        "verify_s": 0.25,
        "need_s": 10.25,
    }
    assert found[1].figures["step"] == 2 and found[1].figures["timeout_s"] == 4.0


def test_a_timeout_covering_grace_and_verification_is_no_gap() -> None:
    steps = [{"strategy": "restart_service", "timeout": "10.25s"}]
    assert gaps(analyze(catalog(web=hang_prone(recovery=steps))), "step_timeout_short") == []
    steps = [{"strategy": "restart_service", "timeout": "10.2s"}]
    assert len(gaps(analyze(catalog(web=hang_prone(recovery=steps))), "step_timeout_short")) == 1


def test_verification_counts_successes_at_the_engines_spacing() -> None:
    health = {"check": "tcp", "port": 18080, "interval": "2s", "timeout": "1s", "successes": 3}
    steps = [{"strategy": "run", "command": ["true"], "timeout": "1s"}]
    gap = only(analyze(catalog(web=component(health=health, recovery=steps))), "step_timeout_short")
    assert gap.reason == (
        "step 1, run: its timeout of 1s is shorter than what it must wait for:"
        " 3 verification checks 500ms apart (1.5s) = 1.5s"
    )
    assert gap.figures["stop_grace_s"] == 0.0 and gap.figures["need_s"] == 1.5


def test_a_process_driven_by_commands_has_no_stop_grace_to_wait() -> None:
    spec = {"restart_command": ["systemctl", "restart", "web"]}
    steps = [{"strategy": "restart_service", "timeout": "3s"}]
    plan = analyze(catalog(web=component(spec=spec, recovery=steps)))
    assert gaps(plan, "step_timeout_short") == []


def test_a_redis_restart_waits_for_its_stop_grace() -> None:
    cache = redis_cache(
        spec={"dir": "/srv/cache", "stop_grace": "20s"},
        backup=rdb("*/5 * * * *"),
        recovery=[{"strategy": "restart_service", "timeout": "15s"}],
    )
    gap = only(analyze(catalog(cache=cache)), "step_timeout_short")
    assert gap.figures["stop_grace_s"] == 20.0 and gap.figures["timeout_s"] == 15.0


def test_the_start_period_is_added_when_the_catalog_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import paramedic.plan as plan_module

    monkeypatch.setattr(plan_module, "start_period", lambda _c: timedelta(seconds=5))
    steps = [{"strategy": "restart_service", "timeout": "6s"}]
    gap = only(analyze(catalog(web=component(recovery=steps))), "step_timeout_short")
    assert gap.reason.endswith(
        "1s stop grace + 5s start period + 1 verification check 250ms apart (250ms) = 6.2s;"
        " a hung process is killed only after the grace, so this step cannot fix a hang"
    )
    assert gap.figures["start_period_s"] == 5.0


def starting_check(rto: str) -> dict[str, Any]:
    """``slow_check`` whose service needs 5s to start: each restart may add 5s + 1 check (1s)."""
    comp = slow_check(rto=rto)
    comp["health"] = {**comp["health"], "start_period": "5s"}
    return comp


def test_rto_unreachable_counts_the_start_period_after_each_restart() -> None:
    gap = only(analyze(catalog(web=starting_check("60s"))), "rto_unreachable")
    assert gap.reason == (
        "worst case 12s to detect + 40s of strategy timeouts + 12s waiting out start periods"
        " = 1m4s exceeds the RTO of 1m"
    )
    assert gap.figures["start_periods_s"] == 12.0 and gap.figures["total_s"] == 64.0
    assert gaps(analyze(catalog(web=starting_check("64s"))), "rto_unreachable") == []


# ---------------------------------------------------------------- rpo


def redis_cache(**overrides: Any) -> dict[str, Any]:
    """A Redis cache with an RPO of 1h."""
    defaults: dict[str, Any] = {
        "type": "cache",
        "provider": "redis",
        "spec": {"dir": "/srv/cache", "stop_grace": "2s"},
        "health": {"check": "redis", "url": "redis://127.0.0.1:16379/0"},
        "rpo": "1h",
    }
    return component(**(defaults | overrides))


def test_rpo_without_backup() -> None:
    gap = only(analyze(catalog(cache=redis_cache(rpo="15m"))), "rpo_no_backup")
    assert gap.severity is Severity.high
    assert gap.reason == "RPO of 15m but no backup: no recovery point bounds the data lost"
    assert gap.figures == {"rpo_s": 900.0}


def test_rpo_of_zero_needs_no_backup() -> None:
    assert gaps(analyze(catalog(web=component(rpo="0s"))), "rpo_no_backup") == []


def rds_db(rpo: str) -> dict[str, Any]:
    """An aws.rds component with an AWS Backup and the RPO given."""
    return component(
        type="database",
        rpo=rpo,
        provider="aws.rds",
        spec={"db_instance_identifier": "orders"},
        health={"check": "aws.rds_status", "interval": "10s", "timeout": "5s"},
        recovery=[{"strategy": "restore_from_backup", "timeout": "20m"}],
        backup={"engine": "aws_backup", "schedule": "* * * * *", "verify": "daily"},
    )


def test_rds_rpo_under_the_restorable_lag() -> None:
    gap = only(analyze(catalog(orders=rds_db("1m"))), "rpo_below_restorable_lag")
    assert gap.severity is Severity.high
    assert gap.reason == (
        "RPO of 1m but RDS restores only up to LatestRestorableTime, which lags about 5m"
        " behind: a point-in-time restore loses more"
    )
    assert gap.figures == {"rpo_s": 60.0, "lag_s": 300.0}
    assert gap.subject == "aws.rds"


def test_rds_rpo_of_the_lag_or_more_is_no_gap() -> None:
    assert gaps(analyze(catalog(orders=rds_db("5m"))), "rpo_below_restorable_lag") == []


def rdb(schedule: str, verify: str = "daily") -> dict[str, Any]:
    """A redis_rdb backup on ``schedule``."""
    return {"engine": "redis_rdb", "schedule": schedule, "verify": verify}


def test_rpo_schedule_uses_the_longest_interval_between_runs() -> None:
    # Twice a day, but at 9:00 and 17:00: the night is a 16h gap, not the 12h average.
    plan = analyze(catalog(cache=redis_cache(rpo="12h", backup=rdb("0 9,17 * * *"))))
    gap = only(plan, "rpo_schedule")
    assert gap.severity is Severity.high
    assert gap.reason == (
        "longest gap of 16h between scheduled backups ('0 9,17 * * *') exceeds the RPO of 12h"
        " (bound: the schedule)"
    )
    assert gap.figures == {"bound_s": 57600.0, "rpo_s": 43200.0}
    assert gap.subject == "schedule"


def test_a_schedule_within_the_rpo_is_no_gap() -> None:
    plan = analyze(catalog(cache=redis_cache(rpo="1h", backup=rdb("*/30 * * * *"))))
    assert gaps(plan, "rpo_schedule") == []
    assert gaps(plan, "rpo_no_backup") == []


def orders_db(**overrides: Any) -> dict[str, Any]:
    """A PostgreSQL database with an RPO of 1m and a daily base backup (``backup`` adds to it)."""
    backup = {"engine": "pg_basebackup", "schedule": "0 1 * * *", "verify": "daily"}
    defaults: dict[str, Any] = {
        "type": "database",
        "provider": "postgres",
        "spec": {"data_dir": "/srv/db"},
        "health": {"check": "postgres", "dsn": "postgresql://monitor@127.0.0.1:15432/postgres"},
        "rpo": "1m",
    }
    backup |= overrides.pop("backup", {})
    return component(**(defaults | overrides), backup=backup)


def test_wal_engines_are_bound_by_the_archive_timeout_not_the_schedule() -> None:
    # A daily schedule, yet PostgreSQL's default archive timeout of 60s meets an RPO of 1m.
    assert gaps(analyze(catalog(db=orders_db())), "rpo_schedule") == []


def test_rpo_schedule_for_a_wal_engine_names_the_archive_timeout() -> None:
    gap = only(analyze(catalog(db=orders_db(backup={"archive_timeout": "5m"}))), "rpo_schedule")
    assert gap.reason == (
        "WAL archive timeout of 5m exceeds the RPO of 1m"
        " (bound: the archive timeout, as pg_basebackup archives WAL continuously)"
    )
    assert gap.figures == {"bound_s": 300.0, "rpo_s": 60.0}
    assert gap.subject == "archive_timeout"


def test_rpo_schedule_says_when_the_archive_timeout_is_postgres_default() -> None:
    gap = only(analyze(catalog(db=orders_db(rpo="30s"))), "rpo_schedule")
    assert gap.reason == (
        "WAL archive timeout of 1m (PostgreSQL's default) exceeds the RPO of 30s"
        " (bound: the archive timeout, as pg_basebackup archives WAL continuously)"
    )


def test_a_backup_never_verified() -> None:
    plan = analyze(catalog(cache=redis_cache(backup=rdb("*/30 * * * *", verify="never"))))
    gap = only(plan, "no_verify")
    assert gap.severity is Severity.low
    assert gap.reason == (
        "the redis_rdb backup is never test-restored (verify: never):"
        " a backup never restored is a hope"
    )
    assert gaps(analyze(catalog(cache=redis_cache(backup=rdb("*/30 * * * *")))), "no_verify") == []


# ---------------------------------------------------------------- recovery


def test_no_recovery_strategy() -> None:
    plan = analyze(catalog(web=component(recovery=[])))
    assert [g.kind for g in plan.gaps] == ["no_recovery"]
    gap = plan.gaps[0]
    assert gap.severity is Severity.high
    assert gap.reason == "no recovery strategy: a failure is detected and notified, never recovered"


def test_strategy_the_provider_cannot_carry_out(fake_providers: None) -> None:
    steps = [{"strategy": "restart_service"}, {"strategy": "scale_out", "count": 2}]
    gap = only(
        analyze(catalog(m=component(provider="lathe", recovery=steps))), "strategy_unsupported"
    )
    assert gap.severity is Severity.high
    assert (
        gap.reason
        == "step 2, scale_out: provider 'lathe' cannot carry it out (it can: restart_service)"
    )
    assert gap.figures == {"step": 2}
    assert gap.subject == "scale_out"


def test_strategy_unsupported_by_a_real_provider() -> None:
    steps = [{"strategy": "scale_out", "timeout": "5s"}]
    gap = only(
        analyze(catalog(cache=redis_cache(recovery=steps, rpo="0s"))), "strategy_unsupported"
    )
    assert gap.reason == (
        "step 1, scale_out: provider 'redis' cannot carry it out"
        " (it can: restart_service, restore_from_backup, run)"
    )


def test_supported_strategies_are_no_gap(fake_providers: None) -> None:
    plan = analyze(catalog(m=component(provider="lathe")))
    assert plan.gaps == []


def test_provider_not_built_yet(fake_providers: None) -> None:
    gap = only(analyze(catalog(t=component(provider="tape-library"))), "provider_not_built")
    assert gap.severity is Severity.low
    assert gap.reason == (
        "provider 'tape-library' is not built yet in this version:"
        " plan and validate know it, run cannot recover with it"
    )
    assert gap.subject == "tape-library"


def test_unknown_provider_is_a_gap_not_a_crash() -> None:
    gap = only(analyze(catalog(web=component(provider="redsi"))), "unknown_provider")
    assert gap.severity is Severity.high
    assert gap.reason.startswith("unknown provider 'redsi'; known providers: ")
    assert "postgres" in gap.reason


def test_approval_on_a_fast_rto() -> None:
    steps = [
        {"strategy": "restart_service", "timeout": "30s"},
        {"strategy": "restore_from_backup", "approval": "required", "timeout": "2m"},
    ]
    gap = only(analyze(catalog(db=orders_db(rto="5m", recovery=steps))), "approval_on_fast_rto")
    assert gap.severity is Severity.medium
    assert gap.reason == (
        "step 2, restore_from_backup, waits for an operator's approval but the RTO is 5m"
        " (under 15m): nobody will answer in time"
    )
    assert gap.figures == {"step": 2, "rto_s": 300.0, "limit_s": 900.0}
    assert gap.subject == "restore_from_backup"


def test_approval_with_an_rto_of_15m_or_more_is_no_gap() -> None:
    steps = [{"strategy": "restore_from_backup", "approval": "required", "timeout": "10m"}]
    plan = analyze(catalog(db=orders_db(rto="15m", recovery=steps)))
    assert gaps(plan, "approval_on_fast_rto") == []


# ---------------------------------------------------------------- criticality


def test_critical_on_a_less_critical_dependency_with_a_longer_rto_is_high() -> None:
    plan = analyze(
        catalog(
            cache=component(criticality="important", rto="2m"),
            api=component(criticality="critical", rto="30s", depends_on=["cache"]),
        )
    )
    gap = only(plan, "criticality_inversion")
    assert (gap.component, gap.severity, gap.subject) == ("api", Severity.high, "cache")
    assert gap.reason == (
        "critical but depends on important cache, whose RTO of 2m exceeds its own RTO of 30s"
    )
    assert gap.figures == {
        "rank": 3,
        "dependency_rank": 2,
        "rto_s": 30.0,
        "dependency_rto_s": 120.0,
    }


def test_criticality_inversion_within_the_rto_is_medium_and_covers_important() -> None:
    plan = analyze(
        catalog(
            logs=component(criticality="standard", rto="20s"),
            api=component(criticality="important", rto="30s", depends_on=["logs"]),
        )
    )
    gap = only(plan, "criticality_inversion")
    assert gap.severity is Severity.medium
    assert (
        gap.reason == "important but depends on standard logs (RTO 20s, within its own RTO of 30s)"
    )


def test_criticality_only_for_direct_dependencies_on_less_critical_ones() -> None:
    plan = analyze(
        catalog(
            disk=component(criticality="standard"),
            db=component(criticality="critical", depends_on=["disk"]),
            api=component(criticality="critical", depends_on=["db"]),
            batch=component(criticality="standard", depends_on=["api"]),
        )
    )
    assert [(g.component, g.subject) for g in gaps(plan, "criticality_inversion")] == [
        ("db", "disk")
    ]


# ---------------------------------------------------------------- inventory, order, JSON


def test_blast_radius_is_transitive() -> None:
    plan = analyze(
        catalog(
            db=component(),
            api=component(depends_on=["db"]),
            lb=component(depends_on=["api"]),
            report=component(depends_on=["db"]),
            other=component(),
        )
    )
    radius = {row.name: row.dependents for row in plan.inventory}
    assert radius == {
        "db": ["api", "lb", "report"],
        "api": ["lb"],
        "lb": [],
        "report": [],
        "other": [],
    }


def test_inventory_row() -> None:
    steps = [
        {"strategy": "restart_service", "timeout": "45s"},
        {"strategy": "restore_from_backup", "approval": "required", "timeout": "20m"},
    ]
    plan = analyze(
        catalog(
            db=orders_db(
                location="site-a/rack-3",
                constraint="licence allows one",
                criticality="critical",
                rto="1h",
                recovery=steps,
            ),
            api=component(depends_on=["db"]),
        )
    )
    db, api = plan.inventory
    assert (db.name, db.type, db.location, db.constraint, db.criticality) == (
        "db",
        "database",
        "site-a/rack-3",
        "licence allows one",
        "critical",
    )
    assert api.location == "site-a"  # the catalog's location
    assert db.detect.total_seconds() == 12.0  # check defaults: 5s x 2 failures + 2s timeout
    assert [(s.strategy, s.timeout.total_seconds(), s.approval) for s in db.strategies] == [
        ("restart_service", 45.0, False),
        ("restore_from_backup", 1200.0, True),
    ]
    assert db.backup is not None
    assert (db.backup.engine, db.backup.bound, db.backup.bound_value.total_seconds()) == (
        "pg_basebackup",
        "archive_timeout",
        60.0,
    )
    assert db.dependents == ["api"]
    assert api.dependencies == ["db"]


def test_gaps_sorted_by_severity_then_component(fake_providers: None) -> None:
    plan = analyze(
        catalog(
            b=component(recovery=[]),  # high
            a=component(provider="tape-library", rpo="1h", backup=rdb("*/5 * * * *", "never")),
            c=component(rpo="1m"),  # high
            d=component(
                rto="5m",
                recovery=[{"strategy": "replace_instance", "approval": "required"}],
            ),  # medium
        )
    )
    assert [(g.severity.value, g.component, g.kind) for g in plan.gaps] == [
        ("high", "b", "no_recovery"),
        ("high", "c", "rpo_no_backup"),
        ("medium", "d", "approval_on_fast_rto"),
        ("low", "a", "no_verify"),
        ("low", "a", "provider_not_built"),
    ]
    assert plan.summary() == "4 components, 5 gaps (2 high)"


INVENTORY_KEYS = {
    "name", "type", "location", "constraint", "criticality", "rto", "rto_s", "rpo", "rpo_s",
    "provider", "check", "detect", "detect_s", "dependencies", "dependents", "strategies", "backup",
}  # fmt: skip


def test_json_shape_is_stable() -> None:
    steps = [{"strategy": "restore_from_backup", "approval": "required", "timeout": "10m"}]
    plan = analyze(catalog(db=orders_db(rto="5m", recovery=steps), web=component()))
    data = json.loads(json.dumps(plan.to_json()))  # plain JSON all the way down
    assert set(data) == {"inventory", "gaps", "notes", "summary"}
    assert data["notes"] == []  # SQLite state: one agent, nothing is pinned
    db, web = data["inventory"]
    assert set(db) == INVENTORY_KEYS
    assert db["strategies"] == [
        {
            "strategy": "restore_from_backup",
            "timeout": "10m",
            "timeout_s": 600.0,
            "approval": "required",
        }
    ]
    assert db["backup"] == {
        "engine": "pg_basebackup",
        "schedule": "0 1 * * *",
        "verify": "daily",
        "rpo_bound": "archive_timeout",
        "rpo_bound_s": 60.0,
    }
    assert (db["rto"], db["rto_s"], db["detect"], db["detect_s"]) == ("5m", 300.0, "12s", 12.0)
    assert web["backup"] is None
    assert data["gaps"][0] == {
        "component": "db",
        "kind": "rto_unreachable",
        "severity": "high",
        "reason": "worst case 12s to detect + 10m of strategy timeouts = 10m12s exceeds the RTO"
        " of 5m; even detection + the first strategy (restore_from_backup, 10m) = 10m12s"
        " exceeds it",
        "figures": {
            "detect_s": 12.0,
            "strategies_s": 600.0,
            "total_s": 612.0,
            "rto_s": 300.0,
            "first_strategy_s": 600.0,
        },
        "subject": None,
    }
    assert all(set(g) == {"component", "kind", "severity", "reason", "figures", "subject"}
               for g in data["gaps"])  # fmt: skip
    assert data["summary"] == {"components": 2, "gaps": 2, "high": 1, "medium": 1, "low": 0}


# ---------------------------------------------------------------- rendering


def rendered(plan: Plan, width: int) -> str:
    """What ``render_plan`` prints at ``width`` columns, as plain text."""
    console = Console(record=True, width=width)
    render_plan(plan, console)
    return console.export_text()


def mixed_plan() -> Plan:
    """Four components with gaps of every severity."""
    return analyze(
        catalog(
            orders_db=orders_db(
                location="site-a/rack-3",
                constraint="vendor licence allows one instance",
                criticality="critical",
                rto="5m",
                backup={"archive_timeout": "5m"},
                recovery=[
                    {"strategy": "restart_service", "timeout": "45s"},
                    {"strategy": "restore_from_backup", "approval": "required", "timeout": "20m"},
                ],
            ),
            session_cache=redis_cache(criticality="important", rto="2m", rpo="15m"),
            orders_api=component(
                criticality="critical", rto="30s", depends_on=["orders_db", "session_cache"]
            ),
            edge_lb=component(recovery=[], depends_on=["orders_api"]),
        )
    )


def row_words(lines: list[str], name: str) -> set[str]:
    """Words of the inventory row of ``name``: its first line down to the blank line after it."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return {word for line in lines[start:end] for word in line.split()}


@pytest.mark.parametrize("width", [100, 80])
def test_render_shows_components_gaps_and_summary(width: int) -> None:
    plan = mixed_plan()
    text = rendered(plan, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    db = row_words(lines, "orders_db")
    assert {"database", "critical", "site-a/rack-3", "5m", "1m"} <= db
    assert {"vendor", "licence", "allows", "one", "instance"} <= db  # the constraint, wrapped
    assert {"edge_lb", "orders_api"} <= db  # blast radius, transitive
    assert {"restart_service", "45s", "restore_from_backup", "20m", "approval"} <= db
    assert {"cache", "important", "2m", "15m"} <= row_words(lines, "session_cache")
    assert "none" in row_words(lines, "edge_lb")  # no strategy
    flat = " ".join(text.split())
    for gap in plan.gaps:  # gap lines wrap only inside the reason column
        assert f"{gap.severity.value} {gap.component} {gap.reason}" in flat
    assert lines[-1] == "4 components, 6 gaps (5 high)"
    assert plan.summary() == lines[-1]


def test_render_a_plan_without_gaps() -> None:
    text = rendered(analyze(catalog(web=component())), 100)
    assert "No gaps found." in text
    assert "restart_service 10s" in text
    assert text.splitlines()[-1] == "1 component, 0 gaps (0 high)"


def test_a_service_keeping_its_own_recovery_points_is_not_without_a_backup() -> None:
    rds = component(
        type="database",
        rpo="1h",
        provider="aws.rds",
        spec={"db_instance_identifier": "orders"},
        health={"check": "aws.rds_status"},
        recovery=[{"strategy": "restore_from_backup", "timeout": "10s"}],
    )
    assert gaps(analyze(catalog(db=rds)), "rpo_no_backup") == []


# ---------------------------------------------------------------- notes

SHARED = "postgresql://paramedic@db.example/paramedic"


def pinned_catalog(state: str | None) -> Catalog:
    """An owned process, one pinned by a host tag, one driven (no command), one with tags only."""
    driven = component(spec={"restart_command": ["systemctl", "restart", "app"]})
    return catalog(
        state,
        web=component(),
        api=component(agent_tags=["host:web-2"]),
        app=driven,
        cache=redis_cache(agent_tags=["dc-east"]),
    )


def test_an_owned_process_is_noted_as_pinned_to_its_host_under_several_agents() -> None:
    plan = analyze(pinned_catalog(SHARED))
    # every local provider is bound to its host: the process driven by commands and the
    # redis cache (its tags name no host) too
    assert [(n.component, n.kind) for n in plan.notes] == [
        ("web", "pinned_to_host"),
        ("api", "pinned_to_host"),
        ("app", "pinned_to_host"),
        ("cache", "pinned_to_host"),
    ]
    web, api, _app, _cache = plan.notes
    assert "only an agent on the host that runs it" in web.text
    assert "agent_tags: [host:NAME]" in web.text
    assert "pinned to web-2 by agent_tags" in api.text
    assert not any(g.kind == "pinned_to_host" for g in plan.gaps)  # a note, never a gap
    data = json.loads(json.dumps(plan.to_json()))
    assert data["notes"][0] == {"component": "web", "kind": "pinned_to_host", "note": web.text}
    assert data["summary"]["gaps"] == len(plan.gaps)


@pytest.mark.parametrize("state", [None, "sqlite:///paramedic.db"])
def test_no_pinned_note_with_one_agent_on_sqlite(state: str | None) -> None:
    assert analyze(pinned_catalog(state)).notes == []


@pytest.mark.parametrize("width", [100, 80])
def test_render_shows_the_notes_before_the_summary(width: int) -> None:
    plan = analyze(pinned_catalog(SHARED))
    text = rendered(plan, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    notes_at = next(i for i, line in enumerate(lines) if line.startswith("Notes (not gaps)"))
    flat = " ".join(" ".join(lines[notes_at:]).split())
    for note in plan.notes:
        assert f"{note.component} {note.text}" in flat
    assert lines[-1] == plan.summary()
    assert "Notes" not in rendered(analyze(pinned_catalog(None)), width)
