"""The compliance report, built from a real SQLite store filled through the store's own methods."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from paramedic.catalog.model import Catalog
from paramedic.cli import main
from paramedic.clock import FakeClock
from paramedic.drills.score import Evidence
from paramedic.plan import analyze
from paramedic.register import register_components
from paramedic.report import build_report, render_html, render_markdown, render_summary
from paramedic.report.charts import (
    BAND_H,
    BAND_TOP,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    duration_chart,
    points_of,
    time_axis,
    time_ticks,
)
from paramedic.report.ladder import StrategyStats, recommend
from paramedic.report.model import ComponentReport, Report
from paramedic.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MIB = 1024 * 1024


def _health(port: int) -> dict[str, Any]:
    return {"check": "tcp", "host": "127.0.0.1", "port": port, "interval": "1s", "timeout": "1s"}


def make_catalog() -> Catalog:
    """web (process, two-rung ladder), cache (redis with RDB backups), queue (never proven)."""
    return Catalog.model_validate(
        {
            "version": 1,
            "location": "site-a",
            "components": {
                "web": {
                    "type": "application_server",
                    "constraint": "licence bound to one host",
                    "criticality": "important",
                    "rto": "30s",
                    "rpo": "0s",
                    "provider": "process",
                    "spec": {"command": ["python3", "-m", "http.server"]},
                    "health": _health(18080),
                    "recovery": [
                        {"strategy": "restart_service", "timeout": "10s"},
                        {"strategy": "replace_instance", "timeout": "10s"},
                    ],
                },
                "cache": {
                    "type": "cache",
                    "criticality": "critical",
                    "rto": "1m",
                    "rpo": "2h",
                    "provider": "redis",
                    "spec": {"port": 16379},
                    "health": _health(16379),
                    "backup": {"engine": "redis_rdb", "schedule": "0 * * * *"},
                    "recovery": [
                        {"strategy": "restart_service", "timeout": "10s"},
                        {"strategy": "restore_from_backup", "timeout": "2m"},
                    ],
                },
                "queue": {
                    "type": "message_queue",
                    "rto": "5m",
                    "rpo": "0s",
                    "provider": "process",
                    "spec": {"command": ["python3", "-m", "http.server"]},
                    "health": _health(18081),
                    "recovery": [{"strategy": "restart_service", "timeout": "10s"}],
                },
            },
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An SQLite store that knows the catalog's components."""
    opened = Store.open(f"sqlite:///{tmp_path / 'state.db'}", clock=FakeClock(NOW))
    register_components(opened, make_catalog())
    yield opened
    opened.close()


def incident(
    store: Store,
    component: str,
    failed_at: datetime,
    steps: list[tuple[str, str, float]],
    *,
    state: str = "recovered",
    rpo: float | None = None,
    point_at: datetime | None = None,
    kind: str = "failure",
    reason: str = "test",
    errors: dict[int, str] | None = None,
) -> str:
    """An incident detected 2s after ``failed_at`` whose steps ran back to back; ``state``
    ``escalated`` records ``reason``, ``open``/``recovering`` leave it open."""
    catalog = make_catalog().components[component]
    row = store.open_incident(
        component=component,
        kind=kind,
        failed_at=failed_at,
        detected_at=failed_at + timedelta(seconds=2),
        failure="refused",
        reason="test",
        target_rto_s=catalog.rto.total_seconds(),
        target_rpo_s=catalog.rpo.total_seconds(),
    )
    at = failed_at + timedelta(seconds=2)
    for seq, (strategy, status, took) in enumerate(steps, start=1):
        store.start_step(row.id, seq=seq, strategy=strategy, started_at=at)
        at += timedelta(seconds=took)
        error = (errors or {}).get(seq, "")
        store.finish_step(row.id, seq, ended_at=at, status=status, error=error, output="ran")
    if state == "recovered":
        store.update_incident(
            row.id,
            state="recovered",
            recovered_at=at,
            strategy=steps[-1][0],
            measured_rpo_s=rpo,
            recovery_point_at=point_at,
        )
    elif state == "escalated":
        store.update_incident(row.id, state=state, escalated_at=at, reason=reason)
    else:
        store.update_incident(row.id, state=state)
    return row.id


def drill(
    store: Store,
    component: str,
    started_at: datetime,
    rto: float | None,
    *,
    rpo: float | None = None,
    verdict: str = "met",
    incident_id: str | None = None,
) -> int:
    """A finished drill with its measured figures."""
    catalog = make_catalog().components[component]
    return store.add_drill(
        component=component,
        fault="kill",
        started_at=started_at,
        incident_id=incident_id,
        phases=[],
        verdict=verdict,
        measured_rto_s=rto,
        measured_rpo_s=rpo,
        target_rto_s=catalog.rto.total_seconds(),
        target_rpo_s=catalog.rpo.total_seconds(),
    ).id


def days(n: float) -> datetime:
    """``n`` days before NOW."""
    return NOW - timedelta(days=n)


def report_of(store: Store, **kwargs: Any) -> Report:
    """The report of the test catalog as of NOW."""
    return build_report(make_catalog(), store, NOW, **kwargs)


def part(report: Report, name: str) -> ComponentReport:
    """One component's part of the report."""
    return next(c for c in report.components if c.name == name)


def test_the_score_comes_from_drills_and_incidents_against_the_objectives(store: Store) -> None:
    drill(store, "web", days(1), 6.0, rpo=0.0)  # item 90
    incident(store, "web", days(3), [("restart_service", "succeeded", 43.0)])  # RTO 45s: item 25
    drill(store, "web", days(5), None, verdict="aborted")  # item 0
    web = part(report_of(store), "web")
    assert [e.source for e in web.evidence] == ["drill", "incident", "drill"]
    assert [e.outcome for e in web.evidence] == ["met", "missed", "aborted"]
    weighted = (90 + 0.5 * 25 + 0.25 * 0) / 1.75
    assert web.score.score == round(weighted * 0.5 ** (1 / 30), 1) == 57.2
    assert web.verdict == "proven"
    assert (web.drills.met, web.drills.missed, web.drills.not_recovered) == (1, 0, 1)
    assert (web.incidents.met, web.incidents.missed) == (0, 1)
    latest = web.latest("incident")
    assert latest is not None
    assert (latest.measured_rto_s, latest.target_rto_s, latest.note) == (
        45.0,
        30.0,
        "refused, restart_service",
    )
    assert web.risks == []


def test_a_drill_incident_is_not_counted_twice_manual_ones_are_marked_verifications_left_out(
    store: Store,
) -> None:
    caused = incident(store, "web", days(2), [("restart_service", "succeeded", 3.0)])
    drill(store, "web", days(2), 5.0, incident_id=caused)
    manual = incident(store, "web", days(4), [("restart_service", "succeeded", 1.0)], kind="manual")
    incident(store, "web", days(6), [("restart_service", "failed", 10.0)], state="escalated")
    incident(
        store, "cache", days(1), [("restore_from_backup", "succeeded", 1.0)], kind="verification"
    )
    report = report_of(store)
    web = part(report, "web")
    assert [(e.source, e.manual, e.outcome) for e in web.evidence] == [
        ("drill", False, "met"),
        ("incident", True, "met"),
        ("incident", False, "not_recovered"),
    ]
    assert web.evidence[1].note == "manual, restart_service"
    assert (web.incidents.met, web.incidents.not_recovered) == (1, 1)
    assert part(report, "cache").evidence == []
    assert f"manual incident {manual}" in render_html(report)
    assert f"| manual incident {manual} |" in render_markdown(report)
    # The steps of every incident still feed the strategy figures (drill and manual included).
    (stats,) = web.strategies
    assert (stats.strategy, stats.attempts, stats.succeeded) == ("restart_service", 3, 2)


def test_a_component_never_proven_scores_zero_and_is_an_open_risk(store: Store) -> None:
    report = report_of(store)
    queue = part(report, "queue")
    assert (queue.score.score, queue.verdict, queue.evidence) == (0.0, "never proven", [])
    assert [(r.kind, r.severity.value, r.reason) for r in queue.risks] == [
        (
            "never_proven",
            "high",
            "queue has never been proven: no drill or incident measured its recovery; run a drill",
        )
    ]
    assert report.summary()["never_proven"] == 3


def test_stale_and_missed_newest_evidence_are_open_risks(store: Store) -> None:
    drill(store, "web", days(40), 45.0)
    web = part(report_of(store), "web")
    assert web.verdict == "missed"
    assert [(r.kind, r.severity.value) for r in web.risks] == [
        ("last_missed", "high"),
        ("stale_evidence", "medium"),
    ]
    assert web.risks[0].reason == (
        "the newest evidence for web did not meet its objectives: drill #1 (kill, met) on 2026-04-22 12:00Z:"
        " RTO 45s / 30s, RPO not applicable: missed"
    )
    assert web.risks[1].reason == (
        "the newest evidence for web is 40d old (2026-04-22 12:00Z), older than 30d: run a drill"
    )
    shorter = part(report_of(store, stale_after=timedelta(days=60)), "web")
    assert [r.kind for r in shorter.risks] == ["last_missed"]


def test_stale_verdict_when_the_newest_evidence_met_but_is_old(store: Store) -> None:
    drill(store, "web", days(31), 3.0)
    assert part(report_of(store), "web").verdict == "stale"


def test_a_first_strategy_that_rarely_works_is_recommended_after_one_that_does(
    store: Store,
) -> None:
    for n in range(3):
        incident(
            store,
            "web",
            days(n + 1),
            [("restart_service", "failed", 10.0), ("replace_instance", "succeeded", 5.0)],
        )
    incident(store, "web", days(5), [("restart_service", "succeeded", 2.0)])
    report = report_of(store)
    web = part(report, "web")
    assert [(s.strategy, s.attempts, s.succeeded, s.median_s) for s in web.strategies] == [
        ("restart_service", 4, 1, 10.0),
        ("replace_instance", 3, 3, 5.0),
    ]
    (rec,) = web.recommendations
    assert (rec.kind, rec.strategy, rec.instead) == (
        "reorder",
        "restart_service",
        "replace_instance",
    )
    assert rec.reason == (
        "try replace_instance before restart_service: restart_service succeeded in 1 of 4"
        " attempts (median 10s); replace_instance, later in the ladder, in 3 of 3 attempts"
        " (median 5s)"
    )
    assert [s.strategy for s in report.strategies] == ["replace_instance", "restart_service"]


def test_a_restore_that_works_better_is_not_put_first_but_investigated(store: Store) -> None:
    store.add_recovery_point(
        component="cache",
        engine="redis_rdb",
        taken_at=days(10),
        location="/b/1.rdb",
        size_bytes=10 * MIB,
        checksum=None,
    )
    for n in range(3):
        incident(
            store,
            "cache",
            days(n + 1),
            [("restart_service", "failed", 10.0), ("restore_from_backup", "succeeded", 4.0)],
            rpo=60.0,
            point_at=days(10),
        )
    (rec,) = part(report_of(store), "cache").recommendations
    assert rec.kind == "investigate"
    assert rec.reason.endswith(
        "restore_from_backup loses data, so find why restart_service fails rather than reorder"
    )


def test_restore_throughput_forecasts_the_rto_for_todays_data_size(store: Store) -> None:
    store.add_recovery_point(
        component="cache",
        engine="redis_rdb",
        taken_at=days(2) - timedelta(minutes=30),
        location="/b/1.rdb",
        size_bytes=100 * MIB,
        checksum=None,
    )
    # restore of 100 MiB in 10s: 10 MiB/s; measured RTO 2s detect + 3s restart + 10s = 15s.
    incident(
        store,
        "cache",
        days(2),
        [("restart_service", "failed", 3.0), ("restore_from_backup", "succeeded", 10.0)],
        rpo=1800.0,
        point_at=days(2) - timedelta(minutes=30),
    )
    store.add_recovery_point(
        component="cache",
        engine="redis_rdb",
        taken_at=NOW - timedelta(minutes=10),
        location="/b/2.rdb",
        size_bytes=600 * MIB,
        checksum=None,
    )
    cache = part(report_of(store), "cache")
    (measured,) = cache.restores
    assert (measured.size_bytes, measured.duration_s, measured.rest_s) == (100 * MIB, 10.0, 5.0)
    assert measured.bytes_per_s == 10 * MIB
    forecast = cache.restore_forecast
    assert forecast is not None
    assert (forecast.restore_s, forecast.rto_s, forecast.within) == (60.0, 65.0, False)
    assert forecast.reason() == (
        "restoring the newest point (600.0 MiB) at 10.0 MiB/s takes 1m; + 5s of detection and"
        " earlier steps = 1m5s, over the RTO of 1m (from 1 restore)"
    )
    assert [(r.kind, r.reason) for r in cache.risks] == [
        ("restore_forecast", f"cache: {forecast.reason()}")
    ]


def test_rpo_exposure_of_the_newest_recovery_point(store: Store) -> None:
    store.add_recovery_point(
        component="cache",
        engine="redis_rdb",
        taken_at=NOW - timedelta(hours=3),
        location="/b/1.rdb",
        size_bytes=None,
        checksum=None,
    )
    drill(store, "cache", days(1), 20.0, rpo=60.0)
    cache = part(report_of(store), "cache")
    assert cache.exposure is not None
    assert (cache.exposure.age_s, cache.exposure.breached) == (3 * 3600.0, True)
    (risk,) = cache.risks
    assert (risk.kind, risk.severity.value, risk.reason) == (
        "rpo_exposure",
        "high",
        "cache: newest restorable data is 3h old, past the RPO of 2h",
    )


def test_a_component_with_a_backup_and_no_point_is_exposed(store: Store) -> None:
    cache = part(report_of(store), "cache")
    assert [r.kind for r in cache.risks] == ["never_proven", "rpo_exposure"]
    assert cache.risks[1].reason == "cache has no restorable point at all (RPO 2h)"


def test_plan_gaps_and_inventory_are_in_the_report(store: Store) -> None:
    report = report_of(store)
    web = part(report, "web")
    assert web.plan.constraint == "licence bound to one host"
    assert {g.kind for g in report.gaps} >= {"rto_unreachable"}
    assert all(g.component == "web" for g in web.gaps)


def test_evidence_is_judged_against_todays_objectives(store: Store) -> None:
    # Recorded when the RTO was 1m; the catalog now says 30s.
    store.add_drill(
        component="web",
        fault="kill",
        started_at=days(1),
        incident_id=None,
        phases=[],
        verdict="met",
        measured_rto_s=40.0,
        measured_rpo_s=None,
        target_rto_s=60.0,
        target_rpo_s=0.0,
    )
    (evidence,) = part(report_of(store), "web").evidence
    assert (evidence.target_rto_s, evidence.outcome) == (30.0, "missed")


def test_a_drill_missed_on_data_the_figures_do_not_show_stays_missed(store: Store) -> None:
    # no RPO could be bounded (canaries all lost), then canaries showing corruption
    drill(store, "cache", days(2), 20.0, rpo=None, verdict="missed")
    drill(store, "cache", days(1), 20.0, rpo=60.0, verdict="missed")
    drill(store, "web", days(1), 40.0, rpo=0.0, verdict="missed")  # a plain RTO miss
    report = report_of(store)
    cache, web = part(report, "cache"), part(report, "web")
    assert [(e.outcome, e.rpo_failed, e.rpo_met) for e in cache.evidence] == [
        ("missed", True, False),
        ("missed", True, False),
    ]
    assert cache.score.terms[0].margin_rpo == -1.0
    (plain,) = web.evidence
    assert (plain.outcome, plain.rpo_failed, plain.rpo_met) == ("missed", False, True)


def test_json_is_the_same_model(store: Store) -> None:
    drill(store, "web", days(1), 6.0, rpo=0.0)
    report = report_of(store)
    data = json.loads(json.dumps(report.to_json()))
    assert data["generated_at"] == "2026-06-01T12:00:00.000Z"
    assert data["summary"] == {
        "components": 3,
        "proven": 1,
        "never_proven": 2,
        "down_now": 0,
        "mean_score": round((part(report, "web").score.score + 0 + 0) / 3, 1),
        "risks": 3,
        "high_risks": 3,
        "gaps": len(report.gaps),
        "recommendations": 0,
    }
    web = next(c for c in data["components"] if c["name"] == "web")
    assert web["score"]["score"] == round(90 * 0.5 ** (1 / 30), 1) == 87.9
    assert web["score"]["terms"][0]["margin_rto"] == 0.8
    assert web["latest_drill"]["outcome"] == "met"
    assert web["inventory"]["constraint"] == "licence bound to one host"
    assert web["verdict"] == "proven"
    assert [(r["component"], r["kind"]) for r in data["risks"]] == [
        ("cache", "never_proven"),
        ("cache", "rpo_exposure"),
        ("queue", "never_proven"),
    ]


def test_html_is_one_self_contained_page_with_sections_verdicts_and_charts(store: Store) -> None:
    drill(store, "web", days(1), 6.0, rpo=0.0)
    drill(store, "web", days(3), 45.0, rpo=0.0)
    incident(store, "web", days(2), [("restart_service", "succeeded", 3.0)], rpo=0.0)
    page = render_html(report_of(store))
    assert page.startswith("<!doctype html>")
    for name in ("web", "cache", "queue"):
        assert f'<section class="component" id="c-{name}">' in page
    assert page.count("<svg") == 6  # RTO and RPO per component
    assert '<span class="verdict v-proven">proven</span>' in page
    assert '<span class="verdict v-never">never proven</span>' in page
    assert '<span class="missed">missed</span>' in page
    assert "single location because: <b>licence bound to one host</b>" in page
    assert page.index('id="summary"') < page.index('id="c-web"')
    # nothing fetched from a network: no script, stylesheet link, image or font URL
    assert not re.search(r"<script|<link|<img|src=|url\(|@import", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}


def test_html_escapes_what_it_shows(store: Store) -> None:
    drill(store, "web", days(1), 6.0)
    report = report_of(store)
    web = part(report, "web")
    object.__setattr__(web.plan, "constraint", "<b>rack</b> & co")
    page = render_html(report)
    assert "&lt;b&gt;rack&lt;/b&gt; &amp; co" in page
    assert "<b>rack</b>" not in page


def test_markdown_has_the_tables(store: Store) -> None:
    drill(store, "web", days(1), 6.0, rpo=0.0)
    text = render_markdown(report_of(store))
    assert text.startswith("# Recoverability report\n")
    assert (
        "| component | criticality | RTO | RPO | score | verdict | drills | incidents | newest | risks |"
        in text
    )
    assert "| web | important | 30s | 0s | 88 | proven | 1 met | none | 1d ago | 0 |" in text
    assert "| queue | standard | 5m | 0s | 0 | never proven | none | none | - | 1 |" in text
    assert "| severity | component | kind | reason |" in text
    assert "## web: score 88, proven" in text
    assert (
        "| drill #1 | 2026-05-31 12:00Z | kill, met | 6s / 30s | met | 0s / 0s | met | met |"
        in text
    )


def test_charts_draw_markers_the_target_and_crosses_for_misses() -> None:
    rto = make_catalog().components["web"].rto.total_seconds()
    items = [
        Evidence("drill", "1", days(3), True, 6.0, None, rto, 0.0),
        Evidence("incident", "inc-1", days(2), True, 45.0, 0.0, rto, 0.0),
        Evidence("drill", "2", days(1), False, None, None, rto, 0.0, aborted=True),
    ]
    rto_points = points_of(items, "rto")
    assert [(p.value_s, p.met, p.drill) for p in rto_points] == [
        (6.0, True, True),
        (45.0, False, False),
        (None, None, True),
    ]
    assert rto_points[2].tooltip == "drill #2 · 2026-05-31 12:00Z · RTO - / 30s · aborted"
    # the drill recovered with no RPO measured is left out of the RPO chart
    assert [p.value_s for p in points_of(items, "rpo")] == [0.0, None]
    svg = duration_chart("web: measured RTO", rto_points, rto)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 1 + 3  # one drill marker + the legend's three
    assert svg.count("<rect") == 1 + 1 + 1  # the incident, the legend's, the not-recovered row
    assert 'class="cross"' in svg
    assert ">target 30s</text>" in svg
    empty = duration_chart("queue: measured RTO", [], 300.0)
    assert "no measurement yet" in empty


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--stale-after", "soon"],
            "paramedic: --stale-after 'soon': must be a duration like 2s (units: ms, s, m, h, d, w)",
        ),
        (
            ["--stale-after", "0s"],
            "paramedic: --stale-after '0s': must be longer than 0s, e.g. 30d",
        ),
        (
            ["--html", "no/such/dir/r.html"],
            "paramedic: --html no/such/dir/r.html: cannot write the report: no such file or"
            " directory; pass a path in a writable folder",
        ),
    ],
)
def test_bad_report_options_are_one_line_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    (tmp_path / "paramedic.yaml").write_text(
        "version: 1\nstate: sqlite:///state.db\ncomponents:\n  web:\n"
        "    type: application_server\n    rto: 30s\n    rpo: 0s\n    provider: process\n"
        "    spec: {command: [python3, -m, http.server]}\n"
        "    health: {check: tcp, host: 127.0.0.1, port: 18080}\n"
    )
    monkeypatch.chdir(tmp_path)
    Store.open(f"sqlite:///{tmp_path}/state.db").close()  # the agent made it; report never does
    assert main(["report", "-c", "paramedic.yaml", *args]) == 2
    assert capsys.readouterr().err.strip() == expected


def test_a_strategy_that_never_succeeds_with_nothing_better_is_flagged() -> None:
    web = analyze(make_catalog()).inventory[0]
    stats = {
        "restart_service": StrategyStats("restart_service", 3, 0, 10.0, None),
        "replace_instance": StrategyStats("replace_instance", 2, 2, 5.0, 5.0),  # too few to judge
    }
    assert [(r.kind, r.reason) for r in recommend("web", web.strategies, stats)] == [
        (
            "investigate",
            "restart_service never succeeded in 3 attempts (median 10s each): fix it or remove it",
        )
    ]
    stats["restart_service"] = StrategyStats("restart_service", 2, 0, 10.0, None)
    assert recommend("web", web.strategies, stats) == []  # two attempts say too little


def test_a_stateless_service_replaced_has_no_rpo_to_meet_a_data_holder_an_unknown_one(
    store: Store,
) -> None:
    replaced = incident(store, "web", days(1), [("replace_instance", "succeeded", 4.0)])
    incident(store, "queue", days(1), [("replace_instance", "succeeded", 4.0)])
    report = report_of(store)
    web, queue = part(report, "web"), part(report, "queue")
    (w,) = web.evidence
    assert (w.rpo, w.rpo_met, w.outcome, web.verdict) == ("not_applicable", None, "met", "proven")
    (q,) = queue.evidence
    assert (q.rpo, q.rpo_met, q.outcome, queue.verdict) == (
        "unknown",
        None,
        "unknown",
        "rpo unknown",
    )
    assert (queue.incidents.met, queue.incidents.unknown) == (0, 1)
    assert queue.score.score <= 50.0 < web.score.score
    (risk,) = queue.risks
    assert (risk.kind, risk.severity.value) == ("rpo_unknown", "medium")
    assert "RPO unknown / 0s: RPO unknown; run a drill" in risk.reason
    # history --json judges the same incident with the same definition
    row = store.incident(replaced)
    assert (row.to_json()["rto_met"], row.to_json()["rpo_met"]) == (w.rto_met, w.rpo_met)
    data = report.to_json()
    q_json = next(c for c in data["components"] if c["name"] == "queue")
    assert q_json["incidents"] == {"met": 0, "missed": 0, "unknown": 1, "not_recovered": 0}
    assert (q_json["evidence"][0]["rpo"], q_json["evidence"][0]["outcome"]) == (
        "unknown",
        "unknown",
    )
    page, text = render_html(report), render_markdown(report)
    assert "not applicable" in page and "unknown / 0s" in page
    assert '<span class="verdict v-unknown">rpo unknown</span>' in page
    assert "| queue | standard | 5m | 0s | 49 | rpo unknown | none | 1 RPO unknown |" in text
    assert "| not applicable | not applicable | met |" in text


def test_a_stateless_service_whose_recovery_switched_data_has_an_unknown_rpo(
    store: Store,
) -> None:
    incident(
        store,
        "web",
        days(1),
        [("restart_service", "failed", 4.0), ("failover_to_standby", "succeeded", 4.0)],
    )
    (e,) = part(report_of(store), "web").evidence
    assert (e.rpo, e.outcome) == ("unknown", "unknown")


def test_escalated_incidents_show_their_cause(store: Store) -> None:
    causes = [
        ("web is flapping: 4 incidents in 10m", "flapping", "flapping"),
        (
            "circuit open: web already had 3 recoveries in the last 10m (budget 3);"
            " escalating instead of looping",
            "circuit_open",
            "circuit open: recovery budget spent",
        ),
        (
            "every strategy failed (restart_service: timed_out; replace_instance: failed);"
            " a human is needed",
            "ladder_exhausted",
            "every strategy failed",
        ),
        ("something new happened", "other", "something new happened"),
    ]
    for n, (reason, _kind, _label) in enumerate(causes):
        incident(store, "web", days(n + 1), [], state="escalated", reason=reason)
    report = report_of(store)
    web = part(report, "web")
    assert [e.note for e in web.evidence] == [f"refused, escalated: {c[2]}" for c in causes]
    assert [(j.cause.kind, j.cause.label) for j in web.journal if j.cause] == [
        (kind, label) for _r, kind, label in causes
    ]
    assert web.journal[0].cause is not None
    assert web.journal[0].cause.reason == causes[0][0]
    page = render_html(report)
    assert "refused, escalated: flapping" in page
    assert "circuit open: web already had 3 recoveries" in page  # the recorded reason, in full
    journal = report.to_json()["components"][0]["incident_journal"]
    assert journal[1]["cause"] == {
        "kind": "circuit_open",
        "label": "circuit open: recovery budget spent",
        "reason": causes[1][0],
    }


def test_the_report_says_what_is_down_now(store: Store) -> None:
    open_one = incident(store, "web", NOW - timedelta(minutes=5), [], state="recovering")
    incident(store, "queue", days(1), [], state="escalated", reason="queue is flapping: 4 in 10m")
    store.record_check("queue", at=NOW, ok=False, state="escalated", detail="refused")
    incident(store, "cache", days(1), [], state="escalated", reason="every strategy failed")
    store.record_check("cache", at=NOW, ok=True, state="healthy", detail="")  # came back
    report = report_of(store)
    web, queue, cache = (part(report, n) for n in ("web", "queue", "cache"))
    assert web.down is not None and queue.down is not None and cache.down is None
    assert (web.down.incident_id, web.down.state, web.down.for_s, web.down.past_rto) == (
        open_one,
        "recovering",
        300.0,
        True,
    )
    assert web.down.sentence() == (
        f"web is down now: incident {open_one} recovering for 5m (past its RTO of 30s): test"
    )
    assert queue.down.reason == "escalated (flapping), waiting for a human"
    assert report.risks[0].kind == "down_now"
    assert web.risks[0].kind == "down_now"
    assert report.summary()["down_now"] == 2
    page, text = render_html(report), render_markdown(report)
    assert page.count('class="down"') == 2
    assert f"web is down now: incident {open_one} recovering for 5m" in page
    assert "**Down now**: web is down now" in text
    data = report.to_json()
    assert data["components"][0]["down_now"]["incident_id"] == open_one
    out = io.StringIO()
    render_summary(report, Console(file=out, width=300, color_system=None))
    lines = out.getvalue().splitlines()
    assert lines[0] == f"down now {web.down.sentence()}"
    assert lines[1].startswith("down now queue is down now: incident ")
    assert sum(1 for line in lines if "is down now" in line) == 2  # not again among the risks


def test_a_sqlite_state_url_reads_as_its_path(store: Store, tmp_path: Path) -> None:
    report = report_of(store)
    path = str(tmp_path / "state.db")
    assert store.url == f"sqlite:///{path}"  # four slashes: an absolute path
    assert (report.state, report.state_url) == (path, store.url)
    assert f"state <code>{path}</code>" in render_html(report)
    assert f"state `{path}`" in render_markdown(report)
    assert report.to_json()["state"] == path


def test_each_incident_links_to_its_steps(store: Store) -> None:
    inc = incident(
        store,
        "web",
        days(1),
        [("restart_service", "timed_out", 10.0), ("replace_instance", "succeeded", 4.0)],
        errors={1: "line one\nno answer within 10s"},
    )
    caused = incident(store, "web", days(2), [("restart_service", "succeeded", 3.0)])
    drill(store, "web", days(2), 5.0, incident_id=caused)
    report = report_of(store)
    page = render_html(report)
    assert f'<a href="#i-{inc}">incident {inc}</a>' in page
    assert f'<a href="#i-{caused}">drill #1</a>' in page
    assert f'id="i-{inc}"' in page and f'id="i-{caused}"' in page
    section = page[page.index(f'id="i-{inc}"') :]
    section = section[: section.index("</table>")]
    assert "<code>restart_service</code>" in section
    assert "2026-05-31 12:00:02Z" in section  # started
    assert '<span class="missed">timed out</span>' in section
    assert "no answer within 10s" in section and "line one" not in section
    assert '<span class="met">succeeded</span>' in section
    text = render_markdown(report)
    assert f"#### incident {inc}: recovered by replace_instance" in text
    assert (
        "| 1 | restart_service | 2026-05-31 12:00:02Z | 10s | timed out | no answer within 10s |"
        in text
    )
    journal = report.to_json()["components"][0]["incident_journal"]
    assert [j["id"] for j in journal] == [inc, caused]
    assert [s["status"] for s in journal[0]["steps"]] == ["timed_out", "succeeded"]


def _markers(svg: str) -> list[tuple[float, float]]:
    """(x, y) centres of the incident squares and drill circles drawn in the plot."""
    squares = re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="8" height="8" fill="#(?:15803d|b91c1c)">', svg
    )
    circles = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="4.5"', svg)
    found = [(float(x) + 4, float(y) + 4) for x, y in squares]
    return sorted(found + [(float(x), float(y)) for x, y in circles])


def test_incidents_of_one_afternoon_spread_over_a_time_axis_scaled_to_them() -> None:
    afternoon = datetime(2026, 5, 31, 14, 5, tzinfo=UTC)
    items = [
        Evidence(
            "incident", f"inc-{n}", afternoon + timedelta(minutes=m), True, rto, 0.0, 30.0, 0.0
        )
        for n, (m, rto) in enumerate([(0, 6.0), (12, 9.0), (25, 41.0), (38, 7.0)])
    ]
    points = points_of(items, "rto")
    start, end = time_axis(points)
    # the evidence spans 38 minutes: the axis adds a little on each side, not a day
    assert timedelta(minutes=38) < end - start < timedelta(minutes=45)
    assert start < afternoon and end > items[-1].at
    labels = [label for _at, label in time_ticks(start, end)]
    assert labels == ["14:10", "14:20", "14:30", "14:40"]
    svg = duration_chart("web: measured RTO", points, 30.0)
    xs = [x for x, _y in _markers(svg)]
    assert len(xs) == 4
    plot_w = WIDTH - LEFT - RIGHT
    assert xs[-1] - xs[0] > 0.8 * plot_w  # spread over the plot, not one vertical line
    assert min(b - a for a, b in itertools.pairwise(xs)) > 0.25 * plot_w
    assert all(f">{label}</text>" in svg for label in labels)
    assert ">time (UTC, 2026-05-31)</text>" in svg
    assert ">measured RTO (seconds)</text>" in svg


def test_a_single_item_sits_mid_axis_and_long_spans_tick_by_day() -> None:
    one = [Evidence("drill", "1", NOW, True, 6.0, 0.0, 30.0, 0.0)]
    start, end = time_axis(points_of(one, "rto"))
    assert (end - start, NOW - start) == (timedelta(minutes=20), timedelta(minutes=10))
    labels = [label for _at, label in time_ticks(NOW - timedelta(days=20), NOW)]
    assert labels == ["05-14", "05-21", "05-28"]  # UTC midnights, one week apart
    across = [label for _at, label in time_ticks(NOW - timedelta(hours=20), NOW)]
    assert across == ["05-31 18:00", "06-01 00:00", "06-01 06:00", "06-01 12:00"]


def test_not_recovered_items_sit_on_their_own_row_above_the_plot() -> None:
    items = [
        Evidence("incident", "inc-1", days(3), True, 20.0, 0.0, 30.0, 0.0),
        Evidence("incident", "inc-2", days(2), False, None, None, 30.0, 0.0),
        Evidence("drill", "3", days(1), False, None, None, 30.0, 0.0, aborted=True),
    ]
    svg = duration_chart("web: measured RTO", points_of(items, "rto"), 30.0)
    crosses = re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*class="cross">', svg)
    assert len(crosses) == 2
    ys = {float(y) for _x, y in crosses}
    assert len(ys) == 1  # one row, the same height for every one
    (row_y,) = ys
    assert BAND_TOP < row_y <= BAND_TOP + BAND_H < TOP  # above the plot, inside its row
    assert '>not<tspan x="66" dy="10">recovered</tspan></text>' in svg
    (marker_y,) = [y for _x, y in _markers(svg)]
    assert marker_y > TOP


def test_the_value_axis_is_in_minutes_for_minutes_long_objectives() -> None:
    items = [Evidence("incident", "inc-1", days(1), True, 150.0, 0.0, 600.0, 0.0)]
    svg = duration_chart("db: measured RTO", points_of(items, "rto"), 600.0)
    assert ">measured RTO (minutes)</text>" in svg
    assert HEIGHT > TOP
    ticks = re.findall(r'text-anchor="end" fill="#334155">([\d.]+)</text>', svg)
    assert ticks == ["0", "5", "10", "15", "20"]
