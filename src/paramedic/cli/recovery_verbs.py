"""Recoveries by hand and their answers: ``recover``, ``approve``/``deny``, ``pause``/``resume``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from paramedic.cli.app import app, err, open_store, out, print_json
from paramedic.cli.args import (
    CatalogOpt,
    JsonOpt,
    StateOpt,
    load,
)
from paramedic.errors import ParamedicError


@app.command()
def recover(
    component: Annotated[str, typer.Argument(help="component to recover")],
    strategy: Annotated[
        str | None, typer.Option(help="only this strategy of the component's ladder")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be done, do nothing")
    ] = False,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
    target: Annotated[str | None, typer.Option(hidden=True)] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="recover even when the circuit is open (audited)"),
    ] = False,
) -> None:
    """A recovery asked for by hand, through the same durable workflow (exit 0 recovered, 1 not)."""
    from paramedic.manual import dry_run_plan, recover_by_hand

    loaded = load(catalog)
    if dry_run:
        lines = dry_run_plan(loaded, component, strategy, target)
        if as_json:
            print_json({"component": component, "dry_run": True, "steps": lines})
        else:
            for line in lines:
                out.print(
                    f"{line['seq']}. {line['strategy']}: {line['does']}"
                    + ("  [needs approval]" if line["approval"] else "")
                )
        return
    incident = recover_by_hand(
        loaded,
        component,
        strategy,
        progress=lambda m: err.print(m, markup=False),
        target=target,
        force=force,
    )
    if as_json:
        print_json(incident)
    else:
        verdict = "recovered" if incident["state"] == "recovered" else incident["state"]
        out.print(
            f"{incident['id']}: {component} {verdict}"
            + (f" by {incident['strategy']}" if incident.get("strategy") else "")
            + (f" — {incident['reason']}" if incident["state"] != "recovered" else ""),
            markup=False,
            soft_wrap=True,  # the reason names commands to copy: never split them
        )
    raise typer.Exit(0 if incident["state"] == "recovered" else 1)


def _decide(incident_id: str, approved: bool, catalog: str | None, state: str | None) -> None:
    from paramedic.recovery.durable import DurableClient

    store = open_store(catalog, state)
    try:
        actor = os.environ.get("USER") or "operator"
        store.decide_approval(incident_id, approved=approved, actor=actor, at=datetime.now(UTC))
        url = state or load(catalog).state_url()
    finally:
        store.close()
    client = DurableClient(url)
    try:
        client.send_approval(incident_id, approved, actor)
    finally:
        client.close()
    out.print(f"{incident_id}: {'approved' if approved else 'denied'} by {actor}")


@app.command()
def approve(
    incident: Annotated[str, typer.Argument(help="incident id waiting for approval")],
    catalog: CatalogOpt = None,
    state: StateOpt = None,
) -> None:
    """Let a strategy that waits for approval go ahead."""
    _decide(incident, True, catalog, state)


@app.command()
def deny(
    incident: Annotated[str, typer.Argument(help="incident id waiting for approval")],
    catalog: CatalogOpt = None,
    state: StateOpt = None,
) -> None:
    """Refuse a strategy that waits for approval; the workflow moves to the next one."""
    _decide(incident, False, catalog, state)


@app.command()
def pause(
    component: Annotated[str, typer.Argument(help="component under maintenance")],
    for_: Annotated[
        str | None, typer.Option("--for", help="how long, e.g. 2h (default: until resumed)")
    ] = None,
    reason: Annotated[str, typer.Option(help="why, shown by status")] = "maintenance",
    catalog: CatalogOpt = None,
    state: StateOpt = None,
) -> None:
    """Maintenance: keep checking, but recover and page nothing."""
    from paramedic.catalog.duration import format_duration, parse_duration

    until = None
    span = None
    if for_ is not None:
        try:
            span = parse_duration(for_)
        except ValueError as exc:
            raise ParamedicError(f"--for {for_!r}: {exc}") from None
        until = datetime.now(UTC) + span
    store = open_store(catalog, state)
    try:
        store.component(component)
        store.pause(
            component, until=until, reason=reason, actor=os.environ.get("USER") or "operator"
        )
    finally:
        store.close()
    span_text = f" for {format_duration(span)}" if span is not None else " until resumed"
    out.print(f"{component}: paused{span_text} ({reason})")


@app.command()
def resume(
    component: Annotated[str, typer.Argument(help="component to watch and recover again")],
    catalog: CatalogOpt = None,
    state: StateOpt = None,
) -> None:
    """End maintenance: recover and page again."""
    store = open_store(catalog, state)
    try:
        store.component(component)
        store.resume(component, actor=os.environ.get("USER") or "operator")
    finally:
        store.close()
    out.print(f"{component}: resumed")


@app.command()
def reset(
    component: Annotated[str, typer.Argument(help="component whose circuit to close")],
    reason: Annotated[str, typer.Option(help="why, kept in the audit log")] = "reset by hand",
    catalog: CatalogOpt = None,
    state: StateOpt = None,
) -> None:
    """Close the component's circuit: the budget window and flapping start again from now (audited)."""
    from paramedic.lock import agent_running

    store = open_store(catalog, state)
    try:
        store.reset_circuit(
            component,
            at=datetime.now(UTC),
            reason=reason,
            actor=os.environ.get("USER") or "operator",
        )
    finally:
        store.close()
    running = False
    if not state:
        loaded = load(catalog)
        running = agent_running(loaded.resolve_path(loaded.agent.run_dir))
    then = (
        "the running agent watches it afresh within a second: its next failure is recovered"
        if running
        else "recoveries and incidents before now no longer count against it"
    )
    out.print(f"{component}: circuit closed ({reason}); {then}", markup=False, soft_wrap=True)
