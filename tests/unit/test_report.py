"""The compliance report, built from a real SQLite store filled through the store's own methods."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paramedic.catalog.model import Catalog
from paramedic.cli import main
from paramedic.clock import FakeClock
from paramedic.drills.score import Evidence
from paramedic.plan import analyze
from paramedic.register import register_components
from paramedic.report import build_report, render_html, render_markdown
from paramedic.report.charts import duration_chart, points_of
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
) -> str:
    """An incident detected 2s after ``failed_at`` whose steps ran back to back."""
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
        store.finish_step(row.id, seq, ended_at=at, status=status)
    if state == "recovered":
        store.update_incident(
            row.id,
            state="recovered",
            recovered_at=at,
            strategy=steps[-1][0],
            measured_rpo_s=rpo,
            recovery_point_at=point_at,
        )
    else:
        store.update_incident(row.id, state=state, escalated_at=at)
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


def test_a_drill_incident_is_not_counted_twice_and_other_kinds_are_left_out(store: Store) -> None:
    caused = incident(store, "web", days(2), [("restart_service", "succeeded", 3.0)])
    drill(store, "web", days(2), 5.0, incident_id=caused)
    incident(store, "web", days(4), [("restart_service", "succeeded", 1.0)], kind="manual")
    incident(store, "web", days(6), [("restart_service", "failed", 10.0)], state="escalated")
    web = part(report_of(store), "web")
    assert [(e.source, e.outcome) for e in web.evidence] == [
        ("drill", "met"),
        ("incident", "not_recovered"),
    ]
    assert web.incidents.not_recovered == 1
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
        " RTO 45s / 30s, RPO - / 0s: missed"
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
    assert svg.count("<rect") == 1 + 1
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
