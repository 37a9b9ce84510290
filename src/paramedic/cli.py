"""The command line: ``paramedic VERB``.

Every error a user can cause prints one line on stderr and exits 2; no
traceback reaches a user (``PARAMEDIC_DEBUG=1`` shows it for a bug report).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer._click import exceptions as click_exc  # typer vendors click since 0.20

from paramedic import __version__
from paramedic.cli_agents import register as register_agents
from paramedic.cli_args import (
    CatalogArg,
    CatalogOpt,
    JsonOpt,
    StateOpt,
    default_catalog,
    load,
)
from paramedic.cli_aws import aws_app
from paramedic.errors import CatalogError, NotBuiltYet, ParamedicError

app = typer.Typer(
    name="paramedic",
    help="Keeps single-location components recovering by themselves.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(aws_app, name="aws")
register_agents(app)

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class LogFormat(StrEnum):
    """How the agent writes its decision log."""

    text = "text"
    json = "json"


def _open_store(catalog_path: str | None, state: str | None) -> Any:
    """The store named by ``--state``, else by the catalog's ``state:``."""
    from paramedic.store import Store

    if state:
        return Store.open(state)
    catalog = load(catalog_path)
    return Store.open(catalog.state_url())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _not_built(verb: str, capability: str, issue: str) -> NoReturn:
    raise NotBuiltYet(
        f"`paramedic {verb}` needs {capability}, which is not built yet in this version ({issue})"
    )


# ---------------------------------------------------------------- catalog


@app.command()
def validate(catalog: CatalogArg = None) -> None:
    """Check the catalog; print every problem, one line each (exit 0 valid, 2 invalid)."""
    loaded = load(catalog)
    n = len(loaded.components)
    out.print(f"{loaded.source}: valid ({n} component{'s' if n != 1 else ''})")


@app.command()
def schema() -> None:
    """Print the catalog's JSON Schema (for editor completion; see the README)."""
    from paramedic.catalog.schema import catalog_schema

    _print_json(catalog_schema())


@app.command()
def plan(catalog: CatalogArg = None, as_json: JsonOpt = False) -> None:
    """Inventory, blast radius, recovery plan per failure, and gaps against the objectives."""
    from paramedic.plan import analyze

    result = analyze(load(catalog))
    if as_json:
        _print_json(result.to_json())
        return
    from paramedic.views.plan import render_plan

    render_plan(result, out)


# ---------------------------------------------------------------- the agent


@app.command()
def run(
    catalog: CatalogArg = None,
    listen: Annotated[str | None, typer.Option(help="serve the HTTP API on HOST:PORT")] = None,
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
    if listen:
        _not_built("run --listen", "the HTTP API and dashboard", "planned after the core")
    from paramedic.agent import run_agent

    path = catalog or default_catalog()
    load(path)  # fail fast with the catalog's own messages
    raise typer.Exit(
        run_agent(path, log_format=log_format.value, name=name, restart_on_fence=restart_on_fence)
    )


# ---------------------------------------------------------------- reading the store


@app.command()
def status(catalog: CatalogOpt = None, state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Each component's health and open incidents, from the state store."""
    store = _open_store(catalog, state)
    try:
        components = store.components()
        incidents = store.incidents(open_only=True)
        if as_json:
            from paramedic.cli_agents import division

            owners, _ = division(store, None if state else load(catalog))
    finally:
        store.close()
    if as_json:
        _print_json(
            {
                "components": [{**c.to_json(), "owner": owners.get(c.name)} for c in components],
                "open_incidents": [i.to_json() for i in incidents],
            }
        )
        return
    from paramedic.views.status import render_status

    render_status(components, incidents, out, now=datetime.now(UTC))


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
    store = _open_store(catalog, state)
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
            _print_json({"drills": [d.to_json() for d in drill_rows]})
            return
        from paramedic.views.drills import render_drills

        render_drills(drill_rows, out)
        return
    if as_json:
        _print_json(
            {
                "incidents": [
                    {**i.to_json(), "steps": [s.to_json() for s in steps[i.id]]} for i in incidents
                ]
            }
        )
        return
    from paramedic.views.history import render_history

    render_history(incidents, steps, out)


# ---------------------------------------------------------------- acting


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
) -> None:
    """A recovery asked for by hand, through the same durable workflow (exit 0 recovered, 1 not)."""
    from paramedic.manual import dry_run_plan, recover_by_hand

    loaded = load(catalog)
    if dry_run:
        lines = dry_run_plan(loaded, component, strategy, target)
        if as_json:
            _print_json({"component": component, "dry_run": True, "steps": lines})
        else:
            for line in lines:
                out.print(
                    f"{line['seq']}. {line['strategy']}: {line['does']}"
                    + ("  [needs approval]" if line["approval"] else "")
                )
        return
    incident = recover_by_hand(
        loaded, component, strategy, progress=lambda m: err.print(m, markup=False), target=target
    )
    if as_json:
        _print_json(incident)
    else:
        verdict = "recovered" if incident["state"] == "recovered" else incident["state"]
        out.print(
            f"{incident['id']}: {component} {verdict}"
            + (f" by {incident['strategy']}" if incident.get("strategy") else "")
            + (f" — {incident['reason']}" if incident["state"] != "recovered" else "")
        )
    raise typer.Exit(0 if incident["state"] == "recovered" else 1)


def _decide(incident_id: str, approved: bool, catalog: str | None, state: str | None) -> None:
    from paramedic.recovery.durable import DurableClient

    store = _open_store(catalog, state)
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
    store = _open_store(catalog, state)
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
    store = _open_store(catalog, state)
    try:
        store.component(component)
        store.resume(component, actor=os.environ.get("USER") or "operator")
    finally:
        store.close()
    out.print(f"{component}: resumed")


def _backup_service(loaded: Any, store: Any, progress: Any = None, notifier: Any = None) -> Any:
    from paramedic.backup import BackupService
    from paramedic.clock import RealClock

    return BackupService(loaded, store, RealClock(), progress=progress, notifier=notifier)


async def _with_notifier(loaded: Any, work: Any) -> Any:
    """Run ``work(notifier)`` with the catalog's notification routes, delivering before returning."""
    from paramedic.clock import RealClock
    from paramedic.notify import Notifier

    notifier = Notifier(loaded.notify, clock=RealClock(), aws=loaded.aws)
    try:
        return await work(notifier)
    finally:
        await notifier.drain(15.0)
        await notifier.aclose()


@app.command()
def backup(
    component: Annotated[str, typer.Argument(help="component to back up")],
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a backup of COMPONENT now (exit 0 taken, 1 failed)."""
    import asyncio

    from rich.progress import Progress

    from paramedic.catalog.duration import format_duration
    from paramedic.errors import ProviderError
    from paramedic.store import Store

    loaded = load(catalog)
    store = Store.open(loaded.state_url())
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"backing up {component}", total=1.0)

            def progress(fraction: float, what: str) -> None:
                bar.update(task, completed=fraction, description=what)

            async def take(notifier: Any) -> Any:
                return await _backup_service(loaded, store, progress, notifier).take(component)

            try:
                row = asyncio.run(_with_notifier(loaded, take))
            except ProviderError as exc:
                err.print(f"paramedic: {exc}", markup=False)
                raise typer.Exit(1) from None
    finally:
        store.close()
    if as_json:
        _print_json(row.to_json())
        return
    size = f"{row.size_bytes / 1e6:.1f} MB" if row.size_bytes is not None else "size unknown"
    age = format_duration((datetime.now(UTC) - row.taken_at).total_seconds())
    out.print(
        f"{component}: recovery point of {row.taken_at:%Y-%m-%d %H:%M:%S}Z ({age} ago), "
        f"{row.engine}, {size}, at {row.location}"
    )


@app.command()
def backups(
    component: Annotated[str | None, typer.Argument(help="only this component")] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recovery points and the restorable window of each component with backups."""
    import asyncio

    from paramedic.store import Store

    loaded = load(catalog)
    names = [component] if component else [n for n, c in loaded.components.items() if c.backup]
    store = Store.open(loaded.state_url())
    try:
        service = _backup_service(loaded, store)

        async def collect() -> list[Any]:
            return [await service.inventory(name) for name in names]

        inventories = asyncio.run(collect())
    finally:
        store.close()
    if as_json:
        _print_json({"components": [_inventory_json(i) for i in inventories]})
        return
    from paramedic.views.backups import render_backups

    render_backups(inventories, out, now=datetime.now(UTC))


def _inventory_json(inventory: Any) -> dict[str, Any]:
    from paramedic.store import iso_utc

    window = inventory.window
    return {
        "component": inventory.component,
        "engine": inventory.engine,
        "repository": inventory.repository,
        "window": {
            "oldest": iso_utc(window.oldest) if window.oldest else None,
            "newest": iso_utc(window.newest) if window.newest else None,
        },
        "points": [p.to_json() for p in inventory.points],
    }


@app.command()
def restore(
    component: Annotated[str, typer.Argument(help="component to restore")],
    to: Annotated[
        str,
        typer.Option("--to", help="latest, before_failure, or a time like 2026-11-25T14:30:00Z"),
    ] = "latest",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be done, do nothing")
    ] = False,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore COMPONENT to the newest recovery point or to a time, through the durable workflow."""
    from paramedic.catalog.model import RestoreFromBackup

    try:
        RestoreFromBackup.model_validate({"strategy": "restore_from_backup", "target": to})
    except ValueError:
        raise ParamedicError(
            f"--to {to!r}: must be latest, before_failure or a timestamp like 2026-11-25T14:30:00Z"
        ) from None
    recover(
        component,
        strategy="restore_from_backup",
        dry_run=dry_run,
        catalog=catalog,
        as_json=as_json,
        target=to,
    )


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
            _print_json({"components": rows})
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
        _print_json(result.to_json())
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
    store = Store.open(state or loaded.state_url())
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


@audit_app.command("verify")
def audit_verify(
    catalog: CatalogOpt = None, state: StateOpt = None, as_json: JsonOpt = False
) -> None:
    """Check the audit log's hash chain: exit 0 intact, 1 tampered."""
    store = _open_store(catalog, state)
    try:
        verdict = store.verify_audit()
    finally:
        store.close()
    if as_json:
        _print_json(verdict.to_json())
    else:
        out.print(verdict.reason)
    raise typer.Exit(0 if verdict.ok else 1)


def _version(value: bool) -> None:
    if value:
        out.print(f"paramedic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """paramedic: automated recovery for components constrained to a single location."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``paramedic`` command; returns the exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="paramedic")
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("paramedic: aborted")
        return 130
    except click_exc.NoArgsIsHelpError as exc:
        out.print(exc.format_message(), markup=False)
        return 0
    except click_exc.ClickException as exc:
        err.print(f"paramedic: {exc.format_message()} (see paramedic --help)", markup=False)
        return 2
    except CatalogError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return 2
    except ParamedicError as exc:
        err.print(f"paramedic: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("PARAMEDIC_DEBUG"):
            traceback.print_exc()
        err.print(
            f"paramedic: internal error: {type(exc).__name__}: {exc} "
            "(a bug; PARAMEDIC_DEBUG=1 shows the traceback for a report)",
            markup=False,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["app", "main"]
