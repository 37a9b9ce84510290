"""Pure parts of drills: every guard's message, drill windows, RPO and gaps from canary logs,
the verdict, and when scheduled drills fall due. A fixed clock throughout; nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paramedic.catalog.loader import load_catalog_text
from paramedic.catalog.model import Catalog, Component
from paramedic.drills.canary import CanaryRecord, CanaryReport, measure_canaries
from paramedic.drills.guards import (
    DrillRequest,
    OpenIncident,
    first_refusal,
    transitive_dependencies,
)
from paramedic.drills.schedule import DrillSchedule, scheduled_fault
from paramedic.drills.verdict import fault_moment, judge
from paramedic.drills.window import parse_window
from paramedic.errors import CatalogError
from paramedic.store import IncidentRow

SAT_0300 = datetime(2026, 11, 28, 3, 0)  # a Saturday, agent local time
TUE_1403 = datetime(2026, 11, 24, 14, 3)
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _catalog(drills: dict[str, Any] | None = None, rpo: str = "0s") -> Catalog:
    return Catalog.model_validate(
        {
            "version": 1,
            "components": {
                "db": {
                    "type": "database",
                    "rto": "1m",
                    "rpo": "30s",
                    "provider": "process",
                    "spec": {"command": ["true"]},
                    "health": {"check": "process"},
                },
                "api": {
                    "type": "application_server",
                    "rto": "30s",
                    "rpo": "0s",
                    "depends_on": ["db"],
                    "provider": "process",
                    "spec": {"command": ["true"]},
                    "health": {"check": "process"},
                },
                "web": {
                    "type": "application_server",
                    "rto": "20s",
                    "rpo": rpo,
                    "depends_on": ["api"],
                    "provider": "process",
                    "spec": {"command": ["true"]},
                    "health": {"check": "tcp", "port": 8080},
                    "drills": drills or {"allowed": True},
                },
            },
        }
    )


def _request(
    component: Component | None = None,
    *,
    fault: str = "kill",
    yes: bool = False,
    now: datetime = SAT_0300,
    agent: bool = True,
    incidents: tuple[OpenIncident, ...] = (),
    paused: str | None = None,
) -> DrillRequest:
    catalog = _catalog()
    return DrillRequest(
        name="web",
        component=component or catalog.components["web"],
        fault=fault,
        offered=("kill", "hang", "exit", "port-squat"),
        yes=yes,
        local_now=now,
        agent_running=agent,
        run_dir="/srv/var/run",
        open_incidents=incidents,
        dependencies=transitive_dependencies(
            "web", {n: c.depends_on for n, c in catalog.components.items()}
        ),
        paused=paused,
    )


def _web(drills: dict[str, Any]) -> Component:
    return _catalog(drills).components["web"]


# ---------------------------------------------------------------- guards


def test_every_guard_passes_a_drill_that_is_allowed_in_its_window() -> None:
    web = _web({"allowed": True, "window": "Sat 02:00-04:00", "faults": ["kill"]})
    assert first_refusal(_request(web)) is None


def test_not_allowed_names_the_setting_and_yes() -> None:
    refusal = first_refusal(_request(_web({"allowed": False})))
    assert refusal is not None and refusal.guard == "allowed"
    assert refusal.message == (
        "web is not allowed to be drilled: set components.web.drills.allowed: true or pass --yes"
    )
    assert first_refusal(_request(_web({"allowed": False}), yes=True)) is None


def test_a_fault_the_provider_does_not_offer_lists_those_it_does() -> None:
    refusal = first_refusal(_request(fault="explode"))
    assert refusal is not None and refusal.guard == "fault_offered"
    assert refusal.message == (
        "web: the process provider offers no fault 'explode': "
        "use --fault kill, hang, exit or port-squat"
    )
    assert first_refusal(_request(fault="explode", yes=True)) == refusal  # --yes does not lift it


def test_a_fault_not_in_drills_faults_names_the_list() -> None:
    refusal = first_refusal(_request(_web({"allowed": True, "faults": ["kill"]}), fault="hang"))
    assert refusal is not None and refusal.guard == "fault_listed"
    assert refusal.message == (
        "web: fault 'hang' is not in components.web.drills.faults (kill): "
        "add it there or use --fault kill"
    )
    listed = _web({"allowed": True, "faults": ["kill"]})
    assert first_refusal(_request(listed, fault="hang", yes=True)) == refusal


def test_outside_the_window_names_the_window_and_the_local_time() -> None:
    web = _web({"allowed": True, "window": "Sat 02:00-04:00"})
    refusal = first_refusal(_request(web, now=TUE_1403))
    assert refusal is not None and refusal.guard == "window"
    assert refusal.message == (
        "web is outside its drill window 'Sat 02:00-04:00' (agent local time now Tue 14:03): "
        "wait for the window or pass --yes"
    )
    assert first_refusal(_request(web, now=TUE_1403, yes=True)) is None


def test_no_agent_running_says_to_start_it() -> None:
    refusal = first_refusal(_request(agent=False))
    assert refusal is not None and refusal.guard == "agent_running"
    assert refusal.message == (
        "no paramedic agent is running for this catalog (no lock held in /srv/var/run): "
        "start `paramedic run` first; a drill measures the agent's recovery"
    )
    assert first_refusal(_request(agent=False, yes=True)) == refusal


def test_a_paused_component_is_not_drilled() -> None:
    refusal = first_refusal(_request(paused="until 2026-11-28 05:00Z", yes=True))
    assert refusal is not None and refusal.guard == "paused"
    assert refusal.message == (
        "web is paused for maintenance (until 2026-11-28 05:00Z): run `paramedic resume web` "
        "first; a paused component is not recovered"
    )


def test_an_open_incident_of_the_component_refuses() -> None:
    own = OpenIncident("web-20261125-120000-ab12", "web", "recovering")
    refusal = first_refusal(_request(incidents=(own,)))
    assert refusal is not None and refusal.guard == "open_incident"
    assert refusal.message == (
        "web has an open incident web-20261125-120000-ab12 (recovering): "
        "wait for it to close before drilling web"
    )


def test_an_open_incident_of_a_transitive_dependency_refuses() -> None:
    deep = OpenIncident("db-20261125-120000-cd34", "db", "open")
    refusal = first_refusal(_request(incidents=(deep,), yes=True))
    assert refusal is not None
    assert refusal.message == (
        "db, a dependency of web, has an open incident db-20261125-120000-cd34 (open): "
        "wait for it to close before drilling web"
    )


def test_an_open_incident_of_a_dependent_does_not_refuse() -> None:
    other = OpenIncident("x-1", "unrelated", "open")
    assert first_refusal(_request(incidents=(other,))) is None


def test_transitive_dependencies_tolerate_cycles() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert transitive_dependencies("a", graph) == ["b", "c", "d"]


# ---------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("text", "moment", "inside"),
    [
        ("Sat 02:00-04:00", datetime(2026, 11, 28, 2, 0), True),
        ("Sat 02:00-04:00", datetime(2026, 11, 28, 3, 59), True),
        ("Sat 02:00-04:00", datetime(2026, 11, 28, 4, 0), False),
        ("Sat 02:00-04:00", datetime(2026, 11, 28, 1, 59), False),
        ("Sat 02:00-04:00", datetime(2026, 11, 29, 3, 0), False),  # Sunday
        ("Mon-Fri 01:00-05:00", datetime(2026, 11, 23, 1, 30), True),  # Monday
        ("Mon-Fri 01:00-05:00", datetime(2026, 11, 27, 4, 59), True),  # Friday
        ("Mon-Fri 01:00-05:00", datetime(2026, 11, 28, 2, 0), False),  # Saturday
        ("daily 02:00-03:00", datetime(2026, 11, 25, 2, 30), True),
        ("daily 02:00-03:00", datetime(2026, 11, 25, 3, 30), False),
        ("Sat,Sun 10:00-11:00", datetime(2026, 11, 29, 10, 15), True),
        ("Fri-Mon 10:00-11:00", datetime(2026, 11, 29, 10, 15), True),  # wraps over Sunday
        ("Fri-Mon 10:00-11:00", datetime(2026, 11, 25, 10, 15), False),  # Wednesday
        ("saturday 02:00-04:00", datetime(2026, 11, 28, 3, 0), True),
        ("daily 00:00-24:00", datetime(2026, 11, 25, 23, 59), True),
    ],
)
def test_window_contains(text: str, moment: datetime, inside: bool) -> None:
    assert parse_window(text).contains(moment) is inside


def test_a_window_crossing_midnight_belongs_to_the_day_it_opens() -> None:
    window = parse_window("Sat 23:00-01:00")
    assert window.crosses_midnight
    assert window.contains(datetime(2026, 11, 28, 23, 30))  # Saturday night
    assert window.contains(datetime(2026, 11, 29, 0, 30))  # Sunday, past midnight
    assert not window.contains(datetime(2026, 11, 29, 1, 0))
    assert not window.contains(datetime(2026, 11, 28, 0, 30))  # Saturday just after Friday
    assert not window.contains(datetime(2026, 11, 29, 23, 30))  # Sunday night


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sat", "must be like 'Sat 02:00-04:00', 'Mon-Fri 01:00-05:00' or 'daily 02:00-03:00'"),
        ("Caturday 02:00-04:00", "unknown day 'Caturday'; must be like"),
        ("Sat 25:00-04:00", "'25:00' is not a time of day; must be like"),
        ("Sat 02:61-04:00", "'02:61' is not a time of day"),
        ("Sat 02:00-02:00", "'Sat 02:00-02:00' is empty (it starts when it ends)"),
    ],
)
def test_bad_windows_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_window(text)
    assert message in str(exc.value)


def test_the_catalog_reports_a_bad_window_and_schedule_at_their_line() -> None:
    text = """version: 1
components:
  web:
    type: application_server
    rto: 10s
    rpo: 0s
    provider: process
    spec: {command: ["true"]}
    health: {check: process}
    drills:
      window: "Sat 02:00-26:00"
      schedule: "every saturday"
"""
    with pytest.raises(CatalogError) as exc:
        load_catalog_text(text, "paramedic.yaml")
    lines = [str(p) for p in exc.value.problems]
    assert lines == [
        "paramedic.yaml:11: components.web.drills.window: '26:00' is not a time of day; "
        "must be like 'Sat 02:00-04:00', 'Mon-Fri 01:00-05:00' or 'daily 02:00-03:00'",
        "paramedic.yaml:12: components.web.drills.schedule: must be a cron expression of "
        "5 fields like '0 3 * * 6'",
    ]


# ---------------------------------------------------------------- canaries: RPO and gaps


def _log(n: int, start: datetime = T0, every: float = 0.1) -> list[CanaryRecord]:
    return [CanaryRecord(i, start + timedelta(seconds=every * (i - 1))) for i in range(1, n + 1)]


def test_rpo_is_the_fault_time_minus_the_newest_surviving_canary() -> None:
    written = _log(30)  # 12:00:00.0 .. 12:00:02.9
    fault_at = T0 + timedelta(seconds=2.05)  # after #21 (2.0 s)
    measure = measure_canaries(written, written[:15], fault_at)
    assert measure.newest_surviving == written[14]
    assert measure.rpo_s == pytest.approx(2.05 - 1.4)
    assert measure.written_before_fault == 21
    assert (measure.survived_before_fault, measure.survived) == (15, 15)
    assert measure.gaps == [] and not measure.corrupted


def test_a_missing_canary_below_the_newest_survivor_is_a_gap() -> None:
    written = _log(20)
    found = [r for r in written if r.seq not in (4, 5, 6, 9)][:12]  # up to #16
    measure = measure_canaries(written, found, T0 + timedelta(seconds=5))
    assert measure.newest_surviving is not None and measure.newest_surviving.seq == 16
    assert measure.gaps == [(4, 6), (9, 9)]
    assert measure.gaps_text() == "4-6, 9"
    assert measure.corrupted


def test_canaries_written_after_the_fault_do_not_count_for_rpo_or_gaps() -> None:
    written = _log(40)
    fault_at = T0 + timedelta(seconds=1.95)  # #1..#20 before
    survived_after_restore = written[:12] + written[30:]  # restored to #12; new writes since #31
    measure = measure_canaries(written, survived_after_restore, fault_at)
    assert measure.newest_surviving is not None and measure.newest_surviving.seq == 12
    assert measure.rpo_s == pytest.approx(1.95 - 1.1)
    assert (measure.survived_before_fault, measure.survived) == (12, 22)
    assert measure.gaps == []


def test_records_not_in_the_log_are_unknown_not_survivors() -> None:
    written = _log(5)
    stranger = CanaryRecord(5, T0 - timedelta(days=1))  # another drill's #5
    measure = measure_canaries(written, [*written[:3], stranger], T0 + timedelta(seconds=1))
    assert measure.survived == 3 and measure.unknown == 1
    assert measure.newest_surviving == written[2]


def test_no_survivor_leaves_the_rpo_unmeasured_by_canaries() -> None:
    written = _log(10)
    measure = measure_canaries(written, [], T0 + timedelta(seconds=1))
    assert measure.newest_surviving is None and measure.rpo_s is None and measure.gaps == []


# ---------------------------------------------------------------- the verdict


def _incident(**changes: Any) -> IncidentRow:
    values: dict[str, Any] = {
        "id": "web-1",
        "component": "web",
        "kind": "failure",
        "state": "recovered",
        "failure": "refused",
        "reason": "web failed 2 checks in a row: refused",
        "failed_at": T0 + timedelta(seconds=0.3),
        "detected_at": T0 + timedelta(seconds=0.6),
        "recovered_at": T0 + timedelta(seconds=1.5),
        "escalated_at": None,
        "blocked_by": None,
        "strategy": "restart_service",
        "measured_rto_s": 1.2,
        "measured_rpo_s": 0.0,
        "recovery_point_at": None,
        "target_rto_s": 20.0,
        "target_rpo_s": 0.0,
    }
    values.update(changes)
    return IncidentRow(**values)


def _judge(incident: IncidentRow | None, report: CanaryReport | None = None, **kw: Any) -> Any:
    return judge(
        incident,
        aborted=kw.get("aborted", False),
        injected_at=T0,
        report=report,
        target_rto_s=kw.get("rto", 20.0),
        target_rpo_s=kw.get("rpo", 0.0),
        abort_after=timedelta(seconds=40),
        stateless=kw.get("stateless", False),
    )


def test_a_stateless_replace_has_no_rpo_to_miss_but_a_stateful_one_is_unknown() -> None:
    replaced = _incident(strategy="replace_instance", measured_rpo_s=None)
    verdict, reason, _, rpo = _judge(replaced, stateless=True)
    assert (verdict, rpo) == ("met", None)
    assert reason == "RTO 1.5s of 20s met; RPO not applicable: no data kept and none touched"
    verdict, reason, _, _ = _judge(replaced, stateless=False)
    assert verdict == "missed" and "RPO unknown" in reason


def test_a_restart_within_the_rto_is_met_with_rpo_zero() -> None:
    verdict, reason, rto, rpo = _judge(_incident())
    assert (verdict, rto, rpo) == ("met", 1.5, 0.0)
    assert reason == "RTO 1.5s of 20s met; RPO 0s of 0s met (data kept in place)"


def test_a_slow_recovery_misses() -> None:
    verdict, reason, rto, _ = _judge(_incident(), rto=1.0)
    assert verdict == "missed" and rto == 1.5
    assert reason.startswith("RTO 1.5s of 1s missed;")


def test_an_escalated_incident_misses_without_an_rto() -> None:
    escalated = _incident(state="escalated", recovered_at=None, reason="every strategy failed")
    assert _judge(escalated) == (
        "missed",
        "the agent did not recover it: escalated: every strategy failed",
        None,
        None,
    )


def test_aborted_says_what_the_incident_was_doing() -> None:
    open_one = _incident(state="recovering", recovered_at=None)
    verdict, reason, rto, rpo = _judge(open_one, aborted=True)
    assert (verdict, rto, rpo) == ("aborted", None, None)
    assert reason == "not recovered within abort_after 40s (incident web-1 still recovering)"
    assert _judge(None, aborted=True)[1] == (
        "not recovered within abort_after 40s: the agent never opened an incident"
    )


def _report(written: list[CanaryRecord], found: list[CanaryRecord]) -> CanaryReport:
    return CanaryReport(
        kind="postgres",
        where="table paramedic_canary at postgresql://u:***@h/db",
        every_s=0.1,
        measure=measure_canaries(written, found, T0),
        first_at=written[0].at if written else None,
    )


def test_the_canary_rpo_and_a_gap_decide_the_verdict() -> None:
    written = _log(20, start=T0 - timedelta(seconds=2))  # #1 .. #20, all before the fault
    clean = _report(written, written[:15])  # newest survivor #15 at T0 - 0.6 s
    verdict, reason, _, rpo = _judge(_incident(), clean, rpo=30.0)
    assert verdict == "met" and rpo == pytest.approx(0.6)
    assert "RPO 600ms of 30s met (from the canaries)" in reason
    holed = _report(written, written[:5] + written[8:15])
    verdict, reason, _, _ = _judge(_incident(), holed, rpo=30.0)
    assert verdict == "missed"
    assert reason.endswith(
        "data corruption: canaries 6-8 missing below the newest surviving one (15)"
    )


def test_with_no_canary_surviving_the_recovery_point_measures_the_rpo() -> None:
    written = _log(10, start=T0 - timedelta(seconds=1))
    restored = _incident(recovery_point_at=T0 - timedelta(seconds=90))
    verdict, reason, _, rpo = _judge(restored, _report(written, []), rpo=60.0)
    assert verdict == "missed" and rpo == 90.0
    assert (
        "RPO 1m30s of 1m missed (from the recovery point used; every canary was newer than it)"
        in reason
    )
    verdict, reason, _, rpo = _judge(_incident(), _report(written, []), rpo=60.0)
    assert verdict == "missed" and rpo is None
    assert reason.endswith(
        "RPO unknown: no canary written before the fault survived and no recovery point was used"
    )


# ---------------------------------------------------------------- scheduled drills


def _scheduled(drills: dict[str, Any]) -> Catalog:
    return _catalog(drills)


def test_a_scheduled_drill_falls_due_at_its_cron_time_inside_its_window() -> None:
    catalog = _scheduled(
        {"allowed": True, "schedule": "30 2 * * 6", "window": "Sat 02:00-04:00", "faults": ["hang"]}
    )
    schedule = DrillSchedule()
    local = datetime(2026, 11, 28, 2, 0).astimezone()  # Saturday 02:00 local
    assert schedule.due(catalog, local) is None  # first sight: next fire 02:30
    assert schedule.due(catalog, local + timedelta(minutes=29)) is None
    due = schedule.due(catalog, local + timedelta(minutes=30))
    assert due is not None and (due.component, due.fault) == ("web", "hang")
    assert schedule.due(catalog, local + timedelta(minutes=31)) is None  # next: a week on


def test_a_scheduled_drill_outside_its_window_is_skipped() -> None:
    catalog = _scheduled({"allowed": True, "schedule": "0 12 * * *", "window": "Sat 02:00-04:00"})
    schedule = DrillSchedule()
    local = datetime(2026, 11, 25, 11, 59).astimezone()
    assert schedule.due(catalog, local) is None
    assert schedule.due(catalog, local + timedelta(minutes=1)) is None
    assert schedule.skipped == [
        ("web", "scheduled drill skipped: outside window 'Sat 02:00-04:00'")
    ]


def test_one_drill_at_a_time_the_next_waits() -> None:
    catalog = _scheduled({"allowed": True, "schedule": "0 12 * * *"})
    schedule = DrillSchedule()
    local = datetime(2026, 11, 25, 11, 59).astimezone()
    schedule.due(catalog, local)
    schedule.running = "db"
    assert schedule.due(catalog, local + timedelta(minutes=1)) is None
    schedule.running = None
    due = schedule.due(catalog, local + timedelta(minutes=2))
    assert due is not None and due.component == "web"


def test_the_scheduled_fault_is_the_first_listed_else_the_providers_first() -> None:
    assert scheduled_fault(_scheduled({"faults": ["exit", "kill"]}), "web") == "exit"
    assert scheduled_fault(_scheduled({"allowed": True}), "web") == "kill"


def test_the_fault_moment_is_the_providers_report_unless_the_agent_saw_it_first() -> None:
    asked, reported = T0, T0 + timedelta(milliseconds=20)
    later = _incident(failed_at=T0 + timedelta(milliseconds=300))
    assert fault_moment(asked, reported, later) == reported
    first = _incident(failed_at=T0 + timedelta(milliseconds=5))  # the exit seen before the report
    assert fault_moment(asked, reported, first) == T0 + timedelta(milliseconds=5)
    early = _incident(failed_at=T0 - timedelta(milliseconds=100))  # a check begun before the ask
    assert fault_moment(asked, reported, early) == asked
    assert fault_moment(asked, reported, None) == reported
