"""The agent and what it saw: ``run``, ``status``, ``history``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from paramedic.cli.app import LogFormat, app, err, open_store, out, print_json
from paramedic.cli.args import (
    CatalogArg,
    CatalogOpt,
    JsonOpt,
    StateOpt,
    either,
    load,
    resolve_catalog,
)


@app.command()
def run(
    catalog: CatalogArg = None,
    catalog_opt: CatalogOpt = None,
    listen: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT", help="serve the HTTP API, dashboard and /metrics on HOST:PORT"
        ),
    ] = None,
    insecure_listen: Annotated[
        bool, typer.Option("--insecure-listen", help="allow plain HTTP on a non-loopback address")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="decision log format")
    ] = LogFormat.text,
    name: Annotated[
        str | None,
        typer.Option(help="several agents of this catalog on one host: this one's name"),
    ] = None,
    restart_on_fence: Annotated[
        bool,
        typer.Option(
            "--restart-on-fence/--no-restart-on-fence",
            help="after losing its lease: re-execute and rejoin (default) or exit 75",
        ),
    ] = True,
) -> None:
    """The agent: watch, detect, recover, notify (until SIGTERM/SIGINT; SIGHUP reloads the catalog)."""
    from paramedic.agent import run_agent

    path = resolve_catalog(either(catalog, catalog_opt))
    load(path)  # fail fast with the catalog's own messages
    raise typer.Exit(
        run_agent(
            path,
            log_format=log_format.value,
            listen=listen,
            insecure_listen=insecure_listen,
            name=name,
            restart_on_fence=restart_on_fence,
        )
    )


@app.command()
def status(
    component: Annotated[str | None, typer.Argument(help="only this component")] = None,
    catalog: CatalogOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
    pid: Annotated[
        bool,
        typer.Option(
            "--pid", help="print only the pid of COMPONENT's owned process (exit 1 when none runs)"
        ),
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="follow the running agent and redraw (Ctrl-C ends)")
    ] = False,
    watch_seconds: Annotated[float | None, typer.Option(hidden=True)] = None,
) -> None:
    """Each component's health and open incidents, from the state store."""
    if watch:
        from paramedic.api.watch import watch as follow

        follow(load(catalog), out, lambda m: err.print(m, markup=False), seconds=watch_seconds)
        return
    from paramedic.recovery.circuits import circuits
    from paramedic.views.owned import owned_pids

    if pid and component is None:
        raise typer.BadParameter("--pid needs a COMPONENT", param_hint="--pid")
    now = datetime.now(UTC)
    loaded = load(catalog) if catalog or not state else None
    store = open_store(catalog, state)
    try:
        if component is not None:
            store.component(component)  # NotFound names the known ones
        components = [c for c in store.components() if component in (None, c.name)]
        incidents = store.incidents(component, open_only=True)
        budgets = None if loaded is None else {n: c.budget for n, c in loaded.components.items()}
        circuit = circuits(store, components, budgets, now)
        owners: dict[str, str | None] = {}
        if as_json:
            from paramedic.cli.agents import division

            owners, _ = division(store, loaded)
    finally:
        store.close()
    pids = owned_pids(loaded) if loaded is not None else {}
    if pid:
        assert component is not None
        found = pids.get(component)
        if found is None:
            err.print(
                f"paramedic: {component}: no process owned by the agent is running", markup=False
            )
            raise typer.Exit(1)
        out.print(str(found))
        return
    if as_json:
        print_json(
            {
                "components": [
                    {
                        **c.to_json(),
                        "failed_checks_total": c.failures_total,
                        "pid": pids.get(c.name),
                        "circuit": circuit[c.name].to_json(c.name),
                        "owner": owners.get(c.name),
                    }
                    for c in components
                ],
                "open_incidents": [i.to_json() for i in incidents],
            }
        )
        return
    from paramedic.views.status import render_status

    render_status(components, incidents, out, now=now, pids=pids, circuits=circuit)


@app.command()
def history(
    component: Annotated[str | None, typer.Argument(help="only this component")] = None,
    catalog: CatalogOpt = None,
    state: StateOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N incidents")] = 20,
    drills: Annotated[
        bool, typer.Option("--drills", help="drill records (newest first) instead of incidents")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Incidents with their steps and timings; measured RTO/RPO against the targets."""
    store = open_store(catalog, state)
    try:
        if component is not None and component not in {c.name for c in store.components()}:
            known = set() if state else set(load(catalog).components)
            if component not in known:
                store.component(component)  # NotFound names it
        if drills:
            drill_rows = store.drills(component)[:limit]
        else:
            incidents = store.incidents(component, limit=limit)
            steps = {i.id: store.steps(i.id) for i in incidents}
    finally:
        store.close()
    if drills:
        if as_json:
            print_json({"drills": [d.to_json() for d in drill_rows]})
            return
        from paramedic.views.drills import render_drills

        render_drills(drill_rows, out)
        return
    if as_json:
        print_json(
            {
                "incidents": [
                    {**i.to_json(), "steps": [s.to_json() for s in steps[i.id]]} for i in incidents
                ]
            }
        )
        return
    from paramedic.views.history import render_history

    render_history(incidents, steps, out)
