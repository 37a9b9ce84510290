"""``paramedic report`` without options: a short summary on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from paramedic.catalog.duration import format_duration
from paramedic.report.model import ComponentReport, Report
from paramedic.report.text import plural

_VERDICT_STYLE = {
    "proven": "green",
    "stale": "yellow",
    "rpo unknown": "yellow",
    "missed": "red",
    "never proven": "red",
}


def _score_style(c: ComponentReport) -> str:
    if not c.score.proven:
        return "dim"
    return "green" if c.score.score >= 80 else "yellow" if c.score.score >= 50 else "red"


def render_summary(report: Report, console: Console) -> None:
    """What is down now, one row per component (score, verdict, evidence), then the open
    risks, one line each."""
    for c in report.components:
        if c.down is not None:
            console.print("[bold red]down now[/] ", end="")
            console.print(c.down.sentence(), markup=False, soft_wrap=True)
    table = Table(show_header=True, box=None, padding=(0, 1), pad_edge=False)
    for column in ("component", "RTO", "RPO", "score", "verdict", "evidence", "risks"):
        table.add_column(column, justify="right" if column in ("score", "risks") else "left")
    for c in report.components:
        total = c.drills.total + c.incidents.total
        met = c.drills.met + c.incidents.met
        table.add_row(
            c.name,
            format_duration(c.plan.rto),
            format_duration(c.plan.rpo),
            f"[{_score_style(c)}]{c.score.score:.0f}[/]",
            f"[{_VERDICT_STYLE[c.verdict]}]{c.verdict}[/]",
            f"{met} of {total} met" if total else "none",
            str(len(c.risks)),
        )
    console.print(table)
    summary = report.summary()
    console.print()
    for risk in report.risks:
        if risk.kind == "down_now":
            continue  # said first
        style = "red" if risk.severity.value == "high" else "yellow"
        console.print(f"[{style}]{risk.severity.value}[/] ", end="")
        console.print(risk.reason, markup=False, soft_wrap=True)
    for rec in report.recommendations:
        console.print(f"[cyan]{rec.kind}[/] {rec.component}: ", end="")
        console.print(rec.reason, markup=False, soft_wrap=True)
    console.print(
        f"{plural(summary['components'], 'component')}, {summary['proven']} proven,"
        f" mean score {summary['mean_score']}; {plural(summary['risks'], 'open risk')}"
        f" ({summary['high_risks']} high), {plural(summary['gaps'], 'gap')} (`paramedic plan`);"
        " --html FILE or --markdown FILE for the full report",
        markup=False,
        soft_wrap=True,
    )
