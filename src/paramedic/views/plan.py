"""Renders a ``paramedic.plan.Plan`` for people: the inventory table, the gaps, the notes,
a summary line.

Written for 100 columns; at 80 the free text (constraint, location, reason)
and the strategies wrap on spaces, and names stay whole.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramedic.catalog.duration import format_duration
from paramedic.plan import ComponentPlan, Plan, Severity

_CRITICALITY_STYLE = {"critical": "bold red", "important": "yellow", "standard": ""}
_MIN_FREE_TEXT = 20
_SEVERITY_STYLE = {Severity.high: "bold red", Severity.medium: "yellow", Severity.low: "dim"}


def render_plan(plan: Plan, console: Console) -> None:
    """Print the inventory of single-location components, the gaps, the notes (when there are
    any), then a one-line summary."""
    console.print(_inventory(plan, console.width))
    console.print()
    if plan.gaps:
        console.print(_gaps(plan))
    else:
        console.print(Text("No gaps found.", style="green"))
    if plan.notes:
        console.print()
        console.print(_notes(plan))
    high = plan.count(Severity.high)
    console.print()
    console.print(Text(plan.summary(), style="bold red" if high else "bold"))


def _inventory(plan: Plan, width: int) -> Table:
    # Nine columns side by side do not fit 100 columns, so related facts share a cell: type and
    # criticality under the name, the constraint under the location, the RPO under the RTO.
    # Every column but location/constraint is sized to its content; that one takes the rest,
    # so at 80 columns free text wraps and names stay whole.
    rows = plan.inventory
    name_w = min(24, max([len("criticality"), *(len(r.name) for r in rows)]))
    objectives = [format_duration(d) for r in rows for d in (r.rto, r.rpo)]
    objective_w = max([len("RTO"), *(len(o) for o in objectives)])
    blast_w = min(20, max([len("radius"), *(len(d) for r in rows for d in r.dependents)]))
    steps = [f"{s.strategy} {format_duration(s.timeout)}" for r in rows for s in r.strategies]
    strategy_w = min(28, max([len("strategies"), *(len(s) for s in steps)]))
    gutters = 3 * 4  # padding and divider between five columns
    location_w = width - gutters - name_w - objective_w - blast_w - strategy_w
    wanted = max([_MIN_FREE_TEXT, *(min(28, len(r.location)) for r in rows)])
    if location_w < wanted:
        # Narrow terminal: strategies wrap before their timeouts, then free text wraps more.
        strategy_w = max(len("restore_from_backup"), strategy_w - (wanted - location_w))
        location_w = max(8, width - gutters - name_w - objective_w - blast_w - strategy_w)
    longest = max([len("constraint"), *(max(len(r.location), len(r.constraint)) for r in rows)])
    location_w = min(location_w, longest)  # no empty band on a wide terminal
    table = Table(
        title="Single-location components",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        show_lines=True,  # a blank line between components: their cells span several lines
    )
    table.add_column(
        _header(("component", ""), ("type", "dim"), ("criticality", "")),
        width=name_w,
        overflow="fold",
    )
    table.add_column(
        _header(("location", ""), ("constraint", "dim")), width=location_w, overflow="fold"
    )
    table.add_column(_header(("RTO", ""), ("RPO", "dim")), width=objective_w, justify="right")
    table.add_column("blast\nradius", width=blast_w, overflow="fold")
    table.add_column("strategies\nin order", width=strategy_w, overflow="fold")
    for row in rows:
        table.add_row(
            Text.assemble(
                (row.name, "bold"),
                "\n",
                (row.type.replace("_", " "), "dim"),
                "\n",
                (row.criticality, _CRITICALITY_STYLE.get(row.criticality, "")),
            ),
            Text.assemble(row.location, "\n", (row.constraint or "-", "dim")),
            Text.assemble(format_duration(row.rto), "\n", (format_duration(row.rpo), "dim")),
            Text("\n".join(row.dependents) or "-"),
            _strategies(row),
        )
    return table


def _header(*lines: tuple[str, str]) -> Text:
    """A header of several ``(text, style)`` lines, styled like the lines of their cells."""
    text = Text()
    for index, (line, style) in enumerate(lines):
        text.append(("\n" if index else "") + line, style=style)
    return text


def _strategies(row: ComponentPlan) -> Text:
    if not row.strategies:
        return Text("none", style="red")
    text = Text()
    for index, step in enumerate(row.strategies):
        if index:
            text.append("\n")
        text.append(f"{step.strategy} {format_duration(step.timeout)}")
        if step.approval:
            text.append(" approval", style="yellow")
    return text


def _gaps(plan: Plan) -> Table:
    table = Table(
        title="Gaps", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    table.add_column("severity", no_wrap=True)
    table.add_column("component", style="bold", overflow="fold")
    table.add_column("reason", ratio=1, overflow="fold")
    for gap in plan.gaps:
        table.add_row(
            Text(gap.severity.value, style=_SEVERITY_STYLE[gap.severity]),
            Text(gap.component),
            Text(gap.reason),
        )
    return table


def _notes(plan: Plan) -> Table:
    table = Table(
        title="Notes (not gaps)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("component", style="bold", overflow="fold")
    table.add_column("note", ratio=1, overflow="fold")
    for note in plan.notes:
        table.add_row(Text(note.component), Text(note.text))
    return table
