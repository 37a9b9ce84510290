"""The report as Markdown, for tickets and reviews: the same sections as the HTML page, in tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paramedic.catalog.duration import format_duration
from paramedic.report.ladder import StrategyStats
from paramedic.report.model import ComponentReport, Report, Tally
from paramedic.report.restores import format_bytes
from paramedic.report.text import (
    against,
    age,
    evidence_line,
    evidence_name,
    met_word,
    plural,
    when,
)

EVIDENCE_ROWS = 12
"""Newest evidence items listed per component."""


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A GitHub-flavoured Markdown table, cells escaped."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _tally(tally: Tally) -> str:
    if tally.total == 0:
        return "none"
    text = f"{tally.met} met"
    if tally.missed:
        text += f", {tally.missed} missed"
    if tally.not_recovered:
        text += f", {tally.not_recovered} not recovered"
    return text


def _stats(s: StrategyStats | None) -> list[str]:
    if s is None:
        return ["0", "-", "-", "-"]
    rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
    return [
        str(s.attempts),
        f"{s.succeeded} ({rate})",
        format_duration(s.median_s),
        format_duration(s.median_success_s),
    ]


def _component(c: ComponentReport) -> list[str]:
    p = c.plan
    lines = [
        f"## {p.name}: score {c.score.score:.0f}, {c.verdict}",
        "",
        f"{p.type} at {p.location}, {p.criticality}; RTO {format_duration(p.rto)},"
        f" RPO {format_duration(p.rpo)}; provider {p.provider}, check {p.check}"
        + (f"; single location because: {p.constraint}" if p.constraint else "")
        + (f"; blast radius: {', '.join(p.dependents)}" if p.dependents else ""),
        "",
    ]
    for source, label in (("drill", "Latest drill"), ("incident", "Latest incident")):
        latest = c.latest(source)
        lines.append(f"- {label}: {evidence_line(latest) if latest else 'none'}")
    lines.append(f"- Drills: {_tally(c.drills)}; incidents: {_tally(c.incidents)}")
    if c.exposure is not None:
        lines.append(f"- RPO exposure: {c.exposure.reason}")
    if c.restore_forecast is not None:
        lines.append(f"- Restore forecast: {c.restore_forecast.reason()}")
    for r in c.recommendations:
        lines.append(f"- Recommendation ({r.kind}): {r.reason}")
    lines += ["", f"Score: `{c.score.explain()}`", ""]
    if c.evidence:
        lines += table(
            ["evidence", "when", "what", "RTO", "RTO met", "RPO", "RPO met", "outcome"],
            [
                [
                    evidence_name(e),
                    when(e.at),
                    e.note,
                    against(e.measured_rto_s, e.target_rto_s),
                    met_word(e.rto_met),
                    against(e.measured_rpo_s, e.target_rpo_s),
                    met_word(e.rpo_met),
                    e.outcome.replace("_", " "),
                ]
                for e in c.evidence[:EVIDENCE_ROWS]
            ],
        )
    stats = {s.strategy: s for s in c.strategies}
    if p.strategies:
        lines += table(
            [
                "#",
                "strategy",
                "timeout",
                "approval",
                "attempts",
                "success",
                "median",
                "median success",
            ],
            [
                [
                    i,
                    s.strategy,
                    format_duration(s.timeout),
                    "required" if s.approval else "-",
                    *_stats(stats.get(s.strategy)),
                ]
                for i, s in enumerate(p.strategies, start=1)
            ],
        )
    if c.restores:
        lines += table(
            ["incident", "when", "point size", "restore took", "throughput"],
            [
                [
                    m.incident_id,
                    when(m.at),
                    format_bytes(m.size_bytes),
                    format_duration(m.duration_s),
                    format_bytes(m.bytes_per_s) + "/s",
                ]
                for m in c.restores
            ],
        )
    return lines


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    s = report.summary()
    lines = [
        "# Recoverability report",
        "",
        f"Catalog `{report.catalog}`, state `{report.state}`, generated"
        f" {when(report.generated_at)}. {plural(s['components'], 'component')}, {s['proven']}"
        f" proven by evidence, mean score {s['mean_score']}, {plural(s['risks'], 'open risk')}"
        f" ({s['high_risks']} high), {plural(s['gaps'], 'gap')} in the plan.",
        "",
        "## Summary",
        "",
    ]
    rows = []
    for c in report.components:
        newest = c.evidence[0].at if c.evidence else None
        old = None if newest is None else (report.generated_at - newest).total_seconds()
        rows.append(
            [
                c.name,
                c.plan.criticality,
                format_duration(c.plan.rto),
                format_duration(c.plan.rpo),
                f"{c.score.score:.0f}",
                c.verdict,
                _tally(c.drills),
                _tally(c.incidents),
                "-" if old is None else f"{age(old)} ago",
                len(c.risks),
            ]
        )
    lines += table(
        [
            "component",
            "criticality",
            "RTO",
            "RPO",
            "score",
            "verdict",
            "drills",
            "incidents",
            "newest",
            "risks",
        ],
        rows,
    )
    lines += ["## Open risks", ""]
    lines += (
        table(
            ["severity", "component", "kind", "reason"],
            [[r.severity.value, r.component, r.kind, r.reason] for r in report.risks],
        )
        if report.risks
        else ["No open risk.", ""]
    )
    for c in report.components:
        lines += _component(c)
    lines += ["## Strategies across components", ""]
    lines += (
        table(
            ["strategy", "attempts", "success", "median", "median success"],
            [[st.strategy, *_stats(st)] for st in report.strategies],
        )
        if report.strategies
        else ["No recovery step recorded yet.", ""]
    )
    lines += ["## Gaps in the plan", ""]
    lines += (
        table(
            ["severity", "component", "kind", "reason"],
            [[g.severity.value, g.component, g.kind, g.reason] for g in report.gaps],
        )
        if report.gaps
        else ["No gap.", ""]
    )
    return "\n".join(lines).rstrip("\n") + "\n"
