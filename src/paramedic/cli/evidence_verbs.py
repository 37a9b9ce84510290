"""Evidence: ``drill`` and ``report``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from paramedic.cli.app import app, err, out, print_json
from paramedic.cli.args import (
    CatalogOpt,
    JsonOpt,
    StateOpt,
    load,
)
from paramedic.errors import ParamedicError


@app.command()
def drill(
    component: Annotated[str | None, typer.Argument(help="component to drill")] = None,
    fault: Annotated[
        str | None, typer.Option("--fault", help="fault to inject (drill --list shows them)")
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="drill even without drills.allowed: true, or outside drills.window"
        ),
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="the faults each component offers, and its drill policy")
    ] = False,
    warmup: Annotated[
        str | None,
        typer.Option("--warmup", help="how long the canary writes before the fault (default 1s)"),
    ] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Inject a fault on purpose, let the running agent recover, measure RTO/RPO against the
    targets (exit 0 both met, 1 missed or aborted, 2 refused by a guard)."""
    from paramedic.catalog.duration import parse_duration
    from paramedic.drills.command import drill_list, run_drill
    from paramedic.views.drills import render_drill, render_drill_list

    loaded = load(catalog)
    if list_:
        rows = drill_list(loaded)
        if as_json:
            print_json({"components": rows})
        else:
            render_drill_list(rows, out)
        return
    if component is None:
        raise ParamedicError("give a COMPONENT and --fault F, or --list to see what can be drilled")
    if fault is None:
        offered: list[str] = next(
            (r["faults"] for r in drill_list(loaded) if r["name"] == component), []
        )
        hint = f"one of {', '.join(offered)}" if offered else "see paramedic drill --list"
        raise ParamedicError(f"{component}: give the fault to inject with --fault ({hint})")
    warmup_s = None
    if warmup is not None:
        try:
            warmup_s = parse_duration(warmup).total_seconds()
        except ValueError as exc:
            raise ParamedicError(f"--warmup {warmup!r}: {exc}") from None
    result = run_drill(
        loaded,
        component,
        fault,
        yes=yes,
        warmup_s=warmup_s,
        progress=lambda line: err.print(line, markup=False),
    )
    if as_json:
        print_json(result.to_json())
    else:
        render_drill(result.row, out)
    raise typer.Exit(0 if result.met else 1)


@app.command()
def report(
    html: Annotated[
        str | None,
        typer.Option("--html", metavar="FILE", help="write one self-contained HTML page to FILE"),
    ] = None,
    markdown: Annotated[
        str | None, typer.Option("--markdown", metavar="FILE", help="write Markdown to FILE")
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
    state: StateOpt = None,
    stale_after: Annotated[
        str, typer.Option("--stale-after", help="evidence older than this is an open risk")
    ] = "30d",
) -> None:
    """Compliance: objectives against measured evidence, recoverability scores, gaps, risks."""
    from paramedic.report.command import parse_stale_after, run_report
    from paramedic.store import Store

    window = parse_stale_after(stale_after)
    loaded = load(catalog)
    store = Store.open(state or loaded.state_url(), create=False)
    try:
        run_report(
            loaded,
            store,
            datetime.now(UTC),
            out,
            html=html,
            markdown=markdown,
            as_json=as_json,
            stale_after=window,
        )
    finally:
        store.close()
