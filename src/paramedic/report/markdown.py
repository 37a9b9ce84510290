"""The report as Markdown, for tickets and reviews: the same sections as the HTML page, in tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paramedic.catalog.duration import format_duration
from paramedic.report.incidents import IncidentEntry, step_text
from paramedic.report.ladder import StrategyStats
from paramedic.report.model import ComponentReport, Report, Tally
from paramedic.report.restores import format_bytes
from paramedic.report.text import (
    against,
    age,
    evidence_line,
    evidence_name,
    met_word,
    outcome_word,
    plural,
    rpo_against,
    rpo_word,
    step_word,
    when,
    when_s,
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
    parts = [
        f"{n} {word}"
        for n, word in (
            (tally.met, "met"),
            (tally.missed, "missed"),
            (tally.unknown, "RPO unknown"),
            (tally.not_recovered, "not recovered"),
        )
        if n
    ]
    return ", ".join(parts) or "none"


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
    if c.down is not None:
        lines += [f"**Down now**: {c.down.sentence()}", ""]
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
                    rpo_against(e),
                    rpo_word(e),
                    outcome_word(e),
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
    if c.journal:
        lines += ["### Incidents and their steps", ""]
        for entry in c.journal:
            lines += _incident(entry)
    return lines


def _incident(entry: IncidentEntry) -> list[str]:
    row = entry.row
    past = (
        f"; open {format_duration(round(entry.open_for_s))}, past its RTO" if entry.past_rto else ""
    )
    cause = entry.cause
    lines = [
        f"#### {entry.title}: {entry.ended()}",
        "",
        f"Failed {when_s(row.failed_at)}, detected after"
        f" {format_duration(row.time_to_detect_s)}; RTO"
        f" {against(row.measured_rto_s, row.target_rto_s)}{past}."
        f" {cause.reason if cause is not None else row.reason}",
        "",
    ]
    if not entry.steps:
        return [*lines, "No step ran.", ""]
    return lines + table(
        ["#", "strategy", "started", "took", "outcome", "output / error"],
        [
            [
                s.seq,
                s.strategy + (" (dry run)" if s.dry_run else ""),
                when_s(s.started_at),
                format_duration(s.duration_s),
                step_word(s.status),
                step_text(s),
            ]
            for s in entry.steps
        ],
    )


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
    ]
    down = [c.down for c in report.components if c.down is not None]
    if down:
        lines += ["## Down now", "", *[f"- {d.sentence()}" for d in down], ""]
    lines += [
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
