"""The report as ONE self-contained HTML page: inline CSS and SVG, nothing fetched, printable.

What is down right now first (when anything is), a summary table, the open
risks, then one section per component (score, verdicts, the RTO and RPO
charts, the score's terms, the evidence, the ladder with its figures, the
gaps, its newest incidents with their steps, anchored ``#i-ID``), then
strategies across components, every gap, and how the score is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from paramedic.catalog.duration import format_duration
from paramedic.drills.score import Evidence
from paramedic.plan import Gap
from paramedic.report.charts import duration_chart, points_of
from paramedic.report.html_incidents import anchor, down_now, journal
from paramedic.report.html_parts import esc as _e
from paramedic.report.html_parts import met_span as _met
from paramedic.report.html_parts import table as _table
from paramedic.report.html_style import CSS as _CSS
from paramedic.report.ladder import StrategyStats
from paramedic.report.model import ComponentReport, Report, Tally
from paramedic.report.restores import format_bytes
from paramedic.report.risks import Risk
from paramedic.report.text import (
    against,
    age,
    evidence_facts,
    evidence_name,
    outcome_word,
    rpo_against,
    when,
)

EVIDENCE_ROWS = 12
"""Newest evidence items listed per component (the charts show them all)."""


def _score_class(component: ComponentReport) -> str:
    if not component.score.proven:
        return "s-none"
    value = component.score.score
    return "s-good" if value >= 80 else "s-fair" if value >= 50 else "s-poor"


def _score(component: ComponentReport) -> str:
    return (
        f'<span class="score {_score_class(component)}" title="recoverability score">'
        f"{component.score.score:.0f}</span>"
    )


def _verdict(component: ComponentReport) -> str:
    css = {"never proven": "v-never", "rpo unknown": "v-unknown"}.get(
        component.verdict, f"v-{component.verdict}"
    )
    return f'<span class="verdict {css}">{_e(component.verdict)}</span>'


def _tally(tally: Tally) -> str:
    parts = [
        f'<span class="{css}">{n} {word}</span>'
        for n, word, css in (
            (tally.met, "met", "met"),
            (tally.missed, "missed", "missed"),
            (tally.unknown, "RPO unknown", "unknown"),
            (tally.not_recovered, "not recovered", "missed"),
        )
        if n
    ]
    return " · ".join(parts) or '<span class="muted">none</span>'


def _summary(report: Report) -> str:
    rows = []
    for c in report.components:
        newest = c.evidence[0] if c.evidence else None
        newest_age = None if newest is None else (report.generated_at - newest.at).total_seconds()
        rows.append(
            [
                f'<a href="#c-{_e(c.name)}">{_e(c.name)}</a>'
                + ('<span class="badge-down">down now</span>' if c.down else ""),
                _e(c.plan.criticality),
                _e(c.plan.location),
                _e(format_duration(c.plan.rto)),
                _e(format_duration(c.plan.rpo)),
                _score(c),
                _verdict(c),
                f"drills: {_tally(c.drills)}<br>incidents: {_tally(c.incidents)}",
                _e(age(newest_age)) + ("" if newest is None else " ago"),
                str(len(c.risks)),
            ]
        )
    table = _table(
        [
            "component",
            "criticality",
            "location",
            "RTO",
            "RPO",
            "score",
            "verdict",
            "evidence",
            "newest",
            "risks",
        ],
        rows,
        {5, 9},
    )
    return f'<section id="summary"><h2>Summary</h2>{table}</section>'


def _risks(risks: Sequence[Risk], title: str = "Open risks") -> str:
    if not risks:
        return f'<section id="risks"><h2>{_e(title)}</h2><p>No open risk.</p></section>'
    rows = [
        [
            f'<span class="sev-{r.severity.value}">{_e(r.severity.value)}</span>',
            f'<a href="#c-{_e(r.component)}">{_e(r.component)}</a>',
            f"<code>{_e(r.kind)}</code>",
            _e(r.reason),
        ]
        for r in risks
    ]
    table = _table(["severity", "component", "kind", "reason"], rows, set())
    return f'<section id="risks"><h2>{_e(title)}</h2>{table}</section>'


def _gap_rows(gaps: Sequence[Gap], with_component: bool) -> list[list[str]]:
    rows = []
    for g in gaps:
        row = [f'<span class="sev-{g.severity.value}">{_e(g.severity.value)}</span>']
        if with_component:
            row.append(f'<a href="#c-{_e(g.component)}">{_e(g.component)}</a>')
        row += [f"<code>{_e(g.kind)}</code>", _e(g.reason)]
        rows.append(row)
    return rows


def _outcome(e: Evidence) -> str:
    if e.outcome == "met":
        return _met(True)
    css = "unknown" if e.outcome == "unknown" else "missed"
    return f'<span class="{css}">{_e(outcome_word(e))}</span>'


def _evidence_table(evidence: Sequence[Evidence], anchored: set[str]) -> str:
    def name(e: Evidence) -> str:
        if e.incident_id in anchored:
            return f'<a href="#{anchor(e.incident_id or "")}">{_e(evidence_name(e))}</a>'
        return _e(evidence_name(e))

    rows = [
        [
            name(e),
            _e(when(e.at)),
            _e(e.note),
            _e(against(e.measured_rto_s, e.target_rto_s)) + " " + _met(e.rto_met),
            _e(rpo_against(e)) + " " + _met(e.rpo_met),
            _outcome(e),
        ]
        for e in evidence[:EVIDENCE_ROWS]
    ]
    more = len(evidence) - EVIDENCE_ROWS
    tail = (
        f'<p class="muted">and {more} older item(s), in the charts and --json.</p>'
        if more > 0
        else ""
    )
    return _table(["evidence", "when", "what", "RTO", "RPO", "outcome"], rows, set()) + tail


def _ladder(component: ComponentReport) -> str:
    stats = {s.strategy: s for s in component.strategies}
    rows = []
    for index, rung in enumerate(component.plan.strategies, start=1):
        s = stats.get(rung.strategy)
        rows.append(
            [
                str(index),
                f"<code>{_e(rung.strategy)}</code>",
                _e(format_duration(rung.timeout)),
                "required" if rung.approval else "-",
                *_stat_cells(s),
            ]
        )
    for s in component.strategies:
        if s.strategy not in {r.strategy for r in component.plan.strategies}:
            rows.append(
                [
                    "-",
                    f"<code>{_e(s.strategy)}</code> (no longer in the ladder)",
                    "-",
                    "-",
                    *_stat_cells(s),
                ]
            )
    if not rows:
        return '<p class="muted">No recovery strategy.</p>'
    return _table(
        ["#", "strategy", "timeout", "approval", "attempts", "success", "median", "median success"],
        rows,
        {4, 5, 6, 7},
    )


def _stat_cells(s: StrategyStats | None) -> list[str]:
    if s is None:
        return ["0", "-", "-", "-"]
    rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
    return [
        str(s.attempts),
        f"{s.succeeded} ({rate})",
        _e(format_duration(s.median_s)),
        _e(format_duration(s.median_success_s)),
    ]


def _verdict_lines(c: ComponentReport) -> str:
    items = []
    for source in ("drill", "incident"):
        latest = c.latest(source)
        label = "latest drill" if source == "drill" else "latest incident"
        if latest is None:
            items.append(f'<li>{label}: <span class="muted">none</span></li>')
        else:
            css = {"met": "met", "unknown": "unknown"}.get(latest.outcome, "missed")
            items.append(
                f"<li>{label}: {_e(evidence_facts(latest))}:"
                f' <span class="{css}">{_e(outcome_word(latest))}</span></li>'
            )
    items.append(f"<li>drills: {_tally(c.drills)}; incidents: {_tally(c.incidents)}</li>")
    if c.exposure is not None:
        css = "missed" if c.exposure.at_risk else "muted"
        items.append(f'<li>RPO exposure: <span class="{css}">{_e(c.exposure.reason)}</span></li>')
    if c.restore_forecast is not None:
        css = "met" if c.restore_forecast.within else "missed"
        items.append(
            f'<li>restore forecast: <span class="{css}">{_e(c.restore_forecast.reason())}</span></li>'
        )
    for r in c.recommendations:
        items.append(f"<li>recommendation ({_e(r.kind)}): {_e(r.reason)}</li>")
    return f'<ul class="verdicts">{"".join(items)}</ul>'


def _terms(c: ComponentReport) -> str:
    if not c.score.terms:
        return f'<p class="explain">{_e(c.score.explain())}</p>'
    rows = [
        [
            _e(evidence_name(t.evidence)),
            _e(f"{t.margin_rto:+.2f}"),
            "-" if t.margin_rpo is None else _e(f"{t.margin_rpo:+.2f}"),
            _e(f"{t.item_score:.1f}"),
            _e(f"{t.weight:g}"),
        ]
        for t in c.score.terms
    ]
    table = _table(["item", "RTO margin", "RPO margin", "item score", "weight"], rows, {1, 2, 3, 4})
    return f'{table}<p class="explain">score = {_e(c.score.explain())}</p>'


def _restores(c: ComponentReport) -> str:
    if not c.restores:
        return ""
    rows = [
        [
            _e(m.incident_id),
            _e(when(m.at)),
            _e(format_bytes(m.size_bytes)),
            _e(format_duration(m.duration_s)),
            _e(format_bytes(m.bytes_per_s) + "/s"),
        ]
        for m in c.restores
    ]
    table = _table(
        ["incident", "when", "point size", "restore took", "throughput"], rows, {2, 3, 4}
    )
    return f"<h3>Restore throughput</h3>{table}"


def _component(c: ComponentReport) -> str:
    p = c.plan
    facts = [
        f"<b>{_e(p.type)}</b>",
        f"at <b>{_e(p.location)}</b>",
        f"criticality <b>{_e(p.criticality)}</b>",
        f"RTO <b>{_e(format_duration(p.rto))}</b>",
        f"RPO <b>{_e(format_duration(p.rpo))}</b>",
        f"provider <b>{_e(p.provider)}</b>",
        f"check <b>{_e(p.check)}</b>",
    ]
    if p.constraint:
        facts.append(f"single location because: <b>{_e(p.constraint)}</b>")
    if p.dependencies:
        facts.append(f"depends on <b>{_e(', '.join(p.dependencies))}</b>")
    if p.dependents:
        facts.append(f"blast radius <b>{_e(', '.join(p.dependents))}</b>")
    rto_chart = duration_chart(
        f"{p.name}: measured RTO", points_of(c.evidence, "rto"), p.rto.total_seconds()
    )
    rpo_chart = duration_chart(
        f"{p.name}: measured RPO", points_of(c.evidence, "rpo"), p.rpo.total_seconds()
    )
    gaps = ""
    if c.gaps:
        gaps = "<h3>Gaps in the plan</h3>" + _table(
            ["severity", "kind", "reason"], _gap_rows(c.gaps, False), set()
        )
    anchored = {entry.id for entry in c.journal}
    evidence = "<h3>Evidence</h3>" + (
        _evidence_table(c.evidence, anchored) if c.evidence else '<p class="muted">None yet.</p>'
    )
    down = (
        f'<p class="down-line"><a href="#{anchor(c.down.incident_id)}">'
        f"{_e(c.down.sentence())}</a></p>"
        if c.down
        else ""
    )
    return (
        f'<section class="component" id="c-{_e(p.name)}">'
        f"<h2>{_e(p.name)} {_score(c)} {_verdict(c)}</h2>"
        f'<p class="facts">{" · ".join(facts)}</p>{down}'
        f"{_verdict_lines(c)}"
        f'<div class="charts">{rto_chart}{rpo_chart}</div>'
        f"<h3>Score</h3>{_terms(c)}"
        f"{evidence}"
        f"<h3>Recovery ladder</h3>{_ladder(c)}"
        f"{_restores(c)}{gaps}{journal(c)}</section>"
    )


_FORMULA = """per item (a drill or an incident, judged against today's objectives):
  margin  = clamp(1 − measured / target, −1, 1)   (target 0: 1 if measured 0, else −1;
                                                   aborted or never recovered: −1)
  item    = 50 × (1 + min(RTO margin, RPO margin)) (an RPO not measured is left out)
score   = Σ wᵢ·itemᵢ / Σ wᵢ over the newest 5, wᵢ = 1, ½, ¼, ⅛, 1/16 (newest first)
          × 0.5 ^ (age of the newest item / 30 days)
never proven: 0"""


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    s = report.summary()
    cards = "".join(
        f'<div class="card"><b>{_e(value)}</b>{_e(label)}</div>'
        for value, label in (
            (s["components"], "components"),
            (s["down_now"], "down now"),
            (s["proven"], "proven by evidence"),
            (s["mean_score"], "mean score"),
            (s["high_risks"], "high risks"),
            (s["gaps"], "gaps in the plan"),
        )
    )
    strategies = (
        _table(
            ["strategy", "attempts", "success", "median", "median success"],
            [[f"<code>{_e(st.strategy)}</code>", *_stat_cells(st)] for st in report.strategies],
            {1, 2, 3, 4},
        )
        if report.strategies
        else '<p class="muted">No recovery step recorded yet.</p>'
    )
    gaps = (
        _table(["severity", "component", "kind", "reason"], _gap_rows(report.gaps, True), set())
        if report.gaps
        else "<p>No gap.</p>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>paramedic report: {_e(report.catalog)}</title>"
        f"<style>{_CSS}</style></head>"
        "<body><main><header><h1>Recoverability report</h1>"
        f'<p class="meta">catalog <code>{_e(report.catalog)}</code> · state'
        f" <code>{_e(report.state)}</code> · generated {_e(when(report.generated_at))} ·"
        f" evidence older than {_e(format_duration(report.stale_after))} is stale</p>"
        f'<div class="cards">{cards}</div></header>'
        f"{down_now(report.components)}{_summary(report)}{_risks(report.risks)}"
        + "".join(_component(c) for c in report.components)
        + f'<section id="strategies"><h2>Strategies across components</h2>{strategies}</section>'
        f'<section id="gaps"><h2>Gaps in the plan</h2>{gaps}</section>'
        '<section id="formula"><h2>How the score is computed</h2>'
        f'<pre class="formula">{_e(_FORMULA)}</pre></section>'
        "</main></body></html>\n"
    )
