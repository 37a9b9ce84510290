"""The HTML of what is down now and of each incident with its steps (anchors ``#i-ID``)."""

from __future__ import annotations

from collections.abc import Sequence

from paramedic.catalog.duration import format_duration
from paramedic.report.html_parts import esc, table
from paramedic.report.incidents import IncidentEntry, step_text
from paramedic.report.model import ComponentReport
from paramedic.report.text import against, step_word, when_s

_GOOD, _BAD = frozenset({"succeeded"}), frozenset({"failed", "timed_out", "unverified"})


def anchor(incident_id: str) -> str:
    """The fragment that names an incident's steps on the page."""
    return f"i-{esc(incident_id)}"


def down_now(components: Sequence[ComponentReport]) -> str:
    """A section naming every component that is down right now; empty when none is."""
    down = [c.down for c in components if c.down is not None]
    if not down:
        return ""
    items = "".join(
        f'<li class="down"><a href="#{anchor(d.incident_id)}">{esc(d.sentence())}</a></li>'
        for d in down
    )
    return f'<section id="down-now" class="alert"><h2>Down now</h2><ul>{items}</ul></section>'


def _status(status: str) -> str:
    css = "met" if status in _GOOD else "missed" if status in _BAD else "muted"
    return f'<span class="{css}">{esc(step_word(status))}</span>'


def _entry(entry: IncidentEntry) -> str:
    row = entry.row
    css = "met" if row.state == "recovered" else "missed"
    facts = [
        f"failed <b>{esc(when_s(row.failed_at))}</b>",
        f"detected after <b>{esc(format_duration(row.time_to_detect_s))}</b>",
        f"RTO <b>{esc(against(row.measured_rto_s, row.target_rto_s))}</b>",
    ]
    if entry.past_rto:
        facts.append(
            f'<span class="missed">open {esc(format_duration(round(entry.open_for_s)))},'
            f" past its RTO</span>"
        )
    cause = entry.cause
    reason = cause.reason if cause is not None else row.reason
    steps = (
        table(
            ["#", "strategy", "started", "took", "outcome", "output / error"],
            [
                [
                    str(s.seq),
                    f"<code>{esc(s.strategy)}</code>" + (" (dry run)" if s.dry_run else ""),
                    esc(when_s(s.started_at)),
                    esc(format_duration(s.duration_s)),
                    _status(s.status),
                    esc(step_text(s)),
                ]
                for s in entry.steps
            ],
            {0, 3},
        )
        if entry.steps
        else '<p class="muted">No step ran.</p>'
    )
    return (
        f'<div class="incident" id="{anchor(row.id)}">'
        f"<h4>{esc(entry.title)}: "
        f'<span class="{css}">{esc(entry.ended())}</span></h4>'
        f'<p class="facts">{" · ".join(facts)}</p>'
        f'<p class="reason">{esc(reason)}</p>{steps}</div>'
    )


def journal(c: ComponentReport) -> str:
    """The component's newest incidents, each with its steps."""
    if not c.journal:
        return ""
    return "<h3>Incidents and their steps</h3>" + "".join(_entry(e) for e in c.journal)
